"""Ingesting from a real S3 protocol server (moto) through the CLI and the minio client."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from storage.objects import S3ObjectStore, put_file
from tests.conftest import S3_KEY, S3_SECRET, MotoServer
from tests.workers.test_cli import cli


def s3_env(server: MotoServer, object_store: str) -> dict[str, str]:
    return {
        "COLDSTART_S3_ENDPOINT": server.endpoint,
        "COLDSTART_S3_ACCESS_KEY": S3_KEY,
        "COLDSTART_S3_SECRET_KEY": S3_SECRET,
        "COLDSTART_OBJECT_STORE": object_store,
        "COLDSTART_INCOMING_BUCKET": f"in-{uuid.uuid4().hex[:8]}",
        "COLDSTART_DERIVED_BUCKET": f"out-{uuid.uuid4().hex[:8]}",
    }


@pytest.mark.parametrize("object_store", ["local", "s3"])
def test_ingest_s3_uri(
    tmp_path: Path, tiny_video: Path, s3_server: MotoServer, object_store: str
) -> None:
    env = s3_env(s3_server, object_store)
    bucket = f"uploads-{uuid.uuid4().hex[:8]}"
    store = S3ObjectStore.connect(s3_server.endpoint, S3_KEY, S3_SECRET, bucket)
    put_file(store, "new/My Title (2024).mp4", tiny_video)
    uri = f"s3://{bucket}/new/My Title (2024).mp4"
    res = cli(tmp_path / "var", "ingest", uri, "--json", extra_env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["title"]["source_uri"] == uri and doc["title"]["status"] == "enriched"
    # Announced again: same title, no second run.
    again = cli(tmp_path / "var", "ingest", uri, "--json", extra_env=env)
    assert json.loads(again.stdout)["title"]["id"] == doc["title"]["id"]
    assert len(json.loads(again.stdout)["runs"]) == 1


def test_ingest_local_file_into_s3_store(
    tmp_path: Path, tiny_video: Path, s3_server: MotoServer
) -> None:
    env = s3_env(s3_server, "s3")
    res = cli(tmp_path / "var", "ingest", str(tiny_video), "--json", extra_env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["title"]["source_uri"].startswith(f"s3://{env['COLDSTART_INCOMING_BUCKET']}/")
    store = S3ObjectStore.connect(
        s3_server.endpoint, S3_KEY, S3_SECRET, env["COLDSTART_INCOMING_BUCKET"]
    )
    assert [o.size for o in store.list("uploads/")] == [tiny_video.stat().st_size]


def test_missing_s3_object(tmp_path: Path, s3_server: MotoServer) -> None:
    env = s3_env(s3_server, "local")
    bucket = f"uploads-{uuid.uuid4().hex[:8]}"
    S3ObjectStore.connect(s3_server.endpoint, S3_KEY, S3_SECRET, bucket)
    res = cli(tmp_path / "var", "ingest", f"s3://{bucket}/nothing.mp4", extra_env=env)
    assert res.returncode == 2 and "object not found" in res.stderr
