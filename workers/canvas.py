"""The per-title task graph, derived from the stage registry (no Celery here: plain data).

Stages declare what they read (``Stage.after``). The graph is:

* the **gate**: required stages with no dependencies (the probe). They run first and alone;
  the title's duration they find sizes everybody's time limits, and a gate failure (bad
  input) ends the run without fanning out;
* **branches**: maximal runs of stages where each has exactly one dependency and is its only
  dependent (``shots -> keyframes``, ``audio -> speech``); a branch runs as a chain;
* **levels**: branches whose dependencies all lie in earlier levels run in parallel (a group);
  a barrier separates levels (vision tagging waits for shots and speech).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.settings import Settings
from workers.stages.base import Stage


@dataclass(frozen=True)
class Graph:
    gate: list[str]
    levels: list[list[list[str]]]  # level -> parallel branches -> stages in order

    def stage_names(self) -> list[str]:
        return self.gate + [n for level in self.levels for branch in level for n in branch]


def build_graph(stages: Sequence[Stage]) -> Graph:
    names = [s.name for s in stages]
    known = set(names)
    gate = [s.name for s in stages if s.required and not (set(s.after) & known)]
    # Everything else implicitly follows the gate; deps on absent stages are ignored
    # (stages not yet written are simply absent).
    deps = {
        s.name: [d for d in s.after if d in known and d not in gate]
        for s in stages
        if s.name not in gate
    }
    _check_acyclic(deps)
    dependents: dict[str, list[str]] = {n: [] for n in deps}
    for n, ds in deps.items():
        for d in ds:
            dependents[d].append(n)

    # Branches: extend a chain while the next stage is the sole dependent of the previous
    # one and depends on nothing else.
    branch_of: dict[str, int] = {}
    branches: list[list[str]] = []
    for n in [n for n in names if n in deps]:
        if n in branch_of:
            continue
        ds = deps[n]
        if len(ds) == 1 and len(dependents[ds[0]]) == 1 and ds[0] in branch_of:
            b = branch_of[ds[0]]
            if branches[b][-1] == ds[0]:
                branches[b].append(n)
                branch_of[n] = b
                continue
        branch_of[n] = len(branches)
        branches.append([n])

    level_of: dict[int, int] = {}

    def level(b: int) -> int:
        if b not in level_of:
            head = branches[b][0]
            level_of[b] = 1 + max((level(branch_of[d]) for d in deps[head]), default=-1)
        return level_of[b]

    levels: list[list[list[str]]] = []
    for b in range(len(branches)):
        lv = level(b)
        while len(levels) <= lv:
            levels.append([])
        levels[lv].append(branches[b])
    return Graph(gate=gate, levels=levels)


def _check_acyclic(deps: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(n: str, path: tuple[str, ...]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise ValueError(f"stage dependency cycle: {' -> '.join((*path, n))}")
        state[n] = 1
        for d in deps.get(n, []):
            visit(d, (*path, n))
        state[n] = 2

    for n in deps:
        visit(n, ())


def time_limits(
    settings: Settings, stage: Stage | None, duration_s: float | None, share: float = 1.0
) -> tuple[int, int]:
    """(soft, hard) seconds for a task of ``stage`` on ``share`` of a title lasting
    ``duration_s``. Unknown duration (before the probe): the floor. Capped by task_max_s,
    which the broker's visibility timeout exceeds (see celery_app.visibility_timeout)."""
    factor = settings.task_time_factor * (stage.time_factor if stage else 1.0)
    soft = settings.task_time_base_s + factor * max(duration_s or 0.0, 0.0) * share
    hard = soft * 1.25 + 30
    cap = settings.task_max_s
    return int(min(soft, cap * 0.9)), int(min(hard, cap))
