"""Parse and format timestamps like ``42:30`` and build deep links to a second of media."""

from __future__ import annotations

import math
import posixpath
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path, PureWindowsPath
from urllib.parse import (
    SplitResult,
    parse_qs,
    unquote,
    unquote_plus,
    urlencode,
    urlsplit,
    urlunsplit,
)

__all__ = [
    "MEDIA_EXTENSIONS",
    "PLATFORMS",
    "TimeFormatError",
    "deep_link",
    "format_clock",
    "format_srt_time",
    "format_time",
    "format_vtt_time",
    "parse_time",
    "platform_of",
    "youtube_id",
]

PLATFORMS = (
    "youtube",
    "vimeo",
    "soundcloud",
    "twitch",
    "dailymotion",
    "spotify",
    "media",
    "file",
    "web",
)

MEDIA_EXTENSIONS = frozenset(
    {
        "3gp", "aac", "aif", "aiff", "avi", "flac", "m4a", "m4b", "m4v", "mka", "mkv", "mov",
        "mp2", "mp3", "mp4", "mpeg", "mpg", "mpga", "oga", "ogg", "ogv", "opus", "wav", "weba",
        "webm", "wma",
    }
)  # fmt: skip

_FORMATS_HINT = "use 42:30, 1:02:03, 2550, 42m30s or 2550s"

# re.ASCII: \d would otherwise accept digits from other scripts, which float() then reads.
_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_COLON_FIRST = re.compile(r"\d+", re.ASCII)
_COLON_REST = re.compile(r"\d{1,2}", re.ASCII)
_COLON_LAST = re.compile(r"\d{1,2}(?:\.\d+)?", re.ASCII)
_UNITS = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*m)?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*s)?",
    re.ASCII | re.IGNORECASE,
)
_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]|\\\\")
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}", re.ASCII)
_YOUTUBE_PATH_PREFIXES = frozenset({"watch", "shorts", "live", "embed", "v", "e"})


class TimeFormatError(ValueError):
    """A time the user typed that we can't read."""

    def __init__(self, text: str, reason: str | None = None) -> None:
        self.text = text
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        super().__init__(f"can't read {text!r} as a time{detail}; {_FORMATS_HINT}")

    def __reduce__(self) -> tuple[type[TimeFormatError], tuple[str, str | None]]:
        # The default pickling would pass the finished message back in as `text`.
        return (type(self), (self.text, self.reason))


def parse_time(text: str) -> float:
    """Read ``42:30``, ``1:02:03``, ``2550``, ``2550.5``, ``42m30s`` or ``1h2m3s`` as seconds."""
    value = text.strip()
    if not value:
        raise TimeFormatError(text, "it is empty")
    if value.startswith("-"):
        raise TimeFormatError(text, "it is negative")
    if _NUMBER.fullmatch(value):
        seconds = float(value)
    elif ":" in value:
        seconds = _parse_colons(text, value)
    else:
        seconds = _parse_units(text, value)
    if not math.isfinite(seconds):
        raise TimeFormatError(text, "it is too large")
    return seconds


def _parse_colons(text: str, value: str) -> float:
    """Read ``m:ss`` or ``h:mm:ss`` (fraction allowed on the seconds)."""
    fields = value.split(":")
    if len(fields) > 3:
        raise TimeFormatError(text, "at most three fields, h:mm:ss")
    patterns = [_COLON_FIRST] + [_COLON_REST] * (len(fields) - 2) + [_COLON_LAST]
    if not all(pattern.fullmatch(field) for pattern, field in zip(patterns, fields, strict=False)):
        raise TimeFormatError(text)
    numbers = [float(field) for field in fields]
    if any(number >= 60 for number in numbers[1:]):
        raise TimeFormatError(text, "minutes and seconds must be under 60")
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds


def _parse_units(text: str, value: str) -> float:
    """Read ``1h2m3s``, ``42m30s``, ``90m`` or ``2550s``."""
    match = _UNITS.fullmatch(value)
    if match is None or not any(match.groups()):
        raise TimeFormatError(text)
    hours, minutes, secs = (float(part) if part else None for part in match.groups())
    # Like the colon form, only the largest unit given may reach 60.
    if minutes is not None and hours is not None and minutes >= 60:
        raise TimeFormatError(text, "minutes must be under 60 after hours")
    if secs is not None and (hours is not None or minutes is not None) and secs >= 60:
        raise TimeFormatError(text, "seconds must be under 60 after minutes or hours")
    return (hours or 0.0) * 3600 + (minutes or 0.0) * 60 + (secs or 0.0)


def _whole_seconds(seconds: float) -> int:
    """Floor to whole seconds, clamping negatives to zero."""
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite time: {seconds!r}")
    return max(0, math.floor(seconds))


