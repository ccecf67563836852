"""Hostile upload payloads, shared by tests/test_hostile_uploads.py and reliability/uploads.py: each is a file a
real attacker (or a broken phone) could send, and each must be refused with nothing stored."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Payload:
    name: str  # what it is
    filename: str
    content: bytes
    content_type: str


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width×height pixels (a decompression bomb: a few hundred bytes on disk)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def real_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


def photo_payloads(max_bytes: int) -> list[Payload]:
    return [
        Payload("oversized photo", "big.jpg", b"\xff\xd8\xff\xe0" + b"\0" * (max_bytes + 1024), "image/jpeg"),
        Payload("HTML renamed .jpg", "photo.jpg", HTML, "image/jpeg"),
        Payload("SVG with script", "photo.svg", SVG, "image/svg+xml"),
        Payload("SVG renamed .png", "photo.png", SVG, "image/png"),
        Payload("decompression bomb (100000×100000 PNG)", "bomb.png", png_declaring(100_000, 100_000), "image/png"),
        Payload("too many pixels (9000×9000 PNG)", "wide.png", png_declaring(9000, 9000), "image/png"),
        Payload("truncated JPEG", "half.jpg", real_jpeg()[:200], "image/jpeg"),
        Payload("empty file", "empty.jpg", b"", "image/jpeg"),
        Payload("path traversal name", "../../etc/passwd.jpg", HTML, "image/jpeg"),
        Payload("NUL byte in name", "a\x00.php.jpg", HTML, "image/jpeg"),
        Payload("very long name", "x" * 5000 + ".jpg", HTML, "image/jpeg"),
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<gpx version="1.1" creator="x"><trk><name>&lol9;</name><trkseg>
<trkpt lat="31.23" lon="121.47"/><trkpt lat="31.231" lon="121.471"/></trkseg></trk></gpx>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gpx version="1.1" creator="x"><trk><name>&xxe;</name><trkseg>
<trkpt lat="31.23" lon="121.47"/><trkpt lat="31.231" lon="121.471"/></trkseg></trk></gpx>"""


def gzip_bomb() -> bytes:
    import gzip

    return gzip.compress(b"<" * (50 * 1024 * 1024), 9)  # 50 MB of '<' in about 50 kB


