"""Alerts: saved searches run over each newly indexed episode, reported once by webhook and feed."""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from . import __version__, analyze, links, search, store
from .models import Hit

MAX_QUERY_CHARS = 500
# Delivery: each POST may take POST_TIMEOUT seconds, a whole run DELIVERY_SECONDS; what
# is left over waits for the next run. A failed hit is tried again after 1, 2, 4, ...
# minutes, MAX_ATTEMPTS times in all (the last wait is about 17 hours), then given up.
POST_TIMEOUT = 5.0
DELIVERY_SECONDS = 20.0
RETRY_SECONDS = 60.0
MAX_ATTEMPTS = 12
USER_AGENT = f"podcast-indexer/{__version__} (alerts)"
ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 100
log = logging.getLogger(__name__)


class AlertError(ValueError):
    """An alert can't be saved or found (bad query, webhook or source; unknown id)."""


@dataclass
class Report:
    """What the alerts did after an `add` or `refresh`."""

    hits: int = 0  # new hits recorded
    delivered: int = 0
    failed: int = 0  # deliveries that failed this run (tried again later, or given up)
    postponed: int = 0  # due, but left for the next run (out of time)

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return asdict(self)

    def __bool__(self) -> bool:
        return any((self.hits, self.delivered, self.failed, self.postponed))


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")  # the form store._now() writes


# --- saved alerts ----------------------------------------------------------------------


def check_webhook(url: str) -> str:
    """The webhook URL, stripped, if it is http(s) with a host; else AlertError."""
    text = url.strip()
    bad = AlertError(f"the webhook must be an http:// or https:// URL with a host, not {text!r}")
    if not text or len(text) > 2000 or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise bad
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise bad from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise bad
    return text


