"""Pages: a published bulletin exactly as frozen, and its XLSX export."""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from common import csp
from stats.models import Bulletin
from stats.permissions import may_read_stats
from stats.xlsx import bulletin_xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _check(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_read_stats(request.user):
        raise PermissionDenied
    return None


@login_required
def bulletin_list(request):
    if (denied := _check(request)) is not None:
        return denied
    return render(request, "stats/bulletin_list.html", {"bulletins": Bulletin.objects.defer("content", "html")[:200]})


@login_required
def bulletin_page(request, pk: int):
    if (denied := _check(request)) is not None:
        return denied
    bulletin = get_object_or_404(Bulletin, pk=pk)
    response = HttpResponse(bulletin.html.encode(), content_type="text/html; charset=utf-8")
    # The page is frozen at publication, so its <style> cannot carry this request's nonce: inline styles are allowed
    # here; it has no script, and scripts still need a nonce.
    response[csp.HEADER] = csp.policy(getattr(request, "csp_nonce", ""), inline_styles=True)
    return response


@login_required
def bulletin_xlsx_view(request, pk: int):
    if (denied := _check(request)) is not None:
        return denied
    bulletin = get_object_or_404(Bulletin, pk=pk)
    resp = HttpResponse(bulletin_xlsx(bulletin), content_type=XLSX_TYPE)
    resp["Content-Disposition"] = f'attachment; filename="bulletin-{bulletin.label}-v{bulletin.version}.xlsx"'
    return resp
