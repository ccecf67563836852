"""Shared pieces of the benchmarks: machine facts, pgbench and wrk runners, a gunicorn server, percentiles, and the
per-scenario result files (bench/results/<scenario>.json) that docs/benchmarks.md is composed from.

Every scenario module (bench/lookups.py, bench/submission.py, bench/coverage.py, bench/ranking.py, …) exposes
    NAME: str                      the key used by `make bench ARGS="--only NAME"` and the results file name
    run(ctx: Context) -> dict      measures, returns a JSON-able result (with "met": bool | None)
    markdown(result: dict) -> list[str]   its section of docs/benchmarks.md
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
PORT = int(os.environ.get("BENCH_PORT", "8011"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine_facts() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connection.cursor() as cur:
        cur.execute("SELECT version(), postgis_full_version()")
        pg, postgis = cur.fetchone()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "postgresql": pg.split(" on ")[0],
        "postgis": postgis.split('"')[1] if '"' in postgis else postgis,
    }


def db_params() -> dict:
    d = settings.DATABASES["default"]
    return {
        "host": d.get("HOST") or "127.0.0.1",
        "port": str(d.get("PORT") or 5432),
        "user": d.get("USER") or "postgres",
        "dbname": d["NAME"],
        "password": d.get("PASSWORD") or "",
    }


def pgbench(script: Path, bbox: list[float], *, seconds: int, clients: int, defines: dict | None = None) -> dict:
    """Runs a pgbench script (prepared statements) with the bbox as :minlon … :maxlat and `defines` as further
    variables; throughput, latency from the per-transaction log, failed transactions."""
    p = db_params()
    env = dict(os.environ, PGPASSWORD=p["password"])
    pgbin = Path("/usr/lib/postgresql/15/bin/pgbench")
    variables = {"minlon": bbox[0], "minlat": bbox[1], "maxlon": bbox[2], "maxlat": bbox[3], **(defines or {})}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            str(pgbin) if pgbin.exists() else "pgbench",
            "-n",
            "-h",
            p["host"],
            "-p",
            p["port"],
            "-U",
            p["user"],
            "-f",
            str(script),
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            "-M",
            "prepared",
            *[arg for name, value in variables.items() for arg in ("-D", f"{name}={value}")],
            "-l",
            "--log-prefix",
            f"{tmp}/log",
            p["dbname"],
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"pgbench failed: {proc.stderr[-1500:]}")
        out = proc.stdout
        latencies = []
        for f in Path(tmp).glob("log*"):
            for line in f.read_text().split("\n"):
                parts = line.split()
                if len(parts) >= 3:
                    latencies.append(int(parts[2]) / 1000.0)  # µs → ms
    latencies.sort()
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {
        "throughput_rps": round(float(re.search(r"tps = ([\d.]+)", out).group(1)), 1),
        "median_ms": round(median(latencies), 3) if latencies else 0.0,
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 3) if latencies else 0.0,
        "requests": len(latencies),
        "failed": int(failed.group(1)) if failed else 0,
    }


def parse_ms(value: str) -> float:
    num, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(path: str, bbox: list[float], *, seconds: int, connections: int, extra: str = "") -> dict:
    cmd = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(ROOT / "bench/wrk/random_point.lua"),
        f"http://127.0.0.1:{PORT}",
        "--",
        path,
        *map(str, bbox),
        extra,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {
        "throughput_rps": round(rps, 1),
        "median_ms": round(parse_ms(lat["50"]), 3),
        "p99_ms": round(parse_ms(lat["99"]), 3),
        "requests": total,
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


class Gunicorn:
    """gunicorn serving config.wsgi on 127.0.0.1:PORT with DEBUG off, configured by config/gunicorn.py — the file
    production uses (docker-compose.yml) — so a benchmark measures the production set-up. `workers`, `threads` and
    `worker_class` override it only when given (None: the config file's value); `env` overrides its environment.

    Note: gunicorn's `sync` workers close the connection after every response (no keep-alive); the production
    configuration uses `gthread` workers, which keep connections alive."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        threads: int | None = None,
        worker_class: str | None = None,
        env: dict | None = None,
    ):
        self.workers = workers
        self.threads = threads
        self.worker_class = worker_class
        self.overrides = env or {}
        self.proc = None

    def __enter__(self):
        env = dict(
            os.environ,
            DEBUG="false",
            SECRET_KEY="bench-only-secret-key-" + "x" * 30,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            GUNICORN_BIND=f"127.0.0.1:{PORT}",
            LOG_LEVEL="WARNING",
        )
        for key, value in (
            ("GUNICORN_WORKERS", self.workers),
            ("GUNICORN_THREADS", self.threads),
            ("GUNICORN_WORKER_CLASS", self.worker_class),
        ):
            if value is not None:
                env[key] = str(value)
        env.pop("DJANGO_TESTING", None)
        env.update(self.overrides)
        self.env = env
        # stderr to a file, not a pipe nobody drains: a chatty server must never block on a full pipe
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2).read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    self.stderr.seek(0)
                    raise RuntimeError("gunicorn exited: " + self.stderr.read().decode()[-2000:]) from None
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def configuration(self) -> dict:
        """What gunicorn really runs with: config/gunicorn.py evaluated in the server's environment."""
        code = (
            "import json, runpy; c = runpy.run_path('config/gunicorn.py'); "
            "print(json.dumps({k: c[k] for k in ('workers', 'worker_class', 'threads', 'keepalive', 'timeout')}))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        ).stdout
        return json.loads(out)

    def peak_rss_mb(self) -> float:
        total = 0
        pids = [str(self.proc.pid)]
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        pids += out.split()
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return round(total / 1024, 1)

    def __exit__(self, *exc):
        os.killpg(os.getpgid(self.proc.pid), signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.stderr.close()


def warm(path: str, bbox: list[float], n: int = 50) -> None:
    for i in range(n):
        lon = bbox[0] + (bbox[2] - bbox[0]) * (i + 0.5) / n
        lat = bbox[1] + (bbox[3] - bbox[1]) * ((i * 7) % n + 0.5) / n
        urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}?lat={lat}&lon={lon}", timeout=10).read()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an unsorted list; NaN-free, empty → 0."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def latency_summary(ms: list[float]) -> dict:
    return {
        "median_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else 0.0,
        "samples": len(ms),
    }


def peak_rss_mb_of_self() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@dataclass
class Context:
    """What every scenario gets: the dataset's extent and facts, the machine, a logger, the requested settings."""

    bbox: list[float]
    dataset: dict
    machine: dict
    seconds: int = SECONDS
    connections: int = CONNECTIONS
    extra: dict = field(default_factory=dict)

    def log(self, msg: str) -> None:
        log(msg)


def save_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_result(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