def add(db: sqlite_utils.Database, query: str, *, source: str | None = None,
        webhook: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Save an alert for a query (optionally one source's episodes, and a webhook to POST
    hits to); returns it as `list_alerts` shows it."""
    text = " ".join(query.split())
    if not text:
        raise AlertError("the alert's query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise AlertError(f"the alert's query is too long: use at most {MAX_QUERY_CHARS} characters")
    try:
        search.parse_query(text)
    except search.QueryError as exc:
        raise AlertError(f"can't use {text!r} as an alert: {exc}") from None
    hook = check_webhook(webhook) if webhook is not None else None
    source_id = None
    if source is not None:
        row = store.find_source(db, source)
        if row is None:
            raise AlertError(f"no source {source!r}; see 'indexer sources'")
        source_id = int(row["id"])
    alert = store.get_alert(db, store.add_alert(db, text, source_id, hook))
    assert alert is not None
    return alert


def list_alerts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every alert with its source and how many hits it found, delivered, has pending."""
    return store.list_alerts(db)


def parse_id(text: str) -> int:
    """An alert id as typed; AlertError for anything but a whole number."""
    value = text.strip().lstrip("#")
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 2**63:
        raise AlertError(f"no alert {text!r}: give its number, see 'indexer alert list'")
    return int(value)


def get(db: sqlite_utils.Database, alert_id: int) -> dict[str, Any]:
    """One alert; AlertError when there is none."""
    alert = store.get_alert(db, alert_id)
    if alert is None:
        raise AlertError(f"no alert {alert_id}; see 'indexer alert list'")
    return alert


def remove(db: sqlite_utils.Database, alert_id: int) -> dict[str, Any]:
    """Delete an alert and its hits; returns what it was."""
    alert = get(db, alert_id)
    store.remove_alert(db, alert_id)
    return alert


# --- checking new episodes -------------------------------------------------------------


def check(db: sqlite_utils.Database, episode_ids: Iterable[int]) -> list[int]:
    """Run every alert over these (newly indexed) episodes only; record the best hit of each
    matching episode, each (alert, episode) once. Returns the new hits' ids."""
    episodes = store.episodes_for_alerts(db, episode_ids)
    saved = store.list_alerts(db) if episodes else []
    found = []
    for alert in saved:
        pool = [e for e in episodes if alert["source_id"] in (None, e["source_id"])]
        for hit in best_hits(db, alert["query"], pool):
            found.append({"alert_id": alert["id"], "episode_id": hit.episode_id,
                          "start": hit.start, "quote": hit.quote, "snippet": hit.snippet,
                          "link": hit.url})  # fmt: skip
    return store.record_alert_hits(db, found) if found else []


def best_hits(db: sqlite_utils.Database, text: str, episodes: Sequence[dict[str, Any]]
              ) -> list[Hit]:  # fmt: skip
    """The best hit of a query in each of these episodes that says every word of it.

    The query is analysed in each episode's language, as search does; within an episode a
    passage saying the words as one run comes first, then bm25; the hit is placed on the
    words' timestamps by search's own code.
    """
    by_language: dict[str | None, list[int]] = {}
    for episode in episodes:
        code = analyze.language_code(episode["language"])
        by_language.setdefault(code, []).append(int(episode["id"]))
    hits: list[Hit] = []
    for language, ids in by_language.items():
        try:
            query = search.parse_query(text, language)
        except search.QueryError:
            continue  # no words in this language's analysis
        rows = store.match_in_episodes(db, query.strict, ids)
        rows.sort(key=lambda r: (not search.proximity(r["search_text"] or "", query)[0], r["rank"]))
        best: dict[int, dict[str, Any]] = {}
        for row in rows:
            best.setdefault(row["episode_id"], row)
        hits += search.hits_for(db, list(best.values()), query)
    return hits


# --- webhook delivery ------------------------------------------------------------------


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON a webhook receives for one hit."""
    start = float(row["start"])
    return {
        "hit_id": row["id"],
        "alert_id": row["alert_id"],
        "query": row["query"],
        "episode_id": row["episode_id"],
        "title": row["title"],
        "show": row["channel"],
        "published": row["published"],
        "start": round(start, 2),
        "time": links.format_time(start),
        "link": row["link"],
        "quote": row["quote"],
        "found": row["found"],
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A POST is never re-sent elsewhere (urllib would turn it into a GET, or follow a
    # redirect to ftp://): a redirect fails the delivery with its status.
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:  # fmt: skip
        return None


def post(url: str, body: dict[str, Any], timeout: float = POST_TIMEOUT) -> None:
    """POST JSON to an http(s) URL; raises OSError, ValueError or HTTPException on failure."""
    check_webhook(url)
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
    })  # fmt: skip
    opener = urllib.request.build_opener(_NoRedirects)
    with opener.open(request, timeout=timeout):
        pass  # any 2xx; the answer's body is not needed


def _describe(exc: BaseException, timeout: float) -> str:
    """One line saying why a POST failed."""
    if isinstance(exc, urllib.error.HTTPError):
        note = " (redirects are not followed)" if 300 <= exc.code < 400 else ""
        return f"HTTP {exc.code} {exc.reason}{note}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    text = str(reason) or type(reason).__name__
    return " ".join(text.split())[:500]


def _retry_at(attempts: int, moment: datetime) -> str | None:
    """When to try again after the `attempts`-th failure; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return _stamp(moment + timedelta(seconds=RETRY_SECONDS * 2 ** (attempts - 1)))


def _host(url: str) -> str:
    # Logs name the host only: a webhook's path often holds its secret.
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def deliver(db: sqlite_utils.Database, *, budget: float = DELIVERY_SECONDS,
            timeout: float = POST_TIMEOUT) -> Report:  # fmt: skip
    """POST every due hit to its alert's webhook, within `budget` seconds in all.

    A failure is recorded with its error and tried again on a later run (1, 2, 4, ...
    minutes on); after MAX_ATTEMPTS it is given up, the error kept. A webhook that fails
    is not tried again in the same run: its other hits wait with it.
    """
    report = Report()
    began = _now()
    deadline = time.monotonic() + budget
    # Held past the end of this run, so an overlapping run does not post them too.
    rows = store.claim_alert_deliveries(
        db, _stamp(began), _stamp(began + timedelta(seconds=budget + timeout + 60))
    )
    down: dict[str, str] = {}  # webhook -> why it failed this run
    for n, row in enumerate(rows):
        left = deadline - time.monotonic()
        if left <= 0:
            store.alert_postponed(db, [r["id"] for r in rows[n:]], _stamp(_now()))
            report.postponed += len(rows) - n
            break
        url = row["webhook"]
        error = down.get(url)
        if error is None:
            wait = min(timeout, left)
            try:
                post(url, payload(row), timeout=wait)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                error = down[url] = _describe(exc, wait)
            else:
                store.alert_delivered(db, row["id"])
                report.delivered += 1
                continue
        attempts = int(row["attempts"]) + 1
        retry = _retry_at(attempts, _now())
        store.alert_failed(db, row["id"], error, retry)
        report.failed += 1
        then = f"next try after {retry}" if retry else f"given up after {attempts} attempts"
        log.warning(f"alert #{row['alert_id']}: webhook at {_host(url)} failed for hit "
                    f"#{row['id']}: {error}; {then}")  # fmt: skip
    return report


def after_indexing(db: sqlite_utils.Database, episode_ids: Iterable[int], *,
                   budget: float = DELIVERY_SECONDS) -> Report:  # fmt: skip
    """Check the alerts against newly indexed episodes, then deliver what is due.

    Never raises: indexing is done and stays done; a problem here is logged in one line.
    """
    report = Report()
    try:
        report.hits = len(check(db, episode_ids))
    except Exception as exc:  # noqa: BLE001 - alerts must never fail the indexing run
        log.warning(f"alerts: could not check the new episodes: {_describe(exc, 0)}")
    try:
        delivered = deliver(db, budget=budget)
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning(f"alerts: could not deliver to webhooks: {_describe(exc, 0)}")
    else:
        report.delivered, report.failed = delivered.delivered, delivered.failed
        report.postponed = delivered.postponed
    return report


# --- the Atom feed ---------------------------------------------------------------------

# Characters XML 1.0 can't hold, even escaped (a transcript may carry control characters).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: Any) -> str:
    plain = str(text) if text is not None else ""
    return _NOT_XML.sub("", plain.replace(store.MARK_START, "").replace(store.MARK_END, ""))


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _urn(*parts: Any) -> str:
    """A stable Atom id: the same alert and episode keep theirs across runs and servers."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "podcast-indexer:" + ":".join(map(str, parts))).urn


def atom_feed(alert: dict[str, Any], hits: Sequence[dict[str, Any]], *, feed_url: str,
              page_url: str | None = None) -> bytes:  # fmt: skip
    """An Atom 1.0 document of an alert's hits (`store.alert_feed_hits`), newest first."""
    root = ET.Element("feed", {"xmlns": ATOM})
    _sub(root, "title", f"Alert: {alert['query']}")
    _sub(root, "subtitle", f"Where newly indexed episodes say {alert['query']!r}"
                           + (f" ({alert['source_name']})" if alert.get("source_name") else ""))  # fmt: skip
    _sub(root, "id", _urn("alert", alert["id"], alert["created"]))
    _sub(root, "updated", max([h["found"] for h in hits], default=alert["created"]))
    _sub(root, "link", rel="self", type="application/atom+xml", href=feed_url)
    if page_url:
        _sub(root, "link", rel="alternate", type="text/html", href=page_url)
    _sub(_sub(root, "author"), "name", "podcast-indexer")
    _sub(root, "generator", "podcast-indexer", version=__version__)
    for hit in hits:
        clock = links.format_time(float(hit["start"]))
        title = hit["title"] or f"Episode {hit['episode_id']}"
        entry = _sub(root, "entry")
        _sub(entry, "title", f"{title} at {clock}")
        _sub(entry, "id", _urn("alert", alert["id"], alert["created"], "ep", hit["episode_id"]))
        _sub(entry, "published", hit["found"])
        _sub(entry, "updated", hit["found"])
        if hit["link"]:
            _sub(entry, "link", rel="alternate", href=hit["link"])
        _sub(entry, "summary", hit["quote"], type="text")
        where = ", ".join(str(x) for x in (hit["channel"], hit["published"]) if x)
        _sub(entry, "content", "\n".join(
            x for x in (f"“{hit['quote']}”", f"{title}{f' ({where})' if where else ''} at {clock}",
                        hit["link"]) if x
        ), type="text")  # fmt: skip
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
