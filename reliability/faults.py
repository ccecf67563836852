"""Faults under load: PostgreSQL restarted during submissions, a retry storm, the worker killed while notifying.

(a) restart   — a few clients submit cases (POST /api/cases/) for ~25 s while the run's PostgreSQL is stopped
                (pg_ctl -m fast), kept down a few seconds and started again. Every 201 must be in the database;
                every other answer must be a clean 503 (JSON message, Retry-After, no traceback or debug page) or a
                refused connection (counted apart); the service must recover by itself (seconds from the database
                being back to the first 201), and once it has, no request may fail (stale persistent connections are
                dropped: CONN_HEALTH_CHECKS).
(b) storm     — 1,000 submissions over 100 Idempotency-Keys from 32 threads: exactly 100 cases, each key always
                answered with the same case.
(c) worker    — a local webhook receiver (HMAC checked, counting receipts per delivery key, slow to answer so that
                deliveries are in flight), N cases dispatched to squads with a webhook endpoint, the worker SIGKILLed
                while a delivery is in flight, restarted: every notification must end `sent` and be received;
                a delivery the receiver got twice (the documented window: received, worker dead before its commit)
                must carry the same delivery key, so the receiver can drop it. The stalled job of the killed worker is
                queued again by notify's `queue.retry_stalled_jobs` periodic task (every 5 min, heartbeat 30 s old).
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import http.server
import json
import random
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from reliability.common import Context, session_headers

NAME = "faults"
USER, PASSWORD = "lane_chief", "demo12345"  # the demo's lane chief (demo database only)
CATEGORY = "SJ0101"
RESTART_CLIENTS = 4
RESTART_LOAD_S = 25
RESTART_AT_S = 6
DOWN_S = 3
STORM_KEYS, STORM_PER_KEY, STORM_THREADS = 100, 10, 32
NOTIFY_CASES = 40
RECEIVER_DELAY_S = 0.4
TRACE_MARKERS = ("Traceback", "technical_500", 'File "/', "OperationalError", "psycopg")


# --- helpers ------------------------------------------------------------------------------------------------------
def lane_points(n: int) -> list[tuple[float, float]]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_ClosestPoint(geom, ST_Centroid(geom)) AS p FROM lanes_lane "
            "ORDER BY id LIMIT %s) s",
            [n],
        )
        return [(round(x, 6), round(y, 6)) for x, y in cur.fetchall()]


def case_body(points, i: int) -> dict:
    lon, lat = points[i % len(points)]
    return {"category": CATEGORY, "lon": lon, "lat": lat, "description": f"可靠性测试 {i}：垃圾满地"}


def case_id_of(body) -> int | None:
    if isinstance(body, dict):
        value = body.get("id", (body.get("properties") or {}).get("id"))
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else None
    return None


def has_trace(text: str) -> bool:
    return any(marker in text for marker in TRACE_MARKERS)


def classify(resp: requests.Response) -> tuple[str, dict | None]:
    """'201', '200', 'clean503', 'dirty503', '5xx' or the status, with the JSON body when there is one."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code == 503:
        clean = (
            isinstance(body, dict)
            and bool(body.get("detail"))
            and resp.headers.get("Retry-After", "").isdigit()
            and not has_trace(resp.text)
        )
        return ("clean503" if clean else "dirty503"), body
    if resp.status_code >= 500:
        return "5xx", body
    return str(resp.status_code), body


class Client:
    """One logged-in client per thread (a requests.Session keeps its connection alive, like a phone app)."""

    def __init__(self, ctx: Context, headers: dict):
        self.ctx, self.headers, self.local = ctx, headers, threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "s"):
            self.local.s = requests.Session()
            self.local.s.headers.update(self.headers)
        return self.local.s

    def submit(self, body: dict, key: str, timeout: float = 30) -> requests.Response:
        return self.session().post(
            f"{self.ctx.base_url}/api/cases/", json=body, headers={"Idempotency-Key": key}, timeout=timeout
        )


def user_hashes(keys) -> dict[str, str]:
    from django.contrib.auth import get_user_model

    from cases.services import idempotency_hash

    user = get_user_model().objects.get(username=USER)
    return {idempotency_hash(k, user): k for k in keys}


