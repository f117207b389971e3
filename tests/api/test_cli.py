"""``coldstart tokens`` and ``coldstart export`` end to end (subprocess, real SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

from tests.api.seed import TITLES


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLDSTART_DATA_DIR": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args], env=env, capture_output=True, text=True
    )


def test_tokens_create_list_revoke(api_settings) -> None:
    made = cli(api_settings, "tokens", "create", "trainer", "--scope", "export", "--scope", "read")
    assert made.returncode == 0, made.stderr
    plaintext = made.stdout.strip().splitlines()[-1]
    assert plaintext.startswith("cs_")
    listed = json.loads(cli(api_settings, "tokens", "list", "--json").stdout)
    assert listed[0]["scopes"] == ["export", "read"] and plaintext not in json.dumps(listed)
    assert listed[0]["last_used_at"] is None
    assert "never" in cli(api_settings, "tokens", "list").stdout
    assert cli(api_settings, "tokens", "revoke", listed[0]["prefix"]).returncode == 0
    assert json.loads(cli(api_settings, "tokens", "list", "--json").stdout)[0]["revoked_at"]
    assert cli(api_settings, "tokens", "create", "x", "--scope", "admin").returncode == 2


def test_export_parquet_and_jsonl_with_vectors(api_settings, seeded, tmp_path) -> None:
    out = tmp_path / "cat.parquet"
    done = cli(
        api_settings, "export", "--format", "parquet", "-o", str(out), "--with-vectors", "fused"
    )
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out).to_pylist()
    assert {r["name"] for r in table} == set(TITLES)
    assert all(len(r["vector"]) > 0 and r["space"] == "fused@t1" for r in table)
    lines = tmp_path / "cat.jsonl"
    assert cli(api_settings, "export", "--format", "jsonl", "-o", str(lines)).returncode == 0
    rows = [json.loads(x) for x in lines.read_text().splitlines()]
    assert {r["name"] for r in rows} == set(TITLES) and "vector" not in rows[0]
    future = cli(api_settings, "export", "-o", str(lines), "--since", "2999-01-01")
    assert future.returncode == 0 and lines.read_text() == ""
