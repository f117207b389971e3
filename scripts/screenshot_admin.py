"""Screenshot the admin title page of the demo title into ``docs/admin-title.png``.

Does what a user does, with the documented commands: `coldstart ingest` of the demo sample
(scripts/demo.py builds it) into a fresh embedded store, `coldstart users add`, `coldstart
serve` on loopback; then headless Debian chromium signs in, opens the title, seeks the player
to the first maturity mark and takes the picture. ``--data-dir`` reuses a store (the ingest
is skipped when it already holds a database).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_SAMPLE = ROOT / "var" / "demo" / "bunny-and-storm.mp4"
sys.path.insert(0, str(ROOT / "scripts"))
try:  # the demo's media builder; both write the same bunny-and-storm title
    from demo_media import build_bunny
except ImportError:
    from demo import build_sample as build_bunny

EMAIL, PASSWORD = "demo-editor@example.com", "demo editor password"
CHROMIUM = "/usr/bin/chromium"


def coldstart(env: dict[str, str], *args: str, check: bool = True) -> str:
    exe = ROOT / ".venv" / "bin" / "coldstart"
    done = subprocess.run(
        [str(exe if exe.exists() else "coldstart"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if check and done.returncode != 0:
        sys.exit(f"coldstart {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("coldstart serve exited")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("coldstart serve did not answer /healthz")


def screenshot(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 1060})
        page.goto(f"{base}/admin/")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("table.queue a")
        page.click("table.queue td a")
        page.wait_for_selector("li.line")  # the lazily loaded transcript
        page.wait_for_function("() => document.getElementById('player').readyState >= 2")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.scene-card img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        mark = page.locator("#timeline rect.mark.moment").first
        if mark.count():  # show the frame and the playhead at the first flagged moment
            t = float(mark.get_attribute("data-t") or 0)
            page.evaluate(
                "t => new Promise(done => { const p = document.getElementById('player');"
                " p.addEventListener('seeked', () => done(), {once: true}); p.currentTime = t; })",
                t,
            )
            page.wait_for_function("() => document.getElementById('player').readyState >= 2")
        # Let the player finish buffering, or its controls show a loading spinner.
        page.wait_for_function("() => document.getElementById('player').networkState !== 2")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "admin-title.png")
    parser.add_argument("--data-dir", type=Path, help="an embedded store to use (kept)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="coldstart-shot-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLDSTART_")}
    env["COLDSTART_DATA_DIR"] = str(data_dir.resolve())
    if not (data_dir / "coldstart.db").exists():
        sample = build_bunny(DEMO_SAMPLE)
        print(f"ingesting {sample} into {data_dir}", flush=True)
        coldstart(env, "ingest", str(sample))
    coldstart(env, "users", "add", EMAIL, "--role", "editor", "--password", PASSWORD, check=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "coldstart"), "serve", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_healthy(base, server)
        screenshot(base, args.out)
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
