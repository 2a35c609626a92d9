"""Pages and JSON API. No SQL here: everything goes through indexer.store and indexer.search."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)
from markupsafe import Markup, escape

from indexer import corrections, export, links, search, store
from indexer.models import Hit, Segment

from . import content_security_policy, get_db

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
        "mode": _mode_arg(),
    }


def _mode_arg() -> str:
    """?mode=hybrid (default), keyword or semantic (advanced: FTS5 syntax, by keyword)."""
    mode = request.args.get("mode") or search.DEFAULT_MODE
    if mode == "advanced":
        return "keyword"
    if mode not in search.MODES:
        abort(400, "'mode' must be keyword, semantic, hybrid or advanced")
    return mode


def _searching(args: dict[str, Any], limit: int, offset: int) -> search.Results:
    """The search the arguments ask for: by words, or by meaning (semantic, hybrid)."""
    model = current_app.config["EMBEDDING_MODEL"]
    return search.find(get_db(), limit=limit, offset=offset, model=model, **args)


def _language_arg() -> str | None:
    value = (request.args.get("lang") or "").strip()
    if value and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?", value):
        abort(400, "'lang' must be a language code such as en, de or pt-BR")
    return value or None


def _run_search(args: dict[str, Any], limit: int, offset: int) -> search.Results:
    try:
        return _searching(args, limit, offset)
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
    """Hits grouped by episode, episodes in the order of their best hit, each hit with what
    an editor copies: its citation, clip link and embed."""
    groups: dict[int, dict[str, Any]] = {}
    for hit in hits:
        group = groups.get(hit.episode_id)
        if group is None:
            row = store.get_episode(get_db(), hit.episode_id) or {}
            player = _player(row, hit.start) if row else None
            group = groups[hit.episode_id] = {"episode": hit, "hits": [], "row": row,
                                              "video": bool(player and player["kind"] != "audio")}  # fmt: skip
        group["hits"].append({"hit": hit, **_editor_links(group["row"], hit, group["video"])})
    return list(groups.values())


def _editor_links(row: dict[str, Any], hit: Hit, video: bool) -> dict[str, Any]:
    end = max(hit.end, hit.start + 1.0)
    return {
        "cite": citation_of(row, hit.quote or hit.text, hit.start, end, hit.speaker)
        if row
        else {"plain": "", "markdown": ""},
        "clip": url_for(
            "web.episode",
            episode_id=hit.episode_id,
            t=f"{hit.start:.2f}",
            end=f"{end:.2f}",
            _external=True,
        ),  # fmt: skip
        "embed": embed_html(hit.episode_id, hit.start, end, hit.title, video=video),
    }


@bp.get("/")
def index() -> tuple[str, int]:
    args = _search_args()
    page_size = current_app.config["PAGE_SIZE"]
    page = _int_arg("page", 1, 1, current_app.config["MAX_OFFSET"] // page_size + 1)
    results, error = None, None
    if args["text"].strip():
        try:
            results = _searching(args, page_size, (page - 1) * page_size)
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


def _range_args() -> tuple[float, float | None]:
    """?t= and ?end= (any time form: 42:30, 2550, 42m30s); end must come after t."""
    try:
        start = links.parse_time(request.args["t"]) if request.args.get("t") else 0.0
        end = links.parse_time(request.args["end"]) if request.args.get("end") else None
    except links.TimeFormatError as exc:
        abort(400, str(exc))
    if end is not None and end <= start:
        abort(400, "'end' must come after 't'")
    return start, end


def _parses(url: str) -> bool:
    """True when a stored URL parses (an old row or a bad feed may hold one that doesn't)."""
    return bool(url) and bool(links.link_at(url, 0))


def _cite(row: dict[str, Any]) -> dict[str, Any]:
    """What a quote from this episode credits: see export.citation."""
    return {
        "show": row.get("channel") or row.get("source_name") or "",
        "title": row.get("title") or "",
        "published": row.get("published") or "",
        "page": row.get("webpage_url") or "",
        "media": row.get("media_url") or "",
        "automatic": row.get("transcript_origin") in (None, "whisper"),
    }


def citation_of(row: dict[str, Any], text: str, start: float, end: float | None,
                speaker: str | None = None) -> dict[str, str]:  # fmt: skip
    """export.citation for a passage of an episode row: the publisher's page as the link
    (the media beside it), or the media when there is no page."""
    cite = _cite(row)
    page = links.link_at(cite["page"], start) if cite["page"] else ""
    media = ""
    if cite["media"]:
        try:
            media = links.range_link(cite["media"], start, end or start)
        except ValueError:
            media = ""
    return export.citation(text, start=start, end=end, title=cite["title"], show=cite["show"],
                           published=cite["published"], speaker=speaker,
                           link=page or media, media_link=media if page else None,
                           automatic=cite["automatic"])  # fmt: skip


def embed_html(episode_id: int, start: float, end: float | None, title: str, *,
               video: bool) -> str:  # fmt: skip
    """The <iframe> snippet that plays a moment or range from this site in another page."""
    src = url_for("web.embed", episode_id=episode_id, t=f"{start:.2f}",
                  end=f"{end:.2f}" if end else None, _external=True)  # fmt: skip
    height = 360 if video else 180
    return (f'<iframe src="{escape(src)}" width="560" height="{height}" title="{escape(title)}" '
            'style="border:0;max-width:100%" allow="autoplay; encrypted-media" loading="lazy" '
            'referrerpolicy="strict-origin-when-cross-origin"></iframe>')  # fmt: skip


@bp.get(f"/episodes/<{EPISODE_ID}:episode_id>")
def episode(episode_id: int) -> str:
    db, row = _episode_or_404(episode_id)
    start, end = _range_args()
    page = row["webpage_url"] or row["media_url"] or ""
    stored = store.get_segments(db, episode_id)
    # The line being spoken at `start`, or the next one when `start` falls in a pause (a hit
    # opens half a second before its first word, often just after the previous line ends).
    current = next((i for i, s in enumerate(stored) if s.end > start), len(stored) - 1)
    # A long transcript comes in two steps: the lines around `t` with the page, the rest
    # fetched by the page's script (?all=1 for all at once, as without script).
    if request.args.get("all") == "1":
        first, last = 0, len(stored)
    else:
        first = max(0, current - WINDOW_BEFORE)
        last = min(len(stored), first + WINDOW_LINES)
        first = max(0, min(first, last - WINDOW_LINES))
    player = _player(row, start, end)
    return render_template(
        "episode.html",
        episode=row,
        segments=_line_dicts(db, row, stored[first:last]),
        first=first,
        last=last,
        total=len(stored),
        start=start,
        end=end,
        current=current,
        page_url=page,
        link_template=links.link_template(page) or "",
        platform=links.platform_of(page) if _parses(page) else "",
        cite=_cite(row),
        player=player,
        video=bool(player and player["kind"] != "audio"),
        formats=export.FORMATS,
        oembed=url_for("web.oembed", url=request.base_url, _external=True),
    )


WINDOW_LINES = 400  # lines sent with the page; about 12 minutes of talk
WINDOW_BEFORE = 100


def _line_dicts(db: Any, row: dict[str, Any], segments: list[Segment]) -> list[dict[str, Any]]:
    page = row["webpage_url"] or row["media_url"] or ""
    template = links.link_template(page)
    corrected = corrections.corrected_lines(db, row["id"])
    return [
        {"start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker,
         "link": "" if template else links.link_at(page, s.start),
         "corrected": corrected.get(round(s.start, 2))}
        for s in segments
    ]  # fmt: skip


@bp.get(f"/episodes/<{EPISODE_ID}:episode_id>/lines")
def episode_lines(episode_id: int) -> str:
    """Lines from..to of the transcript as <li> elements: the rest of a long page."""
    db, row = _episode_or_404(episode_id)
    stored = store.get_segments(db, episode_id)
    first = _int_arg("from", 0, 0, len(stored))
    last = _int_arg("to", len(stored), first, len(stored))
    return render_template("_lines.html", segments=_line_dicts(db, row, stored[first:last]),
                           first=first, current=-1)  # fmt: skip


def _player(row: dict[str, Any], start: float, end: float | None = None) -> dict[str, str] | None:
    """How to play the episode in the page: our copy, the platform's embed, or the media URL."""
    if row.get("local_path") and Path(row["local_path"]).is_file():
        return {"kind": "audio", "src": f"/media/{row['id']}"}
    for url in (row.get("webpage_url"), row.get("media_url")):
        if url and links.youtube_embed(url):
            return {"kind": "youtube", "src": links.youtube_embed(url, start, end) or ""}
        if url and links.vimeo_embed(url):
            return {"kind": "vimeo", "src": links.vimeo_embed(url, start) or ""}
        web = url and url.startswith(("http://", "https://")) and links.link_at(url, 0)
        if url and web and links.platform_of(url) == "media":  # link_at: a URL that parses
            return {"kind": "audio", "src": url}
    return None


# The embed page may be framed by any site; everything else keeps frame-ancestors 'self'.
EMBED_POLICY = content_security_policy("*")


@bp.get(f"/embed/<{EPISODE_ID}:episode_id>")
def embed(episode_id: int) -> Response:
    """A player for a moment or range that other sites may frame (see create_app's policy)."""
    db, row = _episode_or_404(episode_id)
    start, end = _range_args()
    said = [s for s in store.get_segments(db, episode_id)
            if s.end > start and s.start < (end if end is not None else start + 30)]  # fmt: skip
    text = " ".join(s.text for s in said)
    if len(text) > 600:
        text = text[:600].rsplit(" ", 1)[0] + "…"
    response = Response(
        render_template(
            "embed.html",
            episode=row,
            start=start,
            end=end,
            text=text,
            speaker=next((s.speaker for s in said if s.speaker), None),
            cite=_cite(row),
            player=_player(row, start, end),
            page=url_for(
                "web.episode",
                episode_id=episode_id,
                t=f"{start:.2f}",
                end=f"{end:.2f}" if end else None,
                _external=True,
            ),  # fmt: skip
        )
    )
    response.headers["Content-Security-Policy"] = EMBED_POLICY
    return response


_OEMBED_PATH = re.compile(r"/(?:episodes|embed)/(\d{1,18})/?")


@bp.get("/oembed")
def oembed() -> Response:
    """oEmbed (https://oembed.com): a pasted episode or embed link becomes the player."""
    if request.args.get("format", "json") != "json":
        abort(501, "Only format=json is offered.")
    url = request.args.get("url", "")
    try:
        parts = urlsplit(url)
    except ValueError:
        abort(404, "Not a link to an episode of this site.")
    match = _OEMBED_PATH.fullmatch(parts.path)
    if not match or parts.netloc != request.host:
        abort(404, "Not a link to an episode of this site.")
    _, row = _episode_or_404(int(match.group(1)))
    args = dict(parse_qsl(parts.query))
    try:
        start = links.parse_time(args["t"]) if args.get("t") else 0.0
        end = links.parse_time(args["end"]) if args.get("end") else None
    except links.TimeFormatError as exc:
        abort(400, str(exc))
    player = _player(row, start, end)
    video = bool(player and player["kind"] != "audio")
    width = min(560, _int_arg("maxwidth", 560, 100, 10_000))
    height = min(360 if video else 180, _int_arg("maxheight", 10_000, 50, 10_000))
    html = embed_html(row["id"], start, end if end and end > start else None, row["title"],
                      video=video).replace('width="560"', f'width="{width}"')  # fmt: skip
    html = re.sub(r'height="\d+"', f'height="{height}"', html, count=1)
    return jsonify(version="1.0", type="rich", provider_name="Spoken search",
                   provider_url=request.host_url, title=row["title"],
                   author_name=row.get("channel") or "", html=html, width=width,
                   height=height)  # fmt: skip


@bp.get("/episodes")
def episodes_page() -> str:
    return _episode_list(None)


@bp.get(f"/shows/<{EPISODE_ID}:source_id>")
def show_page(source_id: int) -> str:
    """A show (a followed or added source) and its episodes, newest first."""
    return _episode_list(source_id)


def _episode_list(source_id: int | None) -> str:
    page_size = 50
    page = _int_arg("page", 1, 1, 10_000)
    show = None
    if source_id is not None:
        show = store.get_source(get_db(), source_id)
        if show is None:
            abort(404, f"No show {source_id}.")
    rows = store.list_episodes(get_db(), limit=page_size + 1, offset=(page - 1) * page_size,
                               source_id=source_id)  # fmt: skip
    return render_template("episodes.html", episodes=rows[:page_size], page=page, show=show,
                           has_next=len(rows) > page_size,
                           shows=store.list_sources(get_db()) if show is None else [])  # fmt: skip


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
                                    corrected=corrections.corrected_lines(db, episode_id),
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
    """The link to a moment or range of a URL, and what is said there if it is indexed."""
    if not url.strip():
        raise ValueError("Give the URL of a video, episode or media file.")
    if len(url) > 2000:
        raise ValueError("The URL is too long.")
    start, end = links.parse_range(t or "0")
    made = links.deep_link(url, start)
    # A web visitor's link must open on the web: no javascript:, data: or server paths.
    if urlsplit(made).scheme not in ("http", "https"):
        raise ValueError("Give an http:// or https:// URL of a video, episode or media file.")
    quote = search.quote_at(get_db(), url, start, end)
    result: dict[str, Any] = {
        "url": links.range_link(url, start, end) if end else made,
        "start": start,
        "end": end,
        "time": links.format_range(start, end),
        "platform": links.platform_of(url),
        "embed": links.youtube_embed(url, start, end),
        "quote": quote,
    }
    if quote:
        row = store.get_episode(get_db(), quote["episode_id"]) or {}
        result["clip"] = url_for("web.episode", episode_id=quote["episode_id"], t=f"{start:.2f}",
                                 end=f"{end:.2f}" if end else None, _external=True)  # fmt: skip
        result["citation"] = citation_of(row, quote["text"], start, end, quote.get("speaker"))
    return result


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
        hits=[
            {
                **item["hit"].as_dict(),
                "citation": item["cite"],
                "clip_url": item["clip"],
                "embed_html": item["embed"],
            }
            for group in _group(results.hits)
            for item in group["hits"]
        ],  # fmt: skip
    )


