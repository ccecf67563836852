#!/usr/bin/env bash
# make test: the same set-up as make run (plus the browser), then lint and the whole suite against PostGIS.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh test
source scripts/env.sh
export DJANGO_TESTING=1
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
mkdir -p test-artifacts .staticfiles
set +e
.venv/bin/pytest --create-db -p no:cacheprovider "$@"
rc=$?
set -e
echo "==> make test took $(( $(date +%s) - start )) s"
exit $rc
