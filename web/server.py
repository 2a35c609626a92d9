"""The production server: gunicorn's threaded (gthread) workers on a socket we bind ourselves."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from . import create_app


class ServerError(Exception):
    """The server could not start or stopped on an error; the message is one line."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(1024)
    return sock


def _die_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM to this worker if the parent dies (even by SIGKILL).

    gunicorn workers also notice a changed parent, but only about once a second and only
    while their loop runs; this stops them at once. Linux only (prctl PR_SET_PDEATHSIG).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


class _Boot(logging.Filter):
    """What workers tell the master about booting, over pipes: the first worker up says the
    server is ready, and a worker that could not boot says why. After a failure it mutes
    gunicorn's error log: serve() reports the cause in one line, where the arbiter would
    log three lines that don't say it."""

    def __init__(self) -> None:
        super().__init__()
        self._failed_r, self._failed_w = os.pipe()
        self._ready_r, ready_w = os.pipe()
        os.write(ready_w, b"r")  # one token: whoever boots first takes it
        os.close(ready_w)
        # No end may block: the master polls, and workers must go on (or exit) regardless.
        for fd in (self._failed_r, self._failed_w, self._ready_r):
            os.set_blocking(fd, False)
        self._master = os.getpid()
        self.message = ""

    def first_up(self) -> bool:
        """Called in a booted worker: whether it is the first (and so announces the server)."""
        try:
            return os.read(self._ready_r, 1) == b"r"
        except OSError:
            return False

    def report(self, message: str) -> None:
        """Called in a worker: tell the master why this worker could not boot."""
        with contextlib.suppress(OSError):
            os.write(self._failed_w, (" ".join(message.split())[:500] + "\n").encode())

    def failure(self) -> str:
        """In the master, the first reported boot failure, or ''; in a worker, ''."""
        if not self.message and os.getpid() == self._master:
            with contextlib.suppress(OSError):
                data = os.read(self._failed_r, 65536)
                self.message = data.decode(errors="replace").split("\n")[0]
        return self.message

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.failure()

    def close(self) -> None:
        for fd in (self._failed_r, self._failed_w, self._ready_r):
            os.close(fd)


if sys.platform != "win32":  # gunicorn needs fork(); see serve() for Windows
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    class _Gunicorn(BaseApplication):
        """gunicorn's custom-application API: our settings, and the Flask app made in each
        worker (never before the fork, so no SQLite connection or thread crosses it)."""

        def __init__(self, config: dict[str, Any], options: dict[str, Any],
                     boot: _Boot) -> None:  # fmt: skip
            self.app_config = config
            self.options = options
            self.boot = boot
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            try:
                return create_app(self.app_config)
            except Exception as exc:
                self.boot.report(f"a worker could not start the app: "
                                 f"{type(exc).__name__}: {exc}")  # fmt: skip
                # gunicorn halts the whole server on this exit status instead of restarting.
                raise SystemExit(Arbiter.WORKER_BOOT_ERROR) from None


def serve(config: dict[str, Any], sock: socket.socket, *, threads: int = 8, workers: int = 1,
          timeout: int = 30, access_log: bool = False,
          on_ready: Callable[[], None] | None = None) -> None:  # fmt: skip
    """Serve the app on an open socket (serve() takes it over) until SIGINT/SIGTERM.

    gunicorn's master forks `workers` processes of `threads` threads each; several use every
    CPU core instead of queueing on one GIL. One worker runs under gunicorn too, rather than
    waitress in-process, so that the access log (stdout), the worker timeout (a worker
    whose main loop is stuck for `timeout` seconds is killed and replaced), SIGHUP reloads
    and boot-failure handling are the same whatever `workers` says. A worker that cannot
    boot stops the server with ServerError. Only on Windows, where gunicorn can't run, is
    it one waitress process.
    """
    if sys.platform == "win32":
        if workers > 1 or access_log:
            raise ServerError("several workers and the access log need gunicorn, which "
                              "doesn't run on Windows")  # fmt: skip
        import waitress

        server = waitress.create_server(create_app(config), sockets=[sock], threads=threads,
                                        ident="indexer", clear_untrusted_proxy_headers=True)  # fmt: skip
        if on_ready:
            on_ready()
        server.run()
        return
    # gunicorn closes the descriptor it is given, so it gets a copy; ours is closed so that
    # the port stops taking connections as soon as gunicorn closes its listener on stop.
    fd = os.dup(sock.fileno())
    sock.close()
    boot = _Boot()
    master = os.getpid()
    options = {
        "bind": [f"fd://{fd}"],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",  # quiet when all is well; crashes and timeouts still show
        "proc_name": "indexer",
        # Not needed here, and a per-user default path would be shared by every server.
        "control_socket_disable": True,
        "post_fork": lambda arbiter, worker: _die_with_parent(arbiter.pid),
        # Ready means a worker can answer; announced by it, so a failed boot prints one line.
        "post_worker_init": lambda worker: on_ready() if on_ready and boot.first_up() else None,
    }
    from gunicorn.errors import HaltServer

    gunicorn_log = logging.getLogger("gunicorn.error")
    gunicorn_log.addFilter(boot)
    try:
        _Gunicorn(config, options, boot).run()
    except SystemExit as exc:
        if os.getpid() != master:
            raise  # a worker leaving: gunicorn ends each one by unwinding it to the top
        if exc.code not in (0, None):
            raise ServerError(boot.failure() or f"the server stopped with status {exc.code}"
                              " (see its log above)") from None  # fmt: skip
    except HaltServer as exc:
        # Several workers failing at once: a second failure, met while the master was
        # already halting for the first, escapes gunicorn's own handling.
        if os.getpid() != master:
            raise
        raise ServerError(boot.failure() or f"the server stopped: {exc.reason}") from None
    finally:
        if os.getpid() == master:
            gunicorn_log.removeFilter(boot)
            boot.close()
