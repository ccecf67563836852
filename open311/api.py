"""GeoReport v2 endpoints under /open311/v2/ (every resource as .json and .xml). Thin: parsing and documents
in open311.serializers, reads in open311.selectors, the write in open311.services (over cases.services)."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from common.access import public_view
from open311 import selectors, serializers, services
from open311.renderers import JSON_TYPE, XML_TYPE, render, render_errors
from open311.services import Open311Error

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-22T00:00:00+08:00"


def georeport(*methods):
    """Answer only `methods`; turn Open311Error into the spec's error list in the requested format."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, fmt, **kwargs):
            if request.method not in methods:
                return render_errors([(405, _("不支持的请求方法"))], fmt=fmt, status=405)
            try:
                return view(request, *args, fmt=fmt, **kwargs)
            except Open311Error as exc:
                return render_errors([(exc.status_code, exc.message)], fmt=fmt, status=exc.status_code)

        # Open to anyone: reads are public and writes are authorised by the api_key parameter, not by a login.
        return public_view(csrf_exempt(wrapper))

    return decorate


def _base_url(request) -> str:
    base = getattr(settings, "PUBLIC_BASE_URL", "") or request.build_absolute_uri("/")
    return base.rstrip("/") + "/open311/v2"


@georeport("GET")
def discovery(request, *, fmt):
    url = _base_url(request)
    document = {
        "changeset": CHANGESET,
        "contact": _("请联系区城运中心（街巷长制办公室）申请接口密钥"),
        "key_service": _("接口密钥由系统管理员在后台签发：%(url)s") % {"url": url.rsplit("/open311", 1)[0] + "/admin/"},
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": [XML_TYPE.split(";")[0], JSON_TYPE.split(";")[0]],
            }
        ],
    }
    return render(document, fmt=fmt, root="discovery")


@georeport("GET")
def service_list(request, *, fmt):
    return render([serializers.service(c) for c in selectors.offered_services()], fmt=fmt, root="services")


@georeport("GET")
def service_definition(request, code, *, fmt):
    category = selectors.offered_service(code)
    if category is None:
        raise Open311Error(404, _("没有这个服务类别：%(code)s") % {"code": code[:40]})
    return render(serializers.service_definition(category), fmt=fmt, root="service_definition")


@georeport("GET", "POST")
def requests(request, *, fmt):
    if request.method == "POST":
        key = selectors.active_key(request.POST.get("api_key"))
        if key is None:
            raise Open311Error(403, _("缺少或无效的 api_key"))
        result = services.submit_request(key=key, **serializers.parse_submission(request.POST))
        return render(
            [serializers.created_request(result.case)],
            fmt=fmt,
            root="service_requests",
            status=201 if result.created else 200,
        )
    cases = selectors.search_requests(**serializers.parse_query(request.GET))
    return render([serializers.service_request(c) for c in cases], fmt=fmt, root="service_requests")


@georeport("GET")
def request_detail(request, request_id, *, fmt):
    case = selectors.public_request(request_id)
    if case is None:
        raise Open311Error(404, _("没有这个诉求：%(id)s") % {"id": request_id[:40]})
    return render([serializers.service_request(case)], fmt=fmt, root="service_requests")


@georeport("POST")
def request_updates(request, *, fmt):
    """servicerequestupdates (extension): api_key, service_request_id, action, description."""
    key = selectors.active_key(request.POST.get("api_key"))
    if key is None:
        raise Open311Error(403, _("缺少或无效的 api_key"))
    case, event = services.post_update(
        key=key,
        service_request_id=request.POST.get("service_request_id") or "",
        action=request.POST.get("action") or "",
        description=request.POST.get("description") or "",
    )
    return render([serializers.update(case, event)], fmt=fmt, root="service_request_updates")
