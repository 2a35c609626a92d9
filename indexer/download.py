"""Listing a URL's media entries and fetching their audio. The only module that imports yt_dlp."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .feeds import is_web_url
from .models import MediaItem, feed_scope

ByteProgress = Callable[[int, int | None], None]

MEDIA_EXTENSIONS = {
    ".mp3", ".m4a", ".mp4", ".m4v", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac",
    ".webm", ".mkv", ".mov", ".wma", ".aiff", ".aif", ".mpga", ".mpeg", ".avi", ".3gp",
}  # fmt: skip


class DownloadError(Exception):
    """A URL could not be listed or its media could not be downloaded."""


class LimitExceeded(DownloadError):
    """A document was larger, or slower to arrive, than we accept."""


@dataclass(frozen=True)
class KnownEntry:
    """A listed entry whose identity is already known to the caller; nothing was fetched."""

    key: str
    title: str


IsKnown = Callable[[str], bool]


def is_local(target: str) -> bool:
    """True for file:// URLs and paths (anything without a URL scheme)."""
    if target.startswith("file://"):
        return True
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", target)


def local_path(target: str) -> Path:
    """The filesystem path of a local target."""
    if target.startswith("file://"):
        return Path(unquote(urlparse(target).path))
    return Path(target).expanduser()


def ydl_options(
    outtmpl: str | None = None,
    *,
    progress: ByteProgress | None = None,
    flat: bool = False,
) -> dict[str, Any]:
    """The options dict we give YoutubeDL: best audio only, quiet, no post-processing."""

    def hook(d: dict[str, Any]) -> None:
        if progress and d.get("status") in ("downloading", "finished"):
            progress(
                int(d.get("downloaded_bytes") or 0),
                d.get("total_bytes") or d.get("total_bytes_estimate"),
            )

    opts: dict[str, Any] = {
        # Audio only; a video format is the fallback for sites that have no audio-only stream.
        "format": "bestaudio/best",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "noplaylist": False,
        "socket_timeout": 30,
        "retries": 3,
        "fragment_retries": 3,
        "continuedl": True,
        "overwrites": False,
        "windowsfilenames": True,
        "cachedir": False,
    }
    if flat:
        opts["extract_flat"] = "in_playlist"
    if outtmpl:
        opts["outtmpl"] = {"default": outtmpl}
    if progress:
        opts["progress_hooks"] = [hook]
    return opts


_ytdlp_log = logging.getLogger("indexer.ytdlp")
_ytdlp_log.addHandler(logging.NullHandler())  # silent unless `--verbose` adds a handler


class _QuietLogger:
    """yt-dlp's console output goes to a logger no one hears by default; errors reach us as
    exceptions."""

    def debug(self, msg: str) -> None:
        _ytdlp_log.debug(msg)

    def info(self, msg: str) -> None:
        _ytdlp_log.info(msg)

    def warning(self, msg: str) -> None:
        _ytdlp_log.warning(msg)

    def error(self, msg: str) -> None:
        _ytdlp_log.error(msg)


def _clean_error(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)
    msg = re.sub(r"^(ERROR:\s*)?(\[[^\]]+\]\s*)*", "", msg)
    msg = re.sub(r"^[\w.-]+: ", "", msg) if msg.lower().startswith("generic") else msg
    if msg.lower().startswith("unsupported url"):
        return "unsupported URL: no media found there"
    lowered = msg.lower()
    if (
        "connection refused" in lowered
        or "name or service not known" in lowered
        or "failed to resolve" in lowered
    ):
        return f"unreachable: {msg}"
    return msg


def _iso_date(info: dict[str, Any]) -> str | None:
    upload = info.get("upload_date") or info.get("release_date")
    if isinstance(upload, str) and re.fullmatch(r"\d{8}", upload):
        return f"{upload[:4]}-{upload[4:6]}-{upload[6:]}"
    stamp = info.get("timestamp") or info.get("release_timestamp")
    if isinstance(stamp, (int, float)):
        return datetime.fromtimestamp(stamp, tz=UTC).date().isoformat()
    return None


def _plain_url(url: Any) -> str | None:
    """A URL without yt-dlp's smuggled data (RSS entries carry their guid that way)."""
    from yt_dlp.utils import unsmuggle_url

    return str(unsmuggle_url(url)[0]) if url else None