# --- (a) PostgreSQL restarted under load --------------------------------------------------------------------------
def restart_under_load(ctx: Context, client: Client, points) -> dict:
    from django.db import connections

    from cases.models import Case

    pg = ctx.extra["deployment"].pg
    worker = ctx.extra["deployment"].worker
    run = uuid.uuid4().hex[:8]
    events: list[dict] = []
    lock = threading.Lock()
    marks: dict[str, float] = {}
    t_start = time.time()
    exits_before = len(worker.exits)
    counter = iter(range(10**9))

    def end_time() -> float:
        up = marks.get("up")
        return min(t_start + 90, max(t_start + RESTART_LOAD_S, (up + 10) if up else float("inf")))

    def load():
        while time.time() < end_time():
            with lock:
                i = next(counter)
            key = f"restart-{run}-{i}"
            sent = time.time()
            entry = {"key": key, "sent": sent - t_start}
            try:
                resp = client.submit(case_body(points, i), key, timeout=20)
                kind, body = classify(resp)
                entry.update(kind=kind, status=resp.status_code, id=case_id_of(body))
                if kind in ("dirty503", "5xx") or (kind == "clean503" and has_trace(resp.text)):
                    entry["excerpt"] = resp.text[:300]
                entry["trace"] = resp.status_code >= 500 and has_trace(resp.text)
                if kind == "201":
                    entry["tracking_code"] = (body.get("properties") or {}).get("tracking_code")
            except requests.ConnectionError as exc:
                refused = "refused" in str(exc).lower()
                entry.update(kind="refused" if refused else "connection_error", error=type(exc).__name__)
            except requests.Timeout:
                entry.update(kind="timeout")
            entry["answered"] = time.time() - t_start
            with lock:
                events.append(entry)
            if entry["kind"] not in ("201", "200"):
                time.sleep(0.2)  # a client backs off a little on failure

    def inject():
        time.sleep(RESTART_AT_S)
        marks["stop"] = time.time()
        ctx.log(f"  faults/restart: stopping PostgreSQL (pg_ctl stop -m fast) at +{marks['stop'] - t_start:.1f}s")
        pg.stop("fast")
        marks["down"] = time.time()
        time.sleep(DOWN_S)
        pg.start()
        marks["up"] = time.time()
        ctx.log(f"  faults/restart: PostgreSQL back at +{marks['up'] - t_start:.1f}s")

    injector = threading.Thread(target=inject, daemon=True)
    lookups: list[dict] = []

    def lookup():
        """Public lookups (GET /api/lanes/nearest/, served by the WSGI fast path) during the same outage."""
        session = requests.Session()
        i = 0
        while time.time() < end_time():
            lon, lat = points[i % len(points)]
            i += 1
            sent = time.time() - t_start
            try:
                resp = session.get(
                    f"{ctx.base_url}/api/lanes/nearest/", params={"lon": lon, "lat": lat, "within": 200}, timeout=20
                )
                kind, _body = classify(resp)
                entry = {"kind": kind, "trace": resp.status_code >= 500 and has_trace(resp.text)}
            except requests.ConnectionError as exc:
                entry = {"kind": "refused" if "refused" in str(exc).lower() else "connection_error", "trace": False}
            except requests.Timeout:
                entry = {"kind": "timeout", "trace": False}
            entry.update(sent=sent, answered=time.time() - t_start)
            lookups.append(entry)
            time.sleep(0.05 if entry["kind"] == "200" else 0.2)

    clients = [threading.Thread(target=load, daemon=True) for _ in range(RESTART_CLIENTS)]
    clients.append(threading.Thread(target=lookup, daemon=True))
    injector.start()
    for t in clients:
        t.start()
    injector.join(timeout=150)
    for t in clients:
        t.join(timeout=120)
    connections.close_all()  # this process's own connection died with the restart
    # procrastinate's worker stops when it loses the database; its supervisor (docker-compose `restart:
    # unless-stopped`, here run.py's) starts it again. Running again = alive for 5 s in a row, 30 s at most.
    deadline, steady_since = time.time() + 30, None
    while time.time() < deadline:
        steady_since = (steady_since or time.time()) if worker.alive() else None
        if steady_since and time.time() - steady_since >= 5:
            break
        time.sleep(0.2)
    worker_running = bool(steady_since and time.time() - steady_since >= 5)

    up = marks.get("up", t_start) - t_start
    kinds = collections.Counter(e["kind"] for e in events)
    acknowledged = {e["id"]: e.get("tracking_code") for e in events if e["kind"] == "201" and e["id"]}
    found = dict(Case.objects.filter(pk__in=acknowledged).values_list("pk", "tracking_code"))
    lost = [pk for pk in acknowledged if pk not in found]
    wrong_code = [pk for pk, code in acknowledged.items() if pk in found and code and found[pk] != code]
    # Cases the server wrote although the client saw no 201 (the commit happened, the answer was lost): a client
    # retrying with its Idempotency-Key gets that case back instead of a duplicate.
    hashes = user_hashes(e["key"] for e in events)
    stored_keys = {
        hashes[h] for h in Case.objects.filter(idempotency_key__in=hashes).values_list("idempotency_key", flat=True)
    }
    unacknowledged_kept = sorted(k for k in stored_keys if k not in {e["key"] for e in events if e["kind"] == "201"})
    after_up = [e for e in events if e["kind"] == "201" and e["answered"] >= up]
    first_ok = min((e["answered"] for e in after_up), default=None)
    recovery = round(first_ok - up, 2) if first_ok is not None else None
    failed_after_recovery = [
        e for e in events if first_ok is not None and e["sent"] > first_ok and e["kind"] not in ("201", "200")
    ]
    answers_during = [e for e in events if e["sent"] >= marks.get("stop", t_start) - t_start and e["sent"] < up]
    lookup_kinds = collections.Counter(e["kind"] for e in lookups)
    lookup_first_ok = min((e["answered"] for e in lookups if e["kind"] == "200" and e["answered"] >= up), default=None)
    return {
        "lookups": len(lookups),
        "lookup_answers": dict(lookup_kinds),
        "lookup_unclean_5xx": lookup_kinds.get("dirty503", 0) + lookup_kinds.get("5xx", 0),
        "lookup_tracebacks": sum(1 for e in lookups if e["trace"]),
        "lookup_recovery_s": round(lookup_first_ok - up, 2) if lookup_first_ok is not None else None,
        "lookup_failed_after_recovery": sum(
            1 for e in lookups if lookup_first_ok is not None and e["sent"] > lookup_first_ok and e["kind"] != "200"
        ),
        "requests": len(events),
        "answers": dict(kinds),
        "acknowledged": len(acknowledged),
        "acknowledged_found": len(found),
        "acknowledged_lost": len(lost),
        "lost_ids": lost[:20],
        "tracking_code_mismatch": len(wrong_code),
        "clean_503": kinds.get("clean503", 0),
        "unclean_5xx": kinds.get("dirty503", 0) + kinds.get("5xx", 0),
        "tracebacks_in_5xx": sum(1 for e in events if e.get("trace")),
        "refused": kinds.get("refused", 0),
        "other_connection_errors": kinds.get("connection_error", 0) + kinds.get("timeout", 0),
        "other_answers": sum(v for k, v in kinds.items() if k not in ("201", "clean503", "dirty503", "5xx", "refused")),
        "unacknowledged_but_kept": len(unacknowledged_kept),
        "stop_at_s": round(marks.get("stop", t_start) - t_start, 2),
        "stopped_s": round(marks.get("down", t_start) - marks.get("stop", t_start), 2),
        "up_at_s": round(up, 2),
        "load_s": round(max((e["answered"] for e in events), default=0), 1),
        "requests_while_down": len(answers_during),
        "recovery_s": recovery,
        "failed_after_recovery": len(failed_after_recovery),
        "worker_exits": len(worker.exits) - exits_before,
        "worker_running_again": worker_running,
        "dirty_examples": [e.get("excerpt") for e in events if e.get("excerpt")][:3],
    }


