"""Pages and JSON API. No SQL here: everything goes through indexer.store and indexer.search."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
)
from markupsafe import Markup, escape

from indexer import export, links, search, store
from indexer.models import Hit

from . import get_db

bp = Blueprint("web", __name__)
# Ids past SQLite's 64-bit INTEGER would overflow in the query: make them plain 404s.
EPISODE_ID = f"int(max={2**63 - 1})"


def marks(snippet: str) -> Markup:
    """Escape a snippet first, then turn the match markers into <mark>."""
    safe = str(escape(snippet))
    return Markup(safe.replace(store.MARK_START, "<mark>").replace(store.MARK_END, "</mark>"))


def href(url: str | None) -> str:
    """The URL if it is safe as a link target (http, https or file), else ''."""
    try:
        scheme = urlsplit(url or "").scheme.lower()
    except ValueError:
        return ""
    return url if url and scheme in ("http", "https", "file") else ""


def clock(seconds: float | None) -> str:
    """h:mm:ss for display."""
    return links.format_time(seconds or 0)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"'{name}' must be a whole number")
    if not low <= value <= high:
        abort(400, f"'{name}' must be between {low} and {high}")
    return value


def _search_args() -> dict[str, Any]:
    q = request.args.get("q", "")
    if len(q) > current_app.config["MAX_QUERY_CHARS"]:
        abort(400, f"The query is too long: use at most {current_app.config['MAX_QUERY_CHARS']} "
                   "characters.")  # fmt: skip
    return {
        "text": q,
        "source": request.args.get("source") or None,
        "date_from": request.args.get("from") or None,
        "date_to": request.args.get("to") or None,
        "language": _language_arg(),
        "advanced": request.args.get("mode") == "advanced",
    }


def _language_arg() -> str | None:
    value = (request.args.get("lang") or "").strip()
    if value and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?", value):
        abort(400, "'lang' must be a language code such as en, de or pt-BR")
    return value or None


def _run_search(args: dict[str, Any], limit: int, offset: int) -> search.Results:
    try:
        return search.search(get_db(), limit=limit, offset=offset, **args)
    except search.QueryError as exc:
        abort(400, str(exc))


def _has_next(results: search.Results | None, page: int, page_size: int) -> bool:
    """More results after this page: exact matches left, or a full page of partial ones."""
    if results is None or len(results.hits) < page_size:
        return False
    return page * page_size < results.total or results.partial


def _episode_or_404(episode_id: int) -> tuple[Any, dict[str, Any]]:
    db = get_db()
    row = store.get_episode(db, episode_id)
    if row is None:
        abort(404, f"No episode {episode_id}.")
    return db, row


def _group(hits: list[Hit]) -> list[dict[str, Any]]:
    """Hits grouped by episode, episodes in the order of their best hit."""
    groups: dict[int, dict[str, Any]] = {}
    for hit in hits:
        groups.setdefault(hit.episode_id, {"episode": hit, "hits": []})["hits"].append(hit)
    return list(groups.values())


@bp.get("/")
def index() -> tuple[str, int]:
    args = _search_args()
    page_size = current_app.config["PAGE_SIZE"]
    page = _int_arg("page", 1, 1, current_app.config["MAX_OFFSET"] // page_size + 1)
    results, error = None, None
    if args["text"].strip():
        try:
            results = search.search(get_db(), limit=page_size, offset=(page - 1) * page_size,
                                    **args)  # fmt: skip
        except search.QueryError as exc:
            error = str(exc)
    return render_template(
        "search.html",
        q=args["text"],
        args=args,
        results=results,
        groups=_group(results.hits) if results else [],
        error=error,
        page=page,
        has_next=_has_next(results, page, page_size),
        count_cap=store.COUNT_CAP,
        sources=store.list_sources(get_db()),
        languages=[code for code in store.languages(get_db()) if code],
    ), 400 if error else 200


@bp.get(f"/episodes/<{EPISODE_ID}:episode_id>")
def episode(episode_id: int) -> str:
    db, row = _episode_or_404(episode_id)
    start = 0.0
    if request.args.get("t"):
        try:
            start = links.parse_time(request.args["t"])
        except links.TimeFormatError as exc:
            abort(400, str(exc))
    page = row["webpage_url"] or row["media_url"] or ""
    stored = store.get_segments(db, episode_id)
    segments = [
        {"start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker,
         "link": links.link_at(page, s.start)}
        for s in stored
    ]  # fmt: skip
    # The line being spoken at `start`, or the next one when `start` falls in a pause (a hit
    # opens half a second before its first word, often just after the previous line ends).
    current = next((i for i, s in enumerate(stored) if s.end > start), len(stored) - 1)
    return render_template(
        "episode.html",
        episode=row,
        segments=segments,
        start=start,
        current=current,
        page_url=page,
        player=_player(row, start),
        formats=export.FORMATS,
    )


def _player(row: dict[str, Any], start: float) -> dict[str, str] | None:
    """How to play the episode in the page: our copy, the platform's embed, or the media URL."""
    if row.get("local_path") and Path(row["local_path"]).is_file():
        return {"kind": "audio", "src": f"/media/{row['id']}"}
    for url in (row.get("webpage_url"), row.get("media_url")):
        if url and links.youtube_embed(url):
            return {"kind": "youtube", "src": links.youtube_embed(url, start) or ""}
        web = url and url.startswith(("http://", "https://")) and links.link_at(url, 0)
        if url and web and links.platform_of(url) == "media":  # link_at: a URL that parses
            return {"kind": "audio", "src": url}
    return None


