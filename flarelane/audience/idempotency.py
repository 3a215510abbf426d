"""`Idempotency-Key` for API calls that must not run twice (sends, events).

A call with the header runs once per project and key for 24 hours: a retry with the same key
and the same request gets the first call's status and body again without running anything;
the same key with a different request is refused with 422. Only a successful (2xx) answer
is kept: a call that failed did nothing, so its retry runs again. This module owns the
header and the replay; it knows nothing of what the decorated views do.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from flarelane.audience.models import IdempotencyRecord
from flarelane.audience.services import idempotency_claim, idempotency_complete, idempotency_release

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Set on a replayed answer, so a client (or its logs) can tell it from a fresh one.
REPLAYED_HEADER = "Idempotent-Replayed"

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "A unique value per logical call (a UUID). A retry with the same key within 24 hours gets the first "
        "answer again and does nothing twice; the same key with a different request is refused with 422."
    ),
)

Handler = TypeVar("Handler", bound=Callable[..., Response])


def request_fingerprint(request: Request) -> str:
    """The method, path and body; bodies equal as JSON (key order, spacing) match."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(handler: Handler) -> Handler:
    """Make a DRF handler idempotent under the `Idempotency-Key` header.

    Put it above `@action` (which replaces the function's schema kwargs) and below
    `@extend_schema`. The view must have set `request.project` (the permission does).
    """

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValidationError({HEADER: [f"Send an {HEADER} of 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID."]})
        fingerprint = request_fingerprint(request)
        # One transaction for the claim, the call and its stored answer: they commit
        # together or not at all, and a concurrent duplicate waits for this one.
        with transaction.atomic():
            claim = idempotency_claim(project=request.project, key=key, fingerprint=fingerprint, now=timezone.now())  # type: ignore[attr-defined]
            if not claim.claimed:
                return _earlier_answer(claim.record, fingerprint)
            response = handler(view, request, *args, **kwargs)
            if status.is_success(response.status_code):
                # Kept as the client received it (ids and dates as rendered), so a replay is identical.
                body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
                idempotency_complete(record=claim.record, status=response.status_code, body=body)
            else:
                idempotency_release(record=claim.record)
            return response

    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)  # type: ignore[return-value]


def _earlier_answer(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        return Response(
            {
                "detail": f"This {HEADER} was already used with a different request in the last 24 hours; "
                "send a new key for a new request."
            },
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if record.response_status is None:
        # Not reachable while claim and answer commit together; kept as a safe answer.
        return Response(
            {"detail": f"A request with this {HEADER} is still running; retry in a moment."}, status=status.HTTP_409_CONFLICT
        )
    return Response(json.loads(record.response_body), status=record.response_status, headers={REPLAYED_HEADER: "true"})