def _split_hms(total: int) -> tuple[int, int, int]:
    """Split whole seconds into hours, minutes and seconds."""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return hours, minutes, secs


def format_time(seconds: float) -> str:
    """Format as ``h:mm:ss`` always, e.g. ``0:42:30``."""
    hours, minutes, secs = _split_hms(_whole_seconds(seconds))
    return f"{hours}:{minutes:02d}:{secs:02d}"


def format_clock(seconds: float) -> str:
    """Format short: ``m:ss`` under an hour (``42:30``), ``h:mm:ss`` from an hour on."""
    hours, minutes, secs = _split_hms(_whole_seconds(seconds))
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _subtitle_time(seconds: float, separator: str) -> str:
    """Format as ``hh:mm:ss`` + separator + ``mmm``, rounded half up to the millisecond."""
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite time: {seconds!r}")
    # Decimal of the shortest repr rounds 1.0005 up as written, where float maths would not.
    millis = int(
        Decimal(repr(max(0.0, float(seconds)))).quantize(Decimal("0.001"), ROUND_HALF_UP) * 1000
    )
    whole, millis = divmod(millis, 1000)
    hours, minutes, secs = _split_hms(whole)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def format_srt_time(seconds: float) -> str:
    """Format for SubRip: ``hh:mm:ss,mmm``."""
    return _subtitle_time(seconds, ",")


def format_vtt_time(seconds: float) -> str:
    """Format for WebVTT: ``hh:mm:ss.mmm``."""
    return _subtitle_time(seconds, ".")


def _host(parts: SplitResult) -> str:
    """The lower-case host name without port or trailing dot."""
    return (parts.hostname or "").rstrip(".")


def _host_is(host: str, *domains: str) -> bool:
    """Whether host is one of the domains or a subdomain of one."""
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def _is_youtube_host(host: str) -> bool:
    """Whether host serves YouTube pages."""
    return _host_is(host, "youtube.com", "youtu.be", "youtube-nocookie.com")


def _is_path(url: str, parts: SplitResult) -> bool:
    """Whether url is a local path rather than a URL."""
    return not parts.scheme or _WINDOWS_PATH.match(url) is not None


def _is_media_path(path: str) -> bool:
    """Whether a URL path names an audio or video file."""
    extension = posixpath.splitext(unquote(path))[1]
    return extension[1:].lower() in MEDIA_EXTENSIONS


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube URL, or None if url is not a YouTube video URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. "http://[::1/x": not a URL at all
        return None
    host = _host(parts)
    if not _is_youtube_host(host):
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if _host_is(host, "youtu.be"):
        candidate = segments[0] if segments else None
    elif len(segments) >= 2 and segments[0] in _YOUTUBE_PATH_PREFIXES:
        candidate = segments[1]
    else:
        candidate = parse_qs(parts.query).get("v", [None])[0]
    # "videoseries" is an 11-character embed path for a playlist, not a video.
    if candidate is None or candidate == "videoseries" or not _YOUTUBE_ID.fullmatch(candidate):
        return None
    return candidate


def _classify(url: str) -> tuple[str, SplitResult]:
    """The platform of a stripped URL or path, with its split parts."""
    if not url:
        raise ValueError("empty URL")
    parts = urlsplit(url)
    if _is_path(url, parts) or parts.scheme.lower() == "file":
        return "file", parts
    if _is_media_path(parts.path):
        return "media", parts
    host = _host(parts)
    if _is_youtube_host(host):
        return "youtube", parts
    for platform, domains in (
        ("vimeo", ("vimeo.com",)),
        ("soundcloud", ("soundcloud.com",)),
        ("twitch", ("twitch.tv",)),
        ("dailymotion", ("dailymotion.com", "dai.ly")),
        ("spotify", ("spotify.com",)),
    ):
        if _host_is(host, *domains):
            return platform, parts
    return "web", parts


def platform_of(url: str) -> str:
    """Which link style ``deep_link`` uses for url: one of ``PLATFORMS``."""
    return _classify(url.strip())[0]


def _with_fragment(parts: SplitResult, fragment: str) -> str:
    """The URL with its fragment replaced."""
    return urlunsplit(parts._replace(fragment=fragment))


