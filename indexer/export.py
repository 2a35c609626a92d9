"""Transcripts to and from SRT, WebVTT, Podcasting 2.0 JSON and plain text; pure, no I/O."""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Collection, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from indexer.models import Segment, Word

FORMATS = ("srt", "vtt", "json", "txt")

# <podcast:transcript type="..."> gives MIME types; accept them so callers can pass it through.
_MIME_TYPES = {
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "text/vtt": "vtt",
    "application/json": "json",
}

JSON_VERSION = "1.0.0"
MAX_GAP = 1.5
MAX_SEGMENT = 20.0

_SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
_CLOSERS = "\"'”’»)]"
_TIME_RE = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d+))?")
_TIMING_RE = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)(?:\s.*)?$")
_VTT_TAG_RE = re.compile(r"<[^>]*>")
_VTT_VOICE_RE = re.compile(r"<v(?:\.[^\s>]*)?[ \t]+([^>]+)>")
# Only real-looking tags, so "a < b > c" in an SRT survives.
_SRT_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>|\{\\[^{}]*\}")
_SPACE_RE = re.compile(r"\s+")


class TranscriptError(ValueError):
    """A transcript file that cannot be read; the message is one line for the user."""


def _timestamp(seconds: float, sep: str) -> str:
    """Format seconds as hh:mm:ss<sep>mmm, rounding half up to the millisecond."""
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format time {seconds!r}")
    # Decimal of the shortest repr rounds 0.0005 and 1.0005 up, as written, not as stored.
    ms = int(Decimal(repr(max(seconds, 0.0))).scaleb(3).quantize(Decimal(1), ROUND_HALF_UP))
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _clock(seconds: float) -> str:
    """Format seconds as h:mm:ss, rounding down so a jump lands before the words."""
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format time {seconds!r}")
    total = int(max(seconds, 0.0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _no_arrows(text: str) -> str:
    """Replace every '-->' with '->', which would otherwise be read as a timing line."""
    # Loop because one pass turns '--->' into a new '-->'.
    while "-->" in text:
        text = text.replace("-->", "->")
    return text


def _cue_text(text: str) -> str:
    """Cue payload: stripped lines, no blank lines, no '-->' (either would end the cue)."""
    lines = (line.strip() for line in _no_arrows(text).splitlines())
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    """Collapse all whitespace, newlines included, to single spaces."""
    return _SPACE_RE.sub(" ", text).strip()


def to_srt(segments: Sequence[Segment]) -> str:
    """Render segments as SubRip cues numbered from 1, skipping empty ones."""
    cues: list[str] = []
    for seg in segments:
        text = _cue_text(seg.text)
        if not text:
            continue
        start, end = _timestamp(seg.start, ","), _timestamp(seg.end, ",")
        who = f"{_one_line(seg.speaker)}: " if seg.speaker else ""
        cues.append(f"{len(cues) + 1}\n{start} --> {end}\n{who}{text}\n")
    return "\n".join(cues)


def _is_corrected(seg: Segment, corrected: Collection[float]) -> bool:
    return round(seg.start, 2) in corrected


def to_vtt(segments: Sequence[Segment], title: str | None = None,
           corrected: Collection[float] = ()) -> str:  # fmt: skip
    """Render segments as a WebVTT file, with the title in a NOTE block (and one before each
    line an editor corrected)."""
    blocks = ["WEBVTT\n"]
    note = _one_line(_no_arrows(title)) if title else ""
    if note:
        blocks.append(f"NOTE {note}\n")
    for seg in segments:
        # '&' and '<' start entities and tags in a cue payload.
        text = _cue_text(seg.text).replace("&", "&amp;").replace("<", "&lt;")
        if not text:
            continue
        start, end = _timestamp(seg.start, "."), _timestamp(seg.end, ".")
        # A voice name ends at ">" and can hold no tags: drop the angle brackets.
        voice = re.sub(r"[<>]", "", _one_line(_no_arrows(seg.speaker or ""))).replace("&", "&amp;")
        who = f"<v {voice}>" if voice else ""
        if _is_corrected(seg, corrected):
            blocks.append("NOTE corrected by an editor\n")
        blocks.append(f"{start} --> {end}\n{who}{text}\n")
    return "\n".join(blocks)


def to_json(segments: Sequence[Segment], language: str | None = None,
            corrected: Collection[float] = ()) -> str:  # fmt: skip
    """Render a Podcasting 2.0 JSON transcript: one entry per word, or per segment without
    words; the words of a corrected line carry "corrected": true."""
    entries: list[dict[str, Any]] = []
    for seg in segments:
        spans = seg.words or (Word(seg.start, seg.end, seg.text),)
        for span in spans:
            body = _one_line(span.text)
            if body:
                entry = {"startTime": round(span.start, 3), "endTime": round(span.end, 3),
                         "body": body}  # fmt: skip
                if seg.speaker:
                    entry["speaker"] = seg.speaker
                if _is_corrected(seg, corrected):
                    entry["corrected"] = True
                entries.append(entry)
    doc: dict[str, Any] = {"version": JSON_VERSION}
    # Not in the spec's example, but extra keys are ignored by players and we know it.
    if language:
        doc["language"] = language
    doc["segments"] = entries
    return json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def to_txt(segments: Sequence[Segment], corrected: Collection[float] = ()) -> str:
    """Render one '[h:mm:ss] text' line per non-empty segment ('[corrected]' after a line an
    editor corrected)."""
    lines = []
    for seg in segments:
        text = _one_line(seg.text)
        if text:
            who = f"{_one_line(seg.speaker)}: " if seg.speaker else ""
            mark = " [corrected]" if _is_corrected(seg, corrected) else ""
            lines.append(f"[{_clock(seg.start)}] {who}{text}{mark}\n")
    return "".join(lines)


def export_transcript(
    segments: Sequence[Segment],
    fmt: str,
    *,
    title: str | None = None,
    language: str | None = None,
    corrected: Collection[float] = (),
) -> str:
    """Render segments in one of FORMATS: srt, vtt, json or txt. `corrected`: the starts
    (rounded to 0.01 s) of lines an editor corrected, marked where the format can say so
    (SubRip cannot)."""
    renderers: dict[str, Callable[[], str]] = {
        "srt": lambda: to_srt(segments),
        "vtt": lambda: to_vtt(segments, title=title, corrected=corrected),
        "json": lambda: to_json(segments, language=language, corrected=corrected),
        "txt": lambda: to_txt(segments, corrected=corrected),
    }
    render = renderers.get(fmt.lower())
    if render is None:
        raise ValueError(f"unknown format {fmt!r}; choose srt, vtt, json or txt")
    return render()


def _parse_time(value: str, where: str) -> float:
    """Read hh:mm:ss,mmm, hh:mm:ss.mmm or mm:ss.mmm as float seconds."""
    match = _TIME_RE.fullmatch(value)
    if match is None:
        raise TranscriptError(f"{where}: bad timestamp {value!r}")
    hours, minutes, secs, frac = match.groups()
    if int(secs) >= 60 or (hours is not None and int(minutes) >= 60):
        raise TranscriptError(f"{where}: bad timestamp {value!r}")
    whole = int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)
    # Through Decimal so "01,500" is exactly the float 1.5, with no summing error.
    return float(Decimal(f"{whole}.{frac or 0}"))


def _parse_timing(line: str, where: str) -> tuple[float, float]:
    """Read a 'start --> end [settings]' line."""
    match = _TIMING_RE.match(line)
    if match is None:
        raise TranscriptError(f"{where}: bad timing line {line.strip()!r}")
    start = _parse_time(match.group(1), where)
    end = _parse_time(match.group(2), where)
    if end < start:
        raise TranscriptError(
            f"{where}: ends ({match.group(2)}) before it starts ({match.group(1)})"
        )
    return start, end


def _blocks(text: str) -> list[list[str]]:
    """Split text into blank-line-separated blocks of lines."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _parse_srt(text: str) -> list[Segment]:
    """Read SubRip cues; cue numbers are optional and ignored."""
    cues: list[tuple[float, float, list[str]]] = []
    for n, block in enumerate(_blocks(text), 1):
        timing = next((i for i, line in enumerate(block[:2]) if "-->" in line), None)
        if timing is None:
            if not cues:
                raise TranscriptError(f"SRT block {n}: expected a cue number and a timing line")
            # A blank line inside a cue's text: real files have them, keep the text.
            cues[-1][2].extend(block)
            continue
        start, end = _parse_timing(block[timing], f"SRT block {n}")
        cues.append((start, end, block[timing + 1 :]))
    segments = []
    for start, end, lines in cues:
        # SubRip has no escaping, so '&amp;' is literal text; only tags are markup.
        body = _one_line(_SRT_TAG_RE.sub("", " ".join(lines)))
        if body:
            segments.append(Segment(start, end, body))
    return segments


def _parse_vtt(text: str) -> list[Segment]:
    """Read WebVTT cues, dropping tags, cue settings, NOTE, STYLE and REGION blocks."""
    blocks = _blocks(text)
    header = blocks[0][0] if blocks else ""
    if not re.match(r"WEBVTT(?:[ \t]|$)", header):
        raise TranscriptError("not a WebVTT file: the first line must be WEBVTT")
    # A cue may follow the header with no blank line between; the spec allows it.
    first_cue = next((i for i, line in enumerate(blocks[0][1:], 1) if "-->" in line), None)
    if first_cue is not None:
        blocks[0:1] = [blocks[0][:first_cue], blocks[0][first_cue:]]
    segments = []
    for n, block in enumerate(blocks[1:], 2):
        if re.match(r"(?:NOTE|STYLE|REGION)(?:\s|$)", block[0]):
            continue
        timing = next((i for i, line in enumerate(block[:2]) if "-->" in line), None)
        if timing is None:
            # The WebVTT parsing rules drop blocks that are not cues; so do browsers.
            continue
        start, end = _parse_timing(block[timing], f"WebVTT block {n}")
        payload = " ".join(block[timing + 1 :])
        voice = _VTT_VOICE_RE.search(payload)
        speaker = _one_line(html.unescape(voice.group(1))) if voice else None
        body = _one_line(html.unescape(_VTT_TAG_RE.sub("", payload)))
        if body:
            segments.append(Segment(start, end, body, speaker=speaker or None))
    return segments


def _short(value: object) -> str:
    """A repr short enough for a one-line error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_time(entry: dict[str, Any], key: str, where: str) -> float | None:
    """Read a finite, non-negative number from a JSON entry, or None if absent."""
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TranscriptError(f"{where}: {key} must be a number, not {_short(value)}")
    if not math.isfinite(value) or value < 0:
        raise TranscriptError(f"{where}: {key} must be a non-negative number, not {_short(value)}")
    return float(value)


def _ends_sentence(body: str) -> bool:
    """Whether a word closes a sentence or paragraph."""
    return body.endswith("\n") or body.strip().rstrip(_CLOSERS).endswith(_SENTENCE_END)


def _parse_json(text: str) -> list[Segment]:
    """Read a Podcasting 2.0 JSON transcript, grouping per-word entries into segments."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"invalid transcript JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise TranscriptError("invalid transcript JSON: expected an object with a 'segments' list")
    entries: list[tuple[float, float | None, str, object]] = []
    for n, entry in enumerate(doc["segments"], 1):
        where = f"transcript JSON segment {n}"
        if not isinstance(entry, dict):
            raise TranscriptError(f"{where}: expected an object, not {_short(entry)}")
        start = _json_time(entry, "startTime", where)
        if start is None:
            raise TranscriptError(f"{where}: missing startTime")
        end = _json_time(entry, "endTime", where)
        if end is not None and end < start:
            raise TranscriptError(f"{where}: endTime {end} is before startTime {start}")
        body = entry.get("body", "")
        if not isinstance(body, str):
            raise TranscriptError(f"{where}: body must be a string, not {_short(body)}")
        entries.append((start, end, body, entry.get("speaker")))

    segments: list[Segment] = []
    words: list[Word] = []
    speaker: object = None

    def name(who: object) -> str | None:
        return _one_line(str(who)) or None if who is not None else None

    def flush() -> None:
        if words:
            text = " ".join(w.text for w in words)
            segments.append(Segment(words[0].start, words[-1].end, text, tuple(words),
                                    name(speaker)))  # fmt: skip
            words.clear()

    for i, (start, end, body, who) in enumerate(entries):
        if end is None:
            # endTime is optional in the spec; the next entry's start is the best guess.
            end = max(start, entries[i + 1][0]) if i + 1 < len(entries) else start
        clean = _one_line(body)
        if not clean:
            continue
        if " " in clean:
            # A phrase-level entry is already a segment; it has no word timings.
            flush()
            segments.append(Segment(start, end, clean, speaker=name(who)))
            continue
        if words and (
            who != speaker or start - words[-1].end > MAX_GAP or end - words[0].start > MAX_SEGMENT
        ):
            flush()
        speaker = who
        words.append(Word(start, end, clean))
        if _ends_sentence(body):
            flush()
    flush()
    return segments


def parse_transcript(text: str, fmt: str | None = None) -> list[Segment]:
    """Read an SRT, WebVTT or Podcasting 2.0 JSON transcript; detect the format when fmt is None."""
    text = text.removeprefix("\ufeff")
    if fmt is None:
        head = text.lstrip()
        kind = "json" if head.startswith("{") else "vtt" if head.startswith("WEBVTT") else "srt"
    else:
        kind = _MIME_TYPES.get(fmt.strip().lower(), fmt.strip().lower())
    parsers: dict[str, Callable[[str], list[Segment]]] = {
        "srt": _parse_srt,
        "vtt": _parse_vtt,
        "json": _parse_json,
    }
    parse = parsers.get(kind)
    if parse is None:
        raise TranscriptError(f"unknown transcript format {fmt!r}; choose srt, vtt or json")
    return parse(text)


AUTOMATIC_NOTE = "Automatic transcript, check against the audio."


def citation(
    text: str,
    *,
    start: float,
    end: float | None = None,
    title: str | None = None,
    show: str | None = None,
    published: str | None = None,
    speaker: str | None = None,
    link: str | None = None,
    media_link: str | None = None,
    automatic: bool = False,
) -> dict[str, str]:
    """A quote as a newsroom prints it: the words, who said them, the show, the episode, its
    date, the time or range and the link (the publisher's page, the media beside it), and a
    warning when the transcript is automatic. Returns {"plain": ..., "markdown": ...}.

    web/static/app.js `citation` writes the same forms for lines picked on a page."""
    from indexer.links import format_range  # links imports nothing of ours; keep export pure

    words = _SPACE_RE.sub(" ", text).strip()
    when = format_range(start, end)
    source = [p for p in (show, f"“{title}”" if title else "", published) if p]
    media = media_link if media_link and media_link != link else None
    who = f"{speaker}: " if speaker else ""
    plain = f"{who}“{words}” — {', '.join([*source, when])}."
    if link:
        plain += f" {link}"
    if media:
        plain += f" (audio: {media})"
    if automatic:
        plain += f" {AUTOMATIC_NOTE}"
    md_source = [p for p in (show, f"*{title}*" if title else "", published) if p]
    md_when = f"[{when}]({link})" if link else when
    tail = " · ".join([", ".join([*md_source, md_when]), *([f"[audio]({media})"] if media else []),
                       *([f"_{AUTOMATIC_NOTE}_"] if automatic else [])])  # fmt: skip
    markdown = f"> {f'**{speaker}:** ' if speaker else ''}{words}\n>\n> — {tail}"
    return {"plain": plain, "markdown": markdown}
