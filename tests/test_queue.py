"""The job queue (issue 14) with a real redis-server and real `indexer worker` processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

import web
from indexer import jobqueue, pipeline, store, transcribe
from indexer.cli import cli
from indexer.config import Settings
from indexer.models import MediaItem, Transcript
from tests.conftest import MediaServer, Recording, make_segment, rss_feed
from tests.services import free_port, start_redis, stop, wait_until

INDEXER = str(Path(sys.executable).parent / "indexer")
HEARTBEAT = 4  # seconds: a killed worker's job is redelivered a few seconds after this


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, stopped (and waited on) at the end."""
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture
def queue_url(redis_server: str) -> str:
    """The module's Redis, emptied for each test."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def qsettings(settings: Settings, queue_url: str) -> Settings:
    return settings.replace(queue=queue_url, queue_heartbeat=float(HEARTBEAT), queue_backoff=0.5)


class Workers:
    """`indexer worker` and `indexer store-worker` subprocesses, all stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, name: str) -> subprocess.Popen:
        env = {**self.env, "INDEXER_MEDIA_DIR": str(self.logs / f"media-{name}")}
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen([INDEXER, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            stop(proc)


def _pool(db: str, queue: str, tmp_path: Path, cache_dir: Path) -> Workers:
    transcribe.ensure_default_model(cache_dir)  # assembled once, before workers race for it
    env = {**os.environ, "INDEXER_DB": db, "INDEXER_CACHE_DIR": str(cache_dir),
           "INDEXER_CONFIG": "", "INDEXER_QUEUE": queue,
           "INDEXER_QUEUE_HEARTBEAT": str(HEARTBEAT), "INDEXER_QUEUE_BACKOFF": "0.5",
           "INDEXER_CPU_THREADS": "1"}  # fmt: skip
    return Workers(env, tmp_path)


@pytest.fixture
def workers(qsettings: Settings, tmp_path: Path, cache_dir: Path) -> Iterator[Workers]:
    pool = _pool(qsettings.db, qsettings.queue, tmp_path, cache_dir)
    try:
        yield pool
    finally:
        pool.stop_all()


def _item(n: int = 1) -> MediaItem:
    return MediaItem(source_url="https://example.com/feed.xml", extractor="generic",
                     media_id=f"ep{n}", title=f"Episode {n}", webpage_url=f"https://example.com/{n}",
                     media_url=f"https://example.com/{n}.mp3", scope="abc")  # fmt: skip


# --- the library: ids, enqueueing, state ----------------------------------------------


def test_job_ids_come_from_the_episode_identity():
    assert jobqueue.job_id(_item(1).key) == jobqueue.job_id(_item(1).key)
    assert jobqueue.job_id(_item(1).key) != jobqueue.job_id(_item(2).key)
    assert jobqueue.safe_url("redis://:secret@host:6379/0") == "redis://:***@host:6379/0"


def test_enqueueing_twice_sends_one_message(qsettings: Settings):
    queue = jobqueue.connect(qsettings.queue, qsettings)
    first = queue.enqueue(pipeline.WorkItem(_item(1)))
    again = queue.enqueue(pipeline.WorkItem(_item(1)))
    other = queue.enqueue(pipeline.WorkItem(_item(2)))
    assert (first.status, again.status, other.status) == ("queued", "skipped", "queued")
    assert again.error and again.error.startswith("already queued")
    assert queue.client.llen("indexer:transcribe") == 2
    jobs = queue.jobs()
    assert [j["title"] for j in jobs] == ["Episode 2", "Episode 1"]  # newest first
    assert {j["state"] for j in jobs} == {"queued"} and jobs[0]["progress"] == 0.0
    # a finished job may be enqueued again (refresh only enqueues what it does not know)
    queue.client.hset(queue.key(jobqueue.job_id(_item(1).key)), "state", "done")
    assert queue.enqueue(pipeline.WorkItem(_item(1))).status == "queued"
    assert queue.jobs(state="done") == []


def test_a_local_file_is_not_queued(qsettings: Settings, tmp_path: Path):
    queue = jobqueue.connect(qsettings.queue, qsettings)
    item = _item(3)
    item.path = str(tmp_path / "talk.mp3")
    result = queue.enqueue(pipeline.WorkItem(item))
    assert result.status == "failed" and "local file" in (result.error or "")
    assert queue.jobs() == []


def _produced(item: MediaItem) -> dict[str, Any]:
    segments = (make_segment("The harbour expansion was approved tonight.", 0.5),
                make_segment("Fishermen worry about the oyster beds.", 4.0))  # fmt: skip
    made = pipeline.Produced(item, Transcript(segments, "en", 8.0, "test"), 45.0)
    return jobqueue.produced_to_dict(made)


def test_the_store_step_stores_once(qsettings: Settings):
    queue = jobqueue.connect(qsettings.queue, qsettings)
    item = _item(4)
    assert queue.enqueue(pipeline.WorkItem(item)).status == "queued"
    job = jobqueue.job_id(item.key)
    run = queue.client.hget(queue.key(job), "run").decode()
    message = {"kind": "episode", "job": job, "run": run, "force": False,
               "produced": json.loads(json.dumps(_produced(item)))}  # fmt: skip
    queue._store(message)
    queue._store(message)  # redelivered: acked without writing
    db = store.open_db(qsettings.db)
    rows = list(db.query("select id, indexed_at from episodes where key = ?", [item.key]))
    assert len(rows) == 1
    [done] = queue.jobs()
    assert (done["state"], done["episode_id"]) == ("done", rows[0]["id"])
    # a --force job stores again, but its redelivery does not
    forced = {**message, "force": True}
    queue._store(forced)
    assert [r["id"] for r in db.query("select id from episodes")] == [rows[0]["id"]]


def test_a_poison_job_is_failed_and_recorded(qsettings: Settings):
    db = store.open_db(qsettings.db)
    source_id = store.follow(db, "https://example.com/feed.xml", "Show", "feed")
    queue = jobqueue.connect(qsettings.queue, qsettings)
    item = _item(5)
    queue.enqueue(pipeline.WorkItem(item, failures_source=source_id))
    job = jobqueue.job_id(item.key)
    # workers died on it CRASH_LIMIT times: the next delivery gives up instead of running it
    queue.client.hset(queue.key(job), "deliveries", jobqueue.CRASH_LIMIT)
    payload = json.loads(queue.client.hget("indexer:transcribe.msgs",
                                           queue.client.lindex("indexer:transcribe", 0)))  # fmt: skip
    queue._transcribe(payload["args"][0])
    [failed] = queue.jobs()
    assert failed["state"] == "failed" and "stopped 3 times" in failed["error"]
    # the failure goes to the store step, which records it as refresh does (backoff)
    assert queue.client.llen("indexer:store") == 1
    sent = json.loads(queue.client.hget("indexer:store.msgs",
                                        queue.client.lindex("indexer:store", 0)))  # fmt: skip
    queue._store(sent["args"][0])
    failure = store.failure_for(db, item.key)
    assert failure is not None and failure["attempts"] == 1 and failure["next_attempt"]


# --- the CLI: broker down, no queue ---------------------------------------------------


def test_broker_down_is_one_line_and_loses_nothing(env, media_server: MediaServer,
                                                    recordings: dict[str, Recording]):  # fmt: skip
    (media_server.root / "down.xml").write_text(rss_feed(media_server, [recordings["library"]]))
    runner = CliRunner()
    feed = media_server.url("down.xml")
    assert runner.invoke(cli, ["follow", feed, "--name", "down"]).exit_code == 0
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for args in (["refresh", "--queue", dead], ["add", feed, "--queue", dead],
                 ["jobs", "--queue", dead]):  # fmt: skip
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "can't reach the job queue at " + dead in lines[0]
    db = store.open_db(env["INDEXER_DB"])
    assert db["episodes"].count == 0 and db["failures"].count == 0
    assert store.find_source(db, "down")["etag"] is None  # the next refresh reads the feed again
    result = runner.invoke(cli, ["worker"])
    assert result.exit_code == 1 and "no job queue configured" in result.output


# --- the editors' page ------------------------------------------------------------------


def test_the_jobs_page_is_for_editors(qsettings: Settings):
    queue = jobqueue.connect(qsettings.queue, qsettings)
    queue.enqueue(pipeline.WorkItem(_item(6)))
    store.open_db(qsettings.db).close()
    client = web.create_app({"DATABASE": qsettings.db, "TESTING": True,
                             "QUEUE": qsettings.queue}).test_client()  # fmt: skip
    anonymous = client.get("/jobs")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    with client.session_transaction() as session:
        session["editor"] = "ana"
    page = client.get("/jobs").get_data(as_text=True)
    assert "1 queued, 0 running" in page and "Episode 6" in page
    none = web.create_app({"DATABASE": qsettings.db, "TESTING": True, "QUEUE": ""}).test_client()
    with none.session_transaction() as session:
        session["editor"] = "ana"
    assert "No job queue is configured" in none.get("/jobs").get_data(as_text=True)


# --- real workers ---------------------------------------------------------------------


def _jobs(url: str) -> list[dict[str, Any]]:
    return jobqueue.list_jobs(url)


@pytest.mark.slow
def test_three_workers_one_killed_every_episode_stored_once(
    qsettings: Settings, workers: Workers, media_server: MediaServer,
    recordings: dict[str, Recording], env: dict[str, str],
):  # fmt: skip
    recs = [recordings["harbour"], recordings["library"], recordings["weather"]]
    (media_server.root / "queued.xml").write_text(rss_feed(media_server, recs, "Queued Desk"))
    feed = media_server.url("queued.xml")
    workers.start("store-worker", name="store")
    pool = [workers.start("worker", name=f"worker{n}") for n in range(3)]
    run = subprocess.run  # the CLI exactly as cron runs it
    cmd_env = {**workers.env, "INDEXER_MEDIA_DIR": env["INDEXER_MEDIA_DIR"]}
    assert run([INDEXER, "follow", feed], env=cmd_env, capture_output=True).returncode == 0
    first = run([INDEXER, "refresh", "--queue", qsettings.queue, "--json"], env=cmd_env,
                capture_output=True, text=True)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["queued"] == 3
    # the same episodes enqueued again while queued or running: nothing new is sent
    again = run([INDEXER, "add", feed, "--queue", qsettings.queue, "--json"], env=cmd_env,
                capture_output=True, text=True)  # fmt: skip
    summary = json.loads(again.stdout)
    assert summary["queued"] == 0 and summary["skipped"] == 3, again.stdout

    # kill -9 a worker in the middle of a job
    def running() -> dict[str, Any] | None:
        return next((j for j in _jobs(qsettings.queue) if j["state"] == "running"
                     and j["phase"] in ("downloading", "transcribing")), None)  # fmt: skip

    victim_job = wait_until(running, 90, "a running job")
    pid = int(victim_job["worker"].rsplit(":", 1)[1])
    victim = next(p for p in pool if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    def all_done() -> list[dict[str, Any]] | None:
        jobs = _jobs(qsettings.queue)
        return jobs if len(jobs) == 3 and all(j["state"] == "done" for j in jobs) else None

    try:
        jobs = wait_until(all_done, 150, "every job to be done")
    except AssertionError:
        print({n: workers.log(n) for n in ("store", "worker0", "worker1", "worker2")})
        raise
    redelivered = next(j for j in jobs if j["id"] == victim_job["id"])
    assert redelivered["attempts"] >= 2 and redelivered["worker"] != victim_job["worker"]
    listed = run([INDEXER, "jobs", "--json"], env=cmd_env, capture_output=True, text=True)
    assert {j["state"] for j in json.loads(listed.stdout)} == {"done"}

    db = sqlite3.connect(qsettings.db)
    keys = db.execute("select key, count(*) from episodes group by key").fetchall()
    assert len(keys) == 3 and all(n == 1 for _, n in keys)
    assert db.execute("select count(*) from failures").fetchone()[0] == 0
    db.close()
    for query, title in (("oyster beds", "The harbour expansion"),
                         ("leaking roof", "Saving the public library"),
                         ("garden furniture", "Storm season")):  # fmt: skip
        hits = run([INDEXER, "search", query, "--json"], env=cmd_env, capture_output=True,
                   text=True)  # fmt: skip
        assert json.loads(hits.stdout)[0]["title"] == title, hits.stdout
    # the next refresh knows them all: nothing enqueued
    assert pool[0].poll() is None or pool[1].poll() is None
    later = run([INDEXER, "refresh", "--queue", qsettings.queue, "--json"], env=cmd_env,
                capture_output=True, text=True)  # fmt: skip
    assert json.loads(later.stdout)["queued"] == 0


@pytest.mark.slow
def test_a_failing_episode_is_retried_then_recorded_and_the_rest_go_on(
    qsettings: Settings, workers: Workers, media_server: MediaServer,
    recordings: dict[str, Recording], env: dict[str, str],
):  # fmt: skip
    broken = Recording("broken", "Broken audio", "", media_server.root / "corrupt.mp3", [])
    (media_server.root / "half.xml").write_text(
        rss_feed(media_server, [broken, recordings["weather"]], "Half Desk"))  # fmt: skip
    feed = media_server.url("half.xml")
    workers.start("store-worker", name="store")
    workers.start("worker", name="worker0")
    cmd_env = {**workers.env, "INDEXER_MEDIA_DIR": env["INDEXER_MEDIA_DIR"]}
    run = subprocess.run
    assert run([INDEXER, "follow", feed], env=cmd_env, capture_output=True).returncode == 0
    first = run([INDEXER, "refresh", "--json"], env=cmd_env, capture_output=True, text=True)
    assert json.loads(first.stdout)["queued"] == 2, first.stderr  # INDEXER_QUEUE: queued

    def finished() -> list[dict[str, Any]] | None:
        jobs = _jobs(qsettings.queue)
        return jobs if all(j["state"] in ("done", "failed") for j in jobs) else None

    jobs = {j["title"]: j for j in wait_until(finished, 120, "both jobs to finish")}
    assert jobs["Storm season"]["state"] == "done"
    failed = jobs["Broken audio"]
    assert failed["state"] == "failed" and failed["attempts"] == 3  # 1 + queue_retries (2)
    db = store.open_db(qsettings.db)
    wait_until(lambda: store.failure_for(db, failed["key"]), 30, "the failure to be recorded")
    failure = store.failure_for(db, failed["key"])
    assert failure["attempts"] == 1 and failure["error"] == failed["error"]
    # the next refresh of the (changed) feed waits for the backoff, as in-process ones do
    later = time.time() + 5
    os.utime(media_server.root / "half.xml", (later, later))
    again = run([INDEXER, "refresh", "--json", "--queue", qsettings.queue], env=cmd_env,
                capture_output=True, text=True)  # fmt: skip
    summary = json.loads(again.stdout)
    assert summary["queued"] == 0 and summary["unchanged"] == 0, summary
    [waiting] = summary["details"][0]["items"]
    assert waiting["status"] == "skipped" and waiting["error"].startswith("failed 1 time(s)")
    listed = run([INDEXER, "jobs", "--state", "failed"], env=cmd_env, capture_output=True,
                 text=True)  # fmt: skip
    assert "failed   Broken audio" in listed.stdout and "error:" in listed.stdout


@pytest.mark.slow
def test_workers_outlive_a_broker_restart_and_take_jobs_after_it(
    settings: Settings, tmp_path: Path, cache_dir: Path, media_server: MediaServer,
    recordings: dict[str, Recording], env: dict[str, str],
):  # fmt: skip
    """Redis goes down under running workers: they log it, wait, reconnect and work on."""
    (tmp_path / "redis").mkdir()
    proc, url = start_redis(tmp_path / "redis")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    pool = _pool(settings.db, url, tmp_path, cache_dir)
    again = None
    try:
        store_worker = pool.start("store-worker", name="store")
        worker = pool.start("worker", name="worker")
        time.sleep(3)
        stop(proc)
        time.sleep(4)  # both poll a broker that is gone
        assert store_worker.poll() is None and worker.poll() is None
        again, _ = start_redis(tmp_path / "redis", port)
        (media_server.root / "after.xml").write_text(rss_feed(media_server, [recordings["weather"]]))
        feed = media_server.url("after.xml")

        def enqueued() -> bool:
            result = CliRunner().invoke(cli, ["add", feed, "--queue", url], env=env)
            return result.exit_code == 0

        wait_until(enqueued, 20, "the restarted broker to take the job")
        done = wait_until(lambda: [j for j in jobqueue.list_jobs(url) if j["state"] == "done"],
                          120, "the job to be done after the restart")  # fmt: skip
        assert len(done) == 1
        db = store.open_db(settings.db, readonly=True)
        assert [r["title"] for r in db.query("select title from episodes")] == ["Storm season"]
        log = pool.log("worker")
        assert "Traceback" not in log and "connection error" in log.lower()
    finally:
        pool.stop_all()
        if again is not None:
            stop(again)
        stop(proc)