def _to_item(source_url: str, info: dict[str, Any], parent: dict[str, Any]) -> MediaItem:
    webpage = _plain_url(
        info.get("webpage_url") or info.get("original_url") or info.get("url") or source_url
    )
    # For direct media links the "media url" is the page itself, which decides the link style.
    media_url = _plain_url(info.get("url")) if info.get("extractor_key") == "Generic" else None
    return MediaItem(
        source_url=source_url,
        extractor=str(info.get("extractor_key") or info.get("extractor") or "generic"),
        media_id=str(info.get("id")),
        title=str(info.get("title") or info.get("episode") or info.get("id") or webpage),
        webpage_url=str(webpage),
        channel=info.get("channel")
        or info.get("uploader")
        or info.get("series")
        or info.get("playlist_title")
        or parent.get("title"),
        published=_iso_date(info),
        duration=float(info["duration"]) if info.get("duration") else None,
        description=info.get("description"),
        language=info.get("language"),
        thumbnail=info.get("thumbnail"),
        media_url=media_url or webpage,
        extra={"info": info},
    )


def list_items(
    url: str, is_known: IsKnown | None = None
) -> Iterator[MediaItem | DownloadError | KnownEntry]:
    """Resolve a URL into its media items (a feed, playlist or channel expands to entries).

    Failures of single entries are yielded as DownloadError values so the rest go on;
    a failure to read the URL itself is raised. Entries for which is_known(key) is true
    are yielded as KnownEntry before any request is made for them.
    """
    import yt_dlp

    with yt_dlp.YoutubeDL(ydl_options()) as ydl:
        try:
            top = ydl.extract_info(url, download=False, process=False)
        except Exception as exc:  # noqa: BLE001 - yt-dlp wraps everything in its own types
            raise DownloadError(_clean_error(exc)) from None
        yield from _expand(ydl, url, top, {}, 0, is_known)


def entry_key(entry: dict[str, Any]) -> str | None:
    """The identity key of a listed entry when it can be told without fetching it."""
    from yt_dlp.utils import unsmuggle_url

    if entry.get("_type") == "url_transparent" and entry.get("url"):
        forced = unsmuggle_url(entry["url"])[1] or {}
        if forced.get("force_videoid"):  # RSS items: the guid, as the Generic extractor uses it
            return f"generic:{forced['force_videoid']}"
    ie = entry.get("extractor_key") or entry.get("ie_key")
    if ie and entry.get("id"):
        return f"{str(ie).lower()}:{entry['id']}"
    return None


def _expand(
    ydl: Any,
    source_url: str,
    result: dict[str, Any],
    parent: dict[str, Any],
    depth: int,
    is_known: IsKnown | None,
) -> Iterator[MediaItem | DownloadError | KnownEntry]:
    kind = result.get("_type", "video")
    if kind in ("playlist", "multi_video"):
        if depth > 3:
            return
        for entry in result.get("entries") or []:
            if entry:
                yield from _expand(ydl, source_url, entry, result, depth + 1, is_known)
        return
    key = entry_key(result)
    if key and is_known and is_known(key):
        yield KnownEntry(key, str(result.get("title") or result.get("url") or key))
        return
    try:
        if kind == "url":
            raw = ydl.extract_info(
                result["url"], ie_key=result.get("ie_key"), download=False, process=False
            )
            if raw.get("_type") in ("playlist", "multi_video", "url"):
                yield from _expand(ydl, source_url, raw, parent, depth + 1, is_known)
                return
            result = raw
        info = ydl.process_ie_result(result, download=False)
    except Exception as exc:  # noqa: BLE001
        label = result.get("title") or result.get("url") or source_url
        yield DownloadError(f"{label}: {_clean_error(exc)}")
        return
    if info.get("_type") in ("playlist", "multi_video"):
        yield from _expand(ydl, source_url, info, parent, depth + 1, is_known)
        return
    yield _to_item(source_url, info, parent)


