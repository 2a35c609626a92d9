"""The search website and JSON API, a Flask app over the indexer library (read-only)."""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface
from flask_compress import Compress
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import BadHost, HTTPException

from indexer import store
from indexer.config import load_settings


# Media is played from the original host or from files we hold; scripts and styles are ours.
def content_security_policy(frame_ancestors: str) -> str:
    """The pages' policy; only the embed player may be framed by other sites ("*")."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' https: data:",
            "media-src 'self' https: http:",
            "frame-src https://www.youtube-nocookie.com https://player.vimeo.com",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy("'self'")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; DATABASE defaults to the indexer's configured database."""
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE=None,
        PAGE_SIZE=20,
        MAX_QUERY_CHARS=500,
        MAX_LIMIT=100,
        MAX_OFFSET=10_000,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.config.from_prefixed_env("INDEXER_WEB")
    # gzip (or brotli) on the wire: a 4-hour transcript page is about 1 MB of HTML, 1/10 of it
    # compressed. Small answers are left as they are.
    app.config.setdefault("COMPRESS_MIN_SIZE", 2000)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    Compress(app)
    if test_config:
        app.config.update(test_config)
    if not app.config["DATABASE"] or not app.config.get("EMBEDDING_MODEL"):
        settings = load_settings()
        app.config["DATABASE"] = app.config["DATABASE"] or settings.db
        app.config.setdefault("EMBEDDING_MODEL", settings.embedding_model)

    if not app.config.get("SECRET_KEY"):
        key = _secret_key(app.config["DATABASE"])
        app.config["SECRET_KEY"] = key or secrets.token_hex(32)
        app.config["SESSION_KEY_FROM_DB"] = key is not None
        app.session_interface = _SharedKeySessions()

    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=14 * 24 * 3600)  # fmt: skip
    CSRFProtect(app)  # every POST (log in, log out, corrections) carries a token

    from . import alerts, editing, jobs, views

    app.register_blueprint(views.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(editing.bp)
    app.register_blueprint(jobs.bp)
    app.jinja_env.globals["current_editor"] = editing.current_editor
    app.jinja_env.filters["marks"] = views.marks
    app.jinja_env.filters["clock"] = views.clock
    app.jinja_env.filters["href"] = views.href

    @app.after_request
    def security_headers(response: Response) -> Response:
        # A view may set its own (the embed player lets other sites frame it).
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        message = exc.description or exc.name
        if isinstance(exc, BadHost):
            message = "The Host header is not a valid host name."
        if request.path.startswith("/api/"):
            return jsonify(error=exc.name, message=message), exc.code
        if request_ctx.url_adapter is None:
            # Werkzeug could not route the request (a bad Host header): the page's url_for
            # would fail, so the answer is plain text.
            return Response(f"{exc.code} {exc.name}: {message}\n", exc.code, mimetype="text/plain")
        return render_template("error.html", code=exc.code, message=message), exc.code

    @app.errorhandler(store.StoreError)
    def store_error(exc: store.StoreError) -> Any:
        if request.path.startswith("/api/"):
            return jsonify(error="Service Unavailable", message=str(exc)), 503
        return render_template("error.html", code=503, message=str(exc)), 503

    return app


class _SharedKeySessions(SecureCookieSessionInterface):
    """Signed-cookie sessions whose key is read from the database as soon as the first
    `indexer user add` has put it there (that may come after the server started, and any
    worker process may get an editor's next request)."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if not app.config["SESSION_KEY_FROM_DB"] and request.endpoint != "static":
            try:
                key = store.session_key(get_db())
            except (store.StoreError, sqlite3.Error):
                key = None  # the page itself will say what is wrong with the database
            if key:
                app.config["SECRET_KEY"] = app.secret_key = key
                app.config["SESSION_KEY_FROM_DB"] = True
        return super().open_session(app, request)


def _secret_key(database: str) -> str | None:
    """The key that signs editors' session cookies, as `indexer user add` keeps it in the
    database (shared by every server process), or None before the first editor exists
    (INDEXER_WEB_SECRET_KEY sets one instead)."""
    try:
        if Path(database).is_file():
            return store.session_key(store.open_db(database, readonly=True))
    except (store.StoreError, sqlite3.Error):
        pass
    return None


_connections = threading.local()


def get_db() -> Any:
    """A read-only connection to the database, opened once per server thread and reused."""
    path = current_app.config["DATABASE"]
    cached = getattr(_connections, "by_path", None)
    if cached is None:
        cached = _connections.by_path = {}
    if path not in cached:
        # Opening costs a schema read and a migration check; queries cost far less.
        cached[path] = store.open_db(path, readonly=True)
    return cached[path]
