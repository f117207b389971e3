"""What a benchmark ran on: the machine, ffmpeg, and the versions of the packages that decide
its figures. Every benchmark records :func:`provenance` in its JSON and table, so a drift in a
dependency is visible next to the numbers it moved."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# Distributions whose release changes speed or accuracy figures.
DECIDING_PACKAGES = (
    "torch",
    "ctranslate2",
    "faster-whisper",
    "openai-whisper",
    "onnxruntime",
    "transformers",
    "opencv-python-headless",
    "av",
    "numpy",
    "scenedetect",
    "nudenet",
    "sentence-transformers",
    "faiss-cpu",
    "librosa",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ffmpeg_version() -> str:
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "ffmpeg: not installed"
    return out.stdout.split("\n", 1)[0]


def package_versions(names: tuple[str, ...] = DECIDING_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine() -> dict[str, Any]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(mem, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "ffmpeg": ffmpeg_version(),
    }


def provenance() -> dict[str, Any]:
    """``{"machine": {...}, "packages": {name: version or None}}`` for a results JSON."""
    return {"machine": machine(), "packages": package_versions()}


def provenance_md(prov: dict[str, Any]) -> str:
    """Two lines for a results table: the machine, then the deciding package versions."""
    m = prov["machine"]
    pkgs = ", ".join(f"{k} {v}" for k, v in prov["packages"].items() if v)
    return (
        f"{m['cpu']} · {m['cores']} cores · {m['ram_gib']} GiB · {m['os']} · "
        f"Python {m['python']} · {m['ffmpeg']}\n\nPackages: {pkgs}\n"
    )
