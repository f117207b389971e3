"""Effective settings: ``COLDSTART_*`` environment variables over an optional config file.

Defaults are the embedded mode: SQLite and a local object store under ``./var``, and the
pipeline run in-process (no broker). The fleet sets a broker, Postgres and S3.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

CONFIG_ENV = "COLDSTART_CONFIG"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLDSTART_", extra="ignore")

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(Path("var"), description="Root for embedded-mode state.")
    database_url: str = Field("", description="SQLAlchemy URL; default SQLite in data_dir.")
    object_store: Literal["local", "s3"] = "local"
    store_dir: Path | None = Field(None, description="Local object store root.")
    work_dir: Path | None = Field(None, description="Scratch space for media being analysed.")

    # --- S3 / MinIO ------------------------------------------------------------------------
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "minioadmin"
    s3_secret_key: SecretStr = SecretStr("minioadmin")
    s3_secure: bool = False
    s3_region: str | None = None
    s3_connect_timeout_s: float = Field(
        5.0, gt=0, description="Seconds to connect to S3 before the call fails as transient."
    )
    s3_read_timeout_s: float = Field(
        60.0, gt=0, description="Seconds S3 may stay silent mid-request before it fails."
    )
    s3_client_retries: int = Field(
        2, ge=0, description="Retries inside one S3 call; the fleet's own retries follow."
    )
    incoming_bucket: str = "incoming"
    incoming_prefix: str = ""
    derived_bucket: str = "derived"

    # --- execution -----------------------------------------------------------------------
    broker_url: str = Field("", description="Celery broker; empty runs the pipeline in-process.")
    result_backend: str = ""

    # --- fleet: reliability, triggers and observability (workers/celery_app.py) ---------------
    # Time limits scale with the title: soft = base + factor * stage.time_factor * duration.
    task_time_base_s: float = Field(300.0, description="Time limit floor for any task.")
    task_time_factor: float = Field(3.0, description="Seconds allowed per media second.")
    task_max_s: int = Field(6 * 3600, description="Cap on any task's hard time limit.")
    retry_max: int = Field(8, description="Retries of a transient failure before giving up.")
    retry_backoff_s: float = Field(2.0, description="First retry delay; doubles, with jitter.")
    retry_backoff_max_s: float = Field(300.0, description="Longest delay between retries.")
    sweep_interval_s: float = Field(300.0, description="Beat: list the incoming bucket.")
    stale_run_s: int = Field(0, description="A run silent this long is failed; 0 = derived.")
    heartbeat_s: float = Field(5.0, le=10.0, description="Running tasks' heartbeat period.")
    stale_stage_s: float = Field(120.0, description="A task silent this long is re-sent.")
    stage_sweep_s: float = Field(30.0, description="Beat: look for lost tasks this often.")
    media_cache_gb: float = Field(20.0, description="Per-worker cache of downloaded titles.")
    events_exchange: str = "coldstart.events"
    # --- change events to a Redis stream and webhooks (`coldstart relay`) ---------------------
    events_redis_url: str = Field(
        "", description="Redis of the change-event stream and the relay's positions."
    )
    events_stream: str = Field("coldstart:changes", description="Redis stream of the events.")
    events_webhooks: str = Field("", description="Webhook URLs (comma-separated) for events.")
    events_webhook_secret: SecretStr = Field(
        SecretStr(""), description="Shared secret of the webhooks' HMAC-SHA256 signature."
    )
    events_webhook_retries: int = Field(5, ge=0, description="Tries after a 5xx, with backoff.")
    stage_plugins: str = Field("", description="Extra stages, 'module:ATTR' comma-separated.")
    enabled_stages: str = Field("", description="Run only these stages (comma-separated).")
    metrics_port: int = Field(9808, description="Worker Prometheus port; 0 disables.")
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    # --- API / triggers ----------------------------------------------------------------------
    webhook_token: SecretStr = SecretStr("")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(
        1, ge=1, le=64, description="Processes of `coldstart serve`; each holds its own index."
    )
    api_worker_healthcheck_s: float = Field(
        60.0, gt=0, description="With several workers: how long one may miss uvicorn's ping."
    )
    api_preload: bool = Field(
        True, description="Load the recommender index at start; /readyz is 503 until then."
    )

    # --- analysis ------------------------------------------------------------------------
    device: Literal["auto", "cpu", "cuda"] = "auto"
    taxonomy: Path | None = Field(
        None,
        description="A taxonomy YAML file (COLDSTART_TAXONOMY); empty: the packaged one.",
    )

    # --- vision-language tagging (analyzers/signals/vision.py, workers/stages/vision.py) -----
    vision_model: str = Field(
        "",
        description="CLIP/SigLIP hub name (local HF cache only) or local path; empty: "
        "no vision model, so vision signals are recorded absent.",
    )
    vision_backend: str = Field("", description="transformers (default) or open_clip.")
    vision_batch_size: int = Field(32, description="Keyframes per model call.")

    # --- shots and scenes (analyzers/shots, workers/stages/shots.py) --------------------------
    shot_detector: Literal["auto", "fast", "transnetv2"] = Field(
        "auto", description="auto: TransNetV2 on a GPU, the fast adaptive detector on a CPU."
    )
    shot_chunk_s: float = Field(600.0, description="Time-range chunk for parallel workers.")

    # --- speech (issue 4: analyzers/speech, workers/stages/speech.py) -------------------------
    speech_backend: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    speech_model: str = Field(
        "tiny.en", description="Installed model name, local path, or hub name."
    )
    speech_multilingual_model: str = Field(
        "base",
        description="Multilingual model that identifies each region's language and "
        "transcribes the languages speech_model cannot; empty: none (set speech_language).",
    )
    speech_languages: str | None = Field(
        None,
        description="Comma-separated language codes to transcribe; speech in others is "
        "recorded with its detected language, untranscribed. Empty: all a model knows.",
    )
    speech_models_dir: Path | None = Field(
        None, description="Where workers read speech models (default data_dir/models/speech)."
    )
    speech_compute_type: str | None = Field(
        None, description="CTranslate2 compute type; default int8 on CPU, float16 on CUDA."
    )
    speech_cpu_threads: int = 0
    speech_never_detected: str = Field(
        "la,sa",
        description="Comma-separated language codes that language identification never "
        "names (Whisper hears flat English as Latin); empty: none.",
    )
    speech_language: str | None = Field(
        None, description="Spoken language; empty detects it (per region if multilingual)."
    )
    speech_audio_track: int | None = Field(None, description="ffprobe index of the audio track.")
    speech_audio_language: str | None = Field(
        None, description="Pick the audio track tagged with this language."
    )
    speech_beam_size: int = 5
    speech_vad: Literal["energy", "silero", "none"] = "energy"
    speech_chunk_s: float = Field(600.0, description="Chunk length for long titles.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get(CONFIG_ENV)
        if config:
            path = Path(config)
            if not path.is_file():
                raise FileNotFoundError(f"{CONFIG_ENV} points to a missing file: {path}")
            if path.suffix in (".yaml", ".yml"):
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            else:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # --- derived values --------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'coldstart.db').resolve()}"

    @property
    def effective_store_dir(self) -> Path:
        return (self.store_dir or self.data_dir / "objects").resolve()

    @property
    def effective_work_dir(self) -> Path:
        return (self.work_dir or self.data_dir / "work").resolve()

    @property
    def effective_speech_models_dir(self) -> Path:
        return (self.speech_models_dir or self.data_dir / "models" / "speech").resolve()

    @property
    def embedded(self) -> bool:
        """True when no broker is set: the pipeline runs in the calling process."""
        return not self.broker_url

    def masked(self) -> dict[str, Any]:
        """Effective settings for display, with secrets and URL passwords masked."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[name] = "********" if value.get_secret_value() else ""
            elif isinstance(value, str) and "://" in value and "@" in value:
                out[name] = _mask_url(value)
            else:
                out[name] = str(value) if isinstance(value, Path) else value
        out["database_url"] = _mask_url(self.effective_database_url)
        out["store_dir"] = str(self.effective_store_dir)
        out["work_dir"] = str(self.effective_work_dir)
        out["mode"] = "embedded" if self.embedded else "fleet"
        return out


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:********@{host}" if ":" in creds else url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
