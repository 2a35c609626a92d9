"""The Atom feed of each alert's hits, for feed readers. No SQL here: indexer.store does it."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request, url_for

from indexer import alerts, store

from . import get_db

bp = Blueprint("alerts", __name__)


@bp.get("/alerts/<int(max=9223372036854775807):alert_id>.atom")
def feed(alert_id: int) -> Response:
    """Atom 1.0: one entry per hit, newest first, with the episode, time, quote and link."""
    db = get_db()
    alert = store.get_alert(db, alert_id)
    if alert is None:
        abort(404, f"No alert {alert_id}.")
    hits = store.alert_feed_hits(db, alert_id, limit=alerts.FEED_ENTRIES)
    body = alerts.atom_feed(alert, hits, feed_url=request.url,
                            page_url=url_for("web.index", q=alert["query"], _external=True))  # fmt: skip
    return Response(body, mimetype="application/atom+xml")
