"""The `indexer` command: parses options, calls the library, prints."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from . import (
    __version__,
    accounts,
    alerts,
    corrections,
    download,
    embed,
    export,
    jobqueue,
    links,
    pipeline,
    refresh,
    search,
    store,
    transcribe,
)
from .config import ConfigError, Settings, load_settings
from .download import DownloadError
from .models import Hit, MediaItem

F = TypeVar("F", bound=Callable[..., Any])

EXPECTED_ERRORS = (
    ConfigError,
    store.StoreError,
    transcribe.ModelError,
    transcribe.TranscriptionError,
    search.QueryError,
    links.TimeFormatError,
    DownloadError,
    alerts.AlertError,
    accounts.AccountError,
    corrections.CorrectionError,
    embed.EmbedError,
    jobqueue.QueueError,
)


def friendly_errors(fn: F) -> F:
    """Turn the library's named exceptions into one clear line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EXPECTED_ERRORS as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("\ninterrupted: nothing half-done was stored", err=True)
            sys.exit(130)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from None
        except sqlite3.Error as exc:
            raise click.ClickException(f"database error: {exc}") from None

    return wrapper  # type: ignore[return-value]


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    obj = ctx.obj or {}
    return load_settings(obj.get("config"), db=obj.get("db"), **overrides)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    # The group's value is stored first; a value given after the command overwrites it.
    if value is not None and param.name:
        ctx.ensure_object(dict)[param.name] = value
    return value


_DATABASE_OPTIONS = (
    click.option("--db", type=click.Path(dir_okay=False), expose_value=False, callback=_remember,
                 help="Database file (env INDEXER_DB)."),
    click.option("--config", type=click.Path(dir_okay=False), expose_value=False,
                 callback=_remember,
                 help="TOML settings file (default config/indexer.toml, env INDEXER_CONFIG)."),
)  # fmt: skip


def database_options(f: F) -> F:
    """Add --db and --config to a function; _Group adds them to every command."""
    for option in reversed(_DATABASE_OPTIONS):  # the last decorator applied is listed first
        f = option(f)
    return f


def json_option(help: str = "Print JSON on standard output.") -> Callable[[F], F]:
    """Add --json (as the `as_json` argument)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


YTDLP_LOGGER = "indexer.ytdlp"  # download.py forwards yt-dlp's messages to this logger


class _StderrHandler(logging.Handler):
    """Log records as plain lines on stderr, above any progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if record.levelno >= logging.WARNING and not msg.startswith(("WARNING", "ERROR")):
                msg = f"{record.levelname}: {msg}"
            with tqdm.external_write_mode(file=sys.stderr):
                click.echo(msg, err=True)  # strips colour when NO_COLOR or not a terminal
        except Exception:  # noqa: BLE001 - logging must never break a command
            self.handleError(record)


def _show_ytdlp_messages(ctx: click.Context) -> None:
    """Send yt-dlp's messages to stderr until the command ends."""
    root = ctx.find_root()
    if root.meta.get("indexer.verbose"):
        return
    root.meta["indexer.verbose"] = True
    logger = logging.getLogger(YTDLP_LOGGER)
    handler = _StderrHandler()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # an application's root handlers must not print them twice

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate

    root.call_on_close(restore)


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        _show_ytdlp_messages(ctx)
    return value


def verbose_option(f: F) -> F:
    """Add -v/--verbose: yt-dlp's own messages on stderr."""
    return click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_verbose,
                        help="Show yt-dlp's own messages on stderr.")(f)  # fmt: skip


def queue_options(f: F) -> F:
    """Add --queue URL and --no-queue (as `queue` and `no_queue`)."""
    f = click.option("--no-queue", is_flag=True,
                     help="Index here even when a queue is configured.")(f)  # fmt: skip
    return click.option("--queue", metavar="URL",
                        help="Hand new items to `indexer worker` processes through this Redis "
                             "job queue (default: the queue setting, env INDEXER_QUEUE).")(f)  # fmt: skip


def _queue(settings: Settings, url: str | None,
           no_queue: bool = False) -> jobqueue.JobQueue | None:  # fmt: skip
    """The job queue to use (checked to answer), or None to work in-process."""
    url = None if no_queue else (url or settings.queue or None)
    return jobqueue.connect(url, settings) if url else None


def _required_queue(settings: Settings, url: str | None) -> jobqueue.JobQueue:
    """The job queue a worker or `jobs` needs (checked to answer)."""
    jobs = _queue(settings, url)
    if jobs is None:
        raise click.ClickException("no job queue configured: give --queue "
                                   "redis://HOST:6379/0 or set INDEXER_QUEUE")  # fmt: skip
    return jobs


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


class _Group(click.Group):
    """Gives every command --db and --config, and turns colour off under NO_COLOR."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "db" for p in cmd.params):
            for option in _DATABASE_OPTIONS:  # on a Command, each appends its Option
                option(cmd)
        super().add_command(cmd, name)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:  # fmt: skip
        if os.environ.get("NO_COLOR"):  # https://no-color.org: set and not empty
            extra.setdefault("color", False)  # inherited by every command's context
        return super().make_context(info_name, args, parent, **extra)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="indexer")
@database_options
@verbose_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Index podcasts and videos and find the second where something was said.

    --db and --config may come before or after the command. Output has no colour when
    it is not a terminal or NO_COLOR is set.

    \b
    Examples:
        indexer add https://example.com/feed.xml
        indexer search "bicycle lanes"
        indexer episodes --db podcasts.db --json
        NO_COLOR=1 indexer -v refresh
    """
    ctx.ensure_object(dict)


