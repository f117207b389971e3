# syntax=docker/dockerfile:1
# coldstart image: CLI, web, Celery workers and beat (docker-compose.yml picks the command).
#   docker build -t coldstart .                      # CPU torch
#   docker build -t coldstart:gpu --build-arg TORCH=cu124 .   # CUDA torch (GPU workers)
ARG PYTHON=3.11

# --- build: a virtual environment with the project and its model backends ---------------------
FROM python:${PYTHON}-slim AS build
ARG TORCH=cpu
ARG TORCH_VERSION=2.13.0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from the index of the wanted variant, so nothing later pulls another build.
RUN pip install "torch==${TORCH_VERSION}" --index-url "https://download.pytorch.org/whl/${TORCH}"
COPY pyproject.toml README.md /src/
COPY analyzers /src/analyzers
COPY storage /src/storage
COPY taxonomy /src/taxonomy
COPY web /src/web
COPY workers /src/workers
RUN pip install "/src[ml]"

# --- runtime: the venv plus the system tools analyzers call --------------------------------------
FROM python:${PYTHON}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --create-home coldstart \
    && mkdir -p /var/lib/coldstart && chown coldstart /var/lib/coldstart
USER coldstart
WORKDIR /home/coldstart
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    COLDSTART_DATA_DIR=/var/lib/coldstart \
    COLDSTART_LOG_FORMAT=json
EXPOSE 8000 9808
CMD ["coldstart", "--help"]
