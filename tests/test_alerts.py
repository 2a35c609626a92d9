"""Alerts: saved searches over newly indexed episodes, a real local webhook and the Atom feed."""

from __future__ import annotations

import json
import os
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

import pytest
import sqlite_utils
from click.testing import CliRunner

import web
from indexer import alerts, links, store
from indexer.cli import cli
from tests.conftest import MediaServer, add_fake_episode

A = "{http://www.w3.org/2005/Atom}"


# --- a real webhook receiver on 127.0.0.1 ----------------------------------------------


@dataclass
class Receiver:
    """A local HTTP server that records every request and answers with `status`."""

    url: str
    status: int = 200
    location: str | None = None  # sent with a 3xx status
    hold: threading.Event | None = None  # when set, answers wait until it is set
    requests: list[tuple[str, str, int, bytes]] = field(default_factory=list)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The bodies of the POSTs that were answered 2xx."""
        return [json.loads(body) for method, _, status, body in self.requests
                if method == "POST" and 200 <= status < 300]  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver, shut down (thread joined) when the test ends."""
    got: Receiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if got.hold is not None:
                got.hold.wait(10)
            got.requests.append((self.command, self.path, got.status, body))
            self.send_response(got.status)
            if got.location:
                self.send_header("Location", got.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got = Receiver(f"http://127.0.0.1:{httpd.server_address[1]}/hook")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield got
    if got.hold is not None:
        got.hold.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    httpd.server_close()
    return f"http://127.0.0.1:{port}/hook"


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def hits_of(db: sqlite_utils.Database, alert_id: int) -> list[dict[str, Any]]:
    return list(db.query("select * from alert_hits where alert_id = ? order by id", [alert_id]))


HARBOUR = [(0.0, "Good morning and welcome to the city desk."),
           (12.0, "Tonight the council votes on the harbour expansion at last."),
           (30.0, "Fishermen worry about the oyster beds.")]  # fmt: skip
LIBRARY = [(0.0, "Our public library opened in nineteen twelve."),
           (8.0, "Volunteers repaired the leaking roof.")]  # fmt: skip


# --- saving, listing and removing alerts -----------------------------------------------


def test_add_validates_query_webhook_and_source(db):
    source_id = store.source_id_for(db, "https://example.com/citydesk.rss", "citydesk")
    saved = alerts.add(db, '  harbour   "expansion plan" ', source="citydesk",
                       webhook=" https://hooks.example.org/desk?token=x ")  # fmt: skip
    assert saved["query"] == 'harbour "expansion plan"'
    assert saved["source_id"] == source_id and saved["source_name"] == "citydesk"
    assert saved["webhook"] == "https://hooks.example.org/desk?token=x"
    assert (saved["hits"], saved["delivered"], saved["pending"], saved["failed"]) == (0, 0, 0, 0)
    assert alerts.add(db, "oyster", source=str(source_id))["source_id"] == source_id
    plain = alerts.add(db, "oyster beds")
    assert plain["source_id"] is None and plain["webhook"] is None

    bad = [
        ({"query": ""}, "empty"),
        ({"query": "   \n"}, "empty"),
        ({"query": "?! -- ..."}, "no words"),
        ({"query": "x" * 501}, "too long"),
        ({"query": "harbour", "source": "nowhere"}, "no source 'nowhere'"),
    ] + [
        ({"query": "harbour", "webhook": hook}, "http:// or https://")
        for hook in ("ftp://example.org/x", "file:///etc/passwd", "http://", "hooks.example.org",
                     "javascript:alert(1)", "http://example.org:port/", "http://exa mple.org/",
                     "")
    ]  # fmt: skip
    for kwargs, message in bad:
        with pytest.raises(alerts.AlertError, match=message):
            alerts.add(db, **kwargs)
    assert [a["query"] for a in alerts.list_alerts(db)] == [
        'harbour "expansion plan"', "oyster", "oyster beds"]  # fmt: skip


def test_remove_deletes_the_alert_and_its_hits(db):
    episode = add_fake_episode(db, HARBOUR)
    keep = alerts.add(db, "oyster beds")
    gone = alerts.add(db, "harbour expansion")
    assert len(alerts.check(db, [episode])) == 2
    assert alerts.remove(db, gone["id"])["query"] == "harbour expansion"
    assert [a["id"] for a in alerts.list_alerts(db)] == [keep["id"]]
    assert hits_of(db, gone["id"]) == [] and len(hits_of(db, keep["id"])) == 1
    with pytest.raises(alerts.AlertError, match="no alert"):
        alerts.remove(db, gone["id"])
    for typed in ("abc", "-1", "0", "1.5", "99999999999999999999", "١"):
        with pytest.raises(alerts.AlertError, match="no alert"):
            alerts.parse_id(typed)
    assert alerts.parse_id(" #7 ") == 7


def test_cli_alert_commands_and_one_line_errors(env):
    store.open_db(env["INDEXER_DB"]).close()
    added = run(["alert", "add", "harbour expansion", "--webhook", "http://127.0.0.1:9/h",
                 "--json"], env)  # fmt: skip
    assert added.exit_code == 0, added.output
    alert = json.loads(added.stdout)
    assert alert["query"] == "harbour expansion" and alert["webhook"] == "http://127.0.0.1:9/h"
    listed = run(["alert", "list"], env)
    assert f"/alerts/{alert['id']}.atom" in listed.stdout and '"harbour expansion"' in listed.stdout
    assert [a["id"] for a in json.loads(run(["alert", "list", "--json"], env).stdout)] == [
        alert["id"]]  # fmt: skip
    for args in (["alert", "add", ""], ["alert", "add", "x", "--webhook", "file:///etc/passwd"],
                 ["alert", "add", "x", "--source", "nowhere"], ["alert", "remove", "99"],
                 ["alert", "remove", "abc"], ["alert", "remove", "1", "--json", "--db",
                 env["INDEXER_DB"] + "-missing/x/../y"]):  # fmt: skip
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1, args
        assert "Traceback" not in result.output
    removed = run(["alert", "remove", str(alert["id"])], env)
    assert removed.exit_code == 0 and "removed alert" in removed.stdout
    assert json.loads(run(["alert", "list", "--json"], env).stdout) == []
    for name in ("add", "list", "remove"):
        assert "Example" in run(["alert", name, "--help"], env).stdout, name


# --- checking new episodes -------------------------------------------------------------


def test_check_runs_over_the_given_episodes_only_and_reports_each_once(db):
    old = add_fake_episode(db, HARBOUR, media_id="old", title="Old harbour show")
    alert = alerts.add(db, "harbour expansion")
    new = add_fake_episode(db, HARBOUR, media_id="new", title="New harbour show",
                           url="https://cdn.example.org/new.mp3")  # fmt: skip
    other = add_fake_episode(db, LIBRARY, media_id="lib", title="Library")
    assert len(alerts.check(db, [new, other])) == 1
    assert alerts.check(db, [new, other]) == []  # the same match is not reported again
    [hit] = hits_of(db, alert["id"])
    assert hit["episode_id"] == new and old not in [h["episode_id"] for h in hits_of(db, 1)]
    # "harbour" is the 7th word of the line at 12 s (words every 0.4 s), opened 0.5 s early.
    assert hit["start"] == pytest.approx(12.0 + 6 * 0.4 - 0.5)
    assert hit["link"] == links.deep_link("https://cdn.example.org/new.mp3", hit["start"])
    assert "harbour expansion" in hit["quote"] and hit["next_attempt"] is None  # no webhook


def test_check_keeps_to_the_alert_source_and_the_episode_language(db):
    desk = add_fake_episode(db, HARBOUR, media_id="d", source="https://desk.example/feed")
    other = add_fake_episode(db, HARBOUR, media_id="o", source="https://other.example/feed")
    german = add_fake_episode(db, [(0.0, "Die Mietpreise für Wohnungen steigen weiter.")],
                              media_id="de", language="de")  # fmt: skip
    only_desk = alerts.add(db, "harbour", source="https://desk.example/feed")
    wohnung = alerts.add(db, "Wohnung")  # found as German "Wohnungen" by its stem
    alerts.check(db, [desk, other, german])
    assert [h["episode_id"] for h in hits_of(db, only_desk["id"])] == [desk]
    assert [h["episode_id"] for h in hits_of(db, wohnung["id"])] == [german]


def test_a_phrase_said_as_one_run_is_the_hit(db):
    episode = add_fake_episode(db, [(0.0, "The expansion of the port and the harbour today."),
                                    (60.0, "Nothing else."),
                                    (120.0, "Here is the harbour expansion we promised.")],
                               window=30.0)  # fmt: skip
    alert = alerts.add(db, "harbour expansion")
    alerts.check(db, [episode])
    [hit] = hits_of(db, alert["id"])
    assert hit["start"] == pytest.approx(120.0 + 3 * 0.4 - 0.5)


# --- delivery --------------------------------------------------------------------------


def test_deliver_posts_the_hit_once(db, receiver):
    episode = add_fake_episode(db, HARBOUR, title="Harbour night")
    alert = alerts.add(db, "oyster beds", webhook=receiver.url)
    alerts.check(db, [episode])
    report = alerts.deliver(db)
    assert (report.delivered, report.failed) == (1, 0)
    assert alerts.deliver(db).delivered == 0  # delivered once
    [(method, path, _, body)] = receiver.requests
    assert (method, path) == ("POST", "/hook")
    sent = json.loads(body)
    [hit] = hits_of(db, alert["id"])
    assert sent == {
        "hit_id": hit["id"], "alert_id": alert["id"], "query": "oyster beds",
        "episode_id": episode, "title": "Harbour night", "show": "Test Show",
        "published": "2024-05-01", "start": round(hit["start"], 2),
        "time": links.format_time(hit["start"]), "link": hit["link"], "quote": hit["quote"],
        "found": hit["found"],
    }  # fmt: skip
    assert sent["start"] == pytest.approx(30.0 + 4 * 0.4 - 0.5)
    assert hit["delivered"] and hit["attempts"] == 1 and hit["last_error"] is None
    assert store.get_alert(db, alert["id"])["delivered"] == 1


def test_a_failing_webhook_backs_off_then_gives_up_keeping_the_error(db, receiver):
    receiver.status = 503
    episode = add_fake_episode(db, HARBOUR)
    alert = alerts.add(db, "oyster", webhook=receiver.url)
    alerts.check(db, [episode])
    before = datetime.now(UTC)
    assert alerts.deliver(db).failed == 1
    [hit] = hits_of(db, alert["id"])
    assert hit["attempts"] == 1 and hit["last_error"].startswith("HTTP 503")
    wait = datetime.fromisoformat(hit["next_attempt"]) - before
    assert timedelta(seconds=55) <= wait <= timedelta(seconds=65)  # 1 minute
    assert alerts.deliver(db).failed == 0 and len(receiver.requests) == 1  # not due yet
    db.execute("update alert_hits set next_attempt = '2000-01-01T00:00:00+00:00'")
    before = datetime.now(UTC)
    alerts.deliver(db)
    [hit] = hits_of(db, alert["id"])
    wait = datetime.fromisoformat(hit["next_attempt"]) - before
    assert hit["attempts"] == 2 and timedelta(seconds=115) <= wait <= timedelta(seconds=125)
    db.execute(f"update alert_hits set attempts = {alerts.MAX_ATTEMPTS - 1}, "
               "next_attempt = '2000-01-01T00:00:00+00:00'")  # fmt: skip
    alerts.deliver(db)
    [hit] = hits_of(db, alert["id"])
    assert hit["next_attempt"] is None and hit["delivered"] is None  # given up
    assert hit["last_error"].startswith("HTTP 503") and hit["attempts"] == alerts.MAX_ATTEMPTS
    listed = store.get_alert(db, alert["id"])
    assert (listed["failed"], listed["pending"], listed["last_error"]) == (1, 0, hit["last_error"])
    receiver.status = 200
    count = len(receiver.requests)
    assert alerts.deliver(db).delivered == 0 and len(receiver.requests) == count


def test_unreachable_and_silent_webhooks_fail_fast_and_redirects_are_not_followed(db, receiver):
    episode = add_fake_episode(db, HARBOUR)
    refused = alerts.add(db, "oyster", webhook=closed_port_url())
    moved = alerts.add(db, "harbour", webhook=receiver.url)
    alerts.check(db, [episode])
    receiver.status, receiver.location = 307, "file:///etc/passwd"
    report = alerts.deliver(db)
    assert report.failed == 2 and report.delivered == 0
    assert "refused" in hits_of(db, refused["id"])[0]["last_error"].lower()
    assert "307" in hits_of(db, moved["id"])[0]["last_error"]
    assert "redirects are not followed" in hits_of(db, moved["id"])[0]["last_error"]
    assert [r[0] for r in receiver.requests] == ["POST"]  # nothing went to the Location

    # A webhook that never answers costs at most the timeout, and the run its budget.
    receiver.status, receiver.location, receiver.hold = 200, None, threading.Event()
    db.execute("update alert_hits set next_attempt = '2000-01-01T00:00:00+00:00'")
    began = time.monotonic()
    report = alerts.deliver(db, timeout=0.5, budget=0.8)
    assert time.monotonic() - began < 3
    assert report.failed + report.postponed == 2
    assert "no answer within" in hits_of(db, moved["id"])[0]["last_error"]
    receiver.hold.set()


def test_alerts_never_fail_indexing(db, caplog):
    episode = add_fake_episode(db, HARBOUR)
    alert = alerts.add(db, "oyster", webhook=closed_port_url())
    db.execute("drop table alert_hits")  # whatever goes wrong here: a logged line, no exception
    report = alerts.after_indexing(db, [episode])
    assert report.hits == 0 and not report
    assert all(len(r.getMessage().splitlines()) == 1 for r in caplog.records)
    assert any("alerts: could not" in r.getMessage() for r in caplog.records)
    assert alert["id"]


# --- the Atom feed ---------------------------------------------------------------------


def test_atom_feed_escapes_everything_and_404s(tmp_path):
    path = tmp_path / "feed.db"
    db = store.open_db(path)
    episode = add_fake_episode(db, [(5.0, "The <b>harbour</b> & co \x07 said “so”.")],
                               title='<script>alert("t")</script>')  # fmt: skip
    alert = alerts.add(db, "harbour <b>")
    alerts.check(db, [episode])
    client = web.create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    response = client.get(f"/alerts/{alert['id']}.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    assert b"<script>" not in response.data
    feed = ET.fromstring(response.data)
    assert feed.tag == f"{A}feed" and feed.findtext(f"{A}title") == "Alert: harbour <b>"
    [entry] = feed.findall(f"{A}entry")
    assert entry.findtext(f"{A}title") == '<script>alert("t")</script> at 0:00:04'
    assert "&" in entry.findtext(f"{A}summary") and "\x07" not in entry.findtext(f"{A}summary")
    assert client.get("/alerts/999.atom").status_code == 404
    assert client.get(f"/alerts/{2**70}.atom").status_code == 404


# --- end to end: follow, alert, refresh -------------------------------------------------


def vtt(cues: list[tuple[int, str]]) -> str:
    return "WEBVTT\n\n" + "\n".join(
        f"00:00:{s:02d}.000 --> 00:00:{s + 4:02d}.000\n{text}\n" for s, text in cues
    )


def publisher_item(server: MediaServer, n: int, name: str, title: str,
                   cues: list[tuple[int, str]]) -> str:  # fmt: skip
    """A feed item whose transcript the publisher provides (its audio does not exist)."""
    (server.root / f"alerts-{name}.vtt").write_text(vtt(cues))
    date = format_datetime(datetime(2024, 6, 1 + n, 8, tzinfo=UTC))
    return (f"<item><title>{escape(title)}</title><guid>alerts-{name}</guid>"
            f"<pubDate>{date}</pubDate>"
            f'<enclosure url="{server.url(f"alerts-{name}-missing.mp3")}" type="audio/mpeg"/>'
            f'<podcast:transcript url="{server.url(f"alerts-{name}.vtt")}" type="text/vtt" '
            'language="en"/></item>')  # fmt: skip


def write_feed(server: MediaServer, name: str, items: list[str], age: float) -> str:
    path = server.root / f"{name}.xml"
    path.write_text('<?xml version="1.0"?><rss version="2.0" '
                    'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
                    f"<title>City Desk</title>{''.join(items)}</channel></rss>")  # fmt: skip
    stamp = time.time() - age  # the server's Last-Modified: each version must be newer
    os.utime(path, (stamp, stamp))
    return server.url(path.name)


@pytest.fixture
def desk(media_server: MediaServer) -> dict[str, str]:
    """Items of a show: an old one and a new one that say "harbour expansion", one that doesn't."""
    feed = f"alerts-desk-{time.monotonic_ns()}"  # each test its own feed and episodes
    say = "Harbour expansion plans were approved by the council tonight."
    return {
        "feed": feed,
        "old": publisher_item(media_server, 0, f"{feed}-old", "Last week",
                              [(1, "Welcome back."), (20, say)]),
        "new": publisher_item(media_server, 1, f"{feed}-new", "The harbour vote",
                              [(1, "Welcome to City Desk."), (30, say),
                               (40, "Fishermen worry about the oyster beds.")]),
        "other": publisher_item(media_server, 2, f"{feed}-other", "Library day",
                                [(1, "Our public library opened in nineteen twelve.")]),
    }  # fmt: skip


def test_an_alert_fires_exactly_once_for_a_new_matching_episode(media_server, desk, env,
                                                                receiver):  # fmt: skip
    feed = write_feed(media_server, desk["feed"], [desk["old"]], 100)
    assert run(["follow", feed, "--name", "desk"], env).exit_code == 0
    assert run(["refresh"], env).exit_code == 0  # "Last week" is indexed before the alert

    added = run(["alert", "add", "harbour expansion", "--source", "desk",
                 "--webhook", receiver.url, "--json"], env)  # fmt: skip
    assert added.exit_code == 0, added.output
    alert = json.loads(added.stdout)

    write_feed(media_server, desk["feed"], [desk["old"], desk["new"]], 80)
    result = run(["refresh"], env)
    assert result.exit_code == 0, result.output
    assert "1 new" in result.stdout and "alerts: 1 new hit, 1 delivered" in result.stdout
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    new = db.execute("select id, webpage_url from episodes where title = 'The harbour vote'"
                     ).fetchone()  # fmt: skip
    [sent] = receiver.delivered  # one POST: the new episode, not last week's
    assert sent["episode_id"] == new[0] and sent["title"] == "The harbour vote"
    assert sent["alert_id"] == alert["id"] and sent["query"] == "harbour expansion"
    assert sent["show"] == "City Desk" and sent["published"] == "2024-06-02"
    assert sent["start"] == pytest.approx(29.5) and sent["time"] == "0:00:29"
    assert sent["link"] == links.deep_link(new[1], 29.5)
    assert sent["quote"].startswith("Harbour expansion plans")

    # Nothing new, then a new episode that doesn't say it: no more POSTs.
    again = json.loads(run(["refresh", "--json"], env).stdout)
    assert again["new"] == 0 and again["alerts"] == {
        "hits": 0, "delivered": 0, "failed": 0, "postponed": 0}  # fmt: skip
    write_feed(media_server, desk["feed"], [desk["old"], desk["new"], desk["other"]], 60)
    third = json.loads(run(["refresh", "--json"], env).stdout)
    assert third["new"] == 1 and third["alerts"]["hits"] == 0
    assert len(receiver.requests) == 1

    listed = json.loads(run(["alert", "list", "--json"], env).stdout)
    assert [(a["hits"], a["delivered"], a["pending"]) for a in listed] == [(1, 1, 0)]

    client = web.create_app({"DATABASE": env["INDEXER_DB"], "TESTING": True}).test_client()
    response = client.get(f"/alerts/{alert['id']}.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed_xml = ET.fromstring(response.data)
    assert feed_xml.find(f"{A}link[@rel='self']").get("href").endswith(
        f"/alerts/{alert['id']}.atom")  # fmt: skip
    [entry] = feed_xml.findall(f"{A}entry")
    assert entry.findtext(f"{A}title") == "The harbour vote at 0:00:29"
    assert entry.find(f"{A}link").get("href") == sent["link"]
    assert entry.findtext(f"{A}summary") == sent["quote"]
    assert entry.findtext(f"{A}id").startswith("urn:uuid:") and entry.findtext(f"{A}updated")


def test_a_down_webhook_does_not_fail_the_refresh_and_is_delivered_later(media_server, desk,
                                                                         env, receiver, caplog):  # fmt: skip
    feed = write_feed(media_server, desk["feed"], [desk["other"]], 100)
    run(["follow", feed], env)
    run(["refresh"], env)
    assert run(["alert", "add", "oyster beds", "--webhook", receiver.url], env).exit_code == 0
    receiver.status = 503  # down

    write_feed(media_server, desk["feed"], [desk["other"], desk["new"]], 80)
    result = run(["refresh", "--json"], env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["new"] == 1 and summary["failed"] == 0
    assert summary["alerts"] == {"hits": 1, "delivered": 0, "failed": 1, "postponed": 0}
    [warning] = [r.getMessage() for r in caplog.records if r.name == "indexer.alerts"]
    assert "HTTP 503" in warning and "next try after" in warning and "\n" not in warning
    assert "/hook" not in warning  # the host only: a webhook's path may hold its secret
    db = store.open_db(env["INDEXER_DB"])
    [hit] = hits_of(db, 1)
    assert hit["attempts"] == 1 and hit["last_error"].startswith("HTTP 503")
    assert hit["delivered"] is None and hit["next_attempt"] > datetime.now(UTC).isoformat()
    assert "last error: HTTP 503" in run(["alert", "list"], env).stdout

    receiver.status = 200  # up again; the retry is not due yet, so nothing is sent
    assert json.loads(run(["refresh", "--json"], env).stdout)["alerts"]["delivered"] == 0
    assert receiver.delivered == []
    db.execute("update alert_hits set next_attempt = '2000-01-01T00:00:00+00:00'")
    later = run(["refresh"], env)
    assert later.exit_code == 0 and "alerts: 0 new hits, 1 delivered" in later.stdout
    [sent] = receiver.delivered
    # Placed where `indexer search` places it: on the words' times inside the 40 s cue.
    [searched] = json.loads(run(["search", "oyster beds", "--json"], env).stdout)
    assert sent["title"] == "The harbour vote" and 40 < sent["start"] < 44
    assert (sent["start"], sent["link"]) == (searched["start"], searched["url"])
    assert len([r for r in receiver.requests if r[0] == "POST"]) == 2  # one failed, one taken
    [hit] = hits_of(db, 1)
    assert hit["delivered"] and hit["next_attempt"] is None and hit["attempts"] == 2


def test_add_checks_its_new_episodes_too(media_server, desk, env, receiver):
    feed = write_feed(media_server, desk["feed"], [desk["new"]], 100)
    assert run(["alert", "add", "oyster beds", "--webhook", receiver.url], env).exit_code == 0
    result = run(["add", feed, "--json"], env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["alerts"]["delivered"] == 1
    assert [s["title"] for s in receiver.delivered] == ["The harbour vote"]
    again = run(["add", feed, "--force", "--json"], env)  # indexed again: not a new match
    assert json.loads(again.stdout)["alerts"]["hits"] == 0 and len(receiver.requests) == 1