class _Progress:
    """Progress bars on a terminal; one line per item otherwise (cron)."""

    def __init__(self, tty: bool, as_json: bool = False) -> None:
        self.tty = tty
        self.as_json = as_json
        self.bar: tqdm | None = None
        self.phase = ""

    def _bar(self, phase: str, total: float | None, unit: str, **kw: Any) -> tqdm:
        if self.phase != phase:
            self._close()
            self.phase = phase
            self.bar = tqdm(total=total, unit=unit, desc=phase, leave=False,
                            dynamic_ncols=True, file=sys.stderr, **kw)  # fmt: skip
        assert self.bar is not None
        return self.bar

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.phase = None, ""

    def started(self, item: MediaItem) -> None:
        if self.tty:
            click.echo(f"→ {item.title}", err=True)

    def downloading(self, done: int, total: int | None) -> None:
        if self.tty:
            bar = self._bar("download", total, "B", unit_scale=True, unit_divisor=1024)
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

    def transcribing(self, done: float, total: float) -> None:
        if self.tty:
            fmt = "{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]"
            bar = self._bar("transcribe", round(total, 1), "s", bar_format=fmt)
            bar.update(round(done, 1) - bar.n)

    def finished(self, result: pipeline.ItemResult) -> None:
        self._close()
        if not self.as_json:
            click.echo(_result_line(result), err=result.status == "failed")
        elif result.status == "failed":  # stdout holds only the JSON document
            click.echo(_result_line(result), err=True)


def _result_line(r: pipeline.ItemResult) -> str:
    if r.status == "queued":
        return f"queued   {r.title} ({r.note})"
    if r.status == "indexed":
        length = links.format_time(r.duration or 0)
        note = f"; {r.note}" if r.note else ""
        return (f"indexed  #{r.episode_id} {r.title} ({length}, {r.segments} segments, "
                f"{r.chunks} chunks, {r.seconds:.1f} s{note})")  # fmt: skip
    if r.status == "skipped":
        return f"skipped  {r.title}: {r.error}"
    return f"failed   {r.title}: {r.error}"


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Transcribe again even if already indexed.")
@click.option("--model", help="faster-whisper model name or folder (default: bundled base).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to run.")
@click.option("--language", help="Spoken language code, e.g. en (default: detect).")
@click.option("--chunk-seconds", type=float, help="Chunk window in seconds (default 45).")
@click.option("--batch-size", type=int, help="Batched transcription size; 1 = sequential.")
@click.option("--no-hints", is_flag=True, help="Don't pass title/show notes to the model.")
@click.option("--subtitles", is_flag=True, default=None,
              help="Use a video's creator-uploaded subtitles (never automatic ones) if any.")  # fmt: skip
@queue_options
@json_option("Print a JSON summary: counts and one object per item.")
@verbose_option
@click.pass_context
@friendly_errors
def add(ctx: click.Context, targets: tuple[str, ...], force: bool, model: str | None,
        device: str | None, language: str | None, chunk_seconds: float | None,
        batch_size: int | None, no_hints: bool, subtitles: bool | None, queue: str | None,
        no_queue: bool, as_json: bool) -> None:  # fmt: skip
    """Download, transcribe and index media: URLs yt-dlp understands, or local files.

    A feed, playlist or channel adds all its entries. Items already indexed are
    skipped. With a job queue (--queue or the queue setting), new items are handed to
    `indexer worker` processes instead (see `indexer jobs`). The exit code is 1 if any
    item failed.

    \b
    Examples:
        indexer add https://www.youtube.com/watch?v=dQw4w9WgXcQ
        indexer add https://feeds.example.org/show.rss
        indexer add interview.mp3 --language en
        indexer add https://example.com/ep1.mp3 --verbose --json
        indexer add https://feeds.example.org/show.rss --queue redis://127.0.0.1:6379/0
    """
    settings = _settings(ctx, model=model, device=device, language=language,
                         chunk_seconds=chunk_seconds, batch_size=batch_size,
                         hints=False if no_hints else None, subtitles=subtitles)  # fmt: skip
    jobs = _queue(settings, queue, no_queue)
    db = store.open_db(settings.db)
    reporter = _Progress(sys.stderr.isatty() and not as_json, as_json=as_json)
    results = list(pipeline.index_targets(db, list(targets), settings, force=force,
                                          reporter=reporter,
                                          enqueue=jobs.enqueue if jobs else None))  # fmt: skip
    fired = _run_alerts(db, results)
    done = sum(r.status == "indexed" for r in results)
    queued = sum(r.status == "queued" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    failed = [r for r in results if r.status == "failed"]
    if as_json:
        _print_json({"indexed": done, "skipped": skipped, "failed": len(failed),
                     **({"queued": queued} if jobs else {}),
                     "items": [dataclasses.asdict(r) for r in results],
                     "alerts": fired.as_dict()})  # fmt: skip
    else:
        if len(results) > 1:
            counts = f"{queued} queued, " if jobs else ""
            click.echo(f"{counts}{done} indexed, {skipped} skipped, {len(failed)} failed",
                       err=True)  # fmt: skip
        if fired:
            click.echo(f"alerts: {_alerts_line(fired)}", err=True)
    if failed:
        sys.exit(1)


def _run_alerts(db: Any, results: list[pipeline.ItemResult]) -> alerts.Report:
    """After `add` or `refresh`: run the alerts over the episodes just indexed (never fails)."""
    return alerts.after_indexing(
        db, [r.episode_id for r in results if r.status == "indexed" and r.episode_id is not None]
    )


def _alerts_line(report: alerts.Report) -> str:
    parts = [f"{report.hits} new hit{'s' if report.hits != 1 else ''}"]
    parts += [f"{n} {what}" for n, what in ((report.delivered, "delivered"),
              (report.failed, "delivery failed"), (report.postponed, "postponed")) if n]  # fmt: skip
    return ", ".join(parts)


def _highlight(snippet: str) -> str:
    parts = snippet.replace(store.MARK_END, store.MARK_START).split(store.MARK_START)
    return "".join(click.style(p, bold=True, fg="yellow") if i % 2 else p
                   for i, p in enumerate(parts))  # fmt: skip


def _print_hit(n: int, hit: Hit) -> None:
    tag = f"  [partial: {hit.matched}/{hit.terms} terms]" if hit.partial else ""
    if hit.chapter:
        tag = f"  ({hit.chapter}){tag}"
    click.echo(f"{n}. {click.style(hit.title, bold=True)}  {links.format_time(hit.start)}{tag}")
    click.echo("   " + _highlight(" ".join(hit.snippet.split())))
    click.echo("   " + hit.url)


@cli.command("search")
@click.argument("query")
@click.option("--advanced", is_flag=True, help="Use raw SQLite FTS5 syntax (AND, OR, NEAR, *).")
@click.option("--source", help="Only this source (id, URL or name).")
@click.option("--from", "date_from", help="Published on or after YYYY-MM-DD.")
@click.option("--to", "date_to", help="Published on or before YYYY-MM-DD.")
@click.option("--language", help="Only episodes in this language (en, de, zh, ...); the query "
                                 "is analysed in it.")  # fmt: skip
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, search.MAX_LIMIT))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--mode", type=click.Choice(search.MODES), default=search.DEFAULT_MODE,
              show_default=True,
              help="keyword: the words; semantic: what was meant; hybrid: both, fused (by "
                   "keyword alone where there are no vectors).")  # fmt: skip
