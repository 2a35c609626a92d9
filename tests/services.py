"""Real processes for tests and benchmarks: a free port, a redis-server, waiting and stopping.

Not a test module; imported by tests/test_queue.py and bench/queue_throughput.py.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """check()'s first truthy answer, polled every 0.2 s; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 20) -> None:
    """Stop a process and wait for it; SIGKILL if it does not go."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def start_redis(folder: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A real redis-server (Debian's) on a free loopback port (or `port`, to start one again
    where it was), answering; (process, URL). The caller stops it."""
    import redis

    exe = shutil.which("redis-server")
    if exe is None:
        raise AssertionError("redis-server is not installed: ./quickstart.sh installs it")
    port = port or free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, 10, "redis-server to answer")
    except AssertionError:
        stop(proc)
        raise
    finally:
        client.close()
    return proc, url
