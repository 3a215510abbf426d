"""`/health/` for load balancers: answers 200 when this process can reach its database.

Kept cheap (one `SELECT 1`, no session, no authentication) because it is polled every few
seconds by every balancer; it must not touch the task queue or the send path.
"""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        # A balancer takes this process out of rotation on 503; the log says why.
        logger.exception("Health check: the database cannot be reached")
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
