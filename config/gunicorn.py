"""gunicorn settings for production and benchmarks: threads + keep-alive, persistent DB connections
(CONN_MAX_AGE in settings) so a lookup costs one SQL statement and no connection set-up."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", 4))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 30))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
