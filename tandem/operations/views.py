from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tandem.operations import health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Public and free of health information: only the status of each part."""
    checks = {
        "database": health.database_status(),
        "channel_layer": health.channel_layer_status(),
        "worker": health.worker_status(),
    }
    ok = all(bool(check["ok"]) for check in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", "checks": checks}, status=200 if ok else 503)
