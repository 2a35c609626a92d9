"""The production server: waitress threads in one or more pre-forked worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import waitress

from . import create_app


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(1024)
    return sock


def _run_worker(config: dict[str, Any], sock: socket.socket, threads: int) -> None:
    # The app (and its SQLite connections) is made in the worker, never shared across fork.
    server = waitress.create_server(create_app(config), sockets=[sock], threads=threads,
                                    ident="indexer", clear_untrusted_proxy_headers=True)  # fmt: skip
    server.run()


def _die_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM to this worker if the parent dies (even by SIGKILL).

    Otherwise orphaned workers would go on serving the port after a `kill -9` of the
    server. Linux only (prctl PR_SET_PDEATHSIG); elsewhere workers outlive a killed parent.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def serve(config: dict[str, Any], sock: socket.socket, *, threads: int = 8, workers: int = 1,
          on_ready: Callable[[], None] | None = None) -> None:  # fmt: skip
    """Serve the app on an open socket until SIGINT/SIGTERM.

    Several workers share the socket, each with its own interpreter, so searches use every
    CPU core instead of queueing on one Python GIL. A worker that dies is replaced.
    """
    if workers <= 1:
        if on_ready:
            on_ready()
        _run_worker(config, sock, threads)
        return
    children: set[int] = set()
    stopping = False
    parent = os.getpid()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _die_with_parent(parent)
            code = 0
            try:
                _run_worker(config, sock, threads)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.add(pid)

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    if on_ready:
        on_ready()
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if not stopping:
            print(f"worker {pid} exited; starting another", file=sys.stderr)
            time.sleep(0.5)  # a worker that dies at start must not spin the CPU
            spawn()
