"""Editor accounts, corrections of transcript lines and show vocabularies (CLI and web)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

import web
from indexer import accounts, corrections, search, store, transcribe
from indexer.cli import cli
from tests.conftest import add_fake_episode

PASSWORD = "correct horse battery"
LINES = [(0.0, "Good evening from the harbour."),
         (5.0, "A man of support said the vote was rigged."),
         (10.0, "The council meets again on Tuesday.")]  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "fix.db"
    db = store.open_db(path)
    episode = add_fake_episode(db, LINES, title="Vote night", window=45.0)
    accounts.add_user(db, "ana", PASSWORD)
    db.close()
    return {"path": str(path), "episode": episode, "env": {"INDEXER_DB": str(path)}}


@pytest.fixture
def client(site: dict[str, Any]) -> FlaskClient:
    return web.create_app({"DATABASE": site["path"], "TESTING": True}).test_client()


def token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', page)  # fmt: skip
    assert match, page
    return match.group(1)


def log_in(client: FlaskClient, name: str = "ana", password: str = PASSWORD) -> Any:
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token(client), "next": "/"})  # fmt: skip


def test_accounts_hash_passwords_and_refuse_bad_ones(site):
    db = store.open_db(site["path"])
    user = store.get_user(db, "ANA")  # names are case-blind
    assert user and user["password_hash"].startswith(("scrypt:", "pbkdf2:"))
    assert PASSWORD not in json.dumps(user)
    assert accounts.authenticate(db, "ana", PASSWORD)["name"] == "ana"
    assert accounts.authenticate(db, "ana", "wrong password!") is None
    assert accounts.authenticate(db, "nobody", PASSWORD) is None
    for name, password, message in [("a", PASSWORD, "bad user name"), ("bob", "short", "too short"),
                                    ("ana", PASSWORD, "already")]:  # fmt: skip
        with pytest.raises(accounts.AccountError, match=message):
            accounts.add_user(db, name, password)


def test_cli_user_commands(site):
    runner = CliRunner()
    added = runner.invoke(cli, ["user", "add", "ben", "--password-stdin"],
                          input="another long password\n", env=site["env"])  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["user", "list", "--json"], env=site["env"])
    assert [u["name"] for u in json.loads(listed.output)] == ["ana", "ben"]
    assert "password" not in listed.output
    short = runner.invoke(cli, ["user", "add", "cy", "--password-stdin"], input="short\n",
                          env=site["env"])  # fmt: skip
    assert short.exit_code == 1 and "too short" in short.output and "Traceback" not in short.output
    assert runner.invoke(cli, ["user", "remove", "ben"], env=site["env"]).exit_code == 0
    gone = runner.invoke(cli, ["user", "remove", "ben"], env=site["env"])
    assert gone.exit_code == 1 and "no user 'ben'" in gone.output


def test_wrong_passwords_are_refused_without_telling_which_part(client):
    wrong = log_in(client, password="not the password")
    unknown = log_in(client, name="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong name or password." in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count("Wrong name or password.") == 1

    def page(r: Any) -> str:  # the pages differ only in their CSRF token (it holds a time)
        return re.sub(r'name="csrf_token" value="[^"]+"', "", r.get_data(as_text=True))

    assert page(unknown) == page(wrong)
    # and a log-in form without its CSRF token is refused
    assert client.post("/login", data={"name": "ana", "password": PASSWORD}).status_code == 400


def test_anonymous_requests_cannot_edit(client, site):
    url = f"/episodes/{site['episode']}/correct"
    assert client.post(url, data={"t": "5", "text": "x"}).status_code in (400, 401)
    r = client.post(url, data={"t": "5", "text": "x", "csrf_token": token(client)},
                    headers={"Accept": "application/json"})  # fmt: skip
    assert r.status_code == 401 and r.get_json()["message"] == "Log in to correct transcripts."
    page = client.get(f"/episodes/{site['episode']}").get_data(as_text=True)
    assert "edit-line" not in page and 'href="/login' in page
    # the public search stays anonymous and read-only
    assert client.get("/?q=harbour").status_code == 200


def test_a_logged_in_editor_corrects_a_line(client, site):
    assert log_in(client).status_code == 302
    episode = site["episode"]
    page = client.get(f"/episodes/{episode}").get_data(as_text=True)
    assert "edit-line" in page and "Log out" in page
    url = f"/episodes/{episode}/correct"
    csrf = token(client, f"/episodes/{episode}")
    # CSRF is enforced for logged-in editors too
    assert client.post(url, data={"t": "5", "text": "x"}).status_code == 400
    r = client.post(url, data={"t": "6.2", "text": "A MAGA supporter said the vote was rigged.",
                               "csrf_token": csrf}, headers={"Accept": "application/json"})  # fmt: skip
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["correction"]["old_text"] == LINES[1][1]
    # searchable at once, through the server's own read-only connection
    hits = client.get("/api/search?q=MAGA+supporter").get_json()["hits"]
    assert [h["start"] for h in hits] and 4.0 <= hits[0]["start"] <= 6.0
    old = client.get("/api/search?q=%22man+of+support%22").get_json()["hits"]
    assert all(h["partial"] for h in old)
    page = client.get(f"/episodes/{episode}").get_data(as_text=True)
    assert "corrected by an editor" in page and "A MAGA supporter said" in page
    api = client.get(f"/api/episodes/{episode}").get_json()["segments"]
    assert [s["corrected_by"] for s in api] == [None, "ana", None]
    vtt = client.get(f"/episodes/{episode}/transcript.vtt").get_data(as_text=True)
    assert "NOTE corrected by an editor\n\n00:00:05.000" in vtt
    doc = json.loads(client.get(f"/episodes/{episode}/transcript.json").get_data(as_text=True))
    assert {s["body"] for s in doc["segments"] if s.get("corrected")} >= {"MAGA", "supporter"}
    txt = client.get(f"/episodes/{episode}/transcript.txt").get_data(as_text=True)
    assert "rigged. [corrected]" in txt
    bad = client.post(url, data={"t": "5", "text": "  ", "csrf_token": csrf},
                      headers={"Accept": "application/json"})  # fmt: skip
    assert bad.status_code == 400 and "empty" in bad.get_json()["message"]
    client.post("/logout", data={"csrf_token": csrf})
    assert client.post(url, data={"t": "5", "text": "x", "csrf_token": token(client)},
                       headers={"Accept": "application/json"}).status_code == 401  # fmt: skip


def test_words_are_retimed_over_the_line_and_survive_rechunk(site):
    db = store.open_db(site["path"])
    done = corrections.correct_line(db, site["episode"], 5.0, "A MAGA supporter said so.", "ana")
    line = store.get_segments(db, site["episode"])[1]
    assert (line.start, line.end, line.text) == (
        done["start"],
        done["end"],
        "A MAGA supporter said so.",
    )
    assert [w.text for w in line.words] == ["A", "MAGA", "supporter", "said", "so."]
    assert line.words[0].start == line.start and abs(line.words[-1].end - line.end) < 0.01
    assert all(a.end <= b.start + 1e-6 for a, b in zip(line.words, line.words[1:], strict=False))
    runner = CliRunner()
    assert runner.invoke(cli, ["rechunk", "--chunk-seconds", "5"], env=site["env"]).exit_code == 0
    db = store.open_db(site["path"])
    assert search.search(db, "MAGA").hits
    assert all(h.partial for h in search.search(db, '"man of support"').hits)
    assert store.get_segments(db, site["episode"])[1].text == "A MAGA supporter said so."


def test_cli_correct(site):
    runner = CliRunner()
    r = runner.invoke(cli, ["correct", str(site["episode"]), "0:10", "The council meets on Monday.",
                            "--editor", "ben", "--json"], env=site["env"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["editor"] == "ben"
    db = store.open_db(site["path"], readonly=True)
    assert search.search(db, "Monday").hits
    missing = runner.invoke(cli, ["correct", "999", "0:10", "x"], env=site["env"])
    assert missing.exit_code == 1 and "no episode" in missing.output
    empty = runner.invoke(cli, ["correct", str(site["episode"]), "0:10", " "], env=site["env"])
    assert empty.exit_code == 1 and "empty" in empty.output


def test_vocabulary_of_a_show_becomes_hints(site):
    runner = CliRunner()
    show = "https://example.com/feed.xml"
    assert runner.invoke(cli, ["vocab", "add", show, "Yekaterinburg", "Okonkwo"],
                         env=site["env"]).exit_code == 0  # fmt: skip
    again = runner.invoke(cli, ["vocab", "add", show, "Okonkwo"], env=site["env"])
    assert "already there" in again.output
    listed = runner.invoke(cli, ["vocab", "list", show, "--json"], env=site["env"])
    assert json.loads(listed.output) == ["Yekaterinburg", "Okonkwo"]
    nowhere = runner.invoke(cli, ["vocab", "list", "no such show"], env=site["env"])
    assert nowhere.exit_code == 1 and "no show" in nowhere.output
    hints = transcribe.build_hints("Vote night", "Notes.", ["Yekaterinburg", "Okonkwo"])
    assert hints and hints.startswith("Vote night. Yekaterinburg, Okonkwo")
    assert runner.invoke(cli, ["vocab", "remove", show, "Okonkwo"], env=site["env"]).exit_code == 0
    db = store.open_db(site["path"])
    assert store.vocab_of(db, store.find_source(db, show)["id"]) == ["Yekaterinburg"]


def test_a_name_in_a_show_vocabulary_is_found_by_a_near_spelling(site):
    db = store.open_db(site["path"])
    episode = add_fake_episode(db, [(0.0, "We report tonight from Yekaterinburg in the Urals.")],
                               title="Urals", media_id="urals")  # fmt: skip
    assert not search.search(db, "Ekaterinburg").hits  # a spelling the transcript lacks
    store.add_vocab(db, store.find_source(db, "https://example.com/feed.xml")["id"],
                    "Yekaterinburg")  # fmt: skip
    hits = search.search(db, "Ekaterinburg").hits
    assert hits and hits[0].episode_id == episode and not hits[0].partial
    assert not search.search(db, "Ekaterinxyz").hits  # only a letter or two off


def test_logging_in_never_redirects_to_another_site(client):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        r = client.post("/login", data={"name": "ana", "password": PASSWORD, "next": target,
                                        "csrf_token": token(client)})  # fmt: skip
        assert r.status_code == 302 and r.headers["Location"] in ("/", "http://localhost/"), target
        client.post("/logout", data={"csrf_token": token(client, "/episodes/1")})
    r = client.post("/login", data={"name": "ana", "password": PASSWORD, "next": "/episodes/1",
                                    "csrf_token": token(client)})  # fmt: skip
    assert r.headers["Location"].endswith("/episodes/1")


def test_every_server_process_reads_the_session_key_once_an_editor_exists(tmp_path):
    """Two apps stand for two gunicorn workers started before the first `indexer user add`."""
    path = tmp_path / "late.db"
    db = store.open_db(path)
    episode = add_fake_episode(db, LINES, title="Late")
    db.close()
    one = web.create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    two = web.create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    one.get("/")
    two.get("/")  # both started with keys of their own
    accounts.add_user(store.open_db(path), "ana", PASSWORD)
    assert log_in(one).status_code == 302
    two.set_cookie("session", one.get_cookie("session").value)  # the next request, elsewhere
    page = two.get(f"/episodes/{episode}").get_data(as_text=True)
    assert "edit-line" in page and "Log out" in page