def fetch_audio(item: MediaItem, media_dir: Path, progress: ByteProgress | None = None) -> Path:
    """Download the item's audio into media_dir (reusing a finished earlier download)."""
    import yt_dlp
    from yt_dlp.utils import smuggle_url

    info = item.extra.get("info")
    if info is None and item.media_url:
        # A feed entry: let yt-dlp resolve the enclosure, with the guid as its id.
        info = {"_type": "url", "ie_key": "Generic",
                "url": smuggle_url(item.media_url, {"force_videoid": item.media_id})}  # fmt: skip
    if info is None:
        raise DownloadError(f"{item.title}: nothing to download")
    if item.scope and not is_web_url(item.media_url):
        raise DownloadError(f"{item.title}: enclosure {str(item.media_url)[:200]!r} refused, "
                            "only http(s) media is downloaded from feeds")  # fmt: skip
    # The enclosure is part of the name: a publisher that replaces an episode's audio under
    # the same guid must not get the old file back from the cache.
    version = f"{item.key}\n{item.media_url or ''}\n{item.media_length or ''}"
    stem = hashlib.sha1(version.encode()).hexdigest()[:20]
    try:
        media_dir.mkdir(parents=True, exist_ok=True)
        for existing in media_dir.glob(stem + ".*"):
            if existing.suffix not in (".part", ".ytdl") and existing.stat().st_size > 0:
                return existing
        outtmpl = str(media_dir / (stem + ".%(ext)s"))
        with yt_dlp.YoutubeDL(ydl_options(outtmpl, progress=progress)) as ydl:
            done = ydl.process_ie_result(dict(info), download=True)
    except OSError as exc:
        raise DownloadError(f"can't write to {media_dir}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise DownloadError(_clean_error(exc)) from None
    for req in done.get("requested_downloads") or []:
        path = req.get("filepath")
        if path and Path(path).is_file():
            return Path(path)
    found = [p for p in media_dir.glob(stem + ".*") if p.suffix not in (".part", ".ytdl")]
    if found:
        return found[0]
    raise DownloadError("the download produced no file")


def local_item(target: str) -> MediaItem:
    """Describe a local media file (identity is a hash of its content)."""
    path = local_path(target).resolve()
    if not path.exists():
        raise DownloadError(f"no such file: {path}")
    if path.is_dir():
        raise DownloadError(f"{path} is a folder; give the media files inside it")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except PermissionError:
        raise DownloadError(f"permission denied reading {path}") from None
    except OSError as exc:
        raise DownloadError(f"can't read {path}: {exc.strerror or exc}") from None
    title, duration = _probe(path)
    return MediaItem(
        source_url=target,
        extractor="file",
        media_id=digest.hexdigest()[:32],
        title=title or path.stem,
        webpage_url=path.as_uri(),
        media_url=path.as_uri(),
        duration=duration,
        published=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat(),
        path=str(path),
    )


def _probe(path: Path) -> tuple[str | None, float | None]:
    """Title tag and duration of a local file, when it is readable media."""
    try:
        import av

        with av.open(str(path), metadata_errors="ignore") as container:
            tags = dict(container.metadata)
            for stream in container.streams:
                tags.update({k: v for k, v in stream.metadata.items() if k not in tags})
            title = tags.get("title") or tags.get("TITLE")
            duration = container.duration / 1_000_000 if container.duration else None
            return (str(title) if title else None), duration
    except Exception:  # noqa: BLE001 - unreadable files are reported when transcribing
        return None, None


USER_AGENT = "podcast-indexer/0.1 (+https://github.com/; refresh)"
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # feeds; transcripts and chapters pass smaller limits
MAX_DOCUMENT_SECONDS = 120.0


@dataclass(frozen=True)
class Fetched:
    """The answer to a (conditional) GET."""

    status: int  # 200, or 304 when unchanged
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None = None
    url: str | None = None  # after redirects


def _web_only(url: str) -> None:
    scheme = urlparse(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise DownloadError(f"{url[:200]}: refused, only http(s) URLs are fetched")


def _opener() -> Any:
    import urllib.request

    class WebRedirects(urllib.request.HTTPRedirectHandler):
        # urllib would follow a redirect to ftp://; a feed's files come over http(s) only.
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                             newurl: str) -> Any:  # fmt: skip
            _web_only(newurl)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(WebRedirects)


def http_get(url: str, *, etag: str | None = None, last_modified: str | None = None,
             timeout: float = 30, max_bytes: int = MAX_DOCUMENT_BYTES,
             max_seconds: float = MAX_DOCUMENT_SECONDS) -> Fetched:  # fmt: skip
    """GET a feed, transcript or chapters file over http(s), bounded in size and time.

    Conditional when etag/last_modified are given. Anything but http(s), also as the
    target of a redirect, is refused, so a feed can't make us read local files.
    """
    got = _get(url, etag, last_modified, timeout, max_bytes, max_seconds, None)
    assert got is not None
    return got


def get_feed(url: str, *, etag: str | None = None,
             last_modified: str | None = None) -> Fetched | None:  # fmt: skip
    """GET url when it is a feed; None (after reading at most 64 KB) when it is anything else."""
    from .feeds import looks_like_feed

    return _get(url, etag, last_modified, 30, MAX_DOCUMENT_BYTES, MAX_DOCUMENT_SECONDS,
                looks_like_feed)  # fmt: skip


def _get(url: str, etag: str | None, last_modified: str | None, timeout: float, max_bytes: int,
         max_seconds: float, sniff: Callable[[bytes], bool] | None) -> Fetched | None:  # fmt: skip
    import time
    import urllib.error
    import urllib.request

    _web_only(url)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    deadline = time.monotonic() + max_seconds
    try:
        with _opener().open(request, timeout=timeout) as resp:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise LimitExceeded(f"{url}: larger than {_size(max_bytes)}")
            kind = (resp.headers.get("Content-Type") or "").lower()
            if sniff and kind.startswith(("audio/", "video/")):
                return None
            parts: list[bytes] = []
            size = 0
            sniffed = sniff is None
            while True:
                # read1: whatever has arrived, so a server that drips bytes meets the deadline
                part = resp.read1(1 << 16)
                if part:
                    parts.append(part)
                    size += len(part)
                if sniff is not None and not sniffed and (size >= 4096 or not part):
                    if not sniff(b"".join(parts)):
                        return None
                    sniffed = True
                if not part:
                    break
                if size > max_bytes:
                    raise LimitExceeded(f"{url}: larger than {_size(max_bytes)}")
                if time.monotonic() > deadline:
                    raise LimitExceeded(f"{url}: took longer than {max_seconds:.0f} s")
            return Fetched(resp.status, b"".join(parts), resp.headers.get("ETag"),
                           resp.headers.get("Last-Modified"), resp.headers.get("Content-Type"),
                           resp.geturl())  # fmt: skip
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(304, b"", etag, last_modified)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, DownloadError):
            raise exc.reason from None
        raise DownloadError(f"unreachable: {url} ({exc.reason})") from None
    except (OSError, ValueError) as exc:
        raise DownloadError(f"unreachable: {url} ({exc})") from None


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 1024} KB"


