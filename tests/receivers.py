"""A fast receiver for load tests: an asyncio HTTP/1.1 keep-alive server in a thread that
counts the JSON field `delivery` of every request body (and, with a delay, how many
requests it held at once). pytest-httpserver (werkzeug) takes
about a millisecond of the test process per request, which would be what a 20,000-request
test measures."""

from __future__ import annotations

import asyncio
import collections
import json
import threading

RESPONSE = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


class CountingReceiver:
    def __init__(self, *, delay_seconds: float = 0.0, response: bytes = RESPONSE) -> None:
        self.received: collections.Counter[str] = collections.Counter()
        self.delay_seconds = delay_seconds
        self.response = response  # raw bytes, so a test can answer what no HTTP server library would
        self.in_flight = 0
        self.most_in_flight = 0  # requests read but not yet answered, at the busiest moment
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CountingReceiver:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def total(self) -> int:
        return sum(self.received.values())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        # Connections kept alive by the sender are still being served: end them here, so no
        # coroutine is left to a closed loop.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
                    0,
                )
                body = await reader.readexactly(length) if length else b""
                self.received[json.loads(body)["delivery"]] += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                if self.delay_seconds:
                    await asyncio.sleep(self.delay_seconds)
                self.in_flight -= 1
                writer.write(self.response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
