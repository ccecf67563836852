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


# --- the production configuration of .env.example: check --deploy, HTTPS behind a proxy, cookies, CSP -------------
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECRET_KEY": "k7Vq-" + "".join(chr(ord("a") + (i * 7) % 26) + str(i % 10) for i in range(30)),
    "ALLOWED_HOSTS": "lanes.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://lanes.example.org",
    "BEHIND_TLS_PROXY": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def production_env(extra: dict | None = None) -> dict:
    drop = ("SECRET_KEY", "DEBUG", "DJANGO_TESTING", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, **PRODUCTION, **(extra or {})}


def test_env_example_documents_every_production_setting():
    text = (ROOT / ".env.example").read_text()
    for name in [*PRODUCTION, "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "CACHE_URL", "RATE_LIMITS", "CSP_ENABLED"]:
        if name != "DJANGO_SETTINGS_MODULE":
            assert f"# {name}=" in text or f"{name} " in text or f"{name}=" in text, name


def test_check_deploy_is_clean_for_the_production_configuration():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=production_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_a_short_key_and_plain_http():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=production_env({"SECRET_KEY": "short", "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0"}),
    )
    assert result.returncode != 0
    for warning in ("security.W009", "security.W008", "security.W004"):
        assert warning in result.stderr + result.stdout


PROBE = """
import django, json
django.setup()
from django.test import Client
out = {}
c = Client(HTTP_HOST="lanes.example.org")
plain = c.get("/accounts/login/")
out["plain"] = [plain.status_code, plain.get("Location", "")]
tls = c.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
out["tls"] = tls.status_code
out["headers"] = {k: tls.get(k, "") for k in ("Strict-Transport-Security", "Content-Security-Policy",
                  "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")}
csrf = tls.cookies["csrftoken"]
out["csrf_cookie"] = {"secure": bool(csrf["secure"]), "samesite": csrf["samesite"]}
from django.conf import settings as s
out["session"] = [s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE]
print(json.dumps(out))
"""


def test_https_behind_the_proxy_secure_cookies_and_headers():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=production_env()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["plain"] == [301, "https://lanes.example.org/accounts/login/"]  # plain HTTP: redirected
    assert out["tls"] == 200  # X-Forwarded-Proto: https from the proxy: served
    headers = out["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self' 'nonce-" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert out["csrf_cookie"] == {"secure": True, "samesite": "Lax"}
    assert out["session"] == [True, True, "Lax"]