# --- (b) retry storm ----------------------------------------------------------------------------------------------
def retry_storm(ctx: Context, client: Client, points) -> dict:
    from cases.models import Case

    run = uuid.uuid4().hex[:8]
    keys = [f"storm-{run}-{k:03d}" for k in range(STORM_KEYS)]
    work = [k for k in keys for _ in range(STORM_PER_KEY)]
    random.Random(7).shuffle(work)
    body_of = {k: case_body(points, i) for i, k in enumerate(keys)}  # a retry sends the same body

    def one(key):
        try:
            resp = client.submit(body_of[key], key, timeout=60)
        except requests.RequestException as exc:
            return key, type(exc).__name__, None, False
        kind, body = classify(resp)
        return key, kind, case_id_of(body), resp.status_code >= 500 and has_trace(resp.text)

    t0 = time.time()
    with ThreadPoolExecutor(STORM_THREADS) as pool:
        answers = list(pool.map(one, work))
    elapsed = time.time() - t0
    kinds = collections.Counter(kind for _k, kind, _id, _t in answers)
    per_key: dict[str, set] = collections.defaultdict(set)
    for key, kind, case_id, _t in answers:
        if kind in ("200", "201") and case_id:
            per_key[key].add(case_id)
    hashes = user_hashes(keys)
    cases = Case.objects.filter(idempotency_key__in=hashes).count()
    return {
        "submissions": len(work),
        "keys": len(keys),
        "threads": STORM_THREADS,
        "seconds": round(elapsed, 1),
        "answers": dict(kinds),
        "created_201": kinds.get("201", 0),
        "cases": cases,
        "duplicate_cases": max(0, cases - len(keys)),
        "keys_without_case": max(0, len(keys) - cases),
        "keys_answered_with_several_cases": sum(1 for ids in per_key.values() if len(ids) > 1),
        "answers_not_2xx": sum(v for k, v in kinds.items() if k not in ("200", "201")),
        "tracebacks_in_5xx": sum(1 for *_x, t in answers if t),
    }


