# Two commands do everything on a fresh Debian 12 machine (as root; otherwise they print what to install):
#   make run   — install what is missing, start a project-local PostGIS (unless DATABASE_URL is set),
#                migrate, load the demo once, start the worker and serve http://127.0.0.1:8000
#   make test  — the same set-up, then ruff and the whole test suite against PostGIS
.PHONY: run test stop setup db worker lint format bench reliability backup restore

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

stop:
	@bash scripts/db.sh stop

setup:
	@bash scripts/setup.sh test

db:
	@bash scripts/db.sh start

worker:
	@bash -c 'source scripts/env.sh && .venv/bin/python manage.py procrastinate worker'

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	@.venv/bin/ruff check --fix . && .venv/bin/ruff format .

bench:
	@bash scripts/bench.sh $(ARGS)

reliability:
	@bash scripts/reliability.sh $(ARGS)

backup:
	@bash scripts/backup.sh $(ARGS)

restore:
	@bash scripts/restore.sh $(ARGS)
