"""Per-key API throttling: each API key, and each staff session, has its own request budget.

Only counts requests; what a request may do is the permission classes' business. The
counters live in the default cache, so they are shared between processes only when the
cache is (Redis in production; local memory is per process).
"""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from flarelane.audience.authentication import ApiKeyPrincipal


class _AlwaysSaysWhen(SimpleRateThrottle):
    num_requests: int  # set by SimpleRateThrottle from the rate
    duration: int

    def wait(self) -> float:
        """Seconds until the next request fits.

        DRF's own gives none (so no Retry-After) when more requests are counted than the rate
        allows, as right after the rate was lowered; the next one fits once the request in
        the rate's last place has left the window (the history is newest first).
        """
        if not self.history:
            return float(self.duration)
        in_the_way = self.history[min(len(self.history), self.num_requests) - 1]
        return max(0.0, self.duration - (self.now - in_the_way))


class ApiKeyRateThrottle(_AlwaysSaysWhen):
    """`API_THROTTLE_RATE` requests per API key; other callers are not counted here."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at request time, not from DRF's class-level copy, so the rate follows settings.
        return str(settings.API_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if not isinstance(user, ApiKeyPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.api_key.pk}


class StaffRateThrottle(_AlwaysSaysWhen):
    """`API_STAFF_THROTTLE_RATE` requests per staff member using the API from a session."""

    scope = "staff"

    def get_rate(self) -> str | None:
        return str(settings.API_STAFF_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if isinstance(user, ApiKeyPrincipal) or user is None or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}
