"""How fast the product sends, against the ceiling of a bare `requests` loop on this machine.

    .venv/bin/python bench/send_path.py [--users 10000] [--workers 2] [--stack embedded|production|both]
                                        [--enqueue 100000]

For each stack (embedded: SQLite + the django-q2 ORM broker; production: PostgreSQL + Redis,
from BENCH_DATABASE_URL / BENCH_Q_BROKER_URL / BENCH_CACHE_URL, defaulting to the services on
127.0.0.1) it builds a throw-away database (on PostgreSQL named after the one given plus
_send_bench, e.g. flarelane_send_bench: never the one given), starts a local receiver
(bench/receiver.py, a fast one and one that answers after 50 ms) and `qcluster` with N workers, sends one webhook to every user
of an audience through the real path (render, guard, HTTP, history rows and attempts), and
prints deliveries per second, the ratio to the bare ceiling, queries per delivery, the peak
memory of a worker, and the time to create and queue ENQUEUE deliveries.
Figures, not pass/fail: the machine is noisy, so trust ratios more than absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start_receiver(delay_ms: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen([PYTHON, str(ROOT / "bench" / "receiver.py"), str(port), str(delay_ms)], cwd=ROOT)
    _wait_for_port(port)
    return process, port


def bare_ceiling(port: int, seconds: float = 5.0) -> float:
    """A plain keep-alive requests session, as fast as it goes, for a few seconds."""
    import requests  # noqa: TID251 (the ceiling is measured without the product)

    session = requests.Session()
    session.trust_env = False
    url = f"http://127.0.0.1:{port}/hook"
    count, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        session.post(url, data=b'{"text": "hi"}', headers={"Content-Type": "application/json"}, timeout=5)
        count += 1
    return count / (time.monotonic() - start)


def _stack_env(stack: str, workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "flarelane.settings",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "LOG_LEVEL": "WARNING",
        "Q_LOG_LEVEL": "WARNING",
    }
    if stack == "embedded":
        env.update(DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}", Q_BROKER_URL="", CACHE_URL="locmemcache://")
    else:
        env.update(
            # A database of its own beside the one named, since the bench drops and recreates it.
            DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flarelane") + "_send_bench",
            Q_BROKER_URL=os.environ.get("BENCH_Q_BROKER_URL", "redis://127.0.0.1:6379/14"),
            CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/15"),
        )
    return env  # fmt: skip


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def _peak_rss_mb(root_pid: int) -> float:
    """The largest VmHWM among the cluster's processes (each worker is a process)."""
    peak = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() in (str(root_pid),) or status.parent.name == str(root_pid):
            peak = max(peak, int(fields.get("VmHWM", "0 kB").split()[0]) / 1024)
    return peak


def run_stack(stack: str, *, users: int, workers: int, enqueue: int) -> list[str]:
    lines = [f"## {stack} ({'SQLite + ORM broker' if stack == 'embedded' else 'PostgreSQL + Redis'}), {workers} workers"]
    with tempfile.TemporaryDirectory() as tmp:
        env = _stack_env(stack, Path(tmp))
        if stack == "production":
            import psycopg

            server, name = env["DATABASE_URL"].rsplit("/", 1)
            with psycopg.connect(server + "/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                admin.execute(f'CREATE DATABASE "{name}"')
        _manage(env, "migrate", "--noinput")
        script = ROOT / "bench" / "send_path_steps.py"
        for delay_ms in (0, 50):
            receiver, port = start_receiver(delay_ms)
            try:
                ceiling = bare_ceiling(port) if delay_ms == 0 else None
                out = subprocess.run(
                    [PYTHON, str(script), "prepare", str(users), f"http://127.0.0.1:{port}/hook"], cwd=ROOT, env=env,
                    check=True, capture_output=True, text=True,
                ).stdout.split()  # fmt: skip
                statements_per_delivery, webhook_id = out[-2], out[-1]
                cluster = subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=ROOT, env={**env, "Q_WORKERS": str(workers)},
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
                time.sleep(3)  # the cluster starts its workers
                result = subprocess.run([PYTHON, str(script), "send", webhook_id, str(users)], cwd=ROOT, env=env,
                                        check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
                peak = _peak_rss_mb(cluster.pid)
                cluster.terminate()  # its sentinel stops the workers
                try:
                    cluster.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(cluster.pid, signal.SIGKILL)
                    cluster.wait()
            finally:
                receiver.terminate()
                receiver.wait()
            rate = float(result.split()[0])
            label = "fast receiver" if delay_ms == 0 else "receiver answering after 50 ms"
            if ceiling is not None:
                lines.append(f"- bare ceiling (requests keep-alive loop, one process): {ceiling:,.0f} requests/s")
                lines.append(
                    f"- {label}: {rate:,.0f} deliveries/s end to end for {users:,} users ({rate / ceiling:.2f} of the ceiling); {result.split(maxsplit=1)[1]}"
                )
            else:
                lines.append(f"- {label}: {rate:,.0f} deliveries/s end to end for {users:,} users; {result.split(maxsplit=1)[1]}")
            lines.append(
                f"  SQL statements per delivery (200 sent in one process): {statements_per_delivery}; peak memory of a cluster process: {peak:,.0f} MB"
            )
        timing = subprocess.run([PYTHON, str(script), "enqueue", str(enqueue)], cwd=ROOT, env=env, check=True,
                                capture_output=True, text=True).stdout.strip()  # fmt: skip
        lines.append(f"- creating and queueing {enqueue:,} deliveries (audience fan-out): {timing}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stack", choices=["embedded", "production", "both"], default="both")
    parser.add_argument("--enqueue", type=int, default=100_000)
    options = parser.parse_args()
    stacks = ["embedded", "production"] if options.stack == "both" else [options.stack]
    print(f"# Send path benchmark ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    for stack in stacks:
        print("\n".join(run_stack(stack, users=options.users, workers=options.workers, enqueue=options.enqueue)), flush=True)


if __name__ == "__main__":
    main()
