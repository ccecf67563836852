"""The interface of `make reliability` modules (reliability/faults.py, fuzz.py, privacy.py, uploads.py, …).

Each module exposes
    NAME: str                               key for `make reliability ARGS="--only NAME"`, results file name
    run(ctx: Context) -> dict               runs its checks (bounded in time), returns JSON-able figures
    markdown(result: dict) -> list[str]     its section of docs/reliability.md
A result carries `"zero_expected": {label: number}` — every figure that must be 0 (5xx seen, leaks found, hostile
uploads stored, acknowledged submissions lost …) — and `"ok": bool` (all of them 0 and nothing else failed).

reliability/run.py prepares the context: a database of its own with the demo loaded, gunicorn (DEBUG off, production
settings) serving it on 127.0.0.1, the procrastinate worker, and a log file the server writes to.

ctx.extra (filled by reliability/run.py): "deployment" (run.Deployment: .pg with stop()/start()/restart()/psql(),
.worker and .web with kill()/alive()/pid — the worker is supervised and restarted when it exits), "worker_log" (Path),
"webhook_secret" (the NOTIFY_WEBHOOK_SECRET of the run). Django is set up in the run's process against
ctx.database_url, so a module may use the ORM to check what was stored. session_headers() below logs a demo user in.
The run is plain HTTP on 127.0.0.1, so its cookies are not Secure (SESSION_COOKIE_SECURE / CSRF_COOKIE_SECURE false):
a requests.Session logs in and sends them back as usual.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "reliability" / "results"


@dataclass
class Context:
    base_url: str  # e.g. "http://127.0.0.1:8101": gunicorn serving the demo database, DEBUG off
    database_url: str  # the demo database of this run (postgis://…)
    server_log: Path  # what gunicorn and Django log (to scan for personal data)
    artifacts: Path  # a directory for this run's files
    seconds_budget: int = 120  # how long one module may take
    extra: dict = field(default_factory=dict)

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)


def session_headers(ctx: Context, username: str, password: str) -> dict[str, str]:
    """Log in through the login page like a browser; returns the headers of a logged-in client that sends unsafe
    requests (Cookie with the session and CSRF cookies, X-CSRFToken). The cookies are passed explicitly, so this also
    works against a deployment whose cookies are Secure (an HTTP client would not send those back over plain HTTP)."""
    import re

    import requests

    login = f"{ctx.base_url}/accounts/login/"
    page = requests.get(login, timeout=30)
    page.raise_for_status()
    csrf = page.cookies.get("csrftoken")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not csrf or not match:
        raise RuntimeError(f"no CSRF token on {login}")
    answer = requests.post(
        login,
        data={"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)},
        headers={"Cookie": f"csrftoken={csrf}", "Referer": login},
        allow_redirects=False,
        timeout=30,
    )
    session = answer.cookies.get("sessionid")
    if answer.status_code != 302 or not session:
        raise RuntimeError(f"login as {username} failed: HTTP {answer.status_code}")
    csrf = answer.cookies.get("csrftoken") or csrf
    return {"Cookie": f"csrftoken={csrf}; sessionid={session}", "X-CSRFToken": csrf, "Referer": ctx.base_url + "/"}
