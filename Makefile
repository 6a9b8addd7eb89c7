# CivicPush — `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
ARGS ?=
# Secrets come from the environment; for local runs `make` keeps generated ones in .local/env.
LOCAL_ENV := .local/env
WITH_ENV := set -a; [ -f $(LOCAL_ENV) ] && . ./$(LOCAL_ENV); set +a;

.PHONY: help venv run serve demo-data test browser-deps lint typecheck lock bench bench-fanout bench-startup bench-citizens bench-audience bench-inbox bench-ledger bench-deps clean bench-pay bench-quiz

help:
	@echo "make run     install, migrate, load demo data, serve on http://127.0.0.1:$(PORT)"
	@echo "make test    the whole test suite (SQLite; also PostgreSQL + broker when DATABASE_URL and CELERY_BROKER_URL are set)"
	@echo "make bench   all benchmarks (see docs/benchmarks.md)"
	@echo "make lint    ruff and mypy"

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing dependencies into $(VENV) (first run only; about a minute)…"
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@touch $@

venv: $(VENV)/.installed

$(LOCAL_ENV):
	@mkdir -p .local
	@$(PYTHON) -c "import secrets,base64;print('CIVICPUSH_SECRET_KEY='+secrets.token_urlsafe(48));print('CIVICPUSH_FIELD_KEY='+base64.urlsafe_b64encode(secrets.token_bytes(32)).decode());print('CIVICPUSH_HMAC_KEY='+secrets.token_urlsafe(32));print('CIVICPUSH_DEMO_MODE=1');n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;print('CIVICPUSH_VAPID_PRIVATE_KEY='+base64.urlsafe_b64encode((secrets.randbelow(n-1)+1).to_bytes(32,'big')).decode().rstrip('='))" > $(LOCAL_ENV)
	@chmod 600 $(LOCAL_ENV)
	@echo "Generated local secrets in $(LOCAL_ENV) (never committed)."

run: venv $(LOCAL_ENV)
	@$(WITH_ENV) $(PY) manage.py compile_translations
	@$(WITH_ENV) $(PY) manage.py migrate --noinput -v0
	@$(WITH_ENV) $(PY) manage.py collectstatic --noinput -v0
	@$(WITH_ENV) $(PY) manage.py load_demo --if-empty
	@$(WITH_ENV) $(PY) manage.py demo_logins
	@$(MAKE) --no-print-directory serve

serve:
	@$(WITH_ENV) PORT=$(PORT) $(PY) -m civicpush.serve

demo-data: venv $(LOCAL_ENV)
	@$(WITH_ENV) $(PY) manage.py load_demo --reset

test: venv browser-deps
	@$(PY) manage.py compile_translations --settings=civicpush.config.settings_test
	@echo "== test suite on SQLite, tasks in-process =="
	env -u DATABASE_URL -u CELERY_BROKER_URL $(PY) -m pytest $(ARGS)
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== test suite on PostgreSQL ($${DATABASE_URL%%@*}@…), broker: $${CELERY_BROKER_URL:-none} =="; \
	  $(PY) -m pytest $(ARGS); \
	fi

# Browser tests drive Debian's chromium through Playwright; install it when missing and we may.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for browser tests…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "chromium is missing: browser tests will be skipped (apt-get install chromium)."; fi; \
	fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy civicpush

typecheck: venv
	$(VENV)/bin/mypy civicpush

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock:
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock --quiet

bench: bench-startup bench-citizens bench-audience bench-inbox bench-ledger bench-pay bench-quiz bench-fanout

bench-startup:
	$(PY) bench/startup.py $(ARGS)

bench-citizens: venv $(LOCAL_ENV)
	@$(WITH_ENV) $(PY) bench/load_citizens.py $(ARGS)

bench-audience: venv $(LOCAL_ENV)
	@$(WITH_ENV) $(PY) bench/audience_estimate.py $(ARGS)

# wrk is the load generator for HTTP benchmarks (Debian package); without it a slower Python generator is used.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || echo "wrk not installed: using the Python load generator"

bench-inbox: venv $(LOCAL_ENV) bench-deps
	@$(WITH_ENV) $(PY) bench/inbox.py $(ARGS)

# Needs pgbench (Debian's postgresql package) for the floor.
bench-ledger: venv $(LOCAL_ENV) bench-deps
	@$(WITH_ENV) $(PY) bench/ledger.py $(ARGS)

# 2,000 concurrent quiz answers over HTTP for a first-300 reward (PostgreSQL, gunicorn): see bench/quiz.py.
bench-quiz: venv $(LOCAL_ENV)
	@$(WITH_ENV) $(PY) bench/quiz.py $(ARGS)

# Web Push fan-out to N synthetic subscribers against a local push sink; needs PostgreSQL
# (BENCH_DATABASE_URL) and a broker (CELERY_BROKER_URL, default redis://127.0.0.1:6379/14).
bench-fanout: venv $(LOCAL_ENV)
	@$(WITH_ENV) $(PY) bench/fanout.py $(ARGS)

clean:
	rm -rf var/ staticfiles/

# Store payments/s over HTTP (16 store clients, PostgreSQL, wrk): see bench/pay.py.
bench-pay: venv $(LOCAL_ENV) bench-deps
	@$(WITH_ENV) $(PY) bench/pay.py $(ARGS)