# The Podcasting 2.0 <podcast:transcript type="..."> of each format.
TRANSCRIPT_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", "json": "application/json",
                    "txt": "text/plain"}  # fmt: skip


@bp.get(f"/episodes/<{EPISODE_ID}:episode_id>/transcript.<fmt>")
def transcript(episode_id: int, fmt: str) -> Response:
    """The transcript file, inline for players (a feed's <podcast:transcript> can point
    here); ?download=1 makes it an attachment, as the episode page links it."""
    if fmt not in export.FORMATS:
        abort(404, f"No transcript format '{fmt}'; use srt, vtt, json or txt.")
    db, row = _episode_or_404(episode_id)
    body = export.export_transcript(store.get_segments(db, episode_id), fmt, title=row["title"],
                                    language=row["language"])  # fmt: skip
    response = Response(body, mimetype=TRANSCRIPT_TYPES[fmt])
    # Web players fetch the file from their own origin; the spec asks hosts for CORS.
    response.headers["Access-Control-Allow-Origin"] = "*"
    if request.args.get("download") == "1":
        response.headers["Content-Disposition"] = (
            f'attachment; filename="episode-{episode_id}.{fmt}"'
        )
    return response


@bp.get(f"/media/<{EPISODE_ID}:episode_id>")
def media(episode_id: int) -> Response:
    row = store.get_episode(get_db(), episode_id)
    if row is None or not row.get("local_path") or not Path(row["local_path"]).is_file():
        abort(404, "No local media for this episode.")
    return send_file(row["local_path"], conditional=True)


@bp.get("/link")
def link_page() -> tuple[str, int]:
    url, t = request.args.get("url", ""), request.args.get("t", "")
    result, error = None, None
    if url or t:
        try:
            result = _link(url, t)
        except ValueError as exc:
            error = str(exc)
    return render_template("link.html", url=url, t=t, result=result, error=error), (
        400 if error else 200
    )


def _link(url: str, t: str) -> dict[str, Any]:
    if not url.strip():
        raise ValueError("Give the URL of a video, episode or media file.")
    if len(url) > 2000:
        raise ValueError("The URL is too long.")
    seconds = links.parse_time(t or "0")
    made = links.deep_link(url, seconds)
    # A web visitor's link must open on the web: no javascript:, data: or server paths.
    if urlsplit(made).scheme not in ("http", "https"):
        raise ValueError("Give an http:// or https:// URL of a video, episode or media file.")
    return {
        "url": made,
        "start": seconds,
        "platform": links.platform_of(url),
    }


# --- JSON API -------------------------------------------------------------------------


@bp.get("/api/search")
def api_search() -> Response:
    args = _search_args()
    if not args["text"].strip():
        abort(400, "Missing query: pass ?q=words")
    limit = _int_arg("limit", 20, 1, current_app.config["MAX_LIMIT"])
    offset = _int_arg("offset", 0, 0, current_app.config["MAX_OFFSET"])
    results = _run_search(args, limit, offset)
    return jsonify(
        query=args["text"],
        total=min(results.total, store.COUNT_CAP),
        total_capped=results.capped,
        limit=limit,
        offset=offset,
        partial=results.partial,
        hits=[h.as_dict() for h in results.hits],
    )


@bp.get(f"/api/episodes/<{EPISODE_ID}:episode_id>")
def api_episode(episode_id: int) -> Response:
    db, row = _episode_or_404(episode_id)
    page = row["webpage_url"] or row["media_url"] or ""
    fields = ("id", "title", "channel", "published", "duration", "webpage_url", "media_url",
              "language", "thumbnail", "transcript_origin", "model", "indexed_at",
              "source_url", "source_name")  # fmt: skip
    return jsonify(
        episode={k: row.get(k) for k in fields},
        segments=[
            {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text,
             "speaker": s.speaker, "url": links.link_at(page, s.start) or None}
            for s in store.get_segments(db, episode_id)
        ],
    )  # fmt: skip


@bp.get("/api/link")
def api_link() -> Response:
    try:
        return jsonify(_link(request.args.get("url", ""), request.args.get("t", "")))
    except ValueError as exc:
        abort(400, str(exc))