# --- (c) the worker killed while notifying ------------------------------------------------------------------------
class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver: checks the HMAC signature, records every receipt (at arrival, before answering: what a
    receiver has processed), answers 200 after a delay so that deliveries are in flight when the worker dies."""

    daemon_threads = True

    def __init__(self, secret: str):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.secret = secret.encode()
        self.receipts: list[dict] = []
        self.in_flight = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        server: Receiver = self.server
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ts = self.headers.get("X-Lanechief-Timestamp", "")
        expected = "sha256=" + hmac.new(server.secret, ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, self.headers.get("X-Lanechief-Signature", "")) and ts.isdigit()
        ok = ok and abs(time.time() - int(ts)) < 300
        try:
            notification_id = json.loads(raw).get("notification_id")
        except ValueError:
            notification_id = None
        with server.lock:
            server.receipts.append(
                {
                    "key": self.headers.get("X-Lanechief-Delivery"),
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "notification_id": notification_id,
                    "signature_ok": ok,
                    "at": time.time(),
                }
            )
            server.in_flight += 1
        try:
            time.sleep(RECEIVER_DELAY_S)
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass  # the sender died while we were answering
        finally:
            with server.lock:
                server.in_flight -= 1


class WorkerKill:
    """(c) in two halves: start() queues the notifications and kills the worker mid-delivery; finish() waits for
    every notification to be delivered. The retry storm runs in between (its cases notify nobody: the endpoints
    are switched off once the notifications of this part are queued)."""

    def __init__(self, ctx: Context, client: Client, points):
        self.ctx, self.client, self.points = ctx, client, points
        self.dep = ctx.extra["deployment"]
        self.receiver = Receiver(ctx.extra["webhook_secret"])
        self.figures: dict = {}

    def start(self) -> None:
        from django.db import connection
        from django.utils import timezone

        from notify import Recipient
        from notify.models import Endpoint, Notification
        from notify.services import endpoint_upsert
        from people.models import Squad

        ctx, dep, receiver = self.ctx, self.dep, self.receiver
        if not dep.worker.alive():
            ctx.log("  faults/worker: the worker was not running; starting it")
            dep.start_worker()
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        for squad in Squad.objects.all():
            endpoint_upsert(
                recipient=Recipient.for_squad(squad),
                channel="webhook",
                address=receiver.url,
                events=("case.dispatched",),
            )
        self.since = timezone.now()
        run = uuid.uuid4().hex[:8]
        t0 = time.time()
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(
                    lambda i: self.client.submit(case_body(self.points, 1000 + i), f"notify-{run}-{i}"),
                    range(NOTIFY_CASES),
                )
            )
        Endpoint.objects.filter(address=receiver.url).update(is_active=False)  # later cases notify nobody
        self.acknowledged = sum(1 for r in answers if r.status_code == 201)
        self.ours = Notification.objects.filter(event="case.dispatched", created_at__gte=self.since)
        self.total = self.ours.count()
        ctx.log(f"  faults/worker: {self.acknowledged} cases → {self.total} webhook notifications queued")

        # Kill while a delivery is in flight at the receiver (its job is 'doing', the send not yet committed).
        kill_after = max(3, self.total // 4)
        deadline = time.time() + 60
        while time.time() < deadline and not (len(receiver.receipts) >= kill_after and receiver.in_flight > 0):
            time.sleep(0.02)
        killed_pid = dep.worker.pid
        dep.worker.kill()
        self.t_kill = time.time()
        self.receipts_at_kill = len(receiver.receipts)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing' AND task_name = %s",
                ["notify.send_notification"],
            )
            self.doing_at_kill = cur.fetchone()[0]
        restarted = dep.worker.wait_restarted(killed_pid, timeout=30)
        ctx.log(
            f"  faults/worker: worker (pid {killed_pid}) SIGKILLed after {self.receipts_at_kill} receipts, "
            f"{self.doing_at_kill} delivery job(s) left 'doing'; "
            f"{'restarted by its supervisor' if restarted else 'NOT restarted within 30 s'}"
        )
        self.seconds_cases_to_kill = round(self.t_kill - t0, 1)

    def finish(self, budget_s: float) -> dict:
        ctx, receiver, ours, total = self.ctx, self.receiver, self.ours, self.total
        try:
            deadline = time.time() + budget_s
            last_log = time.time()
            while time.time() < deadline:
                sent = ours.filter(status="sent").count()
                distinct = len({r["key"] for r in receiver.receipts})
                if sent == total and distinct >= total:
                    break
                if time.time() - last_log > 30:
                    ctx.log(
                        f"  faults/worker: {sent}/{total} sent, {distinct} received, "
                        f"{time.time() - self.t_kill:.0f} s after the kill: waiting for the stalled job …"
                    )
                    last_log = time.time()
                time.sleep(1)
            t_done = time.time()
            time.sleep(2 * RECEIVER_DELAY_S)  # late duplicates
        finally:
            receiver.shutdown()
            receiver.server_close()
        statuses = collections.Counter(ours.values_list("status", flat=True))
        keys = set(ours.values_list("delivery_key", flat=True))
        receipts = [r for r in receiver.receipts if r["key"] in keys or r["key"] is None]
        by_key = collections.defaultdict(list)
        for r in receipts:
            by_key[r["key"]].append(r)
        duplicates = {k: len(v) for k, v in by_key.items() if len(v) > 1}
        worker_log = ctx.extra["worker_log"].read_text(encoding="utf-8", errors="replace")
        retried = sum(int(n) for n in re.findall(r"retried (\d+) stalled job", worker_log))
        recovered = statuses.get("sent", 0) == total and len(by_key) >= total
        return {
            "cases": NOTIFY_CASES,
            "cases_acknowledged": self.acknowledged,
            "notifications": total,
            "receiver_delay_s": RECEIVER_DELAY_S,
            "receipts_before_kill": self.receipts_at_kill,
            "jobs_doing_at_kill": self.doing_at_kill,
            "statuses": dict(statuses),
            "sent": statuses.get("sent", 0),
            "not_sent": total - statuses.get("sent", 0),
            "receipts": len(receipts),
            "distinct_keys_received": len(by_key),
            "never_received": len(keys - set(by_key)),
            "duplicate_receipts": sum(duplicates.values()) - len(duplicates),
            "duplicate_keys": sorted(duplicates)[:10],
            "keys_with_different_notifications": sum(
                1 for v in by_key.values() if len({r["notification_id"] for r in v}) > 1
            ),
            "idempotency_header_mismatch": sum(1 for r in receipts if r["idempotency_key"] != r["key"]),
            "bad_signatures": sum(1 for r in receipts if not r["signature_ok"]),
            "stalled_jobs_retried_in_log": retried,
            "recovered": recovered,
            "seconds_kill_to_all_delivered": round(t_done - self.t_kill, 1) if recovered else None,
            "waited_at_most_s": round(budget_s),
            "seconds_cases_to_kill": self.seconds_cases_to_kill,
            "killed_at_utc": dt.datetime.fromtimestamp(self.t_kill, dt.UTC).strftime("%H:%M:%S"),
        }


# --- the module ---------------------------------------------------------------------------------------------------
def run(ctx: Context) -> dict:
    started = time.time()
    points = lane_points(50)
    client = Client(ctx, session_headers(ctx, USER, PASSWORD))
    # (c) first half: notifications queued, the worker killed mid-delivery; its stalled job waits for notify's
    # periodic retry (up to 5.5 min), so the retry storm runs meanwhile; the database restart comes last.
    kill = WorkerKill(ctx, client, points)
    kill.start()
    ctx.log(f"  faults/storm: {STORM_KEYS * STORM_PER_KEY} submissions over {STORM_KEYS} keys, {STORM_THREADS} threads")
    storm = retry_storm(ctx, client, points)
    ctx.log(f"  faults/storm: {storm['cases']} cases in {storm['seconds']} s, answers {storm['answers']}")
    remaining = ctx.seconds_budget - (time.time() - started) - 60
    worker = kill.finish(budget_s=max(60, remaining))
    ctx.log(
        f"  faults/worker: {worker['sent']}/{worker['notifications']} sent, {worker['receipts']} receipts, "
        f"{worker['distinct_keys_received']} distinct keys, {worker['seconds_kill_to_all_delivered']} s after the kill"
    )
    ctx.log(
        f"  faults/restart: {RESTART_CLIENTS} clients for ≥{RESTART_LOAD_S} s, PostgreSQL restarted at +{RESTART_AT_S} s"
    )
    restart = restart_under_load(ctx, client, points)
    ctx.log(
        f"  faults/restart: {restart['requests']} requests, {restart['acknowledged']} acknowledged, "
        f"{restart['acknowledged_lost']} lost, {restart['clean_503']} clean 503, recovery {restart['recovery_s']} s, "
        f"worker exits {restart['worker_exits']}, running again: {restart['worker_running_again']}"
    )
    zero = {
        "acknowledged submissions lost in the database restart": restart["acknowledged_lost"],
        "5xx answers other than a clean 503 (restart: submissions + lookups)": restart["unclean_5xx"]
        + restart["lookup_unclean_5xx"],
        "tracebacks in 5xx bodies (restart + storm)": restart["tracebacks_in_5xx"]
        + restart["lookup_tracebacks"]
        + storm["tracebacks_in_5xx"],
        "failed answers after the service recovered": restart["failed_after_recovery"]
        + restart["lookup_failed_after_recovery"],
        "service not recovered by itself (restart)": int(restart["recovery_s"] is None)
        + int(restart["lookup_recovery_s"] is None),
        "worker not running again after the database restart": int(not restart["worker_running_again"]),
        "duplicate cases from the retry storm": storm["duplicate_cases"],
        "retry-storm keys answered with several cases": storm["keys_answered_with_several_cases"],
        "retry-storm keys left without a case": storm["keys_without_case"],
        "retry-storm answers other than 200/201": storm["answers_not_2xx"],
        "notifications not delivered (not sent) after the worker kill": worker["not_sent"],
        "notifications never received by the webhook": worker["never_received"],
        "duplicate receipts not identifiable by delivery key": worker["keys_with_different_notifications"]
        + worker["idempotency_header_mismatch"],
        "webhook deliveries with a bad signature": worker["bad_signatures"],
    }
    return {
        "restart": restart,
        "storm": storm,
        "worker": worker,
        "zero_expected": zero,
        "ok": all(v == 0 for v in zero.values()),
    }


def markdown(result: dict) -> list[str]:
    r, s, w = result["restart"], result["storm"], result["worker"]
    a = r["answers"]
    return [
        "## Faults under load (reliability/faults.py)",
        "",
        "### PostgreSQL restarted during submissions",
        "",
        f"{RESTART_CLIENTS} logged-in clients submitted cases (`POST /api/cases/`, each with its own Idempotency-Key) "
        f"for {r['load_s']} s; PostgreSQL was stopped (`pg_ctl stop -m fast`, {r['stopped_s']} s) at +{r['stop_at_s']} s, "
        f"started again {DOWN_S} s later and accepted connections again at +{r['up_at_s']} s.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests | {r['requests']} |",
        f"| answered 201 (acknowledged) | {r['acknowledged']} |",
        f"| acknowledged and found in the database afterwards (by id and tracking code) | {r['acknowledged_found']} |",
        f"| **acknowledged submissions lost** | {r['acknowledged_lost']} |",
        f"| clean 503 (JSON message, Retry-After, no traceback) | {r['clean_503']} |",
        f"| other 5xx (500, 503 without JSON/Retry-After, debug page) | {r['unclean_5xx']} |",
        f"| tracebacks in 5xx bodies | {r['tracebacks_in_5xx']} |",
        f"| connections refused (counted apart) | {r['refused']} |",
        f"| other connection errors / timeouts | {r['other_connection_errors']} |",
        f"| other answers (4xx …) | {r['other_answers']} |",
        f"| not acknowledged but kept (commit done, answer lost; a retry with the key returns it) "
        f"| {r['unacknowledged_but_kept']} |",
        f"| seconds from the database back to the first 201 | {r['recovery_s']} |",
        f"| failed answers after that first 201 (stale connections dropped) | {r['failed_after_recovery']} |",
        f"| queue worker exits during the outage (procrastinate stops when it loses the database) | {r['worker_exits']} |",
        f"| queue worker running again afterwards (restarted by its supervisor) "
        f"| {'yes' if r['worker_running_again'] else '**no**'} |",
        "",
        f"All answers: {', '.join(f'{k}: {v}' for k, v in sorted(a.items()))}.",
        "",
        f"Meanwhile one client looked lanes up (`GET /api/lanes/nearest/`, the WSGI fast path of config/wsgi.py): "
        f"{r['lookups']} requests, answers {', '.join(f'{k}: {v}' for k, v in sorted(r['lookup_answers'].items()))}; "
        f"other 5xx {r['lookup_unclean_5xx']}, tracebacks {r['lookup_tracebacks']}, first 200 "
        f"{r['lookup_recovery_s']} s after the database was back, failures after that {r['lookup_failed_after_recovery']}.",
        "",
        "### Retry storm",
        "",
        f"{s['submissions']} submissions over {s['keys']} Idempotency-Keys ({s['submissions'] // s['keys']} per key, "
        f"shuffled) from {s['threads']} threads at once, in {s['seconds']} s.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| cases created (in the database, by key) | {s['cases']} |",
        f"| answered 201 / 200 | {s['answers'].get('201', 0)} / {s['answers'].get('200', 0)} |",
        f"| **duplicate cases** (cases − {s['keys']}) | {s['duplicate_cases']} |",
        f"| keys answered with more than one case | {s['keys_answered_with_several_cases']} |",
        f"| answers other than 200/201 | {s['answers_not_2xx']} |",
        "",
        "### The worker killed while sending notifications",
        "",
        f"A webhook receiver on 127.0.0.1 (HMAC-SHA256 signature checked, answering after {w['receiver_delay_s']} s) "
        f"was the endpoint of every squad; {w['cases_acknowledged']} cases were dispatched, queuing "
        f"{w['notifications']} notifications. The worker was SIGKILLed {w['seconds_cases_to_kill']} s later, after "
        f"{w['receipts_before_kill']} receipts and with a delivery in flight ({w['jobs_doing_at_kill']} job(s) left "
        f"'doing') at {w.get('killed_at_utc', '?')} UTC, and started again by its supervisor (as docker-compose's "
        "`restart: unless-stopped` does).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| notifications queued | {w['notifications']} |",
        f"| marked sent | {w['sent']} |",
        f"| **not delivered** | {w['not_sent']} |",
        f"| receipts at the webhook (raw) | {w['receipts']} |",
        f"| distinct delivery keys received | {w['distinct_keys_received']} |",
        f"| duplicate receipts (same delivery key: the receiver drops them) | {w['duplicate_receipts']} |",
        f"| duplicates with a different notification or Idempotency-Key | "
        f"{w['keys_with_different_notifications'] + w['idempotency_header_mismatch']} |",
        f"| bad signatures | {w['bad_signatures']} |",
        f"| stalled jobs queued again (`queue.retry_stalled_jobs`, worker log) | {w['stalled_jobs_retried_in_log']} |",
        f"| seconds from the kill to every notification delivered | {w['seconds_kill_to_all_delivered']}"
        f"{'' if w['recovered'] else ' (NOT all delivered within the wait of ' + str(int(w['waited_at_most_s'])) + ' s)'} |",
        "",
        "The stalled job of the killed worker is queued again by `queue.retry_stalled_jobs` (notify/tasks.py), a "
        "periodic task every 5 minutes that retries jobs whose worker has sent no heartbeat for 30 s: the time to "
        "full delivery after a hard kill is therefore 30 s to 5.5 min, depending on where in the 5-minute cycle the "
        "kill happens. A duplicate receipt is the documented window (received, worker killed before its commit); it "
        "carries the same delivery key (`X-Lanechief-Delivery`, `Idempotency-Key`), so the receiver drops it.",
        "",
    ]
