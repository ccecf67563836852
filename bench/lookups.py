"""Scenario: point lookups over HTTP (nearest lane, containing areas) under wrk, beside the same lookups as raw SQL
through pgbench (prepared statements, same number of clients), in the same run."""

from __future__ import annotations

import os

from bench.common import ROOT, Context, Gunicorn, pgbench, warm, wrk

NAME = "lookups"
TARGETS = {"ratio_min": 0.25, "p99_ms_max": 20}

CASES = [
    ("nearest lane (HTTP)", "/api/lanes/nearest/", "&within=50", ROOT / "bench/sql/nearest.sql"),
    ("containing areas (HTTP)", "/api/areas/at/", "", ROOT / "bench/sql/areas_at.sql"),
]


def run(ctx: Context) -> dict:
    rows = []
    # The production configuration (config/gunicorn.py, as docker-compose.yml runs it); BENCH_GUNICORN_WORKERS /
    # BENCH_GUNICORN_THREADS override it to compare.
    workers = os.environ.get("BENCH_GUNICORN_WORKERS")
    threads = os.environ.get("BENCH_GUNICORN_THREADS")
    with Gunicorn(int(workers) if workers else None, threads=int(threads) if threads else None) as server:
        config = server.configuration()
        ctx.log(f"server: gunicorn {config}")
        for name, path, extra, sql in CASES:
            ctx.log(f"scenario: {name} — warming up")
            warm(path, ctx.bbox)
            ctx.log(f"  HTTP: wrk {ctx.connections} connections, keep-alive, {ctx.seconds} s")
            http = wrk(path, ctx.bbox, seconds=ctx.seconds, connections=ctx.connections, extra=extra)
            ctx.log(f"  raw SQL: pgbench {ctx.connections} clients, {ctx.seconds} s")
            raw = pgbench(sql, ctx.bbox, seconds=ctx.seconds, clients=ctx.connections)
            ratio = http["throughput_rps"] / raw["throughput_rps"]
            ctx.log(
                f"  {http['throughput_rps']} req/s vs raw {raw['throughput_rps']} tps → {ratio:.0%}; p99 {http['p99_ms']} ms"
            )
            rows.append(
                {
                    "scenario": name,
                    "http": http,
                    "raw_sql": raw,
                    "ratio": round(ratio, 3),
                    "targets": TARGETS,
                    "met": ratio >= TARGETS["ratio_min"]
                    and http["p99_ms"] < TARGETS["p99_ms_max"]
                    and http["errors"] == 0,
                }
            )
        peak = server.peak_rss_mb()
    return {
        "rows": rows,
        "server": {**config, "fast_path": server.env.get("FAST_LOOKUPS", "true"), "peak_rss_mb": peak},
        "settings": {"seconds": ctx.seconds, "connections": ctx.connections},
        "met": all(r["met"] for r in rows),
    }


def summary(result: dict) -> list[str]:
    return [
        f"{r['scenario']}: {r['http']['throughput_rps']} req/s ({r['ratio']:.0%} of raw), p99 {r['http']['p99_ms']} ms"
        for r in result["rows"]
    ]


def markdown(result: dict) -> list[str]:
    lines = [
        "## Point lookups over HTTP (`bench/lookups.py`)",
        "",
        "| scenario | ours: throughput | median | p99 | raw PostGIS: throughput | median | p99 | ratio | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        h, b, t = r["http"], r["raw_sql"], r["targets"]
        lines.append(
            f"| {r['scenario']} | {h['throughput_rps']:,} /s | {h['median_ms']} ms | {h['p99_ms']} ms | "
            f"{b['throughput_rps']:,} /s | {b['median_ms']} ms | {b['p99_ms']} ms | {r['ratio']:.0%} | "
            f"≥ {t['ratio_min']:.0%}, p99 < {t['p99_ms_max']} ms | {'yes' if r['met'] else 'no'} |"
        )
    s = result["settings"]
    lines += [
        "",
        f"HTTP load: wrk, {s['connections']} keep-alive connections, {s['seconds']} s, random points over the dataset's "
        f"extent, against gunicorn ({result['server']['workers']} workers, persistent DB connections) on 127.0.0.1. "
        "Raw PostGIS: pgbench with the same number of clients, the same queries written by hand (bench/sql/), prepared "
        f"statements. Server peak memory (all gunicorn processes, VmHWM): {result['server']['peak_rss_mb']} MB.",
        "",
    ]
    return lines
