"""transport.send against real servers on loopback: deadlines, capped bodies, redirects,
the SSRF guard and DNS rebinding. Only DNS (getaddrinfo) and, in one test, the outgoing
socket's connect are observed; requests itself is never mocked."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from channels_webhook import transport
from channels_webhook.request_checks import RequestRejected, check_url
from channels_webhook.transport import OutgoingRequest, TransportResult, send

LOOPBACK = ("127.0.0.1/32",)
LIMIT = 64 * 1024
BLOCKED_TAIL = " is a private, loopback, link-local or otherwise reserved address; webhooks may only reach public addresses. Nothing was sent."


# --------------------------------------------------------------------------- a raw receiver


class Receiver:
    """A TCP server on loopback; `handler(conn, receiver)` runs in a thread per connection."""

    def __init__(self, handler: Callable[[socket.socket, Receiver], None], *, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(16)
        self.port: int = self.listener.getsockname()[1]
        self.handler = handler
        self.stopped = threading.Event()
        self.connections = 0
        self.requests: list[bytes] = []
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handler(conn, self)

    def read_request(self, conn: socket.socket) -> bytes:
        data = b""
        conn.settimeout(5)
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                while len(body) < int(value):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
        self.requests.append(data[: len(head) + 4] + body)
        return data

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(handler: Callable[[socket.socket, Receiver], None], **kwargs: object) -> Receiver:
        server = Receiver(handler, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def answer_ok(conn: socket.socket, server: Receiver) -> None:
    server.read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def never_answer(conn: socket.socket, server: Receiver) -> None:
    server.read_request(conn)
    server.stopped.wait(30)


def drip_body(conn: socket.socket, server: Receiver) -> None:
    server.read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    while not server.stopped.is_set():
        conn.sendall(b"x")
        time.sleep(0.5)


def drip_head(conn: socket.socket, server: Receiver) -> None:
    server.read_request(conn)
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 1000:
        if server.stopped.is_set():
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


PATTERN = bytes(range(256)) * 256  # 64 KiB


def big_body(total: int, *, chunked: bool = False, gzipped: bool = False) -> Callable[[socket.socket, Receiver], None]:
    # Compressed once, here, rather than while the receiver answers.
    payload = gzip.compress(b"\0" * total, compresslevel=9) if gzipped else b""

    def handler(conn: socket.socket, server: Receiver) -> None:
        server.read_request(conn)
        if gzipped:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
            server.stopped.wait(5)
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"Content-Length: %d\r\n\r\n" % total
        conn.sendall(head)
        sent = 0
        while sent < total and not server.stopped.is_set():
            piece = PATTERN[: total - sent]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            conn.sendall(b"0\r\n\r\n")

    return handler


def _post(url: str, body: bytes = b'{"a": 1}') -> OutgoingRequest:
    return OutgoingRequest(method="POST", url=url, headers=(("Content-Type", "application/json"),), body=body)


def _send(url: str, *, timeout_seconds: float = 5, allowed: tuple[str, ...] = LOOPBACK, **kwargs: object) -> TransportResult:
    return send(_post(url), timeout_seconds=timeout_seconds, body_limit=LIMIT, allowed_networks=allowed, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- ordinary responses


def test_request_arrives_once_encoded_and_response_is_returned(httpserver: HTTPServer):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data(
        '{"ok": true}', status=201, content_type="application/json"
    )
    body = '{"text": "Привет 😀 ë"}'.encode()

    result = send(
        OutgoingRequest(
            method="POST", url=httpserver.url_for("/hook"), headers=(("Content-Type", "application/json"),), body=body
        ),
        timeout_seconds=5,
        body_limit=LIMIT,
        allowed_networks=LOOPBACK,
    )

    ((received, _),) = httpserver.log
    assert received.get_data() == body
    assert received.headers.getlist("Content-Type") == ["application/json"]
    assert received.headers["Content-Length"] == str(len(body))
    assert received.headers["User-Agent"] == "flarelane-webhooks/1.0"
    assert (result.outcome, result.status_code, result.body, result.body_truncated, result.error) == (
        "response",
        201,
        b'{"ok": true}',
        False,
        "",
    )
    assert dict(result.headers)["Content-Type"] == "application/json"


def test_a_cookie_set_by_one_response_is_never_sent_with_a_later_request(httpserver: HTTPServer):
    httpserver.expect_oneshot_request("/login").respond_with_data("ok", headers={"Set-Cookie": "session=user-a; Path=/"})
    httpserver.expect_oneshot_request("/hook").respond_with_data("ok")

    first, second = _send(httpserver.url_for("/login")), _send(httpserver.url_for("/hook"))

    assert (first.status_code, second.status_code) == (200, 200)
    assert dict(first.headers)["Set-Cookie"] == "session=user-a; Path=/"
    (_, _), (later, _) = httpserver.log
    assert "Cookie" not in later.headers


def test_a_header_set_by_the_webhook_replaces_the_default_of_the_same_name(httpserver: HTTPServer):
    httpserver.expect_oneshot_request("/hook").respond_with_data("ok")
    request = OutgoingRequest(
        method="POST", url=httpserver.url_for("/hook"), headers=(("accept", "text/plain"), ("user-agent", "Vendor/2")), body=b"x"
    )

    send(request, timeout_seconds=5, body_limit=LIMIT, allowed_networks=LOOPBACK)

    ((received, _),) = httpserver.log
    assert received.headers.getlist("Accept") == ["text/plain"]
    assert received.headers.getlist("User-Agent") == ["Vendor/2"]


def test_binary_response_body_comes_back_as_bytes(httpserver: HTTPServer):
    payload = bytes(range(256)) * 4 + b"\xff\xfe\x00\x80"
    httpserver.expect_oneshot_request("/bin").respond_with_data(payload, content_type="application/octet-stream")

    result = _send(httpserver.url_for("/bin"))

    assert result.outcome == "response"
    assert isinstance(result.body, bytes)
    assert result.body == payload
    assert result.body_truncated is False


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_returned_and_its_target_gets_no_request(httpserver: HTTPServer, receiver, status: int):
    other = receiver(answer_ok)
    target = f"http://127.0.0.1:{other.port}/admin"
    httpserver.expect_oneshot_request("/old", method="POST").respond_with_data("", status=status, headers={"Location": target})
    httpserver.expect_request("/new").respond_with_data("should never be asked")

    result = _send(httpserver.url_for("/old"))

    assert result.outcome == "response"
    assert result.status_code == status
    assert dict(result.headers)["Location"] == target
    assert [entry[0].path for entry in httpserver.log] == ["/old"]
    time.sleep(0.1)
    assert other.connections == 0


def test_redirect_to_same_server_is_not_followed(httpserver: HTTPServer):
    httpserver.expect_oneshot_request("/old", method="POST").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data("no")

    result = _send(httpserver.url_for("/old"))

    assert (result.outcome, result.status_code) == ("response", 302)
    assert [(entry[0].method, entry[0].path) for entry in httpserver.log] == [("POST", "/old")]


def test_nothing_listening_is_a_connection_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]

    result = _send(f"http://127.0.0.1:{port}/hook")

    assert result.outcome == "connection_error"
    assert result.error == f"The connection to 127.0.0.1:{port} was refused: nothing accepted it."
    assert result.status_code is None


def _answers(raw: bytes) -> Callable[[socket.socket, Receiver], None]:
    def handler(conn: socket.socket, server: Receiver) -> None:
        server.read_request(conn)
        conn.sendall(raw)
        conn.close()

    return handler


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", "more than 100 headers"),
        (b"GARBAGE\x00\xff\r\n\r\n", "its first line is not an HTTP status line"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nok\r\n",
            "a chunked body with a chunk length that is not a number",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "the body ended before the length it announced"),
    ],
    ids=["headers", "status-line", "chunk-length", "short-body"],
)
def test_an_answer_that_is_not_valid_http_is_a_connection_error_said_plainly(receiver, raw: bytes, what: str):
    server = receiver(_answers(raw))

    result = _send(f"http://127.0.0.1:{server.port}/hook")

    assert result.outcome == "connection_error"
    assert result.error == f"127.0.0.1:{server.port} answered with something that is not valid HTTP: {what}."


def test_interim_answers_are_read_past_to_the_final_one(receiver):
    final = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
    server = receiver(_answers(b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + final))

    result = _send(f"http://127.0.0.1:{server.port}/hook")

    assert (result.outcome, result.status_code, result.body) == ("response", 200, b'{"ok":true}')
    assert ("Content-Type", "application/json") in result.headers
    assert len(server.requests) == 1


def test_an_interim_answer_and_then_nothing_is_a_connection_error(receiver):
    server = receiver(_answers(b"HTTP/1.1 102 Processing\r\n\r\n"))

    result = _send(f"http://127.0.0.1:{server.port}/hook")

    assert result.outcome == "connection_error"
    assert result.status_code is None


# --------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize("handler", [never_answer, drip_head, drip_body], ids=["silent", "drip-head", "drip-body"])
def test_slow_receivers_are_cut_at_the_total_deadline(receiver, handler):
    server = receiver(handler)

    result = _send(f"http://127.0.0.1:{server.port}/hook", timeout_seconds=2)

    assert result.outcome == "timeout"
    assert result.error == "No complete answer within 2 seconds."
    assert 2000 <= result.duration_ms < 3000
    assert result.status_code is None
    assert len(server.requests) == 1


def test_a_worker_survives_a_timeout_and_sends_again(receiver, httpserver: HTTPServer):
    slow = receiver(never_answer)
    httpserver.expect_oneshot_request("/after").respond_with_data("fine")

    first = _send(f"http://127.0.0.1:{slow.port}/hook", timeout_seconds=1)
    second = _send(httpserver.url_for("/after"), timeout_seconds=1)

    assert first.outcome == "timeout"
    assert (second.outcome, second.status_code, second.body) == ("response", 200, b"fine")


# --------------------------------------------------------------------------- capped bodies

# The send runs in a process of its own: tracemalloc counts every thread, and in the whole
# suite other threads (a live server, the browser's connection) allocate at any moment.
MEASURED_SEND = """
import json, sys, tracemalloc
from channels_webhook.transport import OutgoingRequest, send
tracemalloc.start()
result = send(
    OutgoingRequest(method="POST", url=sys.argv[1], headers=(("Content-Type", "application/json"),), body=b'{"a": 1}'),
    timeout_seconds=10, body_limit=int(sys.argv[2]), allowed_networks=("127.0.0.1/32",),
)
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"outcome": result.outcome, "status_code": result.status_code, "body": result.body.hex(),
                  "body_truncated": result.body_truncated, "duration_ms": result.duration_ms, "peak": peak}))
