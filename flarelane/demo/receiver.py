"""A small receiver inside the product, so a newcomer sees real sends with no internet.

Enabled by DEMO_RECEIVER_ENABLED (`make run` turns it on). It answers like the vendors of
the demo webhooks and keeps the last requests it got in the cache, shown at
/demo-receiver/. A path containing `/fail` answers 500, to show a failure.
"""

import json
import re
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

# The log page needs no login: it never shows values of headers that look like credentials.
SECRET_LOOKING = re.compile(r"key|secret|token|auth|signature|password", re.IGNORECASE)
RECENT_KEY = "demo-receiver:recent"
RECENT_LIMIT = 50


def _record(request: HttpRequest, subpath: str) -> dict[str, Any]:
    entry = {
        "received_at": timezone.now().isoformat(),
        "method": request.method,
        "path": "/" + subpath,
        "headers": {
            k: ("••••••" if SECRET_LOOKING.search(k) else v) for k, v in request.headers.items() if k.lower() != "cookie"
        },
        "body": request.body.decode("utf-8", errors="replace"),
    }
    cache.set(RECENT_KEY, [entry, *(cache.get(RECENT_KEY) or [])][:RECENT_LIMIT], timeout=None)
    return entry


@csrf_exempt
def receive(request: HttpRequest, subpath: str) -> HttpResponse:
    if not settings.DEMO_RECEIVER_ENABLED:
        raise Http404
    _record(request, subpath)
    if "fail" in subpath.split("/"):
        return JsonResponse({"error": "down"}, status=500)
    if subpath.startswith("coupons"):
        return JsonResponse({"coupon": {"code": f"C-{secrets.randbelow(9000) + 1000}"}}, status=200)
    if "sms" in subpath:
        return JsonResponse({"header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "SUCCESS"}}, status=200)
    return JsonResponse({"ok": True}, status=200)


def recent(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_RECEIVER_ENABLED:
        raise Http404
    return HttpResponse(json.dumps(cache.get(RECENT_KEY) or [], indent=2, ensure_ascii=False), content_type="application/json")


urlpatterns = [
    path("", recent, name="demo-receiver-recent"),
    path("<path:subpath>", receive, name="demo-receiver"),
]
