"""Privacy scan: crawl every public page and endpoint of the demo anonymously and look for personal data in it.

What must never appear publicly (collected from the database, see `collect`):
- every Person.private_phone, in any formatting (digits with spaces or dashes between them, "+86" or not);
- reporters' identity: the contact a reporter left (reporter_contact), reporter user names, and — on the tracking
  page of their own case — their names;
- anything of a case in a sensitive category (category.sensitive): its description anywhere, and on its tracking
  page its lane and description.
Plus the server log: no private phone number or reporter contact in it.

Used by `make reliability` (NAME = "privacy", against ctx.base_url and the run's database) and, bounded, by
tests/test_privacy_scan.py (the Django test client on the demo).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

NAME = "privacy"
PAGE_LIMIT = 600
SKIP = ("/static/", "/media/", "/admin/", "/accounts/", "/i18n/", "/api/schema/", "/api/docs/", "/api/redoc/")


@dataclass
class Secrets:
    phones: dict[str, re.Pattern] = field(default_factory=dict)  # label → pattern
    words: dict[str, str] = field(default_factory=dict)  # literal text → label
    per_case: dict[str, dict[str, str]] = field(default_factory=dict)  # tracking code → {text: label}
    public_phone_digits: set[str] = field(default_factory=set)
    tracking_codes: list[str] = field(default_factory=list)

    def add_phone(self, phone: str, label: str) -> None:
        digits = re.sub(r"\D", "", phone or "")
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if len(digits) < 7 or digits in self.public_phone_digits:
            return  # too short to be a number, or the same number is published on purpose
        self.phones[label] = re.compile(r"(?<!\d)" + r"[\s\-.()]*".join(digits) + r"(?!\d)")

    def add_word(self, text: str, label: str, *, case: str | None = None, min_len: int = 4) -> None:
        text = (text or "").strip()
        if len(text) < min_len:
            return
        if case:
            self.per_case.setdefault(case, {})[text] = label
        else:
            self.words[text] = label


def phone_like(text: str) -> bool:
    return len(re.sub(r"\D", "", text or "")) >= 7


def collect(cursor) -> Secrets:
    """What must stay private, read with a DB-API cursor on the database being served."""
    s = Secrets()
    cursor.execute(
        "SELECT public_phone FROM people_person WHERE public_phone <> '' "
        "UNION SELECT duty_phone FROM people_squad WHERE duty_phone <> ''"
    )
    s.public_phone_digits = {re.sub(r"\D", "", p) for (p,) in cursor.fetchall()}
    cursor.execute("SELECT id, private_phone FROM people_person WHERE private_phone <> '' ORDER BY id")
    for pk, phone in cursor.fetchall():
        s.add_phone(phone, f"private phone of person {pk}")
    cursor.execute(
        "SELECT c.tracking_code, c.reporter_contact, u.username, u.first_name, u.last_name, p.name "
        "FROM cases_case c LEFT JOIN auth_user u ON u.id = c.reporter_id "
        "LEFT JOIN people_person p ON p.user_id = u.id "
        "WHERE c.reporter_contact <> '' OR c.reporter_id IS NOT NULL ORDER BY c.id"
    )
    for code, contact, username, first, last, person in cursor.fetchall():
        if contact:
            if phone_like(contact):
                s.add_phone(contact, f"reporter contact of case {code}")
            else:
                s.add_word(contact, f"reporter contact of case {code}")
        if username:
            s.add_word(username, f"reporter user name ({code})", min_len=5)
        # the person's name; the account's own name only without a person (demo accounts carry role labels there)
        names = {person} if person else {f"{last}{first}", f"{first} {last}".strip()}
        for name in names:
            s.add_word(name, f"reporter name on the tracking page of {code}", case=code, min_len=2)
        s.tracking_codes.append(code)
    cursor.execute(
        "SELECT c.tracking_code, c.description, l.name FROM cases_case c "
        "JOIN cases_category k ON k.id = c.category_id LEFT JOIN lanes_lane l ON l.id = c.lane_id "
        "WHERE k.sensitive ORDER BY c.id"
    )
    rows = cursor.fetchall()
    cursor.execute(
        "SELECT DISTINCT c.description FROM cases_case c JOIN cases_category k ON k.id = c.category_id "
        "WHERE NOT k.sensitive AND c.description <> ''"
    )
    public_descriptions = {d for (d,) in cursor.fetchall()}  # the same words filed openly are not a leak
    for code, description, lane in rows:
        if description not in public_descriptions:
            s.add_word(description, f"description of sensitive case {code}", min_len=6)
        s.add_word(description, f"description of sensitive case {code}", case=code, min_len=2)
        s.add_word(lane or "", f"lane of sensitive case {code} on its tracking page", case=code, min_len=2)
        s.tracking_codes.append(code)
    cursor.execute("SELECT tracking_code FROM cases_case ORDER BY id DESC LIMIT 5")
    s.tracking_codes.extend(code for (code,) in cursor.fetchall())
    s.tracking_codes = list(dict.fromkeys(s.tracking_codes))
    return s


def leaks_in(text: str, secrets: Secrets, *, case: str | None = None) -> list[str]:
    found = [label for label, pattern in secrets.phones.items() if pattern.search(text)]
    found += [label for word, label in secrets.words.items() if word in text]
    if case:
        found += [label for word, label in secrets.per_case.get(case, {}).items() if word in text]
    return found


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href and not href.startswith(("tel:", "mailto:", "javascript:", "#")):
            self.links.append(href)


def starts(cursor, secrets: Secrets) -> list[tuple[str, str | None]]:
    """(path, tracking code or None) to begin with: the public pages, lists and tracking pages of chosen cases."""
    cursor.execute("SELECT id FROM lanes_lane ORDER BY id LIMIT 3")
    lanes = [pk for (pk,) in cursor.fetchall()]
    cursor.execute("SELECT ST_Y(ST_Centroid(geom)), ST_X(ST_Centroid(geom)) FROM lanes_lane ORDER BY id LIMIT 1")
    row = cursor.fetchone()
    lat, lon = row if row else (31.23, 121.47)
    bbox = f"{lon - 0.003:.5f},{lat - 0.003:.5f},{lon + 0.003:.5f},{lat + 0.003:.5f}"
    paths = [
        "/",
        "/lookup/",
        "/lookup/?q=路",
        f"/lookup/api/lanes/?bbox={bbox}&zoom=17",
        f"/lookup/api/nearest/?lat={lat}&lon={lon}",
        "/api/lanes/?page_size=100",
        f"/api/lanes/nearest/?lat={lat}&lon={lon}&within=500",
        f"/api/areas/at/?lat={lat}&lon={lon}",
        "/api/areas/?level=community",
        "/open311/v2/discovery.json",
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        "/api/cases/categories/",
        "/stats/bulletins/",
        "/report/",
        "/track/",
    ]
    for pk in lanes:
        paths += [f"/lookup/lanes/{pk}/", f"/lookup/lanes/{pk}/placard/", f"/api/lanes/{pk}/"]
    out: list[tuple[str, str | None]] = [(p, None) for p in paths]
    for code in secrets.tracking_codes:
        out += [(f"/track/?code={code}", code), (f"/api/cases/track/{code}/", code)]
        out += [(f"/open311/v2/requests/{code}.json", code)]
    return out


def json_links(text: str) -> list[str]:
    """`next` links of paginated JSON lists."""
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    if isinstance(doc, dict) and isinstance(doc.get("next"), str):
        return [doc["next"]]
    return []


def scan(
    get: Callable[[str], tuple[int, str, str]], begin: list[tuple[str, str | None]], secrets: Secrets, *, limit: int
) -> dict:
    """Crawl from `begin` with `get(path) -> (status, content type, text)`; every page checked for `secrets`."""
    seen: set[str] = set()
    queue = list(begin)
    leaks: list[dict] = []
    statuses: dict[str, int] = {}
    while queue and len(seen) < limit:
        path, case = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        status, content_type, text = get(path)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        for label in leaks_in(text, secrets, case=case):
            leaks.append({"page": path, "leak": label})
        links = json_links(text) if "json" in content_type else []
        if "html" in content_type:
            parser = Links()
            parser.feed(text)
            links = parser.links
        for href in links:
            url = urlsplit(urljoin(path, href))
            if url.scheme not in ("", "http", "https"):
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if url.path.startswith(SKIP) or target in seen or url.path.endswith((".png", ".jpg", ".xlsx")):
                continue
            queue.append((target, None))
    return {"pages": len(seen), "statuses": statuses, "leaks": leaks}


def log_leaks(text: str, secrets: Secrets) -> list[str]:
    """Private phone numbers (and reporter contacts) found in a log."""
    return sorted({label for label, pattern in secrets.phones.items() if pattern.search(text)})


# --- make reliability ------------------------------------------------------------------------------------------
def run(ctx) -> dict:
    import urllib.error
    import urllib.request

    import psycopg2

    started = time.monotonic()
    url = urlsplit(ctx.database_url)
    conn = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username, password=url.password, dbname=url.path[1:]
    )
    try:
        with conn.cursor() as cursor:
            secrets = collect(cursor)
            begin = starts(cursor, secrets)
    finally:
        conn.close()

    def get(path: str) -> tuple[int, str, str]:
        from urllib.parse import quote

        safe_path = quote(path, safe="/?=&%:,.+-_~;")  # non-ASCII search terms (/lookup/?q=路)
        request = urllib.request.Request(ctx.base_url + safe_path, headers={"Accept-Language": "zh-hans"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own server
                return (
                    response.status,
                    response.headers.get("Content-Type", ""),
                    response.read().decode(errors="replace"),
                )
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode(errors="replace")

    result = scan(get, begin, secrets, limit=PAGE_LIMIT)
    log_text = ctx.server_log.read_text(errors="replace") if ctx.server_log.exists() else ""
    in_log = log_leaks(log_text, secrets)
    fivexx = sum(n for status, n in result["statuses"].items() if status.startswith("5"))
    ctx.log(f"privacy: {result['pages']} pages scanned, {len(result['leaks'])} leaks, {len(in_log)} in the log")
    return {
        "pages_scanned": result["pages"],
        "statuses": result["statuses"],
        "secrets": {"phones": len(secrets.phones), "words": len(secrets.words), "cases": len(secrets.tracking_codes)},
        "leaks": result["leaks"][:50],
        "log_bytes_scanned": len(log_text),
        "log_leaks": in_log[:50],
        "seconds": round(time.monotonic() - started, 1),
        "zero_expected": {
            "leaks found on public pages": len(result["leaks"]),
            "private phone numbers in the server log": len(in_log),
            "5xx on public pages": fivexx,
        },
        "ok": not result["leaks"] and not in_log and fivexx == 0 and result["pages"] > 0,
    }


def markdown(result: dict) -> list[str]:
    z = result["zero_expected"]
    lines = [
        "## Privacy scan",
        "",
        f"Every public page and endpoint reachable anonymously from `/`, the lookup, lane pages, placards, the public "
        f"API lists (with pagination), Open311 reads and the tracking pages of {result['secrets']['cases']} chosen "
        f"cases: **{result['pages_scanned']} pages scanned** for {result['secrets']['phones']} private phone numbers "
        f"(any formatting), reporter identities and sensitive cases' content; the server log "
        f"({result['log_bytes_scanned']:,} bytes) for the phone numbers.",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| {label} | {value} |" for label, value in z.items()]
    for leak in result["leaks"][:10]:
        lines.append(f"- leak: {leak['leak']} on `{leak['page']}`")
    lines.append("")
    return lines
