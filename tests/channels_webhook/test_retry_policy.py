"""retry_policy.decide: what each attempt's result means, with exact expected decisions."""

from __future__ import annotations

import datetime as dt
import random
from email.utils import format_datetime

import pytest

from channels_webhook.retry_policy import Decision, backoff_seconds, decide, parse_retry_after

NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
SEED = 20250304


def _decide(
    *,
    outcome: str = "response",
    status_code: int | None = None,
    headers: dict[str, str] | None = None,
    error: str = "",
    attempt_number: int = 1,
    max_attempts: int = 5,
    rng: random.Random | None = None,
) -> Decision:
    return decide(
        outcome=outcome,
        status_code=status_code,
        headers=headers or {},
        error=error,
        attempt_number=attempt_number,
        max_attempts=max_attempts,
        now=NOW,
        rng=rng if rng is not None else random.Random(SEED),
    )


def _expected_backoff(attempt_number: int) -> float:
    step = min(10.0 * 2 ** (attempt_number - 1), 3600.0)
    return step * (0.5 + 0.5 * random.Random(SEED).random())


@pytest.mark.parametrize("status_code", [200, 201, 204])
def test_2xx_is_success(status_code: int):
    assert _decide(status_code=status_code) == Decision("success")


@pytest.mark.parametrize(("status_code", "phrase"), [(301, "Moved Permanently"), (302, "Found"), (307, "Temporary Redirect")])
def test_3xx_is_a_final_failure_recording_the_location(status_code: int, phrase: str):
    decision = _decide(status_code=status_code, headers={"location": "http://127.0.0.1:8080/admin"}, attempt_number=1)

    assert decision == Decision(
        "failure",
        failure_reason="http_error",
        message=(
            f"The receiver answered {status_code} {phrase} to http://127.0.0.1:8080/admin; "
            "redirects are not followed. Point the webhook at the final URL."
        ),
    )


def test_3xx_without_location():
    assert _decide(status_code=302).message == (
        "The receiver answered 302 Found to (no Location header); redirects are not followed. Point the webhook at the final URL."
    )


@pytest.mark.parametrize(
    ("status_code", "phrase"),
    [
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (410, "Gone"),
        (422, "Unprocessable Entity"),
    ],
)
def test_client_errors_are_final_after_one_attempt(status_code: int, phrase: str):
    decision = _decide(status_code=status_code, headers={"retry-after": "5"}, attempt_number=1, max_attempts=5)

    assert decision == Decision("failure", failure_reason="http_error", message=f"The receiver answered {status_code} {phrase}.")


def test_a_1xx_that_reaches_the_policy_is_final():
    # The transport reads past 102 and 103 to the final answer; what is left (101) cannot be one.
    decision = _decide(status_code=101, attempt_number=1, max_attempts=5)

    assert decision == Decision(
        "failure",
        failure_reason="http_error",
        message="The receiver answered 101 Switching Protocols, which is not an answer to a webhook.",
    )


@pytest.mark.parametrize("status_code", [501, 505])
def test_server_errors_no_retry_can_change_are_final(status_code: int):
    assert _decide(status_code=status_code).verdict == "failure"
    assert _decide(status_code=status_code).retry_at is None


RETRYABLE = [
    ("response", 408, "The receiver answered 408 Request Timeout."),
    ("response", 429, "The receiver answered 429 Too Many Requests."),
    ("response", 500, "The receiver answered 500 Internal Server Error."),
    ("response", 502, "The receiver answered 502 Bad Gateway."),
    ("response", 503, "The receiver answered 503 Service Unavailable."),
    ("response", 504, "The receiver answered 504 Gateway Timeout."),
    ("timeout", None, "No complete answer within 2 seconds."),
    ("connection_error", None, "The connection to example.com was refused: nothing accepted it."),
]


def _reason(outcome: str) -> str:
    return "http_error" if outcome == "response" else outcome


@pytest.mark.parametrize(("outcome", "status_code", "message"), RETRYABLE)
@pytest.mark.parametrize("attempt_number", [1, 2, 3, 4])
def test_retryable_results_are_retried_with_jittered_exponential_backoff(outcome, status_code, message, attempt_number):
    error = message if outcome != "response" else ""

    decision = _decide(outcome=outcome, status_code=status_code, error=error, attempt_number=attempt_number, max_attempts=5)

    wait = _expected_backoff(attempt_number)
    step = 10.0 * 2 ** (attempt_number - 1)
    assert step / 2 <= wait <= step
    assert decision == Decision(
        "retry", failure_reason=_reason(outcome), message=message, retry_at=NOW + dt.timedelta(seconds=wait)
    )