@json_option("Print a JSON array of hits.")
@click.pass_context
@friendly_errors
def search_command(ctx: click.Context, query: str, advanced: bool, source: str | None,
                   date_from: str | None, date_to: str | None, language: str | None,
                   limit: int, offset: int, mode: str, as_json: bool) -> None:  # fmt: skip
    """Find where words were spoken; each hit links to that second.

    Plain words and "quoted phrases" are matched safely; when no passage holds
    every word, the closest partial matches are shown, marked as partial.

    \b
    Examples:
        indexer search "bicycle lanes"
        indexer search 'budget "city council"' --from 2024-01-01 --json
        indexer search --advanced 'budget NEAR(council tax, 5)'
        indexer search --db podcasts.db "harbour"
        indexer search --language de "Wohnungen in Berlin"
        indexer search "the part about housing affordability"
        indexer search --mode keyword "exact words only"
    """
    settings = _settings(ctx)
    db = store.open_db(settings.db, readonly=True)
    results = search.find(db, query, mode=mode, advanced=advanced, source=source,
                          date_from=date_from, date_to=date_to, language=language,
                          limit=limit, offset=offset, model=settings.embedding_model)  # fmt: skip
    if as_json:
        _print_json([h.as_dict() for h in results.hits])
        return
    if not results.hits:
        click.echo("No matches.", err=True)
        return
    for n, hit in enumerate(results.hits, start=offset + 1):
        _print_hit(n, hit)


@cli.command()
@click.argument("url")
@click.argument("time")
@json_option("Print {url, seconds, end, time, link, embed, quote}; quote is null if not indexed.")
@click.pass_context
@friendly_errors
def link(ctx: click.Context, url: str, time: str, as_json: bool) -> None:
    """Print the link that opens URL at TIME (or plays a range), and the quote if indexed.

    TIME may be 42:30, 1:02:03, 2550, 42m30s or 2550s; a range is START-END (42:30-43:30).
    A media file's range link plays just that span (#t=2550,2610); YouTube's watch link
    starts there and the embed link (in --json) also stops at the end.

    \b
    Examples:
        indexer link https://youtu.be/dQw4w9WgXcQ 1:02:03
        indexer link https://example.com/ep12.mp3 42:30-43:30
        indexer link https://youtu.be/dQw4w9WgXcQ 42:30 --json
    """
    start, end = links.parse_range(time)
    made = links.range_link(url, start, end) if end else links.deep_link(url, start)
    quote = None
    path = _settings(ctx).db
    if Path(path).is_file():
        quote = search.quote_at(store.open_db(path, readonly=True), url, start, end)
    if as_json:
        _print_json({"url": url, "seconds": start, "end": end,
                     "time": links.format_range(start, end), "link": made,
                     "embed": links.youtube_embed(url, start, end), "quote": quote})  # fmt: skip
        return
    click.echo(made)
    if quote:
        click.echo(f'"{quote["text"]}" ({quote["title"]}, '
                   f'{links.format_range(quote["start"], quote["end"] if end else None)})')  # fmt: skip


@cli.command("export")
@click.argument("episode")
@click.option("--format", "fmt", type=click.Choice(export.FORMATS), default="txt",
              show_default=True)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output.")  # fmt: skip
@click.pass_context
@friendly_errors
def export_command(ctx: click.Context, episode: str, fmt: str, output: str | None) -> None:
    """Write an episode's transcript as SRT, WebVTT, JSON (Podcasting 2.0) or text.

    EPISODE is an episode id (see `indexer episodes`), media id or URL.

    \b
    Examples:
        indexer export 3 --format srt -o episode3.srt
        indexer export 3 --format json
    """
    db = store.open_db(_settings(ctx).db, readonly=True)
    row = store.find_episode(db, episode)
    if row is None:
        raise click.ClickException(f"no episode {episode!r}; list them with 'indexer episodes'")
    text = export.export_transcript(store.get_segments(db, row["id"]), fmt, title=row["title"],
                                    corrected=corrections.corrected_lines(db, row["id"]),
                                    language=row["language"])  # fmt: skip
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=not text.endswith("\n"))


