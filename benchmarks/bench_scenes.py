"""Benchmark: shot/transition detection vs PySceneDetect and a bare ffmpeg decode.

Inputs: the shared fixture clips (truth.json) and synthetic videos with exact truth (cached in
benchmarks/.cache). Every detector runs in its own subprocess so wall time and peak RSS are
its own. Writes benchmarks/results/scenes.{md,json}; exits 1 when a goal is missed.

    .venv/bin/python benchmarks/bench_scenes.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analyzers.shots.synthetic import Join, Segment, Truth, build  # noqa: E402
from benchmarks.provenance import provenance, provenance_md  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
SHARED = (ROOT.parent / "shared" / "media").resolve()
# Random sources get fixed seeds: the same clip, and so the same scores, on every machine.
SOURCES = [
    "testsrc2",
    "smptebars",
    "mandelbrot",
    "life=mold=10:ratio=0.3:seed=11",
    "testsrc",
    "rgbtestsrc",
    "mandelbrot=inner=period",
    "cellauto=rule=110:seed=11",
]
XFADES = ["fade", "dissolve", "fadeblack", "fadewhite"]
# How fast the 1080p input can be decoded at all, with the decoder shortcuts that could serve
# a detector: the floor under any detector's time on this machine (no analysis included).
DECODE_FLOORS = {
    "ffmpeg-decode-fast": (
        "every frame, no loop filter",
        ["-skip_loop_filter", "all", "-flags2", "fast"],
    ),
    "ffmpeg-decode-refs": (
        "reference frames only, no loop filter",
        ["-skip_loop_filter", "all", "-flags2", "fast", "-skip_frame", "noref"],
    ),
}


# --- inputs -------------------------------------------------------------------------------


def _program(seed: int, seconds: float, fps: int, gradual_every: int) -> list[Segment | Join]:
    """Random shots of 2-7 s; every ``gradual_every``-th join is an xfade of 12-30 frames;
    every third shot has a flash (3 bright frames)."""
    rng = random.Random(seed)
    parts: list[Segment | Join] = []
    total, k = 0, 0
    prev = None
    while total < seconds * fps:
        src = rng.choice([s for s in SOURCES if s != prev])
        prev = src
        n = rng.randint(2 * fps, 7 * fps)
        flashes = [rng.randint(fps // 2, n - fps)] if k % 3 == 1 else []
        if parts:
            if k % gradual_every == 0:
                parts.append(Join(XFADES[(k // gradual_every) % 4], rng.randint(12, 30)))
            else:
                parts.append(Join())
        parts.append(Segment(src, n, flashes=flashes))
        total += n
        k += 1
    return parts


def synthetic_inputs(quick: bool) -> dict[str, tuple[Path, Truth]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    specs = {
        "synthetic-mix-180p": dict(
            seed=1, seconds=60, size="320x180", gradual_every=2, codec=None, extra=None
        ),
        "synthetic-1080p-h264-5min": dict(
            seed=2,
            seconds=20 if quick else 305,
            size="480x270",
            gradual_every=4,
            codec=["-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-pix_fmt", "yuv420p"],
            extra=None,
            scale="1920:1080",
        ),
    }
    out = {}
    for name, spec in specs.items():
        # The cache key covers everything that shapes the clip, so a changed spec rebuilds it.
        key = hashlib.sha1(json.dumps([spec, SOURCES, XFADES]).encode()).hexdigest()[:8]
        path = CACHE / f"{name}{'-quick' if quick else ''}-{key}.mp4"
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists():
            t = json.loads(meta.read_text())
            out[name] = (
                path,
                Truth(
                    t["frames"],
                    t["cuts"],
                    [tuple(g) for g in t["gradual"]],
                    [tuple(f) for f in t["flashes"]],
                ),
            )
            continue
        parts = _program(spec["seed"], spec["seconds"], 25, spec["gradual_every"])
        print(f"generating {path.name} ...", flush=True)
        truth = build(
            path, parts, size=spec["size"], fps=25, codec=spec["codec"], scale=spec.get("scale")
        )
        meta.write_text(json.dumps(truth.__dict__))
        out[name] = (path, truth)
    return out


def shared_inputs() -> dict[str, tuple[Path, Truth]]:
    if not (SHARED / "truth.json").exists():
        return {}
    data = json.loads((SHARED / "truth.json").read_text())["video"]
    out = {}
    for rel, t in data.items():
        gradual = [(g["kind"], g["start"], g["end"]) for g in t.get("gradual", [])]
        out[Path(rel).name] = (SHARED / rel, Truth(t["frames"], t["cuts"], gradual, []))
    return out


# --- workers (run in a subprocess) --------------------------------------------------------


def worker(kind: str, path: str) -> dict:
    t0 = time.perf_counter()
    cuts: list[int] = []
    transitions: list[tuple[str, int, int]] = []
    if kind in ("coldstart", "coldstart+keyframes", "TransNetV2-cpu"):
        from analyzers.shots import ShotOptions, analyze_shots

        det = "transnetv2" if kind == "TransNetV2-cpu" else "fast"
        opts = ShotOptions(detector=det, device="cpu", keyframes=kind == "coldstart+keyframes")
        r = analyze_shots(path, opts)
        cuts = r.cuts
        transitions = [(t.kind, t.start_frame, t.end_frame) for t in r.transitions]
    elif kind in ("ContentDetector", "AdaptiveDetector"):
        import scenedetect

        scenes = scenedetect.detect(path, getattr(scenedetect, kind)())
        cuts = [s[0].frame_num for s in scenes[1:]]
    elif kind == "ffmpeg-decode" or kind in DECODE_FLOORS:
        flags = DECODE_FLOORS[kind][1] if kind in DECODE_FLOORS else []
        subprocess.run(["ffmpeg", "-v", "error", *flags, "-i", path, "-f", "null", "-"], check=True)
    wall = time.perf_counter() - t0
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "cuts": cuts,
        "transitions": transitions,
        "wall_s": wall,
        "rss_mb": (self_kb + child_kb) / 1024,
    }


def run_worker(kind: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- metrics ------------------------------------------------------------------------------


def prf(tp: int, n_found: int, n_truth: int) -> tuple[float, float, float]:
    p = tp / n_found if n_found else 1.0
    r = tp / n_truth if n_truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def cut_scores(found: list[int], truth: Truth) -> tuple[float, float, float]:
    """±1 frame, one-to-one. Cuts inside a true gradual transition are neither right nor
    wrong (a detector may mark a dissolve with a cut); flashes are in the truth as no-cuts."""
    inside = [(a - 1, b + 1) for _, a, b in truth.gradual]
    found = [c for c in found if not any(a <= c <= b for a, b in inside)]
    unmatched = list(truth.cuts)
    tp = 0
    for c in found:
        m = next((t for t in unmatched if abs(t - c) <= 1), None)
        if m is not None:
            unmatched.remove(m)
            tp += 1
    return prf(tp, len(found), len(truth.cuts))


def gradual_scores(found: list[tuple[str, int, int]], truth: Truth, min_len: int = 12):
    """Recall over true transitions of >= ``min_len`` frames (any overlap); precision over
    detected ones (a detected range overlapping any true transition is right)."""

    def hit(a0, a1, b0, b1):
        return a0 < b1 and b0 < a1

    long = [g for g in truth.gradual if g[2] - g[1] >= min_len]
    tp_r = sum(any(hit(a, b, f[1], f[2]) for f in found) for _, a, b in long)
    tp_p = sum(any(hit(f[1], f[2], a, b) for _, a, b in truth.gradual) for f in found)
    return (tp_p / len(found) if found else 1.0), (tp_r / len(long) if long else None), len(long)


def flash_cuts(found: list[int], truth: Truth) -> int:
    return sum(any(a - 1 <= c <= b for a, b in truth.flashes) for c in found)


# --- report -------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=2)
    ap.add_argument("--quick", action="store_true", help="short 1080p input (smoke test)")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0

    inputs = {**shared_inputs(), **synthetic_inputs(args.quick)}
    big = "synthetic-1080p-h264-5min"
    detectors = ["coldstart", "ContentDetector", "AdaptiveDetector", "TransNetV2-cpu"]
    rows: dict[str, dict[str, dict]] = {}
    for name, (path, _) in inputs.items():
        rows[name] = {}
        # coldstart runs right beside its bare decode (the first timing repetition).
        order = ["coldstart", "ffmpeg-decode", *detectors[1:]]
        for det in order + (["coldstart+keyframes"] if name == big else []):
            rows[name][det] = run_worker(det, path)
            print(f"{name}: {det} {rows[name][det]['wall_s']:.2f} s", flush=True)
    floors = {kind: run_worker(kind, inputs[big][0]) for kind in DECODE_FLOORS}
    # Timing goals on a noisy shared machine: each repetition runs coldstart right beside its
    # own bare decode, and a goal takes the median of the repetitions' ratios. The first
    # repetition is the table's run above; two more follow.
    reps = [{d: rows[big][d]["wall_s"] for d in ["ffmpeg-decode", *detectors[:3]]}]
    for _ in range(2):
        reps.append({d: run_worker(d, inputs[big][0])["wall_s"] for d in reps[0]})
        print(f"timing repetition: {reps[-1]}", flush=True)
    ratio = {d: statistics.median(r[d] / r["ffmpeg-decode"] for r in reps) for d in detectors[:3]}

    goals = []
    table = [
        "| input | detector | cut P | cut R | cut F1 | gradual P | gradual R (≥12 f) "
        "| flash cuts | wall s | × bare decode | peak RSS MB |",
        "|---" * 11 + "|",
    ]
    all_long, all_hit = 0, 0.0
    for name, (_, truth) in inputs.items():
        bare = rows[name]["ffmpeg-decode"]["wall_s"]
        f1 = {}
        for det, res in rows[name].items():
            if det == "ffmpeg-decode":
                table.append(
                    f"| {name} | bare `ffmpeg -f null` | | | | | | | {res['wall_s']:.2f} "
                    f"| 1.00 | {res['rss_mb']:.0f} |"
                )
                continue
            p, r, f = cut_scores(res["cuts"], truth)
            f1[det] = f
            gp, gr, n_long = gradual_scores([tuple(t) for t in res["transitions"]], truth)
            fl = flash_cuts(res["cuts"], truth)
            own = det.startswith("coldstart") or det.startswith("TransNet")
            table.append(
                f"| {name} | {det} | {p:.3f} | {r:.3f} | {f:.3f} | "
                f"{f'{gp:.3f}' if own else 'n/a'} | "
                f"{(f'{gr:.3f}' if gr is not None else '–') if own else 'n/a'} | "
                f"{fl if truth.flashes else '–'} | {res['wall_s']:.2f} | "
                f"{res['wall_s'] / bare:.2f} | {res['rss_mb']:.0f} |"
            )
            if det == "coldstart":
                if gr is not None:
                    all_long += n_long
                    all_hit += gr * n_long
                if truth.flashes:
                    goals.append(
                        {
                            "goal": f"no cut on flash distractors ({name})",
                            "measured": fl,
                            "target": "== 0",
                            "met": fl == 0,
                        }
                    )
                goals.append(
                    {
                        "goal": f"rss ({name})",
                        "measured": round(res["rss_mb"], 1),
                        "target": "< 500 MB",
                        "met": res["rss_mb"] < 500,
                    }
                )
        peer = max(f1["ContentDetector"], f1["AdaptiveDetector"])  # TransNetV2: a column only
        goals.append(
            {
                "goal": f"hard-cut F1 >= PySceneDetect best ({name})",
                "measured": round(f1["coldstart"], 4),
                "target": f">= {peer:.4f}",
                "met": f1["coldstart"] >= peer - 1e-9,
            }
        )
    recall = all_hit / all_long if all_long else 1.0
    goals.append(
        {
            "goal": "gradual recall, transitions >= 12 frames (all inputs)",
            "measured": round(recall, 4),
            "target": ">= 0.8",
            "met": recall >= 0.8,
        }
    )
    cd = rows[big]["ContentDetector"]["wall_s"]
    bare = rows[big]["ffmpeg-decode"]["wall_s"]
    goals.append(
        {
            "goal": "1080p H.264: time / bare ffmpeg decode (median of 3, each beside its own)",
            "measured": round(ratio["coldstart"], 3),
            "target": "<= 1.15",
            "met": ratio["coldstart"] <= 1.15,
        }
    )
    for peer in ("ContentDetector", "AdaptiveDetector"):
        goals.append(
            {
                "goal": f"1080p H.264: faster than PySceneDetect {peer} (median × bare decode)",
                "measured": round(ratio["coldstart"], 3),
                "target": f"< {ratio[peer]:.3f}",
                "met": ratio["coldstart"] < ratio[peer],
            }
        )
    peak = max(r["coldstart"]["rss_mb"] for r in rows.values())
    goals = [g for g in goals if not g["goal"].startswith("rss (")]
    goals.append(
        {
            "goal": "peak RSS of coldstart (python + ffmpeg child)",
            "measured": round(peak, 1),
            "target": "< 500 MB",
            "met": peak < 500,
        }
    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "scenes",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **provenance(),
        "quick": args.quick,
        "inputs": {
            n: {
                "frames": t.frames,
                "cuts": len(t.cuts),
                "gradual": len(t.gradual),
                "flashes": len(t.flashes),
            }
            for n, (_, t) in inputs.items()
        },
        "goals": goals,
        "runs": rows,
        "timing_repetitions_1080p": [
            {**r, **{f"{d}_x_bare": r[d] / r["ffmpeg-decode"] for d in detectors[:3]}} for r in reps
        ],
        "decode_floors_1080p": {
            kind: {"wall_s": floors[kind]["wall_s"], "x_bare": floors[kind]["wall_s"] / bare}
            for kind in DECODE_FLOORS
        },
    }
    (RESULTS / "scenes.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = [
        "# Shot detection benchmark",
        "",
        f"{doc['date']} · " + provenance_md(doc),
        "Cuts are scored at ±1 frame; cuts inside a true gradual transition are not scored. "
        "Gradual transitions match by overlap. Wall time includes process start-up; "
        "`coldstart` is decode + cuts + transitions + shots/scenes/style "
        "(`coldstart+keyframes` adds keyframe/thumbnail/filmstrip JPEGs). "
        "Peak RSS is the worker process plus its largest child (ffmpeg). "
        "`TransNetV2-cpu` is the same pipeline with TransNetV2 (PyTorch, CPU) as the cut "
        "detector: a reference column, no goal. Speed goals compare medians of three "
        "repetitions of the 1080p input, each timed beside its own bare decode.",
        "",
        "## Goals",
        "",
        "| goal | measured | target | met |",
        "|---|---|---|---|",
    ]
    md += [
        f"| {g['goal']} | {g['measured']} | {g['target']} | {'yes' if g['met'] else 'NO'} |"
        for g in goals
    ]
    md += ["", "## Runs", "", *table, ""]
    md += [
        "## Timing repetitions (1080p H.264)",
        "",
        "| rep | bare decode s | coldstart × | ContentDetector × | AdaptiveDetector × |",
        "|---|---|---|---|---|",
    ]
    md += [
        f"| {k + 1} | {r['ffmpeg-decode']:.2f} | {r['coldstart'] / r['ffmpeg-decode']:.3f} "
        f"| {r['ContentDetector'] / r['ffmpeg-decode']:.3f} "
        f"| {r['AdaptiveDetector'] / r['ffmpeg-decode']:.3f} |"
        for k, r in enumerate(reps)
    ]
    md += [
        f"| median | | {ratio['coldstart']:.3f} | {ratio['ContentDetector']:.3f} "
        f"| {ratio['AdaptiveDetector']:.3f} |",
        "",
    ]
    md += [
        "## Decode floor (1080p H.264)",
        "",
        "The fastest any detector could be here: ffmpeg decoding alone, no scaling and no "
        "analysis, with the shortcuts a detector could use. 'Best possible speed-up' is "
        "ContentDetector's time over the floor.",
        "",
        "| decode | wall s | × bare decode | best possible speed-up over ContentDetector |",
        "|---|---|---|---|",
        f"| every frame (bare) | {bare:.2f} | 1.00 | {cd / bare:.2f} |",
    ]
    for kind, (label, _) in DECODE_FLOORS.items():
        wall = floors[kind]["wall_s"]
        md.append(f"| {label} | {wall:.2f} | {wall / bare:.2f} | {cd / wall:.2f} |")
    md.append("")
    (RESULTS / "scenes.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0 if all(g["met"] for g in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
