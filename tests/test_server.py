"""`indexer serve` as a real process: gunicorn's master and its threaded workers on one socket."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from indexer import store
from tests.conftest import add_fake_episode

ROOT = Path(__file__).resolve().parent.parent


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def processes_naming(text: str) -> set[int]:
    """Live processes whose command line mentions text (a test's own database path)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and alive(int(entry.name)):
                found.add(int(entry.name))
    return found


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_for(condition, seconds: float = 15.0) -> bool:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if condition():
            return True
        time.sleep(0.05)
    return False


class Server:
    def __init__(self, db: str, *args: str) -> None:
        env = {**os.environ, "INDEXER_CONFIG": ""}
        self.db = db
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indexer", "--db", db, "serve", "--port", "0", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert "Serving" in line, line
        self.banner = line
        self.base = re.search(r"(http://\S+?)/ ", line).group(1)
        self.port = int(self.base.rsplit(":", 1)[1])

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)  # gunicorn lets workers finish; slow under load
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"the server did not stop on SIGTERM; it said: {err[-3000:]}") from None


@pytest.fixture
def site_db(tmp_path: Path) -> str:
    path = tmp_path / "site.db"
    db = store.open_db(path)
    add_fake_episode(db, [(0.0, "The harbour master spoke about oyster beds.")])
    db.close()
    return str(path)


@pytest.fixture
def workers(site_db: str) -> Iterator[Server]:
    server = Server(site_db, "--workers", "2", "--threads", "2")
    yield server
    if server.proc.poll() is None:
        server.stop()


def test_one_worker_serves_and_stops_on_sigterm(site_db: str) -> None:
    server = Server(site_db)
    try:
        assert "workers" not in server.banner
        hits = server.get("/api/search?q=oyster")["hits"]
        assert [h["start"] for h in hits] == [pytest.approx(hits[0]["start"])]
        assert "oyster" in hits[0]["text"]
    finally:
        assert server.stop() in (0, -signal.SIGTERM)
    assert wait_for(lambda: not processes_naming(site_db))


def test_workers_share_one_port_and_answer(workers: Server) -> None:
    assert "2 workers" in workers.banner
    assert wait_for(lambda: len(children_of(workers.proc.pid)) == 2)
    for _ in range(20):  # new connections each time, spread over both workers
        assert workers.get("/api/search?q=harbour")["total"] == 1


def test_each_worker_answers_on_the_port_alone_and_all_in_parallel(site_db: str) -> None:
    server = Server(site_db, "--workers", "2", "--threads", "1")
    try:
        assert wait_for(lambda: len(children_of(server.proc.pid)) == 2)
        for frozen in sorted(children_of(server.proc.pid)):
            os.kill(frozen, signal.SIGSTOP)  # the other worker must take every connection
            try:
                for _ in range(5):
                    assert server.get("/api/search?q=harbour")["total"] == 1
            finally:
                os.kill(frozen, signal.SIGCONT)
        with ThreadPoolExecutor(8) as pool:
            totals = pool.map(lambda _: server.get("/api/search?q=oyster")["total"], range(40))
            assert set(totals) == {1}
        assert len(children_of(server.proc.pid)) == 2  # nobody was replaced on the way
    finally:
        assert server.stop() == 0


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(workers: Server) -> None:
    assert wait_for(lambda: len(children_of(workers.proc.pid)) == 2)
    first = children_of(workers.proc.pid)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(children_of(workers.proc.pid) - {victim}) == 2)
    assert workers.get("/api/search?q=harbour")["total"] == 1
    everyone = children_of(workers.proc.pid)
    assert workers.stop() == 0
    assert wait_for(lambda: not any(alive(pid) for pid in everyone))


def test_sigterm_stops_the_master_and_every_worker(site_db: str) -> None:
    server = Server(site_db, "--workers", "3")
    assert wait_for(lambda: len(children_of(server.proc.pid)) == 3)
    assert server.get("/api/search?q=harbour")["total"] == 1
    everyone = children_of(server.proc.pid) | {server.proc.pid}
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 10  # idle workers don't wait out the grace period
    assert wait_for(lambda: not any(alive(pid) for pid in everyone))
    assert not processes_naming(site_db)
    assert refused(server.port)


