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
