from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from common.access import public_view


@public_view
@require_GET
def healthz(request):
    """Liveness + database reachability, for load balancers and docker-compose health checks."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any DB failure means "not healthy"
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
