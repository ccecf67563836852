"""gunicorn settings, the same for production (docker-compose.yml) and the benchmarks (bench/common.py Gunicorn).

gthread workers: keep-alive connections (gunicorn's `sync` workers close every connection after one response) and a
few threads per process so one waiting on PostgreSQL does not idle the process. The work is CPU-bound Python under
the GIL, so processes ≈ cores (GUNICORN_WORKERS, default: the CPU count) and a few threads each (GUNICORN_THREADS,
default 4); more processes on the same cores only add context switches and memory. Django keeps its database
connections (CONN_MAX_AGE in settings); the point lookups' fast path (config/wsgi.py, common/fastlookup.py) keeps one
connection per thread with prepared statements, so workers × threads connections at most.
"""

import multiprocessing
import os


def _env(name: str, default):
    """GUNICORN_* from the environment; unset or empty (docker-compose's `${VAR:-}`) means the default."""
    value = os.environ.get(name, "").strip()
    return type(default)(value) if value else default


bind = _env("GUNICORN_BIND", "0.0.0.0:8000")
workers = _env("GUNICORN_WORKERS", multiprocessing.cpu_count())
worker_class = _env("GUNICORN_WORKER_CLASS", "gthread")
threads = _env("GUNICORN_THREADS", 4)
keepalive = _env("GUNICORN_KEEPALIVE", 30)
timeout = _env("GUNICORN_TIMEOUT", 60)
max_requests = _env("GUNICORN_MAX_REQUESTS", 0)
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"


def worker_exit(server, worker):
    """Close the fast path's database connections when a worker stops."""
    app = getattr(worker, "wsgi", None)
    db = getattr(app, "db", None)
    if db is not None:
        db.close_all()
