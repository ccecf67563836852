#!/usr/bin/env bash
# Installs what is missing for `make run` (runtime) or `make test` (runtime + browser tests):
# Debian packages (as root, or prints the exact commands and stops), the virtualenv, pinned requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-run}

RUNTIME_DEBS=(postgresql-15 postgresql-15-postgis-3 postgresql-contrib gdal-bin libgeos-c1v5 libproj25 python3-venv)
TEST_DEBS=(chromium fonts-wqy-zenhei)
BREW_PKGS="postgresql@15 postgis gdal geos proj"

want=("${RUNTIME_DEBS[@]}")
[ "$MODE" = test ] && want+=("${TEST_DEBS[@]}")

missing=()
if [ "$(uname -s)" = Darwin ]; then
  for cmd in pg_ctl initdb gdalinfo; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Missing: ${missing[*]}. Install them with Homebrew, then run make again:" >&2
    echo "  brew install $BREW_PKGS" >&2
    [ "$MODE" = test ] && echo "  brew install --cask chromium && brew install --cask font-wqy-zenhei" >&2
    exit 1
  fi
elif command -v dpkg-query >/dev/null; then
  for p in "${want[@]}"; do
    # python3-venv is only needed when the system python lacks venv/ensurepip (e.g. pyenv builds have them).
    if [ "$p" = python3-venv ] && python3 -c 'import venv, ensurepip' 2>/dev/null; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "==> installing Debian packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      # The distribution's default cluster is not ours: we run a project-local one (scripts/db.sh).
    else
      echo "Missing Debian packages: ${missing[*]}" >&2
      echo "Install them as root, then run make again:" >&2
      echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
      echo "On macOS (Homebrew): brew install $BREW_PKGS" >&2
      exit 1
    fi
  fi
else
  echo "Unsupported system: need Debian 12 (apt) or macOS (Homebrew)." >&2
  exit 1
fi

# Virtualenv with the pinned requirements; reinstalled only when requirements.txt changes.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating virtualenv .venv ($($PYTHON --version))"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
sum=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "==> installing Python requirements (pinned, requirements.txt)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  echo "$sum" > "$stamp"
fi
