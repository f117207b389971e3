"""Extra stages named in settings (``stage_plugins = "pkg.module:STAGE, ..."``).

They are appended to :data:`workers.stages.STAGES` in place, so every holder of that list
(the in-process pipeline, the canvas builder) sees them. Used by tests and by deployments
that add site-specific stages without patching the registry.
"""

from __future__ import annotations

import importlib

from workers.settings import Settings
from workers.stages import STAGES, Stage


def load_stage_plugins(spec: str) -> list[Stage]:
    added: list[Stage] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, attr = item.partition(":")
        value = getattr(importlib.import_module(module_name), attr or "STAGE")
        for stage in value if isinstance(value, list | tuple) else [value]:
            if not isinstance(stage, Stage):
                raise TypeError(f"{item} is not a Stage")
            if all(s.name != stage.name for s in STAGES):
                STAGES.append(stage)
                added.append(stage)
    return added


def select_stages(spec: str) -> None:
    """Keep only the named stages (plus required ones), in registry order; empty keeps all."""
    wanted = {part.strip() for part in spec.split(",") if part.strip()}
    if not wanted:
        return
    unknown = wanted - {s.name for s in STAGES}
    if unknown:
        raise KeyError(f"enabled_stages names unknown stages: {', '.join(sorted(unknown))}")
    STAGES[:] = [s for s in STAGES if s.name in wanted or s.required]


def configure_stages(settings: Settings) -> list[Stage]:
    """The registry as these settings want it: plugins added, then the selection applied."""
    load_stage_plugins(settings.stage_plugins)
    select_stages(settings.enabled_stages)
    return STAGES
