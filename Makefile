# coldstart: `make demo` and `make test` work on a fresh machine with nothing installed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install lock check-lock system services demo test lint format bench bench-scenes bench-speech bench-pipeline bench-tagging bench-chaos bench-api bench-admin bench-embeddings clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock scripts/install-python.sh
	scripts/install-system.sh
	scripts/install-python.sh
	@touch $(STAMP)

# Re-resolve requirements.lock after pyproject.toml changed (LOCK_UPGRADE=1: newest releases).
lock:
	scripts/lock.sh

check-lock:
	python3 scripts/check_lock.py

system:
	scripts/install-system.sh

services:
	scripts/ensure-services.sh

# Enrich a small sample catalogue end to end (embedded mode), then recommend and search it;
# make demo VIDEO=path enriches and shows your file in place of the sample bunny.
demo: install system
	$(PY) scripts/demo.py $(if $(VIDEO),--video "$(VIDEO)",)

test: check-lock install system services
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: bench-scenes bench-speech bench-pipeline bench-tagging

bench-scenes: install system
	$(PY) benchmarks/bench_scenes.py

bench-speech: install system
	$(PY) benchmarks/bench_speech.py

bench-pipeline: install system services
	$(PY) benchmarks/bench_pipeline.py

bench-admin: install services
	$(PY) benchmarks/bench_admin.py

bench-embeddings: install system services
	$(PY) benchmarks/bench_embeddings.py

bench-tagging: install system
	$(PY) benchmarks/bench_tagging.py

bench-chaos: install system services
	$(PY) benchmarks/bench_chaos.py

# Recommender API latency (1k-100k over HTTP, 1M on the index), recall, freshness (~25 min)
bench-api: install services
	$(PY) benchmarks/bench_api.py

clean:
	rm -rf var benchmarks/.cache .pytest_cache
