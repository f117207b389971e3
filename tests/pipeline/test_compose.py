"""docker-compose.yml and the Dockerfile agree with the code: commands exist in the CLI,
environment names are Settings fields, services have healthchecks, the webhook wiring
matches the web route."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml

from web.app import create_app
from workers.cli import app as cli_app
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
OURS = {n for n, s in SERVICES.items() if str(s.get("image", "")).startswith("coldstart")}


def _cli_path_exists(argv: list[str]) -> bool:
    group: click.Command = typer.main.get_command(cli_app)
    for word in argv:
        if word.startswith("-"):
            return True
        if not isinstance(group, click.Group):
            return True  # arguments of a leaf command
        if word not in group.commands:
            return False
        group = group.commands[word]
    return True


def test_our_services_run_existing_cli_commands() -> None:
    assert {"migrate", "web", "worker-cpu", "worker-gpu", "beat"} <= OURS
    for name in OURS:
        command = SERVICES[name]["command"]
        assert command[0] == "coldstart", name
        assert _cli_path_exists(command[1:]), f"{name}: {command}"
    assert SERVICES["migrate"]["command"] == ["coldstart", "db", "upgrade"]


def test_every_coldstart_variable_is_a_settings_field() -> None:
    fields = set(Settings.model_fields)
    text = (ROOT / "docker-compose.yml").read_text() + (ROOT / "Dockerfile").read_text()
    names = set(re.findall(r"\bCOLDSTART_([A-Z0-9_]+)\b", text)) - {"TAG"}  # image tag
    assert names, "no COLDSTART_ variables found"
    unknown = {n for n in names if n.lower() not in fields}
    # The webhook token is passed to minio-init under the same name, on purpose.
    assert not unknown, f"not Settings fields: {sorted(unknown)}"


def test_services_have_healthchecks_and_wait_for_migration() -> None:
    one_shot = {"migrate", "minio-init"}
    for name, svc in SERVICES.items():
        if name not in one_shot:
            assert "healthcheck" in svc, f"{name} has no healthcheck"
    for name in OURS - {"migrate"}:
        deps = SERVICES[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name


def test_gpu_worker_is_a_profile_with_the_nvidia_runtime() -> None:
    gpu = SERVICES["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["runtime"] == "nvidia"
    assert gpu["build"]["args"]["TORCH"].startswith("cu")
    assert "-Q" in gpu["command"] and gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"
    assert gpu["environment"]["COLDSTART_DEVICE"] == "cuda"
    assert "cpu" in SERVICES["worker-cpu"]["build"]["args"]["TORCH"]


def test_minio_init_wires_the_webhook_to_the_web_route() -> None:
    script = "\n".join(SERVICES["minio-init"]["command"])
    paths = set(create_app(Settings()).openapi()["paths"])
    endpoint = re.search(r'endpoint="http://web:8000([^"]+)"', script)
    assert endpoint and endpoint.group(1) in paths
    assert "auth_token=" in script and "mc event add local/incoming" in script
    assert "--prefix uploads/" in script
    env = SERVICES["web"]["environment"]
    assert env["COLDSTART_INCOMING_PREFIX"] == "uploads/"
    assert "mc mb" in script and "local/derived" in script


def test_dockerfile_is_multi_stage_with_a_torch_build_arg() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^ARG TORCH=cpu$", text, re.M)
    assert "download.pytorch.org/whl/${TORCH}" in text
    assert "COPY --from=build" in text


@pytest.mark.parametrize("name", ["postgres", "redis", "minio"])
def test_infrastructure_services_present(name: str) -> None:
    assert name in SERVICES and "flower" in SERVICES
