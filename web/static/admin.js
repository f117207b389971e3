// coldstart admin view: seeking, the playhead, keyboard shortcuts and error messages.
// Loaded as a file (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  function player() { return document.getElementById("player"); }

  function seek(t) {
    var p = player();
    if (!p || isNaN(t)) return;
    p.currentTime = Math.max(0, t);
    showTime();
  }

  function hms(s) {
    s = Math.floor(s || 0);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return [h, m, sec].map(function (n) { return String(n).padStart(2, "0"); }).join(":");
  }

  function showTime() {
    var p = player();
    if (!p) return;
    var out = document.getElementById("player-time");
    if (out) out.textContent = hms(p.currentTime);
    var head = document.getElementById("playhead");
    if (head) { head.setAttribute("x1", p.currentTime); head.setAttribute("x2", p.currentTime); }
  }

  // Any element with data-t seeks; a click elsewhere on the timeline seeks to that moment.
  document.addEventListener("click", function (ev) {
    var target = ev.target.closest ? ev.target.closest("[data-t]") : null;
    var svg = ev.target.closest ? ev.target.closest("#timeline") : null;
    if (svg) {
      var box = svg.getBoundingClientRect();
      var duration = parseFloat(svg.getAttribute("data-duration"));
      seek(((ev.clientX - box.left) / box.width) * duration);
      return;
    }
    if (target && !ev.target.closest("form")) {
      seek(parseFloat(target.getAttribute("data-t")));
    } else if (target && ev.target.classList.contains("seek")) {
      seek(parseFloat(target.getAttribute("data-t")));
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var p = player();
    if (p) { p.addEventListener("timeupdate", showTime); p.addEventListener("seeked", showTime); }
  });

  // Writes that fail come back with a message: show it (as text, never as HTML).
  document.addEventListener("htmx:responseError", function (ev) {
    var flash = document.getElementById("flash");
    if (flash) flash.textContent = ev.detail.xhr.status + ": " + (ev.detail.xhr.responseText || "refused").slice(0, 300);
  });
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (ev.detail.xhr.status === 422) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });

  // A select of grouped options (ratings by system, labels by facet) offers only the group
  // chosen in the select its data-group-by names, so a form cannot pair mismatched values.
  function syncGroups() {
    Array.prototype.forEach.call(document.querySelectorAll("select[data-group-by]"), function (sel) {
      var by = sel.form && sel.form.elements[sel.getAttribute("data-group-by")];
      if (!by) return;
      var current = sel.selectedOptions[0];
      Array.prototype.forEach.call(sel.querySelectorAll("optgroup"), function (group) {
        var mine = group.label === by.value;
        group.hidden = !mine;
        group.disabled = !mine;
        if (mine && (!current || current.parentNode !== group)) sel.value = group.querySelector("option").value;
      });
    });
  }
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("select")) syncGroups();
  });
  document.addEventListener("DOMContentLoaded", syncGroups);
  document.addEventListener("htmx:afterSettle", syncGroups);

  // --- keyboard: the review loop ------------------------------------------------------------
  var tagIndex = -1;
  function tags() { return Array.prototype.slice.call(document.querySelectorAll("#tags article.tag")); }
  function focusTag(delta) {
    var all = tags();
    if (!all.length) return;
    var current = all.indexOf(document.activeElement.closest ? document.activeElement.closest("article.tag") : null);
    tagIndex = current >= 0 ? current + delta : (delta > 0 ? 0 : all.length - 1);
    tagIndex = Math.max(0, Math.min(all.length - 1, tagIndex));
    all[tagIndex].focus();
    all[tagIndex].scrollIntoView({ block: "nearest" });
  }
  function actOnTag(action) {
    var tag = document.activeElement.closest ? document.activeElement.closest("article.tag") : null;
    if (!tag) return;
    var button = tag.querySelector("button[value='" + action + "']");
    if (button) button.click();
  }
  function jump(selector, forward) {
    var p = player();
    if (!p) return;
    var times = Array.prototype.map.call(document.querySelectorAll(selector), function (el) {
      return parseFloat(el.getAttribute("data-t"));
    }).filter(function (t) { return !isNaN(t); }).sort(function (a, b) { return a - b; });
    var now = p.currentTime, eps = 0.25, found;
    if (forward) found = times.find(function (t) { return t > now + eps; });
    else found = times.slice().reverse().find(function (t) { return t < now - eps; });
    if (found !== undefined) seek(found);
  }
  document.addEventListener("keydown", function (ev) {
    var el = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT")) return;
    var p = player();
    switch (ev.key) {
      case "j": focusTag(1); break;
      case "k": focusTag(-1); break;
      case "a": actOnTag("approve"); break;
      case "r": actOnTag("reject"); break;
      case "n": var next = document.getElementById("next-title"); if (next) next.click(); break;
      case "]": jump(".evidence-moment, #timeline .mark", true); break;
      case "[": jump(".evidence-moment, #timeline .mark", false); break;
      case ".": jump(".scene-card", true); break;
      case ",": jump(".scene-card", false); break;
      case " ": if (p && el.tagName !== "BUTTON" && el.tagName !== "VIDEO") { if (p.paused) p.play(); else p.pause(); } else return; break;
      default: return;
    }
    ev.preventDefault();
  });
})();
