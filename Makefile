# `make run`: set up and serve the portal on SQLite. `make test`: lint, types and the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEV_ENV := DEBUG=1
# The whole city (209,683 households); DEMO_SCALE=0.05 for a quicker start.
DEMO_SCALE ?= 1.0
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run setup screenshots test lint typecheck pytest pytest-postgres clean locale

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# This checkout's own settings: DEBUG asked for, and a secret key made once for this machine.
# heating/settings.py reads it; the environment wins over it. Never deployed (.dockerignore).
LOCAL_ENV := local.env
$(LOCAL_ENV): | $(VENV)/.installed
	@printf '# Written by make setup for this checkout only; the environment wins over it.\nDEBUG=1\nSECRET_KEY=%s\nFIELD_ENCRYPTION_SALT=%s\n' \
	  "$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  "$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(24))')" > $@

setup: $(VENV)/.installed $(LOCAL_ENV)
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py load_reference
	$(DEV_ENV) $(PY) manage.py import_targets fixtures/plans/task-breakdown-2023.xlsx --year 2023
	$(DEV_ENV) $(PY) manage.py load_indicators --year 2023
	$(DEV_ENV) $(PY) manage.py create_demo_users
	$(DEV_ENV) $(PY) manage.py import_tender fixtures/demo/tender-list-demo.csv
	$(DEV_ENV) $(PY) manage.py generate_households --scale $(DEMO_SCALE)

# The server runs as in production (DEBUG off: the Chinese 404 and 403 pages, static files from
# WhiteNoise, the Content-Security-Policy), over plain http on this machine (HTTPS=0).
SERVE_ENV = DEBUG=0 HTTPS=0

run: setup
	$(SERVE_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(SERVE_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# A full-page screenshot of every main page as each demo user sees it, from the whole demo city,
# in test-artifacts/tour/ (open index.html there). Needs Debian's chromium.
screenshots: setup
	$(SERVE_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(SERVE_ENV) $(PY) -m tests.tour

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(DEV_ENV) $(VENV)/bin/mypy .

pytest: $(VENV)/.installed
	$(VENV)/bin/pytest

# The same suite against PostgreSQL, so that SQLite-only behaviour cannot hide. Skipped when
# PostgreSQL is down, unless REQUIRE_SERVICES=1 (CI), where that is a failure.
pytest-postgres: $(VENV)/.installed
	@status=0; $(PY) -m tests.services postgres || status=$$?; \
	if [ $$status -eq 0 ]; then DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest; \
	elif [ $$status -eq 2 ]; then exit 1; fi

test: lint typecheck pytest pytest-postgres

# The portal's own Chinese for what Django and django-axes leave untranslated: locale/*/django.po
# compiled into the committed .mo files.
locale: $(VENV)/.installed
	$(PY) -m heating.locale

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