def generic_id(url: str) -> str:
    """The id yt-dlp's generic extractor gives a direct media URL (so keys agree)."""
    import os.path

    from yt_dlp.utils import url_basename

    return unquote(os.path.splitext(url_basename(url))[0])


def feed_item(source_url: str, feed: Any, entry: Any) -> MediaItem:
    """A MediaItem for a feed entry, keyed by its guid within this feed."""
    media_id = entry.guid or generic_id(entry.enclosure_url or entry.link or "")
    return MediaItem(
        source_url=source_url,
        extractor="Generic",
        media_id=media_id,
        title=entry.title or media_id,
        webpage_url=entry.enclosure_url or entry.link or source_url,
        channel=feed.title,
        published=entry.published,
        duration=entry.duration,
        description=entry.description,
        thumbnail=entry.image or feed.image,
        media_url=entry.enclosure_url,
        scope=feed_scope(source_url),
        media_length=entry.enclosure_length,
    )


def audio_replaced(stored: dict[str, Any], item: MediaItem) -> bool:
    """True when a feed now names different audio for a stored episode (same guid).

    A new file name or a new declared size counts; a changed host or query string alone
    (tracking prefixes, signed URLs) does not, or every such change would re-transcribe
    a whole back catalogue.
    """

    def name(url: str | None) -> str:
        return unquote(urlparse(url or "").path.rsplit("/", 1)[-1])

    old_length, new_length = stored.get("media_length"), item.media_length
    if old_length and new_length and old_length != new_length:
        return True
    return bool(stored.get("media_url") and item.media_url) and name(stored["media_url"]) != name(
        item.media_url
    )


def site_extractor(url: str) -> str | None:
    """The yt-dlp extractor made for this URL's site (YouTube, Vimeo, ...), if any."""
    from yt_dlp.extractor import gen_extractor_classes

    for ie in gen_extractor_classes():
        if ie.ie_key() != "Generic" and ie.suitable(url):
            return str(ie.ie_key())
    return None


def probe_source(url: str) -> tuple[str, str | None]:
    """What kind of source a URL is ("feed" or "ytdlp") and its title."""
    from .feeds import FeedError, parse_feed

    if url.startswith(("http://", "https://")) and site_extractor(url) is None:
        try:
            got = get_feed(url)
        except LimitExceeded:
            raise  # yt-dlp would read all of it, with no limit at all
        except DownloadError:
            got = None
        if got is not None:
            try:
                return "feed", parse_feed(got.body, url=got.url or url,
                                          content_type=got.content_type).title  # fmt: skip
            except FeedError:
                pass
    import yt_dlp

    with yt_dlp.YoutubeDL(ydl_options(flat=True)) as ydl:
        try:
            info = ydl.extract_info(url, download=False, process=False)
        except Exception as exc:  # noqa: BLE001
            raise DownloadError(_clean_error(exc)) from None
    return "ytdlp", info.get("title") or info.get("channel") or info.get("uploader")


SUBTITLE_FORMATS = ("vtt", "srt", "json")


def creator_subtitles(item: MediaItem, language: str | None = None) -> tuple[str, str, str] | None:
    """(url, format, language) of subtitles the uploader made, if the item has them.

    Only yt-dlp's `subtitles` are considered; `automatic_captions` are machine-made.
    """
    subs: dict[str, list[dict[str, Any]]] = (item.extra.get("info") or {}).get("subtitles") or {}
    langs = [lang for lang in subs if lang != "live_chat"]
    if language:
        langs = [lang for lang in langs if lang.split("-")[0] == language.split("-")[0]]
    for lang in sorted(langs, key=lambda lang: (not lang.startswith("en"), lang)):
        for fmt in SUBTITLE_FORMATS:
            for track in subs[lang]:
                if track.get("ext") == fmt and track.get("url"):
                    return str(track["url"]), fmt, lang
    return None
