"""``coldstart serve`` as an operator runs it: several worker processes, each loading the
recommender index at start while it already answers, /readyz saying when the index is in,
and a clean stop on SIGTERM. And the readiness rule itself, in process."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from recommend.index import Catalog
from storage import catalog, migrate, users
from storage.db import dispose_engines, session_scope
from tests.api.seed import seed
from tests.api.test_metrics import SIMILAR, samples
from tests.conftest import free_port
from tests.web.test_admin_auth import PASSWORD, _csrf
from web.api.v1.services import Recommender, wait_for
from web.app import create_app
from web.auth import hash_password, session_secret
from workers.settings import Settings

EXE = str(Path(sys.executable).parent / "coldstart")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def test_serve_with_two_workers_preloads_and_stops_cleanly(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    url = settings.effective_database_url
    migrate.upgrade(url)
    titles = seed(url)
    with session_scope(url) as session:
        token, _ = catalog.create_token(session, "reader", ["read"])
        users.create_user(session, email="ed@example.com", name="Ed", role="editor",
                          password_hash=hash_password(PASSWORD))  # fmt: skip
    dispose_engines()
    port = free_port()
    env = {**os.environ, "COLDSTART_DATA_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1"}
    env.pop("COLDSTART_BROKER_URL", None)
    proc = subprocess.Popen(
        [EXE, "serve", "--workers", "2", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        def both_loaded() -> bool:  # /readyz answers for whichever worker takes it
            text = httpx.get(f"{base}/metrics", timeout=10).text
            ready = [v for (n, _), v in samples(text).items() if n == "coldstart_api_index_ready"]
            return sum(ready) == 2

        assert wait_for(ready, timeout=90.0, every=0.2), "never ready"
        assert wait_for(both_loaded, timeout=90.0, every=0.2), "a worker never loaded"
        workers = [p for p in _children(proc.pid) if b"spawn" in _cmdline(p)]
        assert len(workers) == 2, [_cmdline(p) for p in _children(proc.pid)]
        # every worker answers from its own preloaded index
        for _ in range(6):
            r = httpx.get(
                f"{base}/api/v1/titles/{titles['haunted-a']}/similar",
                params={"k": 3, "max_age": 10},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert r.status_code == 200 and r.json()["results"], r.text
            assert "haunted-ma" not in [h["name"] for h in r.json()["results"]]
        # /metrics, from whichever worker answers, sums both workers' requests
        metrics = samples(httpx.get(f"{base}/metrics", timeout=10).text)
        similar = [
            v for (name, labels), v in metrics.items()
            if name == "coldstart_api_request_duration_seconds_count"
            and dict(labels) == {"route": SIMILAR, "method": "GET", "status": "2xx"}
        ]  # fmt: skip
        assert similar == [6.0], metrics
        per_worker = [v for (n, _), v in metrics.items() if n == "coldstart_api_index_titles"]
        assert per_worker == [len(titles)] * 2, metrics  # one series per worker (pid label)
        # editors sign in whichever worker shows the form and whichever takes the post
        for _ in range(6):
            with httpx.Client(base_url=base, timeout=30) as browser:
                form = browser.get("/admin/login").text
                signed_in = browser.post("/admin/login", data={
                    "email": "ed@example.com", "password": PASSWORD,
                    "csrf_token": _csrf(form), "next": "/admin/",
                })  # fmt: skip
                assert signed_in.status_code == 303, signed_in.text
                assert browser.get("/admin/").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "recommender index loaded" in out, out  # once per worker
    assert out.count("recommender index loaded") == 2, out


class _SlowRecommender(Recommender):
    """Its index load waits for the test to let it finish."""

    def __init__(self, settings: Settings, gate: threading.Event) -> None:
        super().__init__(settings, follow=False)
        self.gate = gate

    def load(self) -> Catalog:
        self.gate.wait(30)
        return super().load()


def test_readyz_waits_for_the_index_while_health_answers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    migrate.upgrade(settings.effective_database_url)
    gate = threading.Event()
    app = create_app(settings)
    app.state.recommender = _SlowRecommender(settings, gate)
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            loading = client.get("/readyz")
            assert loading.status_code == 503 and loading.json()["status"] == "loading"
            gate.set()
            assert wait_for(lambda: client.get("/readyz").status_code == 200, timeout=30.0)
    finally:
        gate.set()
        dispose_engines()


def test_without_preload_ready_means_the_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", api_preload=False)
    migrate.upgrade(settings.effective_database_url)
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            assert client.get("/readyz").json() == {"status": "ok"}
            assert getattr(app.state, "recommender", None) is None  # nothing loaded
    finally:
        dispose_engines()


def _secret_of(data_dir: str, start: float) -> str:
    time.sleep(max(0.0, start - time.time()))  # every process at the same instant
    return session_secret(Settings(data_dir=data_dir))


def test_worker_processes_starting_at_once_share_one_session_key(tmp_path: Path) -> None:
    """The admin session key is created on first use; processes racing for it (the workers
    of one server) must all sign with the same, complete key."""
    start = time.time() + 1.0
    with multiprocessing.get_context("fork").Pool(8) as pool:
        keys = pool.starmap(_secret_of, [(str(tmp_path / "var"), start)] * 8)
    assert len(set(keys)) == 1 and len(keys[0]) >= 48, keys
    assert (tmp_path / "var" / "session.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "var").iterdir()] == ["session.key"]  # no leftovers