def track_payloads(max_bytes: int) -> list[Payload]:
    points = "".join(f'<trkpt lat="31.23" lon="121.47{i % 10}"/>' for i in range(10))
    big = (
        '<gpx version="1.1"><trk><trkseg>' + points * (max_bytes // len(points) + 1) + "</trkseg></trk></gpx>"
    ).encode()
    return [
        Payload("billion laughs GPX", "laughs.gpx", BILLION_LAUGHS, "application/gpx+xml"),
        Payload("external entity GPX (XXE)", "xxe.gpx", XXE, "application/gpx+xml"),
        Payload("oversized GPX", "big.gpx", big, "application/gpx+xml"),
        Payload("gzip bomb named .gpx", "bomb.gpx", gzip_bomb(), "application/gpx+xml"),
        Payload("HTML renamed .gpx", "track.gpx", HTML, "application/gpx+xml"),
        Payload("deeply nested GeoJSON", "deep.geojson", b"[" * 100_000 + b"]" * 100_000, "application/geo+json"),
        Payload("path traversal name", "../../../tmp/evil.gpx", BILLION_LAUGHS, "application/gpx+xml"),
    ]


def xlsx_zip_bomb(uncompressed_mb: int = 300) -> bytes:
    """A real .xlsx (openpyxl opens it) whose one sheet inflates to about `uncompressed_mb` MB of rows from well
    under 1 MB: a zip bomb for the roster import."""
    from openpyxl import Workbook

    book = io.BytesIO()
    workbook = Workbook()
    workbook.active.append(["街巷", "街巷长"])
    workbook.save(book)
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book.getvalue())) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info, source.read(info.filename))
                continue
            with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(
                    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                    b'spreadsheetml/2006/main"><sheetData>'
                )
                block = row * (1024 * 1024 // len(row))
                for _ in range(uncompressed_mb):
                    sheet.write(block)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


# --- make reliability ------------------------------------------------------------------------------------------
NAME = "uploads"
DEMO_PASSWORD = "demo12345"


class Session:
    """A cookie-keeping HTTP client for one demo user on the server under test (login through the login form)."""

    def __init__(self, base_url: str, username: str | None):
        import http.cookiejar
        import urllib.request

        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        if username:
            import re
            from urllib.parse import urlencode

            page = self.request("GET", "/accounts/login/")[2]
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": DEMO_PASSWORD})
            self.request("POST", "/accounts/login/", body.encode(), "application/x-www-form-urlencoded")
            if not any(c.name == "sessionid" for c in self.jar):
                raise RuntimeError(f"could not log in as {username}")

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = ""):
        import urllib.error
        import urllib.request

        headers = {"Referer": self.base_url + "/", "X-CSRFToken": self.csrf()}
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=60) as response:
                return (
                    response.status,
                    response.headers.get("Content-Type", ""),
                    response.read().decode(errors="replace"),
                )
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode(errors="replace")
        except urllib.error.URLError as exc:
            if body is None or not isinstance(exc.reason, (BrokenPipeError, ConnectionResetError)):
                raise
            # The server answered (e.g. 413) and closed before reading the whole upload: urllib stops at the
            # broken pipe, so send again ignoring it and read the answer that is waiting on the socket.
            return self._send_ignoring_close(method, path, body, headers)

    def _send_ignoring_close(self, method: str, path: str, body: bytes, headers: dict):
        import http.client
        from urllib.parse import urlsplit

        url = urlsplit(self.base_url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            conn.putrequest(method, path)
            cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
            for name, value in {**headers, "Content-Length": str(len(body)), "Cookie": cookies}.items():
                if value:
                    conn.putheader(name, value)
            conn.endheaders()
            try:
                for i in range(0, len(body), 65536):
                    conn.send(body[i : i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                response = conn.getresponse()
            except (ConnectionResetError, http.client.RemoteDisconnected):
                return 0, "", "the server closed the connection without an answer"
            return response.status, response.getheader("Content-Type", ""), response.read().decode(errors="replace")
        finally:
            conn.close()

    def post_files(self, path: str, fields: dict, files: list[tuple[str, Payload]]):
        import uuid

        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, p in files:
            filename = p.filename.replace('"', "%22").replace("\r", "").replace("\n", "")
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {p.content_type}\r\n\r\n"
            )
            parts.append(head.encode("utf-8", "surrogateescape") + p.content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, b"".join(parts), f"multipart/form-data; boundary={boundary}")


COUNTED = ("cases_case", "cases_attachment", "cases_attendance", "patrols_patrol", "patrols_patrolphoto")


def run(ctx) -> dict:
    import os
    import time
    from pathlib import Path
    from urllib.parse import urlsplit

    import psycopg2

    started = time.monotonic()
    media = Path(os.environ.get("MEDIA_ROOT") or ctx.extra["deployment"].env["MEDIA_ROOT"])
    url = urlsplit(ctx.database_url)
    conn = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username, password=url.password, dbname=url.path[1:]
    )
    conn.autocommit = True

    def rows() -> dict:
        with conn.cursor() as cur:
            out = {}
            for table in COUNTED:
                cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
                out[table] = cur.fetchone()[0]
            return out

    def files() -> set[str]:
        return {str(p) for p in media.rglob("*") if p.is_file()} if media.exists() else set()

    with conn.cursor() as cur:
        cur.execute(
            "SELECT ST_X(ST_StartPoint(ST_GeometryN(l.geom, 1))), ST_Y(ST_StartPoint(ST_GeometryN(l.geom, 1))) "
            "FROM lanes_lane l ORDER BY l.id LIMIT 1"
        )
        lon, lat = cur.fetchone()
        cur.execute(
            "SELECT code FROM cases_category WHERE NOT is_group AND active AND NOT sensitive ORDER BY code LIMIT 1"
        )
        category = cur.fetchone()[0]
    anonymous, chief = Session(ctx.base_url, None), Session(ctx.base_url, "lane_chief")
    anonymous.request("GET", "/report/")  # a CSRF cookie for the report page
    chief.request("GET", "/report/")
    place = {"category": category, "lat": f"{lat:.6f}", "lon": f"{lon:.6f}"}
    # a live patrol of the lane chief to attach photos to
    status, _ct, body = chief.request(
        "POST", "/api/patrols/", f'{{"lat": {lat}, "lon": {lon}}}'.encode(), "application/json"
    )
    import json

    patrol_id = None
    try:
        patrol_id = json.loads(body).get("id") if status in (200, 201) else None
        if patrol_id is None:  # already on a patrol (409): use the active one
            listed = json.loads(chief.request("GET", "/api/patrols/?status=active")[2])
            items = listed.get("results", listed.get("features", [])) if isinstance(listed, dict) else listed
            patrol_id = next((i.get("id") for i in items if (i.get("properties") or i).get("status") == "active"), None)
    except (ValueError, AttributeError, TypeError):
        pass
    tries = []
    # Reports by the lane chief (logged in: not bound by the anonymous report limit) and a few anonymous ones (the
    # anonymous limit, CASE_PUBLIC_REPORT_RATE, would answer 429 to the rest).
    for i, p in enumerate(photo_payloads(5 * 1024 * 1024)):
        for who, session in (("lane_chief", chief), ("anonymous", anonymous)):
            if who == "anonymous" and i >= 3:
                continue
            tries.append(
                (
                    f"POST /api/cases/ ({who})",
                    p,
                    lambda p=p, s=session: s.post_files("/api/cases/", place, [("photos", p)]),
                )
            )
            tries.append(
                (
                    f"POST /report/ ({who})",
                    p,
                    lambda p=p, s=session: s.post_files(
                        "/report/", {**place, "csrfmiddlewaretoken": s.csrf()}, [("photos", p)]
                    ),
                )
            )
        if patrol_id:
            tries.append(
                (
                    "POST /api/patrols/{id}/photos/ (lane_chief)",
                    p,
                    lambda p=p: chief.post_files(f"/api/patrols/{patrol_id}/photos/", {}, [("photos", p)]),
                )
            )
    for p in track_payloads(10 * 1024 * 1024):
        tries.append(
            (
                "POST /api/patrols/upload/ (lane_chief)",
                p,
                lambda p=p: chief.post_files("/api/patrols/upload/", {}, [("file", p)]),
            )
        )
    results, stored, fivexx, throttled = [], 0, 0, 0
    for endpoint, payload, send in tries:
        if time.monotonic() - started > ctx.seconds_budget:
            break
        before_rows, before_files = rows(), files()
        status, _ct, text = send()
        if status == 429:  # rate-limited before the upload was looked at: not a try
            throttled += 1
            continue
        grew_rows = {t: n - before_rows[t] for t, n in rows().items() if n != before_rows[t]}
        new_files = sorted(files() - before_files)
        is_stored = bool(grew_rows or new_files)
        stored += is_stored
        fivexx += status >= 500
        results.append(
            {
                "endpoint": endpoint,
                "payload": payload.name,
                "status": status,
                "rejected": status in (400, 413),
                "stored": is_stored,
                "rows": grew_rows,
                "files": new_files[:3],
                "message": text[:160],
            }
        )
    conn.close()
    rejected = sum(r["rejected"] for r in results)
    ctx.log(f"uploads: {len(results)} hostile uploads tried, {rejected} rejected, {stored} stored")
    return {
        "tried": len(results),
        "rejected": rejected,
        "stored": stored,
        "throttled": throttled,
        "patrol_for_photos": bool(patrol_id),
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
        "zero_expected": {
            "hostile uploads stored": stored,
            "hostile uploads not rejected with 400/413": len(results) - rejected,
            "5xx answers": fivexx,
        },
        "ok": stored == 0 and rejected == len(results) and fivexx == 0 and len(results) > 0,
    }


def markdown(result: dict) -> list[str]:
    lines = [
        "## Hostile uploads",
        "",
        f"{result['tried']} hostile files (oversized, wrong magic bytes, pixel bombs, SVG with script, odd and "
        f"path-traversal names, billion laughs / XXE GPX, a gzip bomb, nested GeoJSON) sent to the report API and "
        f"page, patrol photos and the track upload as the right demo users: **{result['rejected']} rejected**, "
        f"**{result['stored']} stored** (database rows and files under MEDIA_ROOT checked after each).",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| {label} | {value} |" for label, value in result["zero_expected"].items()]
    bad = [r for r in result["results"] if r["stored"] or not r["rejected"]]
    for r in bad[:10]:
        lines.append(f"- {r['endpoint']}: {r['payload']} → {r['status']}{' (stored)' if r['stored'] else ''}")
    lines.append("")
    return lines
