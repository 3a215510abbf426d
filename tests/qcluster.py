"""Start a real `manage.py qcluster` process on the test database, for tests that need one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """DATABASE_URL of the database this test runs on, for another process to open."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def purge_broker() -> None:
    from django_q.brokers import get_broker

    get_broker().purge_queue()


@contextmanager
def running_qcluster(
    log_path: Path, *, workers: int = 1, extra_env: dict[str, str] | None = None, purge: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """A cluster in its own process group; stopped (or already killed by the test) on exit.
    `purge=False` for a second cluster sharing the queue with a first."""
    if purge:
        purge_broker()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "WEBHOOK_ALLOWED_NETWORKS": ",".join(settings.WEBHOOK_ALLOWED_NETWORKS),
        "Q_WORKERS": str(workers),
        **(extra_env or {}),
    }
    with log_path.open("w") as log:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield cluster
        finally:
            if cluster.poll() is None:
                cluster.terminate()  # the cluster's sentinel stops its own workers
                try:
                    cluster.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(cluster.pid, signal.SIGKILL)
                    cluster.wait()
            if purge:
                purge_broker()


def kill_cluster_hard(cluster: subprocess.Popen[bytes]) -> None:
    """SIGKILL the cluster and all its workers at once, as a crashed machine would."""
    os.killpg(cluster.pid, signal.SIGKILL)
    cluster.wait()
