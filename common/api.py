"""API-wide conventions: every user error is a 4xx with a message that says what is wrong.

Every 400 body carries `detail` (a string, the documented ApiError shape): a serializer's field errors keep their
keys and get a `detail` that sums them up ("field: message; …")."""

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.geo import CoordinateError


def exception_handler(exc, context):
    if isinstance(exc, CoordinateError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        data = response.data
        if isinstance(data, dict) and not isinstance(data.get("detail"), str):
            response.data = {**data, "detail": summary(data)}
        elif isinstance(data, list):
            response.data = {"detail": summary(data)}
    return response


def summary(errors, prefix: str = "") -> str:
    """DRF's nested error structure as one line: "lat: 该字段是必填项。; photos.0: …"."""
    if isinstance(errors, dict):
        parts = [summary(v, f"{prefix}{k}" if k != "non_field_errors" else prefix) for k, v in errors.items()]
        return "; ".join(p for p in parts if p)
    if isinstance(errors, list):
        if all(not isinstance(e, (dict, list)) for e in errors):
            text = " ".join(str(e) for e in errors)
            return f"{prefix}: {text}" if prefix else text
        parts = [summary(e, f"{prefix}.{i}" if prefix else str(i)) for i, e in enumerate(errors)]
        return "; ".join(p for p in parts if p)
    return f"{prefix}: {errors}" if prefix else str(errors)


def bad_request(message: str) -> ValidationError:
    return ValidationError({"detail": message})
