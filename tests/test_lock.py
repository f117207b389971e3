"""requirements.lock agrees with pyproject.toml, and the check that says so can tell when not."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
check_lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_lock)


def test_committed_lock_agrees_with_pyproject(capsys: pytest.CaptureFixture[str]) -> None:
    code = check_lock.main(["--root", str(ROOT)])
    assert code == 0, capsys.readouterr().err


def test_lock_pins_the_cpu_torch_by_hash() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert check_lock.pins(text)["torch"] == "2.13.0+cpu"
    # Every pinned package carries at least one hash, so pip runs in hash-checking mode.
    blocks = text.split("\n")
    pinned = [i for i, line in enumerate(blocks) if check_lock.PIN.match(line)]
    assert pinned
    assert all("--hash=sha256:" in blocks[i + 1] for i in pinned)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    for rel in ("pyproject.toml", "requirements.lock", "scripts/lock-constraints.txt"):
        shutil.copy(ROOT / rel, tmp_path / rel)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _check(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = check_lock.main(["--root", str(root)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("path", "old", "new", "reason"),
    [
        pytest.param(
            "pyproject.toml",
            '"pyyaml>=6",',
            '"pyyaml>=6",\n  "not-a-locked-package>=1",',
            "not-a-locked-package (dependencies) is not in requirements.lock",
            id="new-dependency",
        ),
        pytest.param(
            "requirements.lock",
            "\nnumpy==",
            "\nnumpy==1.0.0\nold-numpy==",
            "numpy==1.0.0 in requirements.lock does not satisfy 'numpy>=1.26'",
            id="pin-outside-specifier",
        ),
        pytest.param(
            "scripts/lock-constraints.txt",
            "torch==2.13.0+cpu",
            "torch==2.14.1",
            "changed since requirements.lock was made",
            id="changed-constraint",
        ),
    ],
)
def test_an_edit_makes_the_lock_stale(
    project: Path, capsys: pytest.CaptureFixture[str], path: str, old: str, new: str, reason: str
) -> None:
    _edit(project / path, old, new)
    code, err = _check(project, capsys)
    assert code == 1
    assert "run make lock" in err
    assert reason in err


def test_formatting_and_comments_do_not_make_the_lock_stale(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(project / "pyproject.toml", '"pyyaml>=6",', '"PyYAML >= 6",  # reformatted')
    assert _check(project, capsys) == (0, "")


def test_an_extra_that_make_install_leaves_out_is_not_locked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(
        project / "pyproject.toml",
        "[project.optional-dependencies]\n",
        '[project.optional-dependencies]\noptional-backend = ["not-a-locked-package>=1"]\n',
    )
    assert _check(project, capsys) == (0, "")


def test_installed_mode_reports_a_drifted_package(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pluggy runs pytest here, so its real version is known; a lock naming another one drifts.
    _edit(project / "requirements.lock", "\npluggy==", "\npluggy==0.0.1\nold-pluggy==")
    code = check_lock.main(["--root", str(project), "--installed"])
    err = capsys.readouterr().err
    assert code == 1
    assert "pluggy is " in err and "the lock says 0.0.1" in err
