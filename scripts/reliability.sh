#!/usr/bin/env bash
# make reliability: the same set-up as make test, then reliability/run.py (a PostgreSQL cluster, gunicorn and the
# queue worker of its own; fault injection, fuzzing, privacy and upload checks; docs/reliability.md).
#   make reliability                      every module
#   make reliability ARGS="--only faults" one module (the others keep their last published section)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh test
set +e
.venv/bin/python reliability/run.py "$@"
rc=$?
set -e
echo "==> make reliability took $(( $(date +%s) - start )) s"
exit $rc
