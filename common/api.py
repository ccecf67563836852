"""API-wide conventions: every user error is a 4xx with a message that says what is wrong."""

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.geo import CoordinateError


def exception_handler(exc, context):
    if isinstance(exc, CoordinateError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def bad_request(message: str) -> ValidationError:
    return ValidationError({"detail": message})
