"""Phone-sized pages: report (public or logged in), tracking by code, and the handlers' inbox with a case page
that takes the workflow actions. Thin: everything is decided in cases.services / selectors."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cases import selectors, services
from cases import workflow as wf
from cases.api import PublicReportThrottle
from cases.calendar import WorkCalendar
from cases.models import Category
from cases.permissions import roles_for, scope_for
from common.access import public_view
from common.geo import CoordinateError, point_from_params

# Actions offered on the case page, with the input each one needs.
NEEDS_NOTE = {a for a, t in wf.TRANSITIONS.items() if t.note_required}
NEEDS_PHOTO = {"resolve"}


def _categories():
    groups = []
    by_parent = {}
    for cat in Category.objects.filter(active=True).select_related("parent").order_by("order", "code"):
        if cat.is_group:
            groups.append(cat)
            by_parent.setdefault(cat.pk, [])
        else:
            by_parent.setdefault(cat.parent_id, []).append(cat)
    return [(g, by_parent.get(g.pk, [])) for g in groups] + ([(None, by_parent[None])] if by_parent.get(None) else [])


@public_view
@require_http_methods(["GET", "POST"])
def report(request):
    """Report a problem: category, place (the phone's GPS or typed coordinates), description, photos."""
    context = {"groups": _categories(), "form": {}, "error": ""}
    if request.method == "GET":
        context["form"] = {"idempotency_key": uuid.uuid4().hex, "coordsys": "wgs84"}
        return render(request, "cases/report.html", context)
    form = request.POST
    context["form"] = form
    throttle = PublicReportThrottle()
    if not throttle.allow_request(request, None):
        context["error"] = _("提交过于频繁，请稍后再试")
        return render(request, "cases/report.html", context, status=429)
    try:
        point = point_from_params(form)
        result = services.report_case(
            category_code=form.get("category", ""),
            point=point,
            description=form.get("description", ""),
            reporter=request.user,
            contact=form.get("contact", ""),
            idempotency_key=form.get("idempotency_key") or None,
            photos=request.FILES.getlist("photos"),
        )
    except CoordinateError as exc:
        context["error"] = _("位置有误：%(msg)s。请点击“获取我的位置”或填写经纬度") % {"msg": exc}
        return render(request, "cases/report.html", context, status=400)
    except services.CaseError as exc:
        context["error"] = exc.message
        return render(request, "cases/report.html", context, status=exc.status_code)
    return redirect(f"{reverse('cases-track')}?code={result.case.tracking_code}&new=1")


@public_view
@require_http_methods(["GET", "POST"])
def track(request):
    """The state of a report, by its tracking code (public fields only); once closed, the reporter may rate it
    (stats.services.rate_case: anonymous reports through the code, account reports as that account)."""
    from stats import services as stats_services
    from stats.models import CaseRating

    code = (request.POST.get("code") if request.method == "POST" else request.GET.get("code")) or ""
    code = code.strip()
    rating_error, status = "", 200
    if request.method == "POST":
        try:
            stats_services.rate_case(
                tracking_code=code,
                score=request.POST.get("score"),
                comment=request.POST.get("comment", ""),
                user=request.user,
            )
            return redirect(f"{reverse('cases-track')}?code={code.upper()}&rated=1")
        except stats_services.StatsError as exc:
            rating_error, status = exc.message, exc.status_code
    case = selectors.by_tracking_code(code) if code else None
    view = selectors.public_view(case) if case else None
    rating = None
    if view:
        labels = _action_labels()
        for event in view["timeline"]:
            event["label"] = labels.get(event["action"], event["action"])
        rating = CaseRating.objects.filter(case=case).first()
        mine = case.reporter_id is None or (request.user.is_authenticated and request.user.pk == case.reporter_id)
        view["may_rate"] = case.status == "closed" and rating is None and mine
        view["rate_needs_login"] = case.status == "closed" and rating is None and not mine
    if code and case is None:
        status = 404
    return render(
        request,
        "cases/track.html",
        {
            "code": code,
            "view": view,
            "new": request.GET.get("new") == "1",
            "rated": request.GET.get("rated") == "1",
            "rating": rating,
            "rating_error": rating_error,
            "scores": [(5, _("非常满意")), (4, _("满意")), (3, _("一般")), (2, _("不满意")), (1, _("非常不满意"))],
        },
        status=status,
    )


def _action_labels():
    labels = {a: str(t.label) for a, t in wf.TRANSITIONS.items()}
    labels.update(report=_("上报"), merged_in=_("并入重复案件"))
    return labels


@login_required
def inbox(request):
    """The handler's dispatches, earliest deadline first, with the traffic light."""
    scope = scope_for(request.user)
    calendar, now = WorkCalendar.load(), timezone.now()
    items = [(case, selectors.case_clock(case, now=now, calendar=calendar)) for case in selectors.inbox(scope)[:200]]
    return render(request, "cases/inbox.html", {"items": items})


@login_required
@require_http_methods(["GET", "POST"])
def case_page(request, pk):
    """One case: details, timeline, and buttons for the actions this user may take now."""
    scope = scope_for(request.user)
    case = selectors.get_visible(scope, pk)
    if case is None:
        raise Http404(_("案件不存在"))
    error, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            params = {k: request.POST[k] for k in ("squad", "hours", "into") if request.POST.get(k)}
            point = point_from_params(request.POST) if request.POST.get("lat") and request.POST.get("lon") else None
            services.transition(
                case_id=case.pk,
                action=action,
                user=request.user,
                version=request.POST.get("version"),
                note=request.POST.get("note", ""),
                point=point,
                params=params,
                photos=request.FILES.getlist("photos"),
            )
            return redirect("cases-case", pk=case.pk)
        except CoordinateError as exc:
            error, status = str(exc), 400
        except services.CaseError as exc:
            error, status = exc.message, exc.status_code
        case = selectors.get_visible(scope, pk) or case
    roles = roles_for(scope, case)
    labels = _action_labels()
    actions = [
        {
            "name": a,
            "label": wf.TRANSITIONS[a].label,
            "note": a in NEEDS_NOTE,
            "photo": a in NEEDS_PHOTO,
            "hours": a == "request_extension",
        }
        for a in wf.allowed_actions(status=case.status, roles=roles)
        if a not in ("attend", "merge", "assign")
    ]
    context = {
        "case": case,
        "clock": selectors.case_clock(case),
        "events": [(e, labels.get(e.action, e.action)) for e in selectors.timeline(case)],
        "actions": actions,
        "error": error,
        "show_contact": bool(roles & {wf.HANDLER, wf.STREET_STAFF, wf.DISTRICT_ADMIN}),
    }
    return render(request, "cases/case.html", context, status=status)