@bp.get("/api/episodes")
def api_episodes() -> Response:
    limit = _int_arg("limit", 50, 1, current_app.config["MAX_LIMIT"])
    offset = _int_arg("offset", 0, 0, current_app.config["MAX_OFFSET"])
    rows = store.list_episodes(get_db(), limit=limit + 1, offset=offset)
    return jsonify(
        limit=limit,
        offset=offset,
        more=len(rows) > limit,
        episodes=[
            {**r, "url": url_for("web.episode", episode_id=r["id"], _external=True)}
            for r in rows[:limit]
        ],  # fmt: skip
    )


@bp.get(f"/api/episodes/<{EPISODE_ID}:episode_id>")
def api_episode(episode_id: int) -> Response:
    db, row = _episode_or_404(episode_id)
    page = row["webpage_url"] or row["media_url"] or ""
    fixed = corrections.corrected_lines(db, episode_id)
    fields = ("id", "title", "channel", "published", "duration", "webpage_url", "media_url",
              "language", "thumbnail", "transcript_origin", "model", "indexed_at",
              "source_url", "source_name")  # fmt: skip
    return jsonify(
        episode={k: row.get(k) for k in fields},
        segments=[
            {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text,
             "speaker": s.speaker, "url": links.link_at(page, s.start) or None,
             "corrected_by": (fixed.get(round(s.start, 2)) or {}).get("editor")}
            for s in store.get_segments(db, episode_id)
        ],
    )  # fmt: skip


@bp.get("/api/link")
def api_link() -> Response:
    try:
        return jsonify(_link(request.args.get("url", ""), request.args.get("t", "")))
    except ValueError as exc:
        abort(400, str(exc))
