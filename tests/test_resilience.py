"""The database being unreachable answers a clean 503 (common/resilience.py), for API routes and pages alike.

Every query of the request fails the way it does while PostgreSQL restarts (OperationalError from the driver); the
answer must be a 503 with Retry-After and a message, JSON for the API, a static page for pages, and never a 500,
a traceback or Django's debug page — also with DEBUG on.
"""

from __future__ import annotations

import json

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import Client, override_settings

from common import resilience

OUTAGE = "could not connect to server: Connection refused\n\tIs the server running on host 127.0.0.1 port 54339?"


def refuse(execute, sql, params, many, context):
    raise OperationalError(OUTAGE)


def assert_clean_503(response, *, json_body: bool):
    assert response.status_code == 503
    assert response["Retry-After"] == str(resilience.RETRY_AFTER_S)
    body = response.content.decode()
    for leak in ("Traceback", "OperationalError", "54339", "Connection refused", "technical_500"):
        assert leak not in body
    if json_body:
        assert response["Content-Type"].startswith("application/json")
        assert json.loads(body) == {"detail": resilience.MESSAGE, "code": "database_unavailable"}
    else:
        assert response["Content-Type"].startswith("text/html")
        assert resilience.MESSAGE in body


@pytest.mark.parametrize("debug", [False, True])
def test_case_submission_answers_503_json_when_the_database_is_unreachable(db, settings, debug):
    settings.DEBUG = debug
    payload = {"category": "SJ0101", "lon": 121.4800, "lat": 31.2350, "description": "垃圾满地"}
    with connection.execute_wrapper(refuse):
        response = Client().post("/api/cases/", payload, content_type="application/json")
    assert_clean_503(response, json_body=True)


def test_a_page_answers_a_static_503_page_and_json_to_json_clients(db):
    with connection.execute_wrapper(refuse):
        page = Client().get("/lookup/lanes/1/")
        as_json = Client().get("/lookup/lanes/1/", HTTP_ACCEPT="application/json")
    assert_clean_503(page, json_body=False)
    assert_clean_503(as_json, json_body=True)


def test_the_service_answers_again_once_the_database_is_back(db):
    client = Client()
    with connection.execute_wrapper(refuse):
        assert client.get("/api/cases/categories/").status_code == 503
    response = client.get("/api/cases/categories/")
    assert response.status_code == 200
    assert "Retry-After" not in response


class FailingMiddleware:
    """Stands for any middleware that touches the database outside the view (e.g. saving a session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise InterfaceError("connection already closed")


@override_settings(MIDDLEWARE=["common.resilience.DatabaseUnavailableMiddleware", f"{__name__}.FailingMiddleware"])
def test_an_outage_outside_the_view_is_a_503_too():
    response = Client(raise_request_exception=False).get("/api/cases/categories/")
    assert_clean_503(response, json_body=True)


@override_settings(MIDDLEWARE=["common.resilience.DatabaseUnavailableMiddleware", f"{__name__}.FailingMiddleware"])
def test_other_errors_stay_500():
    FailingMiddleware.__call__, original = (lambda self, request: 1 / 0), FailingMiddleware.__call__
    try:
        response = Client(raise_request_exception=False).get("/api/cases/categories/")
    finally:
        FailingMiddleware.__call__ = original
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_the_wsgi_answer_for_a_fast_path_matches():
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(resilience.wsgi_unavailable({"PATH_INFO": "/api/lanes/nearest/"}, start_response))
    assert seen["status"].startswith("503")
    assert seen["headers"]["Retry-After"] == str(resilience.RETRY_AFTER_S)
    assert json.loads(body) == {"detail": resilience.MESSAGE, "code": "database_unavailable"}