"""


def _send_measuring_memory(url: str) -> tuple[dict[str, Any], int]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_SEND, url, str(LIMIT)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    return result, result.pop("peak")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_fifty_megabyte_response_is_not_read_into_memory(receiver, chunked: bool):
    server = receiver(big_body(50 * 1024 * 1024, chunked=chunked))

    result, peak = _send_measuring_memory(f"http://127.0.0.1:{server.port}/big")

    assert result["outcome"] == "response"
    assert result["status_code"] == 200
    assert bytes.fromhex(result["body"]) == PATTERN[:LIMIT]
    assert result["body_truncated"] is True
    assert peak < 2 * 1024 * 1024
    assert result["duration_ms"] < 3000


def test_gzip_bomb_is_capped_after_decoding(receiver):
    server = receiver(big_body(50 * 1024 * 1024, gzipped=True))

    result, peak = _send_measuring_memory(f"http://127.0.0.1:{server.port}/bomb")

    assert (result["outcome"], bytes.fromhex(result["body"]), result["body_truncated"]) == ("response", b"\0" * LIMIT, True)
    assert peak < 4 * 1024 * 1024


def test_body_exactly_at_the_limit_is_not_truncated(receiver):
    server = receiver(big_body(LIMIT))

    result = _send(f"http://127.0.0.1:{server.port}/exact")

    assert (result.outcome, result.body, result.body_truncated) == ("response", PATTERN[:LIMIT], False)


# --------------------------------------------------------------------------- SSRF guard


@pytest.fixture
def loopback_receivers(receiver) -> tuple[Receiver, Receiver]:
    """Receivers on 127.0.0.1 and ::1 on the same port: anything reaching loopback is counted."""
    for _ in range(20):
        v4 = receiver(answer_ok)
        try:
            v6 = receiver(answer_ok, host="::1", port=v4.port)
        except OSError:
            v4.stop()
            continue
        return v4, v6
    raise AssertionError("no free port on both 127.0.0.1 and ::1")


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost (127.0.0.1)"),
        ("[::1]", "::1"),
        ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - the unspecified address reaches loopback on Linux
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 (127.0.0.1)"),
        ("[::127.0.0.1]", "::127.0.0.1 (::7f00:1)"),  # IPv4-compatible (deprecated), which Python counts as global
        ("[::a9fe:a9fe]", "::a9fe:a9fe"),
        ("[::10.0.0.1]", "::10.0.0.1 (::a00:1)"),
        ("127.1", "127.1 (127.0.0.1)"),
        ("2130706433", "2130706433 (127.0.0.1)"),
        ("10.0.0.5", "10.0.0.5"),
        ("169.254.169.254", "169.254.169.254"),
        ("100.64.0.1", "100.64.0.1"),
        ("192.168.1.1", "192.168.1.1"),
        ("[fd00::1]", "fd00::1"),
        ("[fe80::1]", "fe80::1"),
        ("224.0.0.1", "224.0.0.1"),
    ],
)
def test_private_destinations_are_refused_before_any_connection(loopback_receivers, host: str, shown: str):
    v4, v6 = loopback_receivers

    result = _send(f"http://{host}:{v4.port}/hook", allowed=())

    assert result.outcome == "blocked_destination"
    assert result.error == f"The destination {shown}{BLOCKED_TAIL}"
    assert result.status_code is None
    assert result.duration_ms < 1000
    time.sleep(0.05)
    assert (v4.connections, v6.connections) == (0, 0)


def test_allow_list_exempts_only_the_listed_network(loopback_receivers, receiver):
    v4, _ = loopback_receivers
    other = receiver(answer_ok, host="127.0.0.2")

    allowed = _send(f"http://127.0.0.1:{v4.port}/hook", allowed=LOOPBACK)
    refused = _send(f"http://127.0.0.2:{other.port}/hook", allowed=LOOPBACK)

    assert (allowed.outcome, allowed.status_code, allowed.body) == ("response", 200, b"ok")
    assert v4.requests[0].startswith(b"POST /hook HTTP/1.1\r\n")
    assert refused.outcome == "blocked_destination"
    assert refused.error == f"The destination 127.0.0.2{BLOCKED_TAIL}"
    assert other.connections == 0


def test_allowed_localhost_name_and_mapped_address_reach_the_receiver(loopback_receivers):
    v4, _ = loopback_receivers

    by_name = _send(f"http://localhost:{v4.port}/a", allowed=LOOPBACK)
    mapped = _send(f"http://[::ffff:127.0.0.1]:{v4.port}/b", allowed=LOOPBACK)

    assert (by_name.outcome, by_name.status_code) == ("response", 200)
    assert (mapped.outcome, mapped.status_code) == ("response", 200)
    assert [r.split(b"\r\n", 1)[0] for r in v4.requests] == [b"POST /a HTTP/1.1", b"POST /b HTTP/1.1"]
    assert b"\r\nHost: localhost:%d\r\n" % v4.port in v4.requests[0]


def test_bad_allow_list_is_an_invalid_request():
    result = _send("http://127.0.0.1:9/hook", allowed=("not-a-network",))

    assert result.outcome == "invalid_request"
    assert result.error.startswith("WEBHOOK_ALLOWED_NETWORKS is not a list of networks: ")


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("file:///etc/passwd", "file"),
        ("gopher://127.0.0.1:70/_x", "gopher"),
        ("ftp://example.com/x", "ftp"),
        ("dict://127.0.0.1:11211/stats", "dict"),
        ("javascript:alert(1)", "javascript"),
        ("//example.com/hook", "//example.com/hook"),
    ],
)
def test_non_http_schemes_are_refused_by_check_url(url: str, found: str):
    with pytest.raises(RequestRejected) as caught:
        check_url(url)

    assert caught.value.message == f"The URL must start with http:// or https:// (found '{found}')."


@pytest.mark.parametrize("url", ["http://example.com/x", "https://example.com:8443/x?y=1", "HTTPS://EXAMPLE.com/"])
def test_http_and_https_pass_check_url(url: str):
    assert check_url(f"  {url} ") == url


def test_file_scheme_is_refused_by_the_transport_too():
    result = _send("file:///etc/passwd", allowed=())

    assert result.outcome == "invalid_request"
    assert result.error.startswith("The request could not be sent as built: No connection adapters were found for ")


# --------------------------------------------------------------------------- DNS rebinding


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str, str], list[str]]:
    """`rebind.test` answers `first` once and `later` afterwards; every lookup is logged."""
    real_getaddrinfo = socket.getaddrinfo

    def install(name: str, first: str, later: str) -> list[str]:
        lookups: list[str] = []

        def fake(host, port, family=0, type=0, proto=0, flags=0):
            lookups.append(host)
            if host == name:
                address = first if lookups.count(name) == 1 else later
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
            return real_getaddrinfo(host, port, family, type, proto, flags)

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return lookups

    return install


def test_dns_rebinding_connects_to_the_checked_address(receiver, rebinding_dns):
    """Both addresses are real receivers: 127.0.0.2 is allowed, 127.0.0.1 is not.

    If the transport resolved the name again to connect, the second answer (127.0.0.1,
    not allowed) would be reached; the request must arrive at 127.0.0.2 instead.
    """
    checked = receiver(answer_ok, host="127.0.0.2")
    rebound = receiver(answer_ok, host="127.0.0.1", port=checked.port)
    lookups = rebinding_dns("rebind.test", "127.0.0.2", "127.0.0.1")

    result = _send(f"http://rebind.test:{checked.port}/hook", allowed=("127.0.0.2/32",))

    assert (result.outcome, result.status_code, result.body) == ("response", 200, b"ok")
    assert lookups.count("rebind.test") == 1
    assert len(checked.requests) == 1
    assert b"\r\nHost: rebind.test:%d\r\n" % checked.port in checked.requests[0]
    assert rebound.connections == 0


def test_dns_rebinding_from_a_public_answer_never_reaches_loopback(receiver, rebinding_dns, monkeypatch):
    """The name first resolves to a public address (it passes the guard) and then to 127.0.0.1.

    The outgoing socket's connect is observed: it must be the checked public address. It is
    refused here (no network in tests), so the result is a quick connection_error, and the
    loopback receiver listening on the same port sees nothing.
    """
    loopback = receiver(answer_ok)
    lookups = rebinding_dns("rebind.test", "93.184.216.34", "127.0.0.1")
    connects: list[tuple[str, int]] = []

    class ObservedSocket(socket.socket):
        def connect(self, address):  # type: ignore[override]
            connects.append(address[:2])
            if address[0] == "93.184.216.34":
                raise ConnectionRefusedError(111, "Connection refused")
            return super().connect(address)

    monkeypatch.setattr(socket, "socket", ObservedSocket)

    result = _send(f"http://rebind.test:{loopback.port}/hook", allowed=(), timeout_seconds=2)

    assert result.outcome == "connection_error"
    assert result.error == f"The connection to rebind.test:{loopback.port} was refused: nothing accepted it."
    assert lookups.count("rebind.test") == 1
    assert connects == [("93.184.216.34", loopback.port)]
    assert loopback.connections == 0


def test_dns_answer_that_is_private_first_is_blocked(receiver, rebinding_dns):
    loopback = receiver(answer_ok)
    lookups = rebinding_dns("rebind.test", "127.0.0.1", "93.184.216.34")

    result = _send(f"http://rebind.test:{loopback.port}/hook", allowed=())

    assert result.outcome == "blocked_destination"
    assert result.error == f"The destination rebind.test (127.0.0.1){BLOCKED_TAIL}"
    assert lookups == ["rebind.test"]
    assert loopback.connections == 0


def test_address_is_public():
    import ipaddress

    public = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]
    private = [
        "127.0.0.1",
        "10.0.0.5",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "::1",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "::a9fe:a9fe",
        "::10.0.0.1",
        "::8.8.8.8",  # the whole IPv4-compatible range: it is deprecated, nothing public needs it
        "224.0.0.1",
        "203.0.113.10",
    ]

    assert [transport.address_is_public(ipaddress.ip_address(a)) for a in public] == [True] * len(public)
    assert [transport.address_is_public(ipaddress.ip_address(a)) for a in private] == [False] * len(private)
