"""`make run`: serve the console and run a django-q2 cluster beside it; Ctrl-C stops both."""

import signal
import socket
import subprocess
import sys
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


def _wait_for_port(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False


class Command(BaseCommand):
    help = "Migrate, seed the demo, and serve the console at http://HOST:PORT/admin/ with a django-q2 cluster beside it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                # Before anything else: otherwise the demo is seeded again over the other run's
                # data, and the wait below finds that server and sends the examples again.
                raise CommandError(
                    f"Something already serves http://{host}:{port}/ (another make run?). "
                    f"Stop it, or pick another port: make run PORT={port + 1}"
                )
        call_command("migrate", interactive=False)
        call_command("seed_demo")
        manage = [sys.executable, "manage.py"]
        server = subprocess.Popen([*manage, "runserver", f"{host}:{port}", "--noreload"])
        cluster = subprocess.Popen([*manage, "qcluster"])
        children = [server, cluster]

        def stop(*_: object) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()  # SIGTERM: both stop cleanly, even where SIGINT is ignored
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        try:
            if _wait_for_port(host, port, 30):
                call_command("seed_demo", send_examples=True)
            self.stdout.write(
                self.style.SUCCESS(
                    f"\n  Console:  http://{host}:{port}/admin/   login: admin / admin\n"
                    f"  API docs: http://{host}:{port}/api/docs/   (key: .venv/bin/python manage.py create_api_key --project demo)\n"
                    f"  Demo receiver log: http://{host}:{port}/demo-receiver/\n"
                    "  Ctrl-C stops the server and the task cluster.\n"
                )
            )
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("The server or the task cluster stopped; stopping the other.")
        except KeyboardInterrupt:
            pass
        stop()