def _with_param(parts: SplitResult, key: str, value: str, *drop: str) -> str:
    """The URL with query parameter key set, dropping key and drop, other parameters untouched."""
    removed = {key, *drop}
    # Work on the raw pieces so the parameters we keep stay byte for byte as they were.
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.split("=", 1)[0]) not in removed
    ]
    kept.append(f"{key}={value}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def _file_uri(path: str) -> str:
    """A file:// URI for a local path, made absolute against the working directory."""
    if _WINDOWS_PATH.match(path):
        return PureWindowsPath(path).as_uri()
    return Path(path).expanduser().absolute().as_uri()


def _compact_hms(total: int) -> str:
    """Vimeo's style: ``45s``, ``42m30s``, ``1h2m3s``."""
    hours, minutes, secs = _split_hms(total)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _youtube_link(url: str, parts: SplitResult, total: int) -> str:
    """Canonical watch URL keeping the playlist position, or best effort without a video id."""
    video = youtube_id(url)
    if video is None:
        return _with_param(parts, "t", f"{total}s", "start")
    params = parse_qs(parts.query)
    pairs = [("v", video)]
    pairs += [(key, params[key][0]) for key in ("list", "index") if key in params]
    pairs.append(("t", f"{total}s"))
    return "https://www.youtube.com/watch?" + urlencode(pairs)


def deep_link(url: str, seconds: float) -> str:
    """The URL that opens the media at url at the given second."""
    target = url.strip()
    total = _whole_seconds(seconds)
    platform, parts = _classify(target)
    if platform == "file":
        if _is_path(target, parts):
            return f"{_file_uri(target)}#t={total}"
        return _with_fragment(parts, f"t={total}")
    if platform == "youtube":
        return _youtube_link(target, parts, total)
    if platform == "vimeo":
        return _with_fragment(parts, f"t={_compact_hms(total)}")
    if platform == "soundcloud":
        return _with_fragment(parts, f"t={format_clock(total)}")
    if platform == "twitch":
        hours, minutes, secs = _split_hms(total)
        return _with_param(parts, "t", f"{hours}h{minutes}m{secs}s")
    if platform == "dailymotion":
        return _with_param(parts, "start", str(total))
    if platform == "spotify":
        return _with_param(parts, "t", str(total))
    # Direct media takes a W3C media fragment; for other pages it is the best guess.
    return _with_fragment(parts, f"t={total}")


def link_at(url: str | None, seconds: float) -> str:
    """deep_link, or "" when there is no URL or it is malformed (an old row, a bad feed)."""
    if not url or not url.strip():
        return ""
    try:
        return deep_link(url, seconds)
    except ValueError:
        return ""


def range_link(url: str, start: float, end: float) -> str:
    """A link to the span start..end: a W3C `#t=start,end` fragment for media and files,
    the start elsewhere (YouTube's and Vimeo's page links have no end; see `embed_url`)."""
    platform, _ = _classify(url.strip())
    if platform in ("media", "file") and end > start:
        return f"{deep_link(url, start)},{math.ceil(end)}"
    return deep_link(url, start)


def parse_range(text: str) -> tuple[float, float | None]:
    """'42:30-43:30', '42:30..43:30', '2550-2610' or a single time -> (start, end or None)."""
    value = text.strip()
    for separator in ("..", "–", "—", "-"):  # noqa: RUF001 (en and em dashes are typed too)
        head, sep, tail = value.partition(separator)
        if sep and head.strip() and tail.strip():
            start, end = parse_time(head), parse_time(tail)
            if end <= start:
                raise TimeFormatError(text, "the end must come after the start")
            return start, end
    return parse_time(value), None


def format_range(start: float, end: float | None) -> str:
    """0:42:30 or 0:42:30–0:43:30 for display."""
    if end is None or end <= start:
        return format_time(start)
    return f"{format_time(start)}–{format_time(end)}"  # noqa: RUF001


def youtube_embed(url: str, seconds: float = 0, end: float | None = None) -> str | None:
    """The privacy-enhanced embed URL for a YouTube video (from `seconds`, stopping at `end`),
    or None for other URLs."""
    vid = youtube_id(url)
    if vid is None:
        return None
    stop = f"&end={math.ceil(end)}" if end is not None and end > seconds else ""
    return (f"https://www.youtube-nocookie.com/embed/{vid}?start={_whole_seconds(seconds)}"
            f"{stop}&enablejsapi=1")  # fmt: skip


def vimeo_embed(url: str, seconds: float = 0) -> str | None:
    """Vimeo's player URL for a vimeo.com video link, or None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not _host_is(_host(parts), "vimeo.com"):
        return None
    digits = [p for p in parts.path.split("/") if p.isdigit()]
    if not digits:
        return None
    return f"https://player.vimeo.com/video/{digits[-1]}#t={_compact_hms(_whole_seconds(seconds))}"


_MARKER = 987654321


def link_template(url: str | None) -> str | None:
    """deep_link with `{t}` where the whole seconds go (a page builds each line's link from
    it), or None for platforms that write times otherwise (Vimeo's 1m15s) or a bad URL."""
    made = link_at(url, _MARKER)
    if made.count(str(_MARKER)) != 1:
        return None
    return made.replace(str(_MARKER), "{t}")
