"""`make reliability`: fault injection, fuzzing, privacy and upload checks against a production-like deployment.

Everything runs on services of its own, never the shared ones: a PostgreSQL cluster in .reliability/pgdata
(port RELIABILITY_PG_PORT, default 54339; the same initdb settings as scripts/db.sh), a fresh database with the demo,
gunicorn (config/gunicorn.py, DEBUG off, a random SECRET_KEY, ALLOWED_HOSTS) on 127.0.0.1:RELIABILITY_PORT (8101),
and the procrastinate worker. Each module of reliability/ (see reliability/common.py) runs in turn; its result goes
to reliability/results/<name>.json, and docs/reliability.md (+ docs/reliability.json) is composed from the results of
all modules, so `--only NAME` refreshes one section and keeps the others. Everything started here is stopped on exit,
Ctrl-C and failure included.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reliability.common import RESULTS, Context  # noqa: E402

# Order matters: the checks that only read and send run first; faults restarts PostgreSQL and kills the worker.
MODULES = ["fuzz", "privacy", "uploads", "faults"]
# Seconds per module (ctx.seconds_budget), so that the whole run stays under 20 minutes with the set-up (~2 min).
# faults waits up to 5.5 min for notify's stalled-job retry (every 5 min) after killing the worker.
BUDGETS = {"fuzz": 360, "privacy": 150, "uploads": 90, "faults": 480}
WORK = ROOT / ".reliability"
PG_PORT = int(os.environ.get("RELIABILITY_PG_PORT", "54339"))
WEB_PORT = int(os.environ.get("RELIABILITY_PORT", "8101"))
DB_NAME = "lanechief_reliability"
PGBIN = Path("/usr/lib/postgresql/15/bin")
if not PGBIN.exists():
    PGBIN = Path(shutil.which("pg_ctl") or "/usr/bin/pg_ctl").parent
PY = str(ROOT / ".venv/bin/python")
STARTED = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.getuid() == 0 else cmd


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Postgres:
    """The reliability run's own cluster. restart()/stop()/start() are what the faults module injects."""

    def __init__(self, port: int):
        self.port = port
        self.root = WORK / "pgdata"
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.logfile = self.root / "postgres.log"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = as_postgres([str(PGBIN / "pg_ctl"), "-D", str(self.data), *args])
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.root)], check=True)
            os.chmod(ROOT, os.stat(ROOT).st_mode | 0o001)
        if (self.data / "PG_VERSION").exists():
            return
        log(f"postgres: initialising a cluster of its own in {self.data.relative_to(ROOT)}")
        subprocess.run(
            as_postgres(
                [
                    str(PGBIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        conf = (
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.sock}'\n"
            "max_connections = 200\nshared_buffers = 512MB\nwork_mem = 32MB\nmaintenance_work_mem = 256MB\n"
            "fsync = on\nsynchronous_commit = on\n"
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write(conf)

    def running(self) -> bool:
        return self._ctl("status", check=False).returncode == 0

    def start(self) -> None:
        self._ctl("-l", str(self.logfile), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "-w", "-t", "60", "-l", str(self.logfile), "restart")

    def psql(self, sql: str, db: str = "postgres") -> str:
        cmd = ["psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db]
        return subprocess.run([*cmd, "-c", sql], capture_output=True, text=True, check=True, timeout=120).stdout.strip()

    def url(self, db: str = DB_NAME) -> str:
        return f"postgis://postgres@127.0.0.1:{self.port}/{db}"


class Process:
    """A child process in a session of its own (Ctrl-C reaches run.py, which stops it in order), logging to a file.

    supervised=True restarts it when it exits on its own, one second later, like docker-compose's
    `restart: unless-stopped` does for the production worker (procrastinate's worker stops when it loses the
    database; its supervisor starts it again). `exits` records every such exit (time, return code)."""

    def __init__(self, name: str, cmd: list[str], env: dict, logfile: Path, *, supervised: bool = False):
        self.name, self.cmd, self.env, self.logfile = name, cmd, env, logfile
        self.proc: subprocess.Popen | None = None
        self.pidfile = WORK / f"{name}.pid"
        self.supervised = supervised
        self.exits: list[tuple[float, int]] = []
        self._wanted = False
        self._lock = threading.RLock()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            self._wanted = True
            self._spawn()
        if self.supervised and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name=f"supervise-{self.name}", daemon=True)
            self._watcher.start()

    def _spawn(self) -> None:
        fh = open(self.logfile, "a", encoding="utf-8")  # noqa: SIM115 - the child keeps it
        fh.write(f"\n===== {dt.datetime.now().isoformat(timespec='seconds')} starting {self.name}\n")
        fh.flush()
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        fh.close()
        self.pidfile.write_text(str(self.proc.pid))

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            with self._lock:
                if not self._wanted or self.proc is None or self.proc.poll() is None:
                    continue
                self.exits.append((time.time(), self.proc.returncode))
            time.sleep(1)
            with self._lock:
                if self._wanted and self.proc.poll() is not None:
                    log(f"supervisor: {self.name} exited (code {self.proc.returncode}); starting it again")
                    self._spawn()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, no clean-up: what a power loss or the OOM killer does (a supervised process is restarted)."""
        with self._lock:
            if self.alive():
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def wait_restarted(self, old_pid: int | None, timeout: float = 30) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.alive() and self.pid != old_pid:
                return True
            time.sleep(0.1)
        return False

    def stop(self, timeout: float = 20) -> None:
        with self._lock:
            self._wanted = False
            if self.alive():
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
        self.pidfile.unlink(missing_ok=True)


def stop_leftovers() -> None:
    """Processes of an earlier run killed before it could clean up (pid files in .reliability/)."""
    for pidfile in WORK.glob("*.pid"):
        try:
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            pidfile.unlink(missing_ok=True)
            continue
        if str(ROOT) in cmdline or "gunicorn" in cmdline or "procrastinate" in cmdline:
            log(f"stopping {pidfile.stem} left over from an earlier run (pid {pid})")
            try:
                os.killpg(pid, signal.SIGTERM)
                time.sleep(2)
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pidfile.unlink(missing_ok=True)


def machine_facts(pg: Postgres) -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8") if "model name" in line),
        platform.processor(),
    )
    mem = next(int(line.split()[1]) for line in open("/proc/meminfo", encoding="utf-8") if line.startswith("MemTotal"))
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem / 1024 / 1024, 1),
        "postgresql": pg.psql("SHOW server_version"),
        "postgis": pg.psql("SELECT postgis_lib_version()", DB_NAME),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def module(name: str):
    try:
        return importlib.import_module(f"reliability.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"reliability.{name}":
            return None
        raise


def module_or_none(name: str):
    """For composing the page: a module that no longer imports must not stop the others' sections."""
    try:
        return module(name)
    except Exception as exc:  # noqa: BLE001
        log(f"module {name} does not import ({exc!r}); its section shows the stored figures only")
        return None


def load_result(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def compose(command: str) -> dict:
    """docs/reliability.md and docs/reliability.json from every module's latest result (a module not run here
    keeps its last published result: a clean clone has no reliability/results/)."""
    docs_json = ROOT / "docs/reliability.json"
    published = json.loads(docs_json.read_text(encoding="utf-8")).get("modules", {}) if docs_json.exists() else {}
    results = {name: load_result(name) or published.get(name) for name in MODULES}
    results = {k: v for k, v in results.items() if v}
    lines = [
        "# Reliability and security",
        "",
        f"Produced by `{command}` (generated from reliability/results/*.json; do not edit by hand). Each section",
        "says when it was measured; `make reliability` runs all of them in one go against a deployment of its own:",
        "a PostgreSQL cluster started for the run (own data directory and port), the demo database, gunicorn with",
        "production settings (DEBUG off, SECRET_KEY, ALLOWED_HOSTS; config/gunicorn.py; only the cookies are not",
        "`Secure`, the run being plain HTTP on 127.0.0.1) and the procrastinate worker, restarted by a supervisor when",
        "it exits (as docker-compose's `restart: unless-stopped` does).",
        "",
    ]
    machines = {json.dumps(r.get("_machine", {}), sort_keys=True) for r in results.values()}
    for m in (json.loads(x) for x in sorted(machines)):
        if m:
            lines += [
                f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory_gib']} GiB, {m.get('os', '')}; "
                f"PostgreSQL {m['postgresql']}, PostGIS {m['postgis']}; Python {m['python']}.",
                "",
            ]
    lines += [
        "## Summary",
        "",
        "Every figure here must be 0.",
        "",
        "| module | figure | value | 0? |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        zero = r.get("zero_expected", {})
        if not zero:
            lines.append(f"| {name} | (no figure: {r.get('error', 'nothing measured')}) | — | no |")
        for label, value in zero.items():
            lines.append(f"| {name} | {label} | {value} | {'yes' if value == 0 else '**no**'} |")
    lines.append("")
    for name, r in results.items():
        mod = module_or_none(name)
        if r.get("error"):
            lines += [f"## {name}", "", f"The module failed: `{r['error']}`.", ""]
        elif mod is not None:
            try:
                lines += mod.markdown(r)
            except Exception as exc:  # noqa: BLE001 - a stale result must not hide the other sections
                lines += [f"## {name}", "", f"(its section could not be written from the stored result: {exc!r})", ""]
        else:
            lines += [f"## {name}", "", "(module not present in this checkout; figures in docs/reliability.json)", ""]
        lines += [
            f"_Measured {r.get('_finished_at', '?')} in {r.get('_elapsed_s', '?')} s by `{r.get('_command', '?')}`; "
            f"{'all zero' if r.get('ok') else 'NOT all zero'}._",
            "",
        ]
    missing = [n for n in MODULES if n not in results]
    unwritten = [n for n in missing if not (ROOT / "reliability" / f"{n}.py").exists()]
    if unwritten:
        lines += ["Not written yet: " + ", ".join(f"reliability/{n}.py" for n in unwritten) + ".", ""]
    if len(unwritten) < len(missing):
        lines += ["Not run yet: " + ", ".join(n for n in missing if n not in unwritten) + ".", ""]
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/reliability.md").write_text("\n".join(lines), encoding="utf-8")
    docs_json.write_text(
        json.dumps({"command": command, "modules": results}, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return results


class Deployment:
    """The services of one run: PostgreSQL, gunicorn, the worker. Handed to modules as ctx.extra["deployment"]."""

    def __init__(self):
        self.pg = Postgres(PG_PORT)
        self.logs = WORK / "logs"
        self.server_log = self.logs / "server.log"
        self.worker_log = self.logs / "worker.log"
        self.webhook_secret = secrets.token_hex(16)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_", "PG"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.pg.url(),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on 127.0.0.1 (no TLS terminator in front): Secure cookies would never come back from an
            # HTTP client, so logged-in checks could not log in. Every other production setting stays.
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "STATIC_ROOT": str(WORK / "static"),
            "MEDIA_ROOT": str(WORK / "media"),
            "NOTIFY_WEBHOOK_SECRET": self.webhook_secret,
            "GUNICORN_BIND": f"127.0.0.1:{WEB_PORT}",
            "GUNICORN_WORKERS": os.environ.get("RELIABILITY_WEB_WORKERS", "3"),
            "GUNICORN_ACCESSLOG": "-",
            "PYTHONUNBUFFERED": "1",
        }
        self.web = Process(
            "gunicorn",
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.py", "config.wsgi"],
            self.env,
            self.server_log,
        )
        self.worker = Process(
            "worker", [PY, "manage.py", "procrastinate", "worker"], self.env, self.worker_log, supervised=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{WEB_PORT}"

    def manage(self, *args: str, timeout: int = 600) -> None:
        result = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")

    def prepare(self) -> None:
        WORK.mkdir(exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        stop_leftovers()
        if not port_free(WEB_PORT):
            raise RuntimeError(f"port {WEB_PORT} is in use; set RELIABILITY_PORT to a free port")
        self.pg.init()
        if not self.pg.running():
            if not port_free(PG_PORT):
                raise RuntimeError(f"port {PG_PORT} is in use; set RELIABILITY_PG_PORT to a free port")
            log(f"postgres: starting the run's own cluster on 127.0.0.1:{PG_PORT}")
            self.pg.start()
        log(f"postgres: a fresh database {DB_NAME} with postgis")
        self.pg.psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        self.pg.psql(f"CREATE DATABASE {DB_NAME}")
        self.pg.psql("CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist;", DB_NAME)
        log("django: migrate")
        self.manage("migrate", "--noinput", "-v", "0")
        log("django: load_demo")
        self.manage("load_demo")
        log("django: collectstatic (DEBUG off serves the manifest through whitenoise)")
        self.manage("collectstatic", "--noinput", "-v", "0")
        self.server_log.write_text("")
        self.worker_log.write_text("")

    def start_web(self) -> None:
        log(f"gunicorn: serving {self.base_url} (log: {self.server_log.relative_to(ROOT)})")
        self.web.start()
        import requests

        deadline = time.time() + 90
        while time.time() < deadline:
            if not self.web.alive():
                raise RuntimeError(f"gunicorn exited; see {self.server_log}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError("gunicorn did not answer /healthz within 90 s")

    def start_worker(self) -> None:
        log(f"worker: manage.py procrastinate worker (log: {self.worker_log.relative_to(ROOT)})")
        self.worker.start()

    def ensure_running(self) -> None:
        """After a module: PostgreSQL, gunicorn and the worker are up again for the next one."""
        if not self.pg.running():
            log("postgres: was down after the module; starting it")
            self.pg.start()
        if not self.web.alive():
            log("gunicorn: was down after the module; starting it")
            self.start_web()
        if not self.worker.alive():
            log("worker: was down after the module; starting it")
            self.start_worker()

    def stop(self) -> None:
        for proc in (self.worker, self.web):
            try:
                proc.stop()
            except Exception as exc:  # noqa: BLE001 - stop everything else anyway
                log(f"stopping {proc.name}: {exc!r}")
        try:
            self.pg.stop()
            log("stopped: worker, gunicorn, the run's PostgreSQL")
        except Exception as exc:  # noqa: BLE001
            log(f"stopping postgres: {exc!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default="", help="comma-separated modules to run (default: all): " + ", ".join(MODULES)
    )
    parser.add_argument("--skip", default="", help="comma-separated modules not to run")
    parser.add_argument("--compose-only", action="store_true", help="only compose docs/reliability.md from results")
    args = parser.parse_args()
    only = [s for s in args.only.split(",") if s]
    skip = {s for s in args.skip.split(",") if s}
    for name in [*only, *skip]:
        if name not in MODULES:
            parser.error(f"unknown module {name!r}; choose from {', '.join(MODULES)}")
    chosen = [m for m in MODULES if (not only or m in only) and m not in skip]
    command = "make reliability" + (f' ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")
    if args.compose_only:  # re-renders the page; each section keeps the command that measured it
        results = [load_result(n) for n in MODULES]
        compose(next((r["_command"] for r in results if r and r.get("_command")), "make reliability"))
        return 0

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    RESULTS.mkdir(parents=True, exist_ok=True)
    dep = Deployment()
    failed: list[str] = []
    try:
        dep.prepare()
        os.environ.update({k: dep.env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")})
        os.environ.update({k: dep.env[k] for k in ("DJANGO_SETTINGS_MODULE", "NOTIFY_WEBHOOK_SECRET", "MEDIA_ROOT")})
        import django

        django.setup()
        from django.db import connections

        facts = machine_facts(dep.pg)
        log(f"machine: {facts['cores']} cores, {facts['cpu']}, PostgreSQL {facts['postgresql']}")
        dep.start_web()
        dep.start_worker()
        for name in chosen:
            mod = module(name)
            if mod is None:
                log(f"module {name}: not written yet (reliability/{name}.py) — skipped")
                continue
            artifacts = WORK / "artifacts" / name
            artifacts.mkdir(parents=True, exist_ok=True)
            ctx = Context(
                base_url=dep.base_url,
                database_url=dep.pg.url(),
                server_log=dep.server_log,
                artifacts=artifacts,
                seconds_budget=BUDGETS.get(name, 120),
                extra={"deployment": dep, "worker_log": dep.worker_log, "webhook_secret": dep.webhook_secret},
            )
            log(f"==> module {name} (budget {ctx.seconds_budget} s)")
            t0 = time.time()
            try:
                result = mod.run(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - one broken module must not hide the others' figures
                import traceback

                traceback.print_exc()
                log(f"module {name} FAILED: {exc!r}")
                result = {"ok": False, "error": repr(exc)[:500], "zero_expected": {}}
                failed.append(name)
            finally:
                connections.close_all()
            result.update(
                _finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                _elapsed_s=round(time.time() - t0, 1),
                _machine=facts,
                _command=command,
            )
            (RESULTS / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
            for label, value in result.get("zero_expected", {}).items():
                log(f"  {name}: {label} = {value}{'' if value == 0 else '  <-- must be 0'}")
            if not result.get("ok"):
                failed.append(name)
            dep.ensure_running()
    except KeyboardInterrupt:
        log("interrupted: stopping everything this run started")
        dep.stop()
        return 130
    except Exception as exc:  # noqa: BLE001
        log(f"FAILED: {exc}")
        dep.stop()
        return 1
    dep.stop()
    results = compose(command)
    log(f"written: docs/reliability.md, docs/reliability.json, reliability/results/ ({time.time() - STARTED:.0f} s)")
    for name, r in results.items():
        log(f"  {name}: {'all zero' if r.get('ok') else 'NOT all zero'}")
    if failed:
        log(f"not all zero / failed: {', '.join(dict.fromkeys(failed))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