def test_workers_stop_when_the_server_is_killed(workers: Server) -> None:
    assert wait_for(lambda: len(children_of(workers.proc.pid)) == 2)
    everyone = children_of(workers.proc.pid)
    workers.proc.kill()  # kill -9: no chance to stop the workers itself
    workers.proc.wait()
    assert wait_for(lambda: not any(alive(pid) for pid in everyone))
    assert wait_for(lambda: not processes_naming(workers.db))
    assert refused(workers.port)


def test_a_stuck_worker_is_killed_after_the_timeout_and_replaced(site_db: str) -> None:
    server = Server(site_db, "--workers", "2", "--timeout", "2")
    try:
        assert wait_for(lambda: len(children_of(server.proc.pid)) == 2)
        stuck = min(children_of(server.proc.pid))
        os.kill(stuck, signal.SIGSTOP)  # alive, but its main loop no longer reports in
        assert wait_for(lambda: not alive(stuck), seconds=12)
        assert wait_for(lambda: len(children_of(server.proc.pid) - {stuck}) == 2)
        assert server.get("/api/search?q=harbour")["total"] == 1
    finally:
        assert server.stop() == 0
    assert f"WORKER TIMEOUT (pid:{stuck})" in server.proc.stderr.read()


@pytest.mark.parametrize("count", ["1", "3"])
def test_a_worker_that_cannot_boot_stops_the_server_with_one_line(site_db: str, count: str):
    # A malformed INDEXER_WEB_* setting breaks create_app(), which only the workers run.
    env = {**os.environ, "INDEXER_CONFIG": "", "INDEXER_WEB_PAGE_SIZE__MAX": "5"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "indexer", "--db", site_db, "serve", "--port", "0",
         "--workers", count],
        cwd=ROOT, capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: a worker could not start the app: TypeError")
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert wait_for(lambda: not processes_naming(site_db))


def test_the_access_log_is_off_by_default_and_on_request(site_db: str) -> None:
    for args, logged in [((), False), (("--access-log",), True)]:
        server = Server(site_db, "--workers", "2", *args)
        try:
            assert server.get("/api/search?q=oyster")["total"] == 1
        finally:
            assert server.stop() == 0
        out = server.proc.stdout.read()
        assert ('"GET /api/search?q=oyster HTTP/1.1" 200' in out) is logged, out
        assert out.count("\n") == logged


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_host_header_is_a_plain_400(site_db: str, workers: str) -> None:
    server = Server(site_db, "--workers", workers)
    try:
        for path in ["/", "/episodes/1", "/episodes/1/transcript.vtt", "/api/search?q=oyster"]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", "a..b")
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read().decode()
            conn.close()
            assert resp.status == 400, (path, body)
            assert "Host header" in body and "Traceback" not in body, path
            kind = "application/json" if path.startswith("/api/") else "text/plain"
            assert resp.headers["Content-Type"].startswith(kind), path
        assert server.get("/api/search?q=oyster")["total"] == 1  # a good Host still works
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.proc.stderr.read()


def test_a_busy_port_is_a_one_line_error(site_db: str) -> None:
    server = Server(site_db)
    try:
        port = str(server.port)
        result = subprocess.run(
            [sys.executable, "-m", "indexer", "--db", site_db, "serve", "--port", port],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
            env={**os.environ, "INDEXER_CONFIG": ""},
        )  # fmt: skip
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert f"can't listen on 127.0.0.1:{port}" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        server.stop()


def test_concurrent_searches_never_fail(tmp_path: Path) -> None:
    import random
    import string
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(3)
    words = ["".join(rng.choices(string.ascii_lowercase, k=9)) + "ings" for _ in range(400)]
    path = tmp_path / "many.db"
    db = store.open_db(path)
    for i in range(0, len(words), 20):
        add_fake_episode(db, [(0.0, " ".join(words[i : i + 20]))], media_id=f"m{i}")
    db.close()
    server = Server(str(path), "--workers", "2", "--threads", "4")
    try:

        def status(word: str) -> int:
            try:
                with urllib.request.urlopen(f"{server.base}/api/search?q={word}", timeout=30) as r:
                    return r.status
            except urllib.error.HTTPError as exc:
                return exc.code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(status, words)) == {200}
    finally:
        server.stop()
