"""The deployment description and the settings' safe defaults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import compose
import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"
SECRETS = {"SECRET_KEY": "s3cret", "POSTGRES_PASSWORD": "pw", "ALLOWED_HOSTS": "lanes.example.org"}


def compose_config(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(env_overrides)
    return subprocess.run(
        [str(COMPOSE_BIN), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )


def test_compose_config_is_valid_and_production_like():
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert {"db", "web", "worker", "migrate"} <= set(services)
    assert services["db"]["image"].startswith("postgis/postgis:15")
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][-2:] == ["procrastinate", "worker"]
    for name in ("web", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["DEBUG"] == "false"
        assert env["SECRET_KEY"] == "s3cret"
        assert env["DATABASE_URL"] == "postgis://lanechief:pw@db:5432/lanechief"
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_run_without_secrets(missing):
    env = dict(SECRETS)
    del env[missing]
    result = compose_config(env)
    assert result.returncode != 0
    assert missing in result.stderr


def run_settings(env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_TESTING", "ALLOWED_HOSTS")}
    base.update(env)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=base, cwd=ROOT)


def test_production_settings_need_a_secret_key():
    result = run_settings({"DJANGO_SETTINGS_MODULE": "config.settings"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_defaults_are_safe():
    result = run_settings({"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "[]", "True", "True"]


def test_django_talks_to_postgresql_through_psycopg2(db):
    import psycopg  # procrastinate's worker driver is installed too ...
    from django.db import connection
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    assert psycopg.__version__.startswith("3.")
    assert is_psycopg3 is False  # ... yet Django uses psycopg2, explicitly
    assert connection.Database.__name__ == "psycopg2"
    with connection.cursor() as cursor:
        cursor.execute("SELECT postgis_lib_version()")
        assert cursor.fetchone()[0].startswith("3.")


def test_production_collectstatic_succeeds(tmp_path):
    """The Docker image runs collectstatic with the manifest storage: every referenced file must exist."""
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_TESTING")},
            "SECRET_KEY": "x" * 50,
            "STATIC_ROOT": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())
    assert "vendor/leaflet/leaflet.js" in manifest["paths"]
