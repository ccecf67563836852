"""The interface of `make reliability` modules (reliability/faults.py, fuzz.py, privacy.py, uploads.py, …).

Each module exposes
    NAME: str                               key for `make reliability ARGS="--only NAME"`, results file name
    run(ctx: Context) -> dict               runs its checks (bounded in time), returns JSON-able figures
    markdown(result: dict) -> list[str]     its section of docs/reliability.md
A result carries `"zero_expected": {label: number}` — every figure that must be 0 (5xx seen, leaks found, hostile
uploads stored, acknowledged submissions lost …) — and `"ok": bool` (all of them 0 and nothing else failed).

reliability/run.py prepares the context: a database of its own with the demo loaded, gunicorn (DEBUG off, production
settings) serving it on 127.0.0.1, the procrastinate worker, and a log file the server writes to.
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
