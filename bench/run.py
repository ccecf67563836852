"""`make bench`: city-scale benchmarks, every figure beside its raw-PostGIS baseline from the same run.

Runs against the database in DATABASE_URL (scripts/bench.sh points it at a separate `lanechief_bench` database).
Each scenario is a module of bench/ (see bench/common.py for the interface); its result goes to
bench/results/<name>.json, and docs/benchmarks.md (+ docs/benchmarks.json) is composed from the results of all
scenarios, so `--only NAME` refreshes one section and keeps the others (each shows when it was measured).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench import city  # noqa: E402
from bench.common import CONNECTIONS, SECONDS, Context, load_result, log, machine_facts, save_result  # noqa: E402

# Order matters: the HTTP lookups run first on a quiet machine; later scenarios add data of their own.
SCENARIOS = ["lookups", "submission", "coverage", "ranking", "dashboard"]


def scenario_module(name: str):
    try:
        return importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bench.{name}":
            return None
        raise


def dataset(args) -> dict:
    from grid.models import Area

    lanes_file = os.environ.get("BENCH_LANES")
    if lanes_file:
        from bench import realfile

        try:
            return realfile.load(lanes_file, log=log, rebuild=args.rebuild)
        except realfile.DatasetMismatch as exc:
            raise SystemExit(f"dataset: {exc}") from None
    if args.rebuild or not city.exists():
        if city.exists() or Area.objects.filter(code=city.DISTRICT_CODE).exists():
            log("dataset: dropping the previous synthetic city")
            with connection.cursor() as cur:
                cur.execute("TRUNCATE lanes_lane, grid_area RESTART IDENTITY CASCADE")
        log(f"dataset: building a synthetic city of {args.lanes:,} lanes (once; reused by later runs)")
        built = city.build(lanes=args.lanes, log=log)
    else:
        log("dataset: reusing the synthetic city already in the bench database (--rebuild to rebuild)")
        built = {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM lanes_lane), (SELECT count(*) FROM grid_area WHERE level='grid_cell')"
        )
        n_lanes, n_cells = cur.fetchone()
    return {"source": "synthetic city (bench/city.py)", "lanes": n_lanes, "grid_cells": n_cells, **built}


def compose(command: str) -> dict:
    """docs/benchmarks.md and docs/benchmarks.json from every scenario's latest result."""
    published = {}
    docs_json = ROOT / "docs/benchmarks.json"
    if docs_json.exists():
        published = json.loads(docs_json.read_text(encoding="utf-8")).get("scenarios", {})
        if not isinstance(published, dict):  # the format before scenarios had modules of their own
            published = {}
    # a scenario not run here keeps its last published result (a clean clone has no bench/results/)
    results = {name: load_result(name) or published.get(name) for name in SCENARIOS}
    results = {k: v for k, v in results.items() if v}
    first = next(iter(results.values()), {})
    m = first.get("_machine", {})
    ds = first.get("_dataset", {})
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` (this file is generated from bench/results/*.json; do not edit by hand).",
        "Each section says when it was measured and on which dataset; `make bench` measures all of them in one run.",
        "",
    ]
    if m:
        lines += [
            f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory_gib']} GiB; {m['postgresql']}; PostGIS {m['postgis']}; "
            f"Python {m['python']}.",
            "",
        ]
    if ds:
        lines += [
            f"Dataset: {ds.get('source')}: {ds.get('lanes', 0):,} lanes, {ds.get('grid_cells', 0):,} unit grid cells.",
            "",
        ]
    lines += ["## Summary", "", "| scenario | result | target met |", "|---|---|---|"]
    for name, r in results.items():
        mod = scenario_module(name)
        for text in mod.summary(r) if mod and hasattr(mod, "summary") else [name]:
            met = r.get("met")
            lines.append(f"| {name} | {text} | {'yes' if met else ('—' if met is None else 'no')} |")
    lines.append("")
    for name, r in results.items():
        mod = scenario_module(name)
        if not mod:
            continue
        lines += mod.markdown(r)
        when = r.get("_finished_at", "?")
        lines += [
            f"_Measured {when}, {r.get('_elapsed_s', '?')} s, dataset: {r.get('_dataset', {}).get('source', '?')}._",
            "",
        ]
    missing = [n for n in SCENARIOS if n not in results]
    if missing:
        lines += ["Not measured yet: " + ", ".join(missing) + ".", ""]
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/benchmarks.md").write_text("\n".join(lines), encoding="utf-8")
    (ROOT / "docs/benchmarks.json").write_text(
        json.dumps({"command": command, "scenarios": results}, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("BENCH_LANE_COUNT", "100000")))
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the synthetic city")
    parser.add_argument(
        "--only", default="", help="comma-separated scenarios to run (default: all): " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--skip", default="", help="comma-separated scenarios not to run")
    args = parser.parse_args()
    only = [s for s in args.only.split(",") if s]
    skip = {s for s in args.skip.split(",") if s}
    for name in [*only, *skip]:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    chosen = [s for s in (only or SCENARIOS) if s not in skip]

    started = time.time()
    facts = machine_facts()
    log(f"machine: {facts['cores']} cores, {facts['cpu']}, {facts['postgresql']}, PostGIS {facts['postgis']}")
    ds = dataset(args)
    connection.close()
    ctx = Context(bbox=city.bbox(), dataset=ds, machine=facts, seconds=SECONDS, connections=CONNECTIONS)
    connection.close()
    failed = []
    for name in chosen:
        mod = scenario_module(name)
        if mod is None:
            log(f"scenario {name}: not written yet (bench/{name}.py) — skipped")
            continue
        log(f"==> scenario {name}")
        t0 = time.time()
        try:
            result = mod.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others' figures
            log(f"scenario {name} FAILED: {exc!r} — its previous result (if any) is kept")
            failed.append(name)
            continue
        finally:
            connection.close()
        result.update(
            _finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            _elapsed_s=round(time.time() - t0, 1),
            _machine=facts,
            _dataset={k: v for k, v in ds.items() if k != "bbox"},
        )
        save_result(name, result)
        for line in getattr(mod, "summary", lambda r: [])(result):
            log(f"  {line}")
    command = "make bench" + (f" BENCH_LANES={os.environ['BENCH_LANES']}" if os.environ.get("BENCH_LANES") else "")
    if only or skip:
        command += f' ARGS="{" ".join(sys.argv[1:])}"'
    results = compose(command)
    log(f"summary ({time.time() - started:.0f} s):")
    for name, r in results.items():
        log(f"  {name}: {'meets' if r.get('met') else 'misses'} its target")
    log("written: docs/benchmarks.md, docs/benchmarks.json, bench/results/*.json")
    if failed:
        log(f"failed scenarios: {', '.join(failed)} — see the messages above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
