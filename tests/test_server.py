"""`indexer serve` as a real process: one or several waitress workers on one socket."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
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
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indexer", "--db", db, "serve", "--port", "0", *args],
            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert "Serving" in line, line
        self.banner = line
        self.base = re.search(r"(http://\S+?)/ ", line).group(1)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)


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


def test_workers_share_one_port_and_answer(workers: Server) -> None:
    assert "2 workers" in workers.banner
    assert wait_for(lambda: len(children_of(workers.proc.pid)) == 2)
    for _ in range(20):  # new connections each time, spread over both workers
        assert workers.get("/api/search?q=harbour")["total"] == 1


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


def test_workers_stop_when_the_server_is_killed(workers: Server) -> None:
    assert wait_for(lambda: len(children_of(workers.proc.pid)) == 2)
    everyone = children_of(workers.proc.pid)
    workers.proc.kill()  # kill -9: no chance to stop the workers itself
    workers.proc.wait()
    assert wait_for(lambda: not any(alive(pid) for pid in everyone))


def test_a_busy_port_is_a_one_line_error(site_db: str) -> None:
    server = Server(site_db)
    try:
        port = server.base.rsplit(":", 1)[1]
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
