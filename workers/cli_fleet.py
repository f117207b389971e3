"""``coldstart worker | beat | serve | sweep``: running the fleet's processes."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from workers.cli_render import console, err_console


def register(app: typer.Typer, prepare) -> None:  # type: ignore[no-untyped-def]
    @app.command()
    def worker(
        queues: Annotated[str, typer.Option("-Q", "--queues", help="io,cpu,gpu or a subset.")] = (
            "io,cpu,gpu"
        ),
        concurrency: Annotated[int | None, typer.Option("-c", "--concurrency")] = None,
        pool: Annotated[str, typer.Option("-P", "--pool", help="prefork|solo|threads")] = (
            "prefork"
        ),
        name: Annotated[str | None, typer.Option("-n", "--hostname")] = None,
        loglevel: Annotated[str, typer.Option("-l", "--loglevel")] = "INFO",
        prefetch: Annotated[
            int | None, typer.Option(help="Prefetch multiplier; default 1, 4 for io-only.")
        ] = None,
    ) -> None:
        """Start a Celery worker consuming the given queues (a CPU-only fleet: all three)."""
        settings = prepare()
        if settings.embedded:
            err_console.print("[red]error:[/red] set COLDSTART_BROKER_URL to run a worker")
            raise typer.Exit(2)
        wanted = {q.strip() for q in queues.split(",") if q.strip()}
        # Before prometheus_client is imported: prefork children share metrics via files.
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="coldstart-metrics-")
        )
        from workers.celery_app import app as celery

        # Heavy queues take one message at a time; io tasks are short, a little prefetch
        # saves round trips.
        prefetch = prefetch or (4 if wanted <= {"io"} else 1)
        argv = ["worker", "-Q", ",".join(sorted(wanted)), "-P", pool, "-l", loglevel]
        argv += ["--prefetch-multiplier", str(prefetch)]
        if concurrency:
            argv += ["-c", str(concurrency)]
        if name:
            argv += ["-n", name]
        celery.worker_main(argv)

    @app.command()
    def beat(loglevel: Annotated[str, typer.Option("-l", "--loglevel")] = "INFO") -> None:
        """Start Celery beat: the periodic sweep of the incoming bucket, event publishing."""
        settings = prepare()
        from workers.celery_app import app as celery

        schedule = settings.effective_work_dir / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        celery.start(["beat", "-l", loglevel, "--schedule", str(schedule)])

    @app.command()
    def serve(
        host: Annotated[str | None, typer.Option(help="Default: settings.api_host.")] = None,
        port: Annotated[int | None, typer.Option(help="Default: settings.api_port.")] = None,
        workers: Annotated[
            int | None, typer.Option(min=1, max=64, help="Default: settings.api_workers.")
        ] = None,
    ) -> None:
        """Run the web service (S3 webhook, admin view, API, /metrics) under uvicorn, in
        --workers processes (each loads its own recommender index)."""
        import uvicorn

        from web.app import create_app
        from workers.logs import configure_logging

        settings = prepare()
        configure_logging(settings.log_format, settings.log_level)
        where = {"host": host or settings.api_host, "port": port or settings.api_port}
        n = workers or settings.api_workers
        if n == 1:
            uvicorn.run(create_app(settings), **where, log_config=None)
            return
        # Worker processes build their own app from the environment (web.app.served_app);
        # a large index loads while the worker keeps answering uvicorn's pings. They count
        # metrics into files that /metrics sums (web.metrics), in a directory of this run.
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="coldstart-web-")
        uvicorn.run(
            "web.app:served_app",
            factory=True,
            workers=n,
            timeout_worker_healthcheck=int(settings.api_worker_healthcheck_s),
            **where,
            log_config=None,
        )

    @app.command()
    def relay(
        once: Annotated[
            bool, typer.Option(help="One pass over every destination, then exit.")
        ] = False,
    ) -> None:
        """Relay change events from the outbox to the Redis stream (COLDSTART_EVENTS_STREAM
        on COLDSTART_EVENTS_REDIS_URL) and to signed webhooks (COLDSTART_EVENTS_WEBHOOKS),
        at least once, each destination from its own position; runs until stopped."""
        import signal
        import threading

        import redis

        from workers.change_events import relay_pass, run, stream_sink, webhook_sink, webhooks_from
        from workers.logs import configure_logging

        settings = prepare()
        configure_logging(settings.log_format, settings.log_level)
        if not settings.events_redis_url:
            err_console.print("[red]error:[/red] set COLDSTART_EVENTS_REDIS_URL to relay events")
            raise typer.Exit(2)
        try:
            hooks = webhooks_from(
                settings.events_webhooks,
                settings.events_webhook_secret.get_secret_value(),
                settings.events_webhook_retries,
            )
        except ValueError as err:
            err_console.print(f"[red]error:[/red] {err}")
            raise typer.Exit(2) from err
        client = redis.Redis.from_url(settings.events_redis_url, socket_timeout=30)
        url, stream = settings.effective_database_url, settings.events_stream
        sinks = [stream_sink(client, stream)] + [webhook_sink(h, stream) for h in hooks]
        if once:
            failed = 0
            for sink, outcome in relay_pass(url, client, sinks, stream=stream):
                if isinstance(outcome, Exception):
                    failed += 1
                    err_console.print(f"[red]error:[/red] {sink.name}: {outcome}")
                else:
                    console.print(f"{sink.name}: {outcome} events relayed")
            raise typer.Exit(1 if failed else 0)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if settings.metrics_port:
            from workers.metrics import serve_metrics

            serve_metrics(settings.metrics_port)
        console.print(f"relaying change events to {stream} and {len(hooks)} webhooks")
        heartbeat = settings.effective_work_dir / "relay.alive"
        heartbeat.parent.mkdir(parents=True, exist_ok=True)
        run(url, client, sinks, stream=stream, stop=stop, heartbeat=heartbeat)

    @app.command()
    def sweep() -> None:
        """Once: queue objects of the incoming bucket not yet known, and re-send tasks whose
        worker was lost (heartbeat older than stale_stage_s); beat does both periodically."""
        from dataclasses import asdict

        from workers.celery_app import resend
        from workers.heartbeat import sweep_stages
        from workers.triggers import sweep_incoming

        settings = prepare()
        console.print(asdict(sweep_incoming(settings)))
        if not settings.embedded:
            console.print(asdict(sweep_stages(settings, resend)))
