"""The job queue's page for editors (/jobs). No Redis here: indexer.jobqueue reads it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, url_for

from indexer import jobqueue
from indexer.config import load_settings

from .editing import current_editor

bp = Blueprint("jobs", __name__)


@bp.get("/jobs")
def jobs_page() -> Any:
    """Queued, running (with progress), failed and done jobs; editors only."""
    if current_editor() is None:
        return redirect(url_for("editing.login", next=url_for("jobs.jobs_page")))
    url = current_app.config.get("QUEUE") or load_settings().queue
    rows: list[dict[str, Any]] = []
    error = None
    if url:
        try:
            rows = jobqueue.list_jobs(url)
        except jobqueue.QueueError as exc:
            error = str(exc)
    counts = {state: sum(r["state"] == state for r in rows) for state in jobqueue.STATES}
    return render_template("jobs.html", url=jobqueue.safe_url(url) if url else None, jobs=rows,
                           counts=counts, error=error)  # fmt: skip
