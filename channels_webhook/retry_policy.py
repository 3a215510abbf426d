"""What an attempt's result means: success, a final failure, or a retry and when.

Pure: no ORM, no I/O. Decided once, here, for every kind of send. Test sends make one
attempt because the caller passes max_attempts=1.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Literal

Verdict = Literal["success", "failure", "retry"]

FIRST_BACKOFF_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 60 * 60.0
MAX_RETRY_AFTER_SECONDS = 60 * 60.0
RETRYABLE_STATUS_CODES = frozenset({408, 429})
# 5xx means "try again later", except for these two, which no later attempt will change.
FINAL_SERVER_STATUS_CODES = frozenset({501, 505})


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    failure_reason: str = ""
    message: str = ""
    retry_at: dt.datetime | None = None


def _status_text(status_code: int) -> str:
    try:
        return f"{status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return str(status_code)


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        seconds = (moment - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def backoff_seconds(attempt_number: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: about 10 s, 20 s, 40 s, ... capped at an hour.

    The jitter (between half and all of the step) spreads out the retries of a batch that
    failed together, so a vendor coming back up is not hit by all of them at once.
    """
    step = min(FIRST_BACKOFF_SECONDS * (2 ** max(attempt_number - 1, 0)), MAX_BACKOFF_SECONDS)
    return step * (0.5 + 0.5 * (rng or random).random())


def decide(
    *,
    outcome: str,
    status_code: int | None,
    headers: dict[str, str],
    error: str,
    attempt_number: int,
    max_attempts: int,
    now: dt.datetime,
    rng: random.Random | None = None,
) -> Decision:
    """Judge attempt `attempt_number` (1-based) of at most `max_attempts`."""
    retryable = False
    retry_after: float | None = None
    if outcome == "response" and status_code is not None:
        if 200 <= status_code < 300:
            return Decision("success")
        reason = "http_error"
        if status_code < 200:
            # The transport reads past interim answers (102, 103), so this is 101 Switching
            # Protocols or worse: not an answer a webhook can have, and sending again cannot help.
            message = f"The receiver answered {_status_text(status_code)}, which is not an answer to a webhook."
        elif 300 <= status_code < 400:
            location = headers.get("location") or headers.get("Location") or "(no Location header)"
            message = f"The receiver answered {_status_text(status_code)} to {location[:500]}; redirects are not followed. Point the webhook at the final URL."
        else:
            message = f"The receiver answered {_status_text(status_code)}."
            retryable = status_code in RETRYABLE_STATUS_CODES or (
                status_code >= 500 and status_code not in FINAL_SERVER_STATUS_CODES
            )
            retry_after = parse_retry_after(headers.get("retry-after") or headers.get("Retry-After"), now=now)
    elif outcome in ("timeout", "connection_error"):
        reason, message, retryable = outcome, error, True
    else:  # blocked_destination, invalid_request: sending again cannot help
        reason, message = outcome, error
    if not retryable or attempt_number >= max_attempts:
        if retryable and max_attempts > 1:
            message = f"{message} Gave up after {attempt_number} attempts."
        return Decision("failure", failure_reason=reason, message=message)
    wait = retry_after if retry_after is not None else backoff_seconds(attempt_number, rng=rng)
    return Decision("retry", failure_reason=reason, message=message, retry_at=now + dt.timedelta(seconds=wait))
