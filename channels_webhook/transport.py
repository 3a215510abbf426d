"""HTTP for webhooks: the only module that imports `requests`.

It sends one prepared request and returns a TransportResult; it never raises for an HTTP
status or a network failure, and it decides nothing about retries. What it guarantees:

- the destination is resolved once, refused when it is not a public address (unless its
  network is in the allow-list), and the connection goes to that checked address
  (requests-hardened pins it; DNS cannot change the answer between check and connect);
- redirects are never followed and proxies from the environment are never used;
- one total deadline per attempt covers connecting, the headers and the body, even when a
  receiver trickles bytes (a watchdog shuts the socket down at the deadline);
- at most `body_limit` bytes of the response are read.
"""

from __future__ import annotations

import datetime as dt
import heapq
import http.client
import ipaddress
import itertools
import logging
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Literal

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests_hardened import Config
from requests_hardened.client import HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError

logger = logging.getLogger(__name__)

Outcome = Literal["response", "timeout", "connection_error", "blocked_destination", "invalid_request"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
CONNECT_TIMEOUT_CAP_SECONDS = 10.0
READ_CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True)
class OutgoingRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class TransportResult:
    outcome: Outcome
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_truncated: bool = False
    error: str = ""


class DestinationBlocked(requests.RequestException):
    """The destination resolved to an address webhooks may not reach."""


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return _parse_networks(tuple(cidrs))


@lru_cache(maxsize=16)
def _parse_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    # Cached: sending parses the same allow-list setting for every request.
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def _unwrap(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) embed an IPv4 address, yet
# Python counts them global; a host or tunnel that still routes them would reach the embedded
# address (::127.0.0.1, ::169.254.169.254), so the whole range is refused, as nothing public
# is reached that way. :: and ::1 are in it too, refused already as unspecified and loopback.
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def address_is_public(address: IPAddress) -> bool:
    address = _unwrap(address)
    return address.is_global and not address.is_multicast and address not in _IPV4_COMPATIBLE


# --------------------------------------------------------------------------- deadline watchdog


