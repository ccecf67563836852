"""Photo uploads: checked (size, real image of an accepted type, pixel count) with Pillow, the EXIF location
read, then every piece of metadata dropped by re-encoding the pixels. Only the re-encoded bytes are stored."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from cases import conf

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
GPS_IFD = 0x8825


class PhotoError(ValueError):
    """An upload that is not an acceptable photo; the message says which file and why."""

    status_code = 400


class PhotoTooLarge(PhotoError):
    """A photo over CASE_PHOTO_MAX_BYTES: HTTP 413 for callers that pass the status on."""

    status_code = 413


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str
    exif_point: Point | None


def _to_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        num, den = value
        return float(num) / float(den)


def _dms(values) -> float:
    degrees, minutes, seconds = (_to_float(v) for v in values)
    return degrees + minutes / 60.0 + seconds / 3600.0


def exif_location(image: Image.Image) -> Point | None:
    """The GPS position recorded in the EXIF of `image`, as a WGS-84 point (EXIF GPS is WGS-84), or None."""
    try:
        gps = image.getexif().get_ifd(GPS_IFD)
    except Exception:  # noqa: BLE001 - broken EXIF is common; the photo is still usable
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    try:
        lat, lon = _dms(gps[2]), _dms(gps[4])
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return Point(lon, lat, srid=settings.GEO_SRID)


def clean_photo(upload) -> CleanPhoto:
    """Validate one uploaded file and return its metadata-free re-encoding. Raises PhotoError."""
    name = str(getattr(upload, "name", "") or _("照片"))[:60]
    max_bytes = conf.get("CASE_PHOTO_MAX_BYTES")
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise PhotoTooLarge(
            _("照片「%(name)s」大小 %(size).1f MB，超过 %(max).1f MB 上限")
            % {"name": name, "size": size / 1048576, "max": max_bytes / 1048576}
        )
    upload.seek(0)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoTooLarge(_("照片「%(name)s」超过 %(max).1f MB 上限") % {"name": name, "max": max_bytes / 1048576})
    if not data:
        raise PhotoError(_("照片「%(name)s」是空文件") % {"name": name})
    not_image = PhotoError(_("「%(name)s」不是可识别的图片（支持 JPEG、PNG、WebP）") % {"name": name})
    try:
        probe = Image.open(io.BytesIO(data))
        fmt = probe.format
        width, height = probe.size
        probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise not_image from None
    if fmt not in FORMATS:
        raise not_image
    if width * height > conf.get("CASE_PHOTO_MAX_PIXELS"):
        raise PhotoError(_("照片「%(name)s」像素过多（%(w)d×%(h)d）") % {"name": name, "w": width, "h": height})
    try:
        image = Image.open(io.BytesIO(data))
        point = exif_location(image)
        image = ImageOps.exif_transpose(image)  # keep the picture upright once the orientation tag is gone
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise not_image from None
    image.info = {}  # drop EXIF, XMP, comments, ICC: nothing of the original file's metadata is written
    content_type, extension = FORMATS[fmt]
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=88)
    content = out.getvalue()
    return CleanPhoto(
        content=content,
        content_type=content_type,
        extension=extension,
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(content).hexdigest(),
        exif_point=point,
    )
