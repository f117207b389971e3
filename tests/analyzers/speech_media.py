"""Generated speech test media: espeak-ng sentences, ffmpeg chords, silence (all short)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# A C-Am-F-G progression (2 s per chord) with a pulsing envelope: music, no words.
CHORDS = (
    "aevalsrc='0.15*((sin(2*PI*261.6*t)+sin(2*PI*329.6*t)+sin(2*PI*392*t))*lt(mod(t,8),2)"
    "+(sin(2*PI*220*t)+sin(2*PI*261.6*t)+sin(2*PI*329.6*t))*gte(mod(t,8),2)*lt(mod(t,8),4)"
    "+(sin(2*PI*174.6*t)+sin(2*PI*220*t)+sin(2*PI*261.6*t))*gte(mod(t,8),4)*lt(mod(t,8),6)"
    "+(sin(2*PI*196*t)+sin(2*PI*246.9*t)+sin(2*PI*293.7*t))*gte(mod(t,8),6))"
    "*(0.6+0.4*exp(-6*mod(t,0.5)))':s=16000:d={d}'"
)


def words(text: str) -> list[str]:
    """Lowercase words with punctuation stripped (apostrophes kept), for comparing texts."""
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def ffmpeg(*args: str) -> None:
    run("ffmpeg", "-nostdin", "-v", "error", "-y", *args)


def espeak(text: str, out: Path, speed: int = 150, voice: str = "en") -> Path:
    run("espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text)
    return out


def music(out: Path, seconds: float) -> Path:
    ffmpeg("-f", "lavfi", "-i", CHORDS.format(d=seconds), "-ac", "1", str(out))
    return out


def silence(out: Path, seconds: float) -> Path:
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(seconds), str(out))
    return out


def sentences_with_gaps(
    out: Path, texts: list[str], gap_s: float, tmp: Path, voices: list[str] | None = None
) -> Path:
    """Each sentence spoken (in its espeak-ng ``voices`` entry, English by default),
    separated by ``gap_s`` of digital silence, as 16 kHz WAV."""
    inputs: list[str] = []
    parts: list[str] = []
    for i, text in enumerate(texts):
        wav = espeak(text, tmp / f"s{i}.wav", voice=voices[i] if voices else "en")
        inputs += ["-i", str(wav)]
        parts.append(f"[{i}:a]aresample=16000,apad=pad_dur={gap_s}[a{i}]")
    chain = ";".join(parts) + ";" + "".join(f"[a{i}]" for i in range(len(texts)))
    chain += f"concat=n={len(texts)}:v=0:a=1[out]"
    ffmpeg(*inputs, "-filter_complex", chain, "-map", "[out]", "-ac", "1", str(out))
    return out


def speech_over_music(out: Path, text: str, tmp: Path, music_gain: float = 0.8) -> Path:
    """Speech starting at 1 s over chords that play throughout (no silence anywhere)."""
    speech = espeak(text, tmp / "speech.wav")
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        CHORDS.format(d=60),
        "-i",
        str(speech),
        "-filter_complex",
        f"[1:a]aresample=16000,adelay=1000,apad=pad_dur=1[s];[0:a]volume={music_gain}[m];"
        "[s][m]amix=inputs=2:duration=first:normalize=0[out]",
        "-map",
        "[out]",
        "-ac",
        "1",
        str(out),
    )
    return out