class _Attempt:
    """One attempt's deadline; the connection registers itself so the watchdog can cut it."""

    def __init__(self) -> None:
        self.connection: HTTPConnection | None = None
        # Kept apart from the connection: http.client drops `connection.sock` once the
        # headers say the connection will close, while the body is still being read from it.
        self.sock: socket.socket | None = None
        self.expired = False
        self.finished = False
        self._lock = threading.Lock()

    def expire(self) -> None:
        with self._lock:
            if self.finished:  # its connection may be back in the pool, serving another attempt
                return
            self.expired = True
            sock = self.sock or getattr(self.connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def finish(self) -> None:
        with self._lock:
            self.finished = True


class _DeadlineWatcher:
    """One thread per process expires the attempts whose deadline has passed.

    A timer thread per attempt cost about 0.7 ms of CPU to start, more than half of what a
    request to a fast receiver costs; one thread watching a heap of deadlines costs a push.
    """

    def __init__(self) -> None:
        self._deadlines: list[tuple[float, int, _Attempt]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, attempt: _Attempt, seconds: float) -> None:
        entry = (time.monotonic() + seconds, next(self._order), attempt)
        with self._wakeup:
            # Started lazily, and again in a forked worker (threads do not survive a fork).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._deadlines, entry)
            if self._deadlines[0] is entry:
                self._wakeup.notify()

    def _run(self) -> None:
        while True:
            due: list[_Attempt] = []
            with self._wakeup:
                now = time.monotonic()
                while self._deadlines and (self._deadlines[0][2].finished or self._deadlines[0][0] <= now):
                    attempt = heapq.heappop(self._deadlines)[2]
                    if not attempt.finished:
                        due.append(attempt)
                if not due:
                    self._wakeup.wait(self._deadlines[0][0] - now if self._deadlines else None)
            for attempt in due:
                attempt.expire()


_deadline_watcher = _DeadlineWatcher()
_current = threading.local()


class _FinalAnswerResponse(http.client.HTTPResponse):
    """Reads past every interim 1xx answer (102 Processing, 103 Early Hints) to the final one,
    as HTTP allows any number of them; http.client skips only 100 Continue, and took a 102
    for the answer, so a request the receiver had accepted was sent again. 101 is final."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 102 <= status < 200:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers, dropped


class _WatchedConnectionMixin:
    response_class: type[http.client.HTTPResponse] = _FinalAnswerResponse

    def request(self, *args: Any, **kwargs: Any) -> Any:
        attempt: _Attempt | None = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.connection = self  # type: ignore[assignment]
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        attempt: _Attempt | None = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.sock = self.sock  # type: ignore[attr-defined]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnectionMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# --------------------------------------------------------------------------- guarded adapter


class _GuardedAdapter(IPFilterAdapter):
    """requests-hardened's pinning adapter, plus an allow-list of networks and a stricter rule.

    requests-hardened refuses private and multicast addresses; we also refuse anything that
    is not globally routable (CGNAT, reserved, benchmarking), and exempt the networks listed
    in WEBHOOK_ALLOWED_NETWORKS, connecting to the same checked address either way.
    """

    def __init__(self, *, is_https: bool, allowed_networks: tuple[IPNetwork, ...]) -> None:
        self._allowed_networks = allowed_networks
        super().__init__(is_https_proto=is_https, allow_loopback=False)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def _allowed(self, address: IPAddress) -> bool:
        address = _unwrap(address)
        return any(address in network for network in self._allowed_networks)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any, cert: Any = None) -> Any:
        hostname = (request.url and requests.utils.urlparse(request.url).hostname) or ""
        try:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        except InvalidIPAddress as refused:
            address = ipaddress.ip_address(str(refused.args[0]))
            if not self._allowed(address):
                raise DestinationBlocked(_blocked_message(hostname, address)) from None
            host_params, pool_kwargs = HTTPAdapter.build_connection_pool_key_attributes(self, request, verify, cert)
            host_params["host"] = str(address) if address.version == 4 else f"[{address}]"
            if self._is_https_proto:
                pool_kwargs["assert_hostname"] = hostname
                pool_kwargs["server_hostname"] = hostname
            return host_params, pool_kwargs
        pinned = ipaddress.ip_address(host_params["host"].strip("[]"))
        if not address_is_public(pinned) and not self._allowed(pinned):
            raise DestinationBlocked(_blocked_message(hostname, pinned))
        return host_params, pool_kwargs


def _blocked_message(hostname: str, address: IPAddress) -> str:
    logger.warning("Refused webhook destination %s (%s)", hostname, address)
    shown = f"{hostname} ({address})" if hostname != str(address) else str(address)
    return (
        f"The destination {shown} is a private, loopback, link-local or otherwise reserved address; "
        "webhooks may only reach public addresses. Nothing was sent."
    )


@lru_cache(maxsize=8)
def _hardened_config(user_agent: str) -> Config:
    return Config(
        ip_filter_enable=False,  # we mount our own subclass of its adapter below
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=(CONNECT_TIMEOUT_CAP_SECONDS, 30.0),
        user_agent_override=None,
    )


def _session(allowed_networks: tuple[IPNetwork, ...], user_agent: str) -> requests.Session:
    # A session per thread: requests sessions are not documented as thread-safe, and the
    # development server and test sends run in threads.
    sessions: dict[tuple[Any, ...], requests.Session] = _current.__dict__.setdefault("sessions", {})
    key = (allowed_networks, user_agent)
    session = sessions.get(key)
    if session is None:
        session = HTTPSession(_hardened_config(user_agent))
        session.trust_env = False  # never a proxy or .netrc from the environment
        # Deliveries are independent: a cookie one receiver sets is never sent with another.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        session.headers["User-Agent"] = user_agent
        session.mount("http://", _GuardedAdapter(is_https=False, allowed_networks=allowed_networks))
        session.mount("https://", _GuardedAdapter(is_https=True, allowed_networks=allowed_networks))
        sessions[key] = session
    return session


# --------------------------------------------------------------------------- send


# What http.client and urllib3 say about an answer that breaks HTTP, as staff can read it.
MALFORMED_ANSWERS = (
    ("got more than 100 headers", "more than 100 headers"),
    ("BadStatusLine", "its first line is not an HTTP status line"),
    ("InvalidChunkLength", "a chunked body with a chunk length that is not a number"),
    ("IncompleteRead", "the body ended before the length it announced"),
    ("LineTooLong", "a line longer than 65,536 bytes"),
)


def _describe_connection_error(error: BaseException, url: str) -> str:
    text = str(error)
    host = requests.utils.urlparse(url).netloc
    if "Name or service not known" in text or "Failed to resolve" in text or "nodename nor servname" in text:
        return f"The host {requests.utils.urlparse(url).hostname} could not be resolved (DNS)."
    if "Connection refused" in text or "Errno 111" in text:
        return f"The connection to {host} was refused: nothing accepted it."
    if "reset" in text.lower():
        return f"The connection to {host} was reset by the receiver."
    if "RemoteDisconnected" in text or "closed connection without response" in text:
        return f"{host} closed the connection without answering."
    if "SSL" in text or "certificate" in text.lower():
        reason = re.search(r"\[SSL: ([A-Z_]+)\]|certificate verify failed: ([^(\)]+)", text)
        detail = (reason.group(1) or reason.group(2)).strip().replace("_", " ").lower() if reason else "handshake failed"
        hint = " Is the receiver speaking plain http on this port?" if "wrong version number" in detail else ""
        return f"TLS with {host} failed ({detail}).{hint}"
    for marker, what in MALFORMED_ANSWERS:
        if marker in text:
            return f"{host} answered with something that is not valid HTTP: {what}."
    return f"Could not complete the request to {host}: {text[:300]}"


def send(
    request: OutgoingRequest,
    *,
    timeout_seconds: float,
    body_limit: int,
    allowed_networks: tuple[str, ...] = (),
    user_agent: str = "flarelane-webhooks/1.0",
) -> TransportResult:
    """Send once. Every failure comes back as a TransportResult, never as an exception."""
    started_at = dt.datetime.now(tz=dt.UTC)
    start = time.monotonic()

    def finish(outcome: Outcome, **values: Any) -> TransportResult:
        return TransportResult(
            outcome=outcome, started_at=started_at, duration_ms=int((time.monotonic() - start) * 1000), **values
        )

    try:
        networks = parse_networks(allowed_networks)
    except ValueError as error:
        return finish("invalid_request", error=f"WEBHOOK_ALLOWED_NETWORKS is not a list of networks: {error}")
    session = _session(networks, user_agent)
    attempt = _Attempt()
    _current.attempt = attempt
    _deadline_watcher.watch(attempt, timeout_seconds)
    try:
        # Prepared here rather than by Session.request, which merges the session's settings
        # through checks that cost ~150 µs a request (a fifth of one to a fast receiver) and
        # would send back cookies an earlier response set.
        headers = CaseInsensitiveDict(session.headers)
        headers.update(request.headers)
        prepared = requests.PreparedRequest()
        prepared.prepare(method=request.method, url=request.url, headers=headers, data=request.body or None)
        response = session.send(
            prepared,
            timeout=(min(timeout_seconds, CONNECT_TIMEOUT_CAP_SECONDS), timeout_seconds),
            allow_redirects=False,
            stream=True,
        )
        with response:
            body = bytearray()
            truncated = False
            for chunk in response.raw.stream(READ_CHUNK_BYTES, decode_content=True):
                body += chunk
                if len(body) > body_limit:
                    truncated = True
                    break
                if attempt.expired:
                    raise requests.Timeout("deadline")
            if attempt.expired:
                raise requests.Timeout("deadline")
            return finish(
                "response",
                status_code=response.status_code,
                headers=tuple(response.headers.items()),
                body=bytes(body[:body_limit]),
                body_truncated=truncated,
            )
    except DestinationBlocked as blocked:
        return finish("blocked_destination", error=str(blocked))
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeEncodeError, ValueError) as error:
        if attempt.expired:
            return finish("timeout", error=f"No complete answer within {timeout_seconds:g} seconds.")
        return finish("invalid_request", error=f"The request could not be sent as built: {str(error)[:300]}")
    except Exception as error:  # requests, urllib3 and socket errors all end the attempt here
        if attempt.expired or isinstance(error, (requests.Timeout, ReadTimeoutError, socket.timeout)):
            return finish("timeout", error=f"No complete answer within {timeout_seconds:g} seconds.")
        return finish("connection_error", error=_describe_connection_error(error, request.url))
    finally:
        attempt.finish()
        _current.attempt = None
