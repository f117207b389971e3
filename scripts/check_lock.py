#!/usr/bin/env python3
"""Does requirements.lock agree with pyproject.toml?

The lock covers the project's dependencies and the extras in LOCKED_EXTRAS (what `make install`
installs; an extra left out, such as an optional backend, is not locked). It is stale when those
dependency lists in pyproject.toml or scripts/lock-constraints.txt changed since `make lock` wrote
it (a fingerprint in its header), or when a dependency is missing from it or pinned at a version
its specifier rejects.

    check_lock.py               check; exit 1 with "run make lock" when stale
    check_lock.py --installed   also check that this interpreter has the locked versions
    check_lock.py --header      print the header `make lock` writes
    check_lock.py --extras      print uv's --extra options for LOCKED_EXTRAS
    check_lock.py --missing-from LOCK   (stdin: pip freeze) print pins whose package LOCK lacks

Standard library only, plus packaging (pip's vendored copy in a bare venv), so it runs before
anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # a bare venv: pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
FINGERPRINT_KEY = "# inputs-sha256:"
# The extras `make install` installs, and so the ones the lock resolves.
LOCKED_EXTRAS = ("ml", "dev", "demo")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def requirements(pyproject: Path) -> dict[str, list[str]]:
    """The locked dependency lists: "" for the project's own, then one per locked extra."""
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project.get("optional-dependencies", {})
    lists = {"": project.get("dependencies", [])}
    lists.update({extra: extras.get(extra, []) for extra in LOCKED_EXTRAS})
    return lists


def _normalised(req: Requirement) -> str:
    extras = f"[{','.join(sorted(canonicalize_name(e) for e in req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{canonicalize_name(req.name)}{extras}{req.specifier}{marker}"


def fingerprint(pyproject: Path, constraints: Path) -> str:
    # Parsed and re-serialised, so that formatting and comments do not count, only meaning.
    lists = {
        extra: sorted(_normalised(Requirement(r)) for r in reqs)
        for extra, reqs in requirements(pyproject).items()
    }
    pins = [line.strip() for line in constraints.read_text().splitlines()]
    inputs = {
        "requirements": lists,
        "requires-python": tomllib.loads(pyproject.read_text())["project"].get("requires-python"),
        "constraints": sorted(p for p in pins if p and not p.startswith("#")),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def header(pyproject: Path, constraints: Path) -> str:
    extras = ",".join(LOCKED_EXTRAS)
    return (
        "# Exact versions and hashes of coldstart's dependencies, with extras "
        f"{extras}.\n# Made by `make lock` (scripts/lock.sh); checked by scripts/check_lock.py.\n"
        f"{FINGERPRINT_KEY} {fingerprint(pyproject, constraints)}\n"
    )


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        m = PIN.match(line)
        if m:
            found[canonicalize_name(m.group(1))] = m.group(2)
    return found


def problems(pyproject: Path, constraints: Path, lock: Path) -> list[str]:
    if not lock.exists():
        return [f"{lock.name} is missing"]
    text = lock.read_text()
    locked = pins(text)
    found: list[str] = []
    stored = next((ln for ln in text.splitlines() if ln.startswith(FINGERPRINT_KEY)), None)
    if stored is None or stored.split(":", 1)[1].strip() != fingerprint(pyproject, constraints):
        found.append(
            f"the dependencies in {pyproject.name} or {constraints.name} changed "
            f"since {lock.name} was made"
        )
    for extra, reqs in requirements(pyproject).items():
        where = f"[{extra}]" if extra else "dependencies"
        for raw in reqs:
            req = Requirement(raw)
            if req.marker and not req.marker.evaluate({"extra": extra}):
                continue
            version = locked.get(canonicalize_name(req.name))
            if version is None:
                found.append(f"{req.name} ({where}) is not in {lock.name}")
            elif not req.specifier.contains(Version(version), prereleases=True):
                found.append(f"{req.name}=={version} in {lock.name} does not satisfy {raw!r}")
    return found


def drift(lock: Path) -> list[str]:
    """Locked packages this interpreter lacks or has at another version."""
    found = []
    for name, version in sorted(pins(lock.read_text()).items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            found.append(f"{name}=={version} is locked but not installed")
            continue
        if Version(have) != Version(version):
            found.append(f"{name} is {have}, the lock says {version}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--lock", default="requirements.lock")
    parser.add_argument("--header", action="store_true")
    parser.add_argument("--installed", action="store_true")
    parser.add_argument("--extras", action="store_true")
    parser.add_argument("--missing-from", type=Path)
    args = parser.parse_args(argv)
    pyproject = args.root / "pyproject.toml"
    constraints = args.root / "scripts" / "lock-constraints.txt"
    lock = args.root / args.lock
    if args.header:
        sys.stdout.write(header(pyproject, constraints))
        return 0
    if args.extras:
        print(" ".join(f"--extra {extra}" for extra in LOCKED_EXTRAS))
        return 0
    if args.missing_from:
        have = pins(args.missing_from.read_text())
        extra = pins(sys.stdin.read())
        sys.stdout.writelines(f"{n}=={v}\n" for n, v in extra.items() if n not in have)
        return 0
    found = problems(pyproject, constraints, lock)
    if found:
        print(f"{lock.name} is stale: run make lock", file=sys.stderr)
        print("".join(f"  - {p}\n" for p in found), end="", file=sys.stderr)
        return 1
    if args.installed:
        found = drift(lock)
        if found:
            print(f"installed packages differ from {lock.name}:", file=sys.stderr)
            print("".join(f"  - {p}\n" for p in found), end="", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
