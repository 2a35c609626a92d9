"""Editors' pages: log in, log out, correct a transcript line. The search stays anonymous.

Sessions are Flask's signed cookies; every POST carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from indexer import accounts, corrections, links, store

bp = Blueprint("editing", __name__)


def current_editor() -> str | None:
    """The logged-in editor's name, or None for the anonymous public."""
    name = session.get("editor")
    return name if isinstance(name, str) else None


def _writable() -> Any:
    """A connection that may write (the public pages read through a read-only one)."""
    return store.open_db(current_app.config["DATABASE"])


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect to another host)."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not (target or "").startswith("/"):
        return url_for("web.index")
    return target or url_for("web.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        db = store.open_db(current_app.config["DATABASE"], readonly=True)
        user = accounts.authenticate(db, request.form.get("name", ""),
                                     request.form.get("password", ""))  # fmt: skip
        if user is None:
            error = "Wrong name or password."  # the same for both: no telling which
        else:
            session.clear()
            session["editor"] = user["name"]
            session.permanent = True
            return redirect(_safe_next(request.form.get("next")))
    page = render_template("login.html", error=error, next=request.args.get("next", ""))
    return page, 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("web.index"))


@bp.post("/episodes/<int(max=9223372036854775807):episode_id>/correct")
def correct(episode_id: int) -> Any:
    """Correct the line at `t` to `text`: JSON for the page's script, a redirect for a form."""
    editor = current_editor()
    wants_json = request.accept_mimetypes.best == "application/json"
    if editor is None:
        if wants_json:
            return jsonify(error="Unauthorized", message="Log in to correct transcripts."), 401
        abort(401, "Log in to correct transcripts.")
    try:
        seconds = links.parse_time(request.form.get("t", ""))
        done = corrections.correct_line(_writable(), episode_id, seconds,
                                        request.form.get("text", ""), editor,
                                        current_app.config["EMBEDDING_MODEL"])  # fmt: skip
    except (links.TimeFormatError, corrections.CorrectionError) as exc:
        if wants_json:
            return jsonify(error="Bad Request", message=str(exc)), 400
        abort(400, str(exc))
    if wants_json:
        return jsonify(correction=done)
    flash(f"Corrected the line at {links.format_time(done['start'])}.")
    return redirect(url_for("web.episode", episode_id=episode_id, t=f"{done['start']:.2f}"))
