# The two commands a newcomer needs: `make run` and `make test`.
# Everything else (worker, lint, format) is for the distributed setup and for development.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# With SECRET_KEY unset, `make run` uses a key made once for this checkout (var/secret_key).
SECRET_KEY_FILE := var/secret_key

.PHONY: run worker worker-supervised beat test soak bench lint format install install-dev secret-key screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(SECRET_KEY_FILE):
	@mkdir -p var
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	@chmod 600 $@

run: install $(SECRET_KEY_FILE)
	@export SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"; \
	$(BIN)/python manage.py migrate --no-input -v 0 && \
	$(BIN)/python manage.py bootstrap_demo && \
	echo "Serving on http://$(HOST):$(PORT)/  (API docs: /api/docs/, health: /health/)" && \
	exec $(BIN)/daphne --verbosity 0 --websocket-max-message-size 15000000 -b $(HOST) -p $(PORT) config.asgi:application

# One worker per GPU in production: CUDA_VISIBLE_DEVICES=N make worker.  Gossip, mingle and
# worker heartbeats each hold another broker connection that a broker outage must tear down
# and rebuild; nothing here uses them (health pings workers over the broadcast channel).
WORKER_ARGS := -A config worker -Q inference,default --loglevel INFO \
	--without-gossip --without-mingle --without-heartbeat

worker: install $(SECRET_KEY_FILE)
	@test -n "$$REDIS_URL" || { echo "make worker needs REDIS_URL (without it tasks run inside make run)"; exit 2; }
	@export SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"; \
	exec $(BIN)/celery $(WORKER_ARGS)

# The same worker, started again whenever it exits (platform/supervise.sh: backoff 1..30 s).
worker-supervised: install $(SECRET_KEY_FILE)
	@test -n "$$REDIS_URL" || { echo "make worker-supervised needs REDIS_URL"; exit 2; }
	@export SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"; \
	exec platform/supervise.sh $(BIN)/celery $(WORKER_ARGS)

# Exactly one per deployment: schedules the Stripe usage sweep (billing.tasks).
beat: install $(SECRET_KEY_FILE)
	@test -n "$$REDIS_URL" || { echo "make beat needs REDIS_URL"; exit 2; }
	@export SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"; \
	exec $(BIN)/celery -A config beat --loglevel INFO --schedule var/celerybeat-schedule

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The long runs, outside `make test` (figures in docs/reliability.md): 10 minutes at concurrency
# 32 mixing every product against the distributed platform (bench/soak.py), then schemathesis
# with 150 examples per operation instead of the suite's 10 (about 12 minutes).
soak: install-dev
	$(BIN)/python bench/soak.py
	FUZZ_EXAMPLES=150 $(BIN)/pytest -p no:cacheprovider tests/test_fuzz_schema.py --timeout 3000

# The performance set (issue 22, about 12 minutes here): the in-process limit, then LitServe
# (the peer, its packages kept in var/peer-site), embedded and distributed stacks under load,
# in one run; rewrites docs/benchmarks.md's measured section.
bench: install-dev
	mkdir -p docs/benchmarks
	test -d var/peer-site/litserve || $(BIN)/pip install --quiet --target var/peer-site -r bench/peer/requirements.txt
	$(BIN)/python bench/pipeline.py --json docs/benchmarks/pipeline.json
	$(BIN)/python bench/load.py --json docs/benchmarks/load.json --plot docs/benchmarks/load.png
	$(BIN)/python bench/report.py docs/benchmarks/pipeline.json docs/benchmarks/load.json

# Retake the pages' screenshots in docs/screenshots/ (the browser tests, against a live stack).
screenshots: install-dev
	UPDATE_SCREENSHOTS=1 $(BIN)/pytest tests/test_browser_pages.py tests/test_browser_vhs.py tests/test_browser_admin.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
