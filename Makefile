# Carshop: `make run` serves the admin with demo data on SQLite; `make test` runs the whole suite.
# Both set up .venv first and are quick the second time (installs are skipped when the
# requirements did not change).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint check venv demo bench bench-data bench-reports bench-two-hosts clean

$(STAMP): requirements/base.txt requirements/production.txt requirements/development.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/development.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo --if-empty

run: demo
	$(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	DJANGO_ENV=test $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_ENV=test $(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run

# Benchmarks at scale (PostgreSQL only, never part of `make test`); see bench/RESULTS.md.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/carshop_bench
BENCH_SMALL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/carshop_bench_small

# Once: the large data set (1,000,000 repair orders...) into an empty database, 10-15 minutes.
# BENCH_DATA_ARGS="--fraction 0.1" loads a tenth of it.
bench-data: $(STAMP)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) manage.py migrate --noinput
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) manage.py seed_demo --scale large $(BENCH_DATA_ARGS)

# The admin and API benchmarks against it, written to bench/RESULTS.md (a few minutes).
# BENCH_ARGS="--runs 3 --skip-untuned --skip-memory" for a quicker look; BENCH_ARGS=--api-only
# measures the API lists alone and rewrites only their section.
bench: $(STAMP)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_SMALL_DATABASE_URL=$(BENCH_SMALL_DATABASE_URL) \
		$(PY) -m bench.run $(BENCH_ARGS)

# The managers' report pages alone (each report's page and CSV over last month, this year and
# five years), rewriting only their section of bench/RESULTS.md. BENCH_ARGS="--runs 3" or
# "--reports car-count,receivables" for a quicker look.
bench-reports: $(STAMP)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.run --reports-only $(BENCH_ARGS)

# The two-host drill (docs/scale-out.md): two gunicorn instances behind nginx on loopback,
# sharing Redis and PostgreSQL; checks the shared rate limit and session, then the same load on
# one instance and on two, written to bench/RESULTS-scaleout.md (about 5 minutes; needs nginx).
BENCH_DRILL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/carshop_drill
bench-two-hosts: $(STAMP)
	$(PY) -m bench.two_hosts --database-url $(BENCH_DRILL_DATABASE_URL) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/carshop.sqlite3 var/test.sqlite3