@pytest.mark.parametrize(("outcome", "status_code", "message"), RETRYABLE)
def test_retryable_results_are_final_on_the_last_attempt(outcome, status_code, message):
    error = message if outcome != "response" else ""

    decision = _decide(outcome=outcome, status_code=status_code, error=error, attempt_number=5, max_attempts=5)

    assert decision == Decision("failure", failure_reason=_reason(outcome), message=f"{message} Gave up after 5 attempts.")


@pytest.mark.parametrize(("outcome", "status_code", "message"), RETRYABLE)
def test_max_attempts_one_never_retries(outcome, status_code, message):
    error = message if outcome != "response" else ""

    decision = _decide(outcome=outcome, status_code=status_code, error=error, attempt_number=1, max_attempts=1)

    assert decision == Decision("failure", failure_reason=_reason(outcome), message=message)


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        ("blocked_destination", "The destination 10.0.0.5 is a private, loopback, link-local or otherwise reserved address."),
        ("invalid_request", "The request could not be sent as built: bad header"),
    ],
)
@pytest.mark.parametrize("attempt_number", [1, 2])
def test_blocked_and_invalid_requests_are_never_retried(outcome: str, error: str, attempt_number: int):
    decision = _decide(outcome=outcome, error=error, attempt_number=attempt_number, max_attempts=5)

    assert decision == Decision("failure", failure_reason=outcome, message=error)


def test_backoff_doubles_and_is_capped_at_an_hour():
    for attempt_number, step in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (9, 2560.0), (10, 3600.0), (30, 3600.0)]:
        expected = step * (0.5 + 0.5 * random.Random(SEED).random())
        assert backoff_seconds(attempt_number, rng=random.Random(SEED)) == expected


def test_backoff_jitter_spans_half_to_all_of_the_step():
    rng = random.Random(7)
    waits = [backoff_seconds(3, rng=rng) for _ in range(2000)]

    assert min(waits) >= 20.0
    assert max(waits) <= 40.0
    assert min(waits) < 21.0
    assert max(waits) > 39.0


@pytest.mark.parametrize("status_code", [429, 503])
def test_retry_after_in_seconds_is_honoured(status_code: int):
    decision = _decide(status_code=status_code, headers={"retry-after": "120"}, attempt_number=1)

    assert decision.verdict == "retry"
    assert decision.retry_at == NOW + dt.timedelta(seconds=120)


def test_retry_after_as_http_date_is_honoured():
    header = format_datetime(NOW + dt.timedelta(seconds=90), usegmt=True)
    assert header == "Tue, 04 Mar 2025 05:07:37 GMT"

    decision = _decide(status_code=503, headers={"retry-after": header}, attempt_number=2)

    assert decision.verdict == "retry"
    assert decision.retry_at == NOW + dt.timedelta(seconds=90)


def test_retry_after_with_the_header_name_capitalised():
    decision = _decide(status_code=429, headers={"Retry-After": "30"})

    assert decision.retry_at == NOW + dt.timedelta(seconds=30)


@pytest.mark.parametrize(
    "header",
    ["86400", "Tue, 04 Mar 2025 07:06:07 GMT"],  # a day; two hours from NOW
    ids=["seconds", "http-date"],
)
def test_retry_after_is_capped_at_an_hour(header: str):
    decision = _decide(status_code=503, headers={"retry-after": header})

    assert decision.retry_at == NOW + dt.timedelta(hours=1)


def test_retry_after_in_the_past_means_now():
    decision = _decide(status_code=503, headers={"retry-after": "Tue, 04 Mar 2025 04:00:00 GMT"})

    assert decision.retry_at == NOW


def test_unparseable_retry_after_falls_back_to_backoff():
    decision = _decide(status_code=503, headers={"retry-after": "soon"})

    assert decision.retry_at == NOW + dt.timedelta(seconds=_expected_backoff(1))


def test_retry_after_is_not_a_reason_to_retry_a_final_status():
    decision = _decide(status_code=400, headers={"retry-after": "10"})

    assert decision == Decision("failure", failure_reason="http_error", message="The receiver answered 400 Bad Request.")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        (" 45 ", 45.0),
        ("3600", 3600.0),
        ("3601", 3600.0),
        ("Tue, 04 Mar 2025 05:06:17 GMT", 10.0),
        ("not a date", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None):
    assert parse_retry_after(value, now=NOW) == seconds
