"""API fuzzing (schemathesis + hypothesis): our OpenAPI schema (/api/schema/) and the Open311 endpoints (described
by OPEN311_SCHEMA below, since drf-spectacular does not see them), anonymous and as every demo role.

Every generated request — valid (positive) and invalid (negative) input, with ids that exist in the demo and ids
that do not — must get a non-5xx answer whose body matches the schema of that status (checks not_a_server_error,
response_schema_conformance, content_type_conformance). Each request runs on its own; failures are collected (one
per operation, check and status) rather than stopping the run.

Two ways in:
- tests/test_fuzz.py: in-process through Django's WSGI handler inside the test's transaction (bounded, in make test);
- `make reliability` (run(ctx)): over HTTP against ctx.base_url (gunicorn, DEBUG off) for about ctx.seconds_budget.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import hypothesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

NAME = "fuzz"
PASSWORD = "demo12345"  # the demo's (common.demo.DEMO_PASSWORD): this only ever runs against a demo database
ROLES = (None, "admin", "district_admin", "street_staff", "lane_chief", "squad_leader", "squad_member")

# Path parameters that name demo objects: fuzzing with real ids reaches the code behind the 404.
PATH_SAMPLES_SQL = {
    "id": "SELECT id FROM cases_case ORDER BY id LIMIT 20",
    "attachment_id": "SELECT id FROM cases_attachment ORDER BY id LIMIT 5",
    "code": "SELECT code FROM grid_area ORDER BY length(code), code LIMIT 20",
    "lane_id": "SELECT id FROM lanes_lane ORDER BY id LIMIT 20",
    "person_id": "SELECT id FROM people_person ORDER BY id LIMIT 20",
}

_err = {"type": "object", "required": ["code", "description"], "properties": {"code": {"type": "integer"}}}
_errors = {
    "description": "错误列表",
    "content": {"application/json": {"schema": {"type": "array", "items": _err, "minItems": 1}}},
}
_str = {"type": "string"}
_nstr = {"type": "string", "nullable": True}
_request = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime", "lat", "long"],
    "additionalProperties": False,
    "properties": {
        "service_request_id": _str,
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": _str,
        "service_name": _str,
        "service_code": _str,
        "description": _str,
        "agency_responsible": _str,
        "service_notice": _str,
        "requested_datetime": {"type": "string", "format": "date-time"},
        "updated_datetime": {"type": "string", "format": "date-time"},
        "expected_datetime": _nstr,
        "address": _str,
        "address_id": _str,
        "zipcode": _str,
        "lat": {"type": "number"},
        "long": {"type": "number"},
        "media_url": _str,
    },
}


def _ok(schema, description="成功"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _form(properties: dict, required: list[str]) -> dict:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


_errors_of = {str(code): _errors for code in (400, 403, 404, 405, 429)}
OPEN311_SCHEMA = {
    "openapi": "3.0.3",
    "info": {"title": "Open311 GeoReport v2 (JSON)", "version": "v2"},
    "paths": {
        "/open311/v2/discovery.json": {
            "get": {
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["changeset", "contact", "key_service", "endpoints"],
                            "properties": {"endpoints": {"type": "array", "items": {"type": "object"}}},
                        }
                    ),
                    **_errors_of,
                }
            }
        },
        "/open311/v2/services.json": {
            "get": {
                "responses": {
                    "200": _ok(
                        {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["service_code", "service_name", "metadata", "type"],
                                "properties": {"metadata": {"type": "boolean"}, "type": {"enum": ["realtime"]}},
                            },
                        }
                    ),
                    **_errors_of,
                }
            }
        },
        "/open311/v2/services/{code}.json": {
            "get": {
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": _str}],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["service_code", "attributes"],
                            "properties": {"attributes": {"type": "array"}},
                        }
                    ),
                    **_errors_of,
                },
            }
        },
        "/open311/v2/requests.json": {
            "get": {
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s}
                    for n, s in (
                        ("service_request_id", _str),
                        ("service_code", _str),
                        ("start_date", {"type": "string", "format": "date-time"}),
                        ("end_date", {"type": "string", "format": "date-time"}),
                        ("status", {"type": "string", "enum": ["open", "closed"]}),
                    )
                ],
                "responses": {"200": _ok({"type": "array", "items": _request}), **_errors_of},
            },
            "post": {
                "requestBody": _form(
                    {
                        "api_key": _str,
                        "service_code": _str,
                        "lat": {"type": "number", "minimum": -90, "maximum": 90},
                        "long": {"type": "number", "minimum": -180, "maximum": 180},
                        "address_string": _str,
                        "description": {"type": "string", "maxLength": 4000},
                        "media_url": _str,
                        "email": _str,
                        "phone": _str,
                        "first_name": _str,
                        "last_name": _str,
                        "device_id": _str,
                        "account_id": _str,
                    },
                    ["api_key", "service_code"],
                ),
                "responses": {
                    "200": _ok({"type": "array", "items": {"type": "object", "required": ["service_request_id"]}}),
                    "201": _ok({"type": "array", "items": {"type": "object", "required": ["service_request_id"]}}),
                    **_errors_of,
                },
            },
        },
        "/open311/v2/requests/{request_id}.json": {
            "get": {
                "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": _str}],
                "responses": {"200": _ok({"type": "array", "items": _request, "maxItems": 1}), **_errors_of},
            }
        },
        "/open311/v2/servicerequestupdates.json": {
            "post": {
                "requestBody": _form(
                    {"api_key": _str, "service_request_id": _str, "action": _str, "description": _str},
                    ["api_key", "service_request_id", "action"],
                ),
                "responses": {
                    "200": _ok(
                        {
                            "type": "array",
                            "items": {"type": "object", "required": ["update_id", "service_request_id", "status"]},
                        }
                    ),
                    **_errors_of,
                },
            }
        },
    },
}


@dataclass
class Failure:
    operation: str
    role: str
    check: str
    status: int
    request: str  # method, URL, body (cut)
    detail: str  # the check's message (cut)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class Outcome:
    requests: int = 0
    server_errors: int = 0
    unrouted: int = 0  # 404s of Django's URL resolver (see _unrouted)
    schema_mismatches: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[tuple[str, str, int], Failure] = field(default_factory=dict)  # first of each (op, check, status)
    per_operation: Counter = field(default_factory=Counter)


Send = Callable[[object, str | None], object]  # (schemathesis Case, role) -> schemathesis Response


def load_schemas(api_schema: dict) -> list:
    """Our API schema and the Open311 one, as schemathesis schemas (the API's own schema endpoint is left out)."""
    import schemathesis

    api = schemathesis.openapi.from_dict(json.loads(json.dumps(api_schema)))
    api = api.exclude(path="/api/schema/")
    open311 = schemathesis.openapi.from_dict(json.loads(json.dumps(OPEN311_SCHEMA)))
    return [api, open311]


def operations(schemas) -> list:
    out = []
    for schema in schemas:
        for result in schema.get_all_operations():
            out.append(result.ok())
    return out


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    return [not_a_server_error, response_schema_conformance, content_type_conformance]


def _request_text(response) -> str:
    req = response.request
    body = req.body if isinstance(req.body, str) else (req.body or b"").decode("utf-8", "replace")
    return f"{req.method} {req.url} {body[:300]}".strip()


def negatable(operation) -> bool:
    """Whether invalid input can be made for the operation: a query/header parameter, a body, or a path parameter
    narrower than "any text without a slash" (an integer, a pattern such as ^[0-9]+$). Without one, hypothesis would
    search a long time for invalid input that cannot exist (and end in Unsatisfiable)."""
    raw = operation.definition.raw
    if raw.get("requestBody"):
        return True
    for param in raw.get("parameters", []):
        if "$ref" in param:
            return True
        if param.get("in") != "path":
            return True
        schema = param.get("schema", {})
        if (
            schema.get("type", "string") != "string"
            or schema.get("pattern") not in (None, "^[^/]+$")
            or (schema.get("enum") or schema.get("format"))
        ):
            return True
    return False


def fuzz_operation(
    operation,
    role: str | None,
    send: Send,
    outcome: Outcome,
    *,
    examples: int,
    path_samples: dict[str, list],
    seed: int | None,
    deadline: float | None = None,
    offset: int = 0,
) -> None:
    """`examples` generated requests (half positive, half negative; half with real ids when the path has any) to
    one operation as `role`. With fewer examples than variants, `offset` picks where to start (callers rotate it over
    roles so that every variant is used)."""
    from schemathesis import GenerationMode
    from schemathesis.core.failures import Failure as CheckFailure
    from schemathesis.core.failures import FailureGroup

    checks = _checks()
    names = {p.name for p in operation.path_parameters}
    real = {n: path_samples[n] for n in names if path_samples.get(n)}
    variants = []
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable(operation) else (GenerationMode.POSITIVE,)
    for mode in modes:
        if real and len(real) == len(names):
            variants.append((mode, True))
        variants.append((mode, False))
    offset %= len(variants)
    variants = variants[offset:] + variants[:offset]
    label = f"{operation.method.upper()} {operation.path}"
    who = role or "anonymous"
    for i, (mode, with_real) in enumerate(variants):
        n = examples // len(variants) + (1 if i < examples % len(variants) else 0)
        if n <= 0 or (deadline is not None and time.monotonic() > deadline):
            continue
        base = operation.as_strategy(generation_mode=mode)
        if with_real:
            fixed = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in real.items()})
            strategy = st.tuples(base, fixed)
        else:
            strategy = st.tuples(base, st.just(None))

        @hypothesis.settings(
            max_examples=n,
            deadline=None,
            database=None,
            derandomize=seed is None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @hypothesis.given(strategy)
        def run(drawn):
            case, fixed = drawn
            if fixed:
                case.path_parameters = {**(case.path_parameters or {}), **fixed}
            response = send(case, role)
            outcome.requests += 1
            outcome.per_operation[label] += 1
            outcome.statuses[response.status_code] += 1
            if response.status_code >= 500:
                outcome.server_errors += 1
            if _unrouted(response):
                outcome.unrouted += 1
                return
            try:
                case.validate_response(response, checks=checks)
            except FailureGroup as group:
                for failure in group.exceptions:
                    _record(outcome, label, who, response, failure)
            except CheckFailure as failure:
                _record(outcome, label, who, response, failure)

        if seed is not None:
            run = hypothesis.seed(seed)(run)
        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            pass  # no invalid input found for what negatable() let through: nothing more to send


def _unrouted(response) -> bool:
    """Django's own HTML 404 for a URL that matches no route (e.g. a non-numeric id where the route takes digits):
    the request never reached the operation, so there is no schema of it to check. Our API views answer 404 in
    JSON; Open311 always in its error list."""
    content_type = (response.headers.get("content-type") or [""])[0]
    return response.status_code == 404 and content_type.startswith("text/html")


def _record(outcome: Outcome, label: str, who: str, response, failure) -> None:
    check = type(failure).__name__
    if response.status_code < 500:
        outcome.schema_mismatches += 1
    key = (label, check, response.status_code)
    if key not in outcome.failures:
        detail = f"{getattr(failure, 'title', '')}: {getattr(failure, 'message', '')}"
        body = (response.content or b"")[:400].decode("utf-8", "replace")
        outcome.failures[key] = Failure(
            label, who, check, response.status_code, _request_text(response), (detail + " | " + body)[:1200]
        )


def fuzz(
    ops: list,
    send: Send,
    *,
    roles=ROLES,
    examples: int,
    path_samples: dict[str, list],
    seed: int | None = None,
    seconds: float | None = None,
    only: Callable[[object, str | None], bool] = lambda op, role: True,
) -> Outcome:
    outcome = Outcome()
    deadline = time.monotonic() + seconds if seconds else None
    for index, role in enumerate(roles):
        for op in ops:
            if deadline is not None and time.monotonic() > deadline:
                return outcome
            if only(op, role):
                fuzz_operation(
                    op,
                    role,
                    send,
                    outcome,
                    examples=examples,
                    path_samples=path_samples,
                    seed=seed,
                    deadline=deadline,
                    offset=index,
                )
    return outcome


def format_failures(outcome: Outcome) -> str:
    lines = []
    for f in outcome.failures.values():
        lines.append(f"- {f.operation} as {f.role}: {f.check} ({f.status})\n    {f.request}\n    {f.detail}")
    return "\n".join(lines)


# --- make reliability: over HTTP ------------------------------------------------------------------------------------
def _login(base_url: str, username: str):
    import requests

    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=30)
    token = session.cookies.get("csrftoken", "")
    response = session.post(
        f"{base_url}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"login as {username} failed ({page.status_code}/{response.status_code})")
    session.headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
    return session


def _path_samples_from_db(database_url: str) -> dict[str, list]:
    import psycopg2

    url = database_url.replace("postgis://", "postgresql://", 1)
    samples = {}
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for name, sql in PATH_SAMPLES_SQL.items():
            cur.execute(sql)
            samples[name] = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT tracking_code FROM cases_case ORDER BY id LIMIT 20")
        codes = [row[0] for row in cur.fetchall()]
    samples["request_id"] = codes
    return samples


def run(ctx) -> dict:
    import requests

    started = time.monotonic()
    base_url = ctx.base_url.rstrip("/")
    api_schema = requests.get(f"{base_url}/api/schema/", params={"format": "json"}, timeout=60).json()
    ops = operations(load_schemas(api_schema))
    sessions = {None: requests.Session()}
    for role in ROLES[1:]:
        sessions[role] = _login(base_url, role)
    samples = _path_samples_from_db(ctx.database_url)

    def send(case, role):
        return case.call(base_url=base_url, session=sessions[role], timeout=60)

    seconds = max(10.0, ctx.seconds_budget - (time.monotonic() - started) - 5)
    outcome = Outcome()
    rounds = 0
    rng = random.Random(2026)
    deadline = time.monotonic() + seconds
    # Rounds over every (role, operation) until the budget is spent, a new seed each round.
    while time.monotonic() < deadline:
        rounds += 1
        pairs = [(role, op) for role in ROLES for op in ops]
        rng.shuffle(pairs)
        for role, op in pairs:
            if time.monotonic() > deadline:
                break
            fuzz_operation(
                op,
                role,
                send,
                outcome,
                examples=4,
                path_samples=samples,
                seed=rng.randrange(2**32),
                deadline=deadline,
            )
    ctx.log(f"fuzz: {outcome.requests} requests, {outcome.server_errors} 5xx, {len(outcome.failures)} failures")
    return {
        "requests": outcome.requests,
        "operations": len(ops),
        "roles": len(ROLES),
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 1),
        "statuses": {str(k): v for k, v in sorted(outcome.statuses.items())},
        "failures": [f.as_dict() for f in outcome.failures.values()],
        "zero_expected": {
            "5xx responses": outcome.server_errors,
            "responses not matching their schema": outcome.schema_mismatches,
        },
        "ok": outcome.server_errors == 0 and outcome.schema_mismatches == 0,
    }


def markdown(result: dict) -> list[str]:
    z = result["zero_expected"]
    lines = [
        "## API fuzzing (schemathesis)",
        "",
        f"{result['requests']} generated requests over {result['operations']} operations (our OpenAPI schema and "
        f"Open311), anonymous and as each of the {result['roles'] - 1} demo roles, in {result['seconds']} s "
        f"({result['rounds']} rounds; valid and invalid input, real and unknown ids).",
        "",
        "| must be 0 | seen |",
        "|---|---|",
        *[f"| {label} | {value} |" for label, value in z.items()],
        "",
        "Statuses: " + ", ".join(f"{k}: {v}" for k, v in result["statuses"].items()),
    ]
    if result["failures"]:
        lines += ["", "| operation | role | check | status | request |", "|---|---|---|---|---|"]
        for f in result["failures"][:30]:
            lines.append(f"| {f['operation']} | {f['role']} | {f['check']} | {f['status']} | `{f['request'][:120]}` |")
    return lines