@cli.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@json_option("Print a JSON array of episodes.")
@click.pass_context
@friendly_errors
def episodes(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List indexed episodes, newest first.

    \b
    Example:
        indexer episodes --limit 5
        indexer episodes --db podcasts.db --json
    """
    db = store.open_db(_settings(ctx).db, readonly=True)
    rows = store.list_episodes(db, limit=limit)
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['published'] or '':10}  {links.format_time(r['duration'] or 0)}"
                   f"  {r['title']}  ({r['channel'] or ''})")  # fmt: skip


@cli.command()
@click.argument("episode_ids", nargs=-1, type=int)
@click.option("--chunk-seconds", type=float, help="New chunk window in seconds.")
@json_option("Print {chunk_seconds, episodes: [{episode_id, chunks}]}.")
@click.pass_context
@friendly_errors
def rechunk(ctx: click.Context, episode_ids: tuple[int, ...], chunk_seconds: float | None,
            as_json: bool) -> None:  # fmt: skip
    """Re-chunk stored transcripts without transcribing again (all if no ids given).

    \b
    Examples:
        indexer rechunk --chunk-seconds 30
        indexer rechunk 3 7 --json
    """
    settings = _settings(ctx, chunk_seconds=chunk_seconds)
    db = store.open_db(settings.db)
    ids = list(episode_ids) or [r["id"] for r in store.list_episodes(db, limit=10**9)]
    missing = [i for i in ids if store.get_episode(db, i) is None]
    if missing:  # before changing anything
        raise click.ClickException(f"no episode {', '.join(map(str, missing))}")
    done = []
    for episode_id in ids:
        n = pipeline.rechunk(db, episode_id, settings.chunk_seconds, settings.embedding_model)
        done.append({"episode_id": episode_id, "chunks": n})
        if not as_json:
            click.echo(f"episode {episode_id}: {n} chunks of ~{settings.chunk_seconds:g} s")
    if as_json:
        _print_json({"chunk_seconds": settings.chunk_seconds, "episodes": done})


@cli.command()
@click.option("--prefix-index/--no-prefix-index", default=None,
              help="Add (or drop) a 3-letter prefix index: fast `cli*` searches, ~0.35x "
                   "the text in size.")  # fmt: skip
@json_option("Print {bytes_before, bytes_after, prefix_index}.")
@click.pass_context
@friendly_errors
def optimize(ctx: click.Context, prefix_index: bool | None, as_json: bool) -> None:
    """Compact the database: merge the search index, then VACUUM.

    Needs free disk space about the size of the database, and no other writer while it
    runs (searches may go on). Worth it after indexing many episodes.

    \b
    Examples:
        indexer optimize
        indexer optimize --prefix-index
        indexer optimize --db podcasts.db --json
    """
    db = store.open_db(_settings(ctx).db)
    try:
        before, after = store.optimize(db, prefix_index=prefix_index)
    finally:
        db.close()
    if as_json:
        _print_json({"bytes_before": before, "bytes_after": after, "prefix_index": prefix_index})
        return
    note = "" if prefix_index is None else f", prefix index {'on' if prefix_index else 'off'}"
    click.echo(f"{before / 1e6:,.1f} MB -> {after / 1e6:,.1f} MB{note}")


@cli.command("datasette-metadata")
@click.pass_context
@friendly_errors
def datasette_metadata(ctx: click.Context) -> None:
    """Print Datasette metadata (JSON) describing this database's tables and columns.

    Tables and columns get descriptions, the search index's own tables are hidden, and
    the `lines` view shows every transcript line with its start and a deep link.

    \b
    Examples:
        indexer datasette-metadata --db podcasts.db > metadata.json
        datasette podcasts.db -m metadata.json
    """
    path = Path(_settings(ctx).db)
    db = store.open_db(path, readonly=True)
    try:
        _print_json(store.datasette_metadata(db, path.stem))
    finally:
        db.close()


@cli.command()
@click.option("--query", default="bicycle lanes", show_default=True, help="What to search for.")
@click.pass_context
@friendly_errors
def demo(ctx: click.Context, query: str) -> None:
    """Index the bundled sample recording (no network needed) and search it.

    \b
    Example:
        indexer --db demo.db demo
    """
    sample = resources.files("indexer") / "samples" / "newsroom-sample.ogg"
    with resources.as_file(sample) as path:
        ctx.invoke(add, targets=(str(path),))
    click.echo(f"\n$ indexer search {query!r}")
    ctx.invoke(search_command, query=query)


@cli.command()
@click.argument("url")
@click.option("--name", help="A short name to show and to refer to it by.")
@json_option("Print {id, url, name, kind} of the source.")
@verbose_option
@click.pass_context
@friendly_errors
def follow(ctx: click.Context, url: str, name: str | None, as_json: bool) -> None:
    """Follow a podcast feed, YouTube channel or playlist so `indexer refresh` indexes it.

    \b
    Examples:
        indexer follow https://feeds.example.org/citydesk.rss --name citydesk
        indexer follow https://www.youtube.com/@SomeChannel/videos --verbose --json
    """
    settings = _settings(ctx)
    kind, title = download.probe_source(url)
    db = store.open_db(settings.db)
    source_id = store.follow(db, url, name or title, kind)
    if as_json:
        _print_json({"id": source_id, "url": url, "name": name or title, "kind": kind})
        return
    label = "podcast feed" if kind == "feed" else "yt-dlp playlist"
    click.echo(f"following #{source_id} {name or title or url} ({label}); "
               "run 'indexer refresh' to index it")  # fmt: skip


@cli.command()
@click.argument("source")
@json_option("Print {id, url, name} of the source.")
@click.pass_context
@friendly_errors
def unfollow(ctx: click.Context, source: str, as_json: bool) -> None:
    """Stop refreshing a source (its episodes stay searchable).

    SOURCE is the id, URL or name shown by `indexer sources`.

    \b
    Examples:
        indexer unfollow citydesk
        indexer unfollow 3 --json
    """
    db = store.open_db(_settings(ctx).db)
    row = store.find_source(db, source)
    if row is None or not row["followed"]:
        raise click.ClickException(f"not following {source!r}; see 'indexer sources'")
    store.unfollow(db, row["id"])
    if as_json:
        _print_json({"id": row["id"], "url": row["url"], "name": row["name"]})
        return
    click.echo(f"unfollowed #{row['id']} {row['name'] or row['url']}")


@cli.command()
@json_option("Print a JSON array of sources.")
@click.pass_context
@friendly_errors
def sources(ctx: click.Context, as_json: bool) -> None:
    """List followed sources: last refresh, episodes, last error.

    \b
    Example:
        indexer sources --json
    """
    db = store.open_db(_settings(ctx).db)
    rows = store.source_report(db)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("Not following anything yet: indexer follow URL", err=True)
    for r in rows:
        line = (f"{r['id']:>4}  {r['name'] or r['url']}  [{r['kind']}]  {r['episodes']} episodes  "
                f"last refresh {r['last_refresh'] or 'never'}")  # fmt: skip
        if r["last_error"]:
            line += f"  last error: {r['last_error']}"
        click.echo(line)


def _summary(results: list[refresh.SourceResult], seconds: float) -> dict[str, Any]:
    return {
        "sources": len(results),
        "new": sum(r.new for r in results),
        "failed": sum(r.failed for r in results),
        "unchanged": sum(r.status == "unchanged" for r in results),
        "busy": sum(r.status == "busy" for r in results),
        "replaced": sum(i.note == pipeline.REPLACED for r in results for i in r.items),
        "seconds": round(seconds, 2),
        "details": [
            {"source_id": r.source_id, "name": r.name, "status": r.status, "error": r.error,
             "new": r.new, "failed": r.failed,
             "items": [{"title": i.title, "status": i.status, "episode_id": i.episode_id,
                        "error": i.error, "note": i.note} for i in r.items]}
            for r in results
        ],
    }  # fmt: skip


@cli.command("refresh")
@click.argument("sources_", metavar="[SOURCE]...", nargs=-1)
@click.option("--limit", type=click.IntRange(1), help="At most N new episodes per source.")
@click.option("--since", help="Only episodes published on or after YYYY-MM-DD.")
@click.option("--transcribe", is_flag=True, help="Transcribe even when the feed has a transcript.")
@click.option("--retry-failed", is_flag=True, help="Retry failed items now, ignoring backoff.")
@click.option("--subtitles", is_flag=True, default=None,
              help="Use a video's creator-uploaded subtitles (never automatic ones) if any.")  # fmt: skip
@click.option("--keep-media/--delete-media", default=None,
              help="Keep downloaded audio (for the page's player) or delete it after use.")  # fmt: skip
@queue_options
@json_option("Print a JSON summary (for monitoring).")
@verbose_option
@click.pass_context
@friendly_errors
def refresh_command(ctx: click.Context, sources_: tuple[str, ...], limit: int | None,
                    since: str | None, transcribe: bool, retry_failed: bool,
                    subtitles: bool | None, keep_media: bool | None, queue: str | None,
                    no_queue: bool, as_json: bool) -> None:  # fmt: skip
    """Index what is new in followed sources, newest first; for cron.

    Sources are listed cheaply (a conditional GET for feeds); known episodes are skipped
    before anything is downloaded; a feed's own transcript is used when it has one.
    Failed items are retried on later runs with growing delays. Without a terminal only
    a one-line summary is printed. With a job queue (--queue or the queue setting), new
    episodes are handed to `indexer worker` processes instead of transcribed here. Exit
    code 1 if anything failed.

    \b
    Examples:
        indexer refresh
        indexer refresh citydesk --limit 3 --since 2024-01-01
        indexer refresh --json --delete-media
        indexer refresh citydesk --verbose
        indexer refresh --queue redis://127.0.0.1:6379/0
    """
    import time

    began = time.monotonic()
    try:
        options = refresh.Options(limit=limit, since=refresh.check_since(since),
                                  transcribe=transcribe, retry_failed=retry_failed)  # fmt: skip
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings(ctx, keep_media=keep_media, subtitles=subtitles)
    jobs = _queue(settings, queue, no_queue)
    db = store.open_db(settings.db)
    tty = sys.stderr.isatty() and not as_json
    reporter = _Progress(tty) if tty else None
    results = []
    for result in refresh.refresh(db, settings, list(sources_), options, reporter,
                                  enqueue=jobs.enqueue if jobs else None):  # fmt: skip
        results.append(result)
        if tty and result.status != "ok":
            click.echo(f"{result.name}: {result.error or result.status}", err=True)
    fired = _run_alerts(db, [item for r in results for item in r.items])
    summary = {**_summary(results, time.monotonic() - began), "alerts": fired.as_dict()}
    if jobs:
        summary["queued"] = sum(r.queued for r in results)
    if as_json:
        _print_json(summary)
    else:
        queued = f"{summary['queued']} queued, " if jobs else ""
        line = (f"refresh: {summary['sources']} sources, {summary['new']} new, {queued}"
                f"{summary['failed']} failed, {summary['unchanged']} unchanged")  # fmt: skip
        if summary["replaced"]:
            line += f", {summary['replaced']} with replaced audio indexed again"
        if summary["busy"]:
            line += f", {summary['busy']} busy with another run"
        if fired:
            line += f", alerts: {_alerts_line(fired)}"
        click.echo(f"{line} ({summary['seconds']:.1f} s)")
    if summary["failed"]:
        sys.exit(1)


@cli.group("alert", cls=_Group)
def alert_group() -> None:
    """Saved searches that tell you when a newly indexed episode says something.

    At the end of every `indexer add` and `indexer refresh`, each alert's query is run
    over the episodes just indexed (matched as `indexer search` matches, every word). A
    match is reported once per episode: POSTed as JSON to the alert's webhook, if it has
    one (retried on later runs when the webhook is down), and listed in the Atom feed
    that `indexer serve` publishes at /alerts/ID.atom.

    \b
    Examples:
        indexer alert add "harbour expansion" --webhook https://hooks.example.org/desk
        indexer alert add "oyster beds" --source citydesk
        indexer alert list --json
        indexer alert remove 3
    """


def _alert_line(a: dict[str, Any]) -> str:
    line = f"{a['id']:>4}  {json.dumps(a['query'], ensure_ascii=False)}"
    if a["source_id"] is not None:
        line += f"  source {a['source_name'] or a['source_url']}"
    if a["webhook"]:
        line += f"  webhook {a['webhook']}"
    line += f"  {a['hits']} hits"
    if a["webhook"]:
        line += f" ({a['delivered']} delivered, {a['pending']} pending, {a['failed']} failed)"
    line += f"  feed /alerts/{a['id']}.atom"
    if a["last_error"] and (a["pending"] or a["failed"]):
        line += f"  last error: {a['last_error']}"
    return line


@alert_group.command("add")
@click.argument("query")
@click.option("--source", help="Only episodes of this source (id, URL or name).")
@click.option("--webhook", help="POST each hit as JSON to this http(s) URL.")
@json_option("Print the alert as JSON.")
@click.pass_context
@friendly_errors
def alert_add(ctx: click.Context, query: str, source: str | None, webhook: str | None,
              as_json: bool) -> None:  # fmt: skip
    """Save an alert: report newly indexed episodes that say QUERY.

    QUERY is matched as `indexer search` matches it (plain words and "quoted phrases",
    in each episode's language). Only episodes indexed from now on are checked.

    \b
    Examples:
        indexer alert add "harbour expansion"
        indexer alert add 'oyster "harbour master"' --source citydesk
        indexer alert add budget --webhook https://hooks.example.org/desk --json
    """
    db = store.open_db(_settings(ctx).db)
    alert = alerts.add(db, query, source=source, webhook=webhook)
    if as_json:
        _print_json(alert)
        return
    click.echo(f"alert #{alert['id']} saved: {_alert_line(alert).strip()}")


@alert_group.command("list")
@json_option("Print a JSON array of alerts with their hit and delivery counts.")
@click.pass_context
@friendly_errors
def alert_list(ctx: click.Context, as_json: bool) -> None:
    """List alerts: query, source, webhook, hits found and delivered, last error.

    \b
    Examples:
        indexer alert list
        indexer alert list --db podcasts.db --json
    """
    rows = alerts.list_alerts(store.open_db(_settings(ctx).db))
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo('No alerts yet: indexer alert add "words to watch for"', err=True)
    for row in rows:
        click.echo(_alert_line(row))


@alert_group.command("remove")
@click.argument("alert_id", metavar="ID")
@json_option("Print the removed alert as JSON.")
@click.pass_context
@friendly_errors
def alert_remove(ctx: click.Context, alert_id: str, as_json: bool) -> None:
    """Delete an alert and the hits it found (episodes are not touched).

    ID is the number shown by `indexer alert list`.

    \b
    Examples:
        indexer alert remove 3
        indexer alert remove 3 --json
    """
    alert = alerts.remove(store.open_db(_settings(ctx).db), alerts.parse_id(alert_id))
    if as_json:
        _print_json(alert)
        return
    click.echo(f"removed alert #{alert['id']} {json.dumps(alert['query'], ensure_ascii=False)}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")  # fmt: skip
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Threads per worker.")  # fmt: skip
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes; one per CPU core for a busy server.")  # fmt: skip
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds a stuck worker may go silent before it is killed and replaced.")  # fmt: skip
@click.option("--access-log", is_flag=True,
              help="Log every request to stdout (off by default: URLs hold the searches).")  # fmt: skip
@click.option("--debug", is_flag=True, help="Flask's reloading development server instead.")
@click.pass_context
@friendly_errors
def serve(ctx: click.Context, host: str, port: int, threads: int, workers: int, timeout: int,
          access_log: bool, debug: bool) -> None:  # fmt: skip
    """Serve the search page and JSON API (read-only) with the gunicorn WSGI server.

    \b
    Examples:
        indexer serve
        indexer --db /srv/podcasts.db serve --host 0.0.0.0 --port 8080 --workers 4
        indexer serve --access-log >> access.log
    """
    from web import create_app, server

    settings = _settings(ctx)
    store.open_db(settings.db, readonly=True).close()  # fail now, not on the first request
    config = {"DATABASE": settings.db, "QUEUE": settings.queue}
    if debug:
        create_app(config).run(host=host, port=port, debug=True)
        return
    try:
        sock = server.listen(host, port)
    except OSError as exc:
        raise click.ClickException(f"can't listen on {host}:{port}: {exc.strerror or exc}"
                                   " (is another server running there?)") from None  # fmt: skip
    bound = sock.getsockname()[1]
    workers_note = f" with {workers} workers" if workers > 1 else ""
    try:
        server.serve(config, sock, threads=threads, workers=workers, timeout=timeout,
                     access_log=access_log,
                     on_ready=lambda: click.echo(f"Serving {settings.db} on http://{host}:{bound}/"
                                                 f"{workers_note}  (Ctrl+C to stop)", err=True))  # fmt: skip
    except server.ServerError as exc:
        raise click.ClickException(str(exc)) from None


def main() -> None:  # pragma: no cover
    cli()


@cli.group("user", cls=_Group)
def user_group() -> None:
    """Editor accounts for the web page's edit mode (searching needs no account).

    \b
    Examples:
        indexer user add ana
        printf '%s' "$PASSWORD" | indexer user add ana --password-stdin
        indexer user list
        indexer user remove ana
    """


@user_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option("Print the new account (name, created) as JSON.")
@click.pass_context
@friendly_errors
def user_add(ctx: click.Context, name: str, password_stdin: bool, as_json: bool) -> None:
    """Create an editor account NAME; asks for its password (10 characters or more).

    \b
    Examples:
        indexer user add ana
        indexer user add ana --password-stdin < password.txt
    """
    if password_stdin:
        password = sys.stdin.read().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = accounts.add_user(store.open_db(_settings(ctx).db), name, password)
    if as_json:
        _print_json({"name": user["name"], "created": user["created"]})
        return
    click.echo(f"added editor {user['name']}: log in at /login on `indexer serve`")


@user_group.command("list")
@json_option("Print the accounts as JSON.")
@click.pass_context
@friendly_errors
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List editor accounts.

    \b
    Examples:
        indexer user list
        indexer user list --json
    """
    users = store.list_users(store.open_db(_settings(ctx).db))
    if as_json:
        _print_json(users)
        return
    for user in users:
        click.echo(f"{user['name']}  since {user['created'][:10]}")
    if not users:
        click.echo("no editors yet: indexer user add NAME", err=True)


@user_group.command("remove")
@click.argument("name")
@click.pass_context
@friendly_errors
def user_remove(ctx: click.Context, name: str) -> None:
    """Delete the editor account NAME (its corrections stay).

    \b
    Examples:
        indexer user remove ana
    """
    accounts.remove_user(store.open_db(_settings(ctx).db), name)
    click.echo(f"removed editor {name}")


@cli.command()
@click.argument("episode")
@click.argument("time")
@click.argument("text")
@click.option("--editor", default=lambda: os.environ.get("USER") or "cli", show_default="$USER",
              help="The name the correction is credited to.")  # fmt: skip
@json_option("Print the correction (episode_id, start, end, old_text, text, editor) as JSON.")
@click.pass_context
@friendly_errors
def correct(ctx: click.Context, episode: str, time: str, text: str, editor: str,
            as_json: bool) -> None:  # fmt: skip
    """Replace the words of the line spoken at TIME in EPISODE with TEXT.

    EPISODE is an id or URL (see `indexer episodes`). The words are re-timed over the
    line's span, searchable at once, marked as corrected by an editor in the page, the
    API and the exports, and kept by `indexer rechunk`.

    \b
    Examples:
        indexer correct 12 42:31 "the MAGA supporter said"
        indexer correct https://youtu.be/dQw4w9WgXcQ 1:02:03 "Yekaterinburg" --editor ana
    """
    settings = _settings(ctx)
    db = store.open_db(settings.db)
    row = store.find_episode(db, episode)
    if row is None:
        raise click.ClickException(f"no episode {episode!r}; see 'indexer episodes'")
    done = corrections.correct_line(db, row["id"], links.parse_time(time), text, editor,
                                    settings.embedding_model)  # fmt: skip
    if as_json:
        _print_json(done)
        return
    click.echo(f"corrected {links.format_time(done['start'])}: {done['old_text']!r} -> "
               f"{done['text']!r}")  # fmt: skip


@cli.group("vocab", cls=_Group)
def vocab_group() -> None:
    """A show's vocabulary of names: hints for transcribing its new episodes.

    The terms are given to the model with the episode's title and notes, so names such
    as "Yekaterinburg" or "Okonkwo" come out spelled right.

    \b
    Examples:
        indexer vocab add citydesk "Yekaterinburg"
        indexer vocab list citydesk
        indexer vocab remove citydesk "Yekaterinburg"
    """


def _source(db: Any, show: str) -> dict[str, Any]:
    row = store.find_source(db, show)
    if row is None:
        raise click.ClickException(
            f"no show {show!r}: give its id, URL or name ('indexer sources')"
        )
    return row


@vocab_group.command("add")
@click.argument("show")
@click.argument("terms", nargs=-1, required=True)
@click.pass_context
@friendly_errors
def vocab_add(ctx: click.Context, show: str, terms: tuple[str, ...]) -> None:
    """Add TERMS to SHOW's vocabulary (SHOW: a source's id, URL or name).

    \b
    Examples:
        indexer vocab add citydesk "Yekaterinburg" "Okonkwo"
    """
    db = store.open_db(_settings(ctx).db)
    source = _source(db, show)
    for term in terms:
        clean = " ".join(term.split())
        if not clean or len(clean) > 100:
            raise click.ClickException(f"bad term {term!r}: 1 to 100 characters")
        added = store.add_vocab(db, source["id"], clean)
        click.echo(f"{'added' if added else 'already there'}: {clean}")


@vocab_group.command("list")
@click.argument("show")
@json_option("Print the terms as a JSON array.")
@click.pass_context
@friendly_errors
def vocab_list(ctx: click.Context, show: str, as_json: bool) -> None:
    """List SHOW's vocabulary.

    \b
    Examples:
        indexer vocab list citydesk --json
    """
    db = store.open_db(_settings(ctx).db)
    terms = store.vocab_of(db, _source(db, show)["id"])
    if as_json:
        _print_json(terms)
        return
    for term in terms:
        click.echo(term)


@vocab_group.command("remove")
@click.argument("show")
@click.argument("term")
@click.pass_context
@friendly_errors
def vocab_remove(ctx: click.Context, show: str, term: str) -> None:
    """Remove TERM from SHOW's vocabulary.

    \b
    Examples:
        indexer vocab remove citydesk "Yekaterinburg"
    """
    db = store.open_db(_settings(ctx).db)
    if not store.remove_vocab(db, _source(db, show)["id"], term):
        raise click.ClickException(f"{term!r} is not in the vocabulary of {show!r}")
    click.echo(f"removed: {term}")


@cli.command("embed")
@click.option("--again", is_flag=True, help="Drop every vector and make them all again.")
@json_option("Print {made, chunks, model} as JSON.")
@click.pass_context
@friendly_errors
def embed_command(ctx: click.Context, again: bool, as_json: bool) -> None:
    """Make the meaning-search vectors of chunks that have none (resumes where it stopped).

    Uses the embedding_model setting: the bundled all-mpnet-base-v2 (int8, offline, built
    on first use) by default, "minilm" (3x faster, finds less) or a model folder.

    \b
    Examples:
        indexer embed
        indexer embed --again --json
    """

    settings = _settings(ctx)
    if settings.embedding_model == "off":
        raise click.ClickException("meaning search is off (embedding_model = \"off\"): set "
                                   "embedding_model to \"minilm\" or a model folder first")  # fmt: skip
    db = store.open_db(settings.db)
    embedder = embed.load(settings.embedding_model)
    if again:
        store.clear_vectors(db)
    elif store.vector_model(db) not in (None, embedder.model_id):
        raise click.ClickException(f"the vectors were made with {store.vector_model(db)}: "
                                   "run 'indexer embed --again' to remake them")  # fmt: skip
    have, total = store.vector_counts(db)
    with tqdm(total=total - have, unit="chunk", disable=as_json or not sys.stderr.isatty(),
              desc="embedding") as bar:  # fmt: skip
        made = pipeline.embed_missing(db, embedder, on_batch=bar.update)
    if as_json:
        _print_json({"made": made, "chunks": total, "model": embedder.model_id})
        return
    click.echo(f"made {made:,} vectors; {total:,} chunks have one ({embedder.model_id})")


def _log_to_stderr(verbose: bool = False) -> None:
    """Timestamped log lines on stderr, for long-running worker processes (journald)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    if not verbose:
        logging.getLogger("dramatiq").setLevel(logging.WARNING)


@cli.command("worker")
@click.option("--queue", metavar="URL", help="The job queue's Redis (default: the queue "
              "setting, env INDEXER_QUEUE).")  # fmt: skip
@click.option("--model", help="faster-whisper model name or folder (default: bundled base).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to run.")
@click.option("--batch-size", type=int, help="Batched transcription size; 1 = sequential.")
@click.option("--cpu-threads", type=click.IntRange(0), help="CPU threads for the model "
              "(0: one per core).")  # fmt: skip
@click.option("--debug", "verbose", is_flag=True, help="Log dramatiq's own messages too.")
@click.pass_context
@friendly_errors
def worker_command(ctx: click.Context, queue: str | None, model: str | None,
                   device: str | None, batch_size: int | None, cpu_threads: int | None,
                   verbose: bool) -> None:  # fmt: skip
    """Take transcription jobs from the queue: download, transcribe, hand the transcript back.

    Runs on any machine with the package installed, with its own model and device
    settings; it needs no database (`indexer store-worker` stores what it makes). One job
    at a time; run one worker per GPU, or one per machine on CPUs. A worker that is killed
    loses nothing: its job goes to another worker after queue_heartbeat seconds (SIGTERM
    hands it back at once). Logs one line per job on stderr.

    \b
    Examples:
        indexer worker --queue redis://queue.example.org:6379/0
        INDEXER_QUEUE=redis://10.0.0.5:6379/0 indexer worker --device cuda --model large-v3-turbo
    """
    settings = _settings(ctx, model=model, device=device, batch_size=batch_size,
                         cpu_threads=cpu_threads)  # fmt: skip
    _log_to_stderr(verbose)
    jobs = _required_queue(settings, queue)
    jobs.run_worker(jobqueue.TRANSCRIBE, on_ready=lambda: click.echo(
        f"worker: taking transcription jobs from {jobqueue.safe_url(jobs.url)} "
        f"(model {settings.model}, device {settings.device})", err=True))  # fmt: skip


@cli.command("store-worker")
@click.option("--queue", metavar="URL", help="The job queue's Redis (default: the queue "
              "setting, env INDEXER_QUEUE).")  # fmt: skip
@click.option("--debug", "verbose", is_flag=True, help="Log dramatiq's own messages too.")
@click.pass_context
@friendly_errors
def store_worker_command(ctx: click.Context, queue: str | None, verbose: bool) -> None:
    """Store the transcripts workers made, into the database: run exactly one, beside it.

    SQLite has one writer at a time: this process is the only one that writes what the
    queue's workers made (each episode in one transaction, once, even when a job was
    delivered twice), records failures for `refresh`'s backoff and runs the alerts on the
    new episodes.

    \b
    Examples:
        indexer store-worker --db /srv/podcasts.db --queue redis://127.0.0.1:6379/0
    """
    settings = _settings(ctx)
    _log_to_stderr(verbose)
    jobs = _required_queue(settings, queue)
    jobs.run_worker(jobqueue.STORE, on_ready=lambda: click.echo(
        f"store-worker: storing into {settings.db} from {jobqueue.safe_url(jobs.url)}",
        err=True))  # fmt: skip


def _job_line(job: dict[str, Any]) -> str:
    line = f"{job['id']}  {job['state']:<7}"
    if job["state"] == "running":
        line += f" {job['progress'] * 100:3.0f}% {job['phase']}"
    line += f"  {job['title']}"
    if job["episode_id"] is not None:
        line += f"  -> #{job['episode_id']}"
    if job["worker"] and job["state"] == "running":
        line += f"  on {job['worker']}"
    if job["attempts"] > 1:
        line += f"  (attempt {job['attempts']})"
    if job["error"] and job["state"] in ("failed", "queued"):
        line += f"  error: {job['error']}"
    return line


@cli.command("jobs")
@click.option("--queue", metavar="URL", help="The job queue's Redis (default: the queue "
              "setting, env INDEXER_QUEUE).")  # fmt: skip
@click.option("--state", type=click.Choice(jobqueue.STATES), help="Only jobs in this state.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1))
@json_option("Print a JSON array of jobs: id, state, title, progress (0-1), phase, worker, "
             "attempts, error, episode_id, times.")  # fmt: skip
@click.pass_context
@friendly_errors
def jobs_command(ctx: click.Context, queue: str | None, state: str | None, limit: int,
                 as_json: bool) -> None:  # fmt: skip
    """List the queue's jobs, newest first: queued, running (with progress), failed, done.

    Done and failed jobs are listed for 7 days.

    \b
    Examples:
        indexer jobs
        indexer jobs --state failed
        indexer jobs --queue redis://127.0.0.1:6379/0 --json
    """
    jobs = _required_queue(_settings(ctx), queue)
    rows = jobs.jobs(state=state, limit=limit)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("No jobs.", err=True)
    for row in rows:
        click.echo(_job_line(row))
