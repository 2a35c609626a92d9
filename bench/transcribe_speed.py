"""The indexer's transcription path vs plain faster-whisper: speed, WER and word timing.

Joins the real recordings in ../shared/audio (jfk.flac, LJ001-0001..4.wav) with known,
varied gaps into one multi-minute file, then transcribes it with the same bundled whisper
base model in several ways, interleaved round by round (A, B, C, ..., B, C, ..., A), the
order rotating each round, so that load from other processes hits every variant alike.
Model loading is not timed (each model is loaded once before the first round); the indexer
variants' time includes decoding the file, the plain ones get already decoded samples.
WER is against the reference texts (lowercase, no punctuation, simple word Levenshtein).

  A  plain        WhisperModel(path) defaults (compute_type="default", beam 5, no words)
  B  plain+words  the same with word_timestamps=True, vad_filter=True
  C  indexer      indexer.transcribe.transcribe(path, Settings()): batched 8, beam 1, int8,
                  then the skipped speech re-decoded sequentially (redecode, the default)
  C0              C without re-decoding (redecode=False: the batched pipeline alone)
  D  batched b5   the same with beam_size=5
  E  sequential   the same with batch_size=1
  F  plain int8   B with compute_type="int8" (separates quantisation from batching)
  C4              C with cpu_threads=4 (Settings' cpu_threads=0 means one per core)

Run:  .venv/bin/python bench/transcribe_speed.py [--rounds 4] [--sets 5] [--variants A,B,C]
      [--verbose]   (4 rounds x 7 variants of 4 minutes of audio: ~10 min on 2 cores)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import code_version, diff, load, machine, norm_words, table, wer
from faster_whisper import WhisperModel, decode_audio

from indexer import transcribe
from indexer.config import Settings

RATE = 16000
AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "audio"
GAPS = (2.0, 1.0, 3.0, 1.5, 4.0, 2.5, 0.8)  # seconds after each clip, rotated per set
Words = list[tuple[float, str]]  # (start, word) of every recognised word
Runner = Callable[[], tuple[str, Words | None]]


def references() -> list[tuple[str, str]]:
    """(file, text) of every clip, in the order they are joined."""
    clips = [("jfk.flac", "And so, my fellow Americans, ask not what your country can do for "
              "you, ask what you can do for your country.")]  # fmt: skip
    for line in (AUDIO / "ljspeech_transcripts.txt").read_text().splitlines():
        if "|" in line:
            ident, text = line.split("|", 1)
            clips.append((f"{ident}.wav", text))
    return clips


def onset(samples: np.ndarray) -> float:
    """Where speech starts in a clip: first 10 ms frame louder than 10% of the loudest."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames**2).mean(axis=1))
    return float(np.flatnonzero(rms > 0.1 * rms.max())[0]) * 0.01


def build(path: Path, sets: int) -> tuple[float, list[str], list[tuple[float, float, float]]]:
    """Write the joined recording; return its length, reference words and, per clip,
    (window start, true speech onset, clip end) in seconds."""
    clips = [(decode_audio(str(AUDIO / f), sampling_rate=RATE), t) for f, t in references()]
    parts, ref, marks = [np.zeros(RATE, dtype=np.float32)], [], []
    t, gap_before = 1.0, 1.0
    for s in range(sets):
        for i, (samples, text) in enumerate(clips):
            dur = len(samples) / RATE
            marks.append((t - gap_before / 2, t + onset(samples), t + dur))
            gap = GAPS[(s * len(clips) + i) % len(GAPS)]
            parts += [samples, np.zeros(int(gap * RATE), dtype=np.float32)]
            ref += norm_words(text)
            t += dur + int(gap * RATE) / RATE
            gap_before = gap
    audio = np.concatenate(parts)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    return len(audio) / RATE, ref, marks


def timing_errors(words: Words, marks: list[tuple[float, float, float]]) -> list[float]:
    """Per clip: first recognised word's start minus the clip's true speech onset."""
    errors = []
    for window, true, end in marks:
        first = next((s for s, _ in words if window <= s < end), None)
        errors.append(first - true if first is not None else float("inf"))
    return errors


def plain(model: WhisperModel, audio: np.ndarray, words: bool) -> Runner:
    def run() -> tuple[str, Words | None]:
        opts = dict(word_timestamps=True, vad_filter=True) if words else {}
        segments, _ = model.transcribe(audio, **opts)
        segs = list(segments)
        text = " ".join(s.text for s in segs)
        found = [(w.start, w.word) for s in segs for w in (s.words or ())] if words else None
        return text, found

    return run


def indexer(path: Path, settings: Settings) -> Runner:
    transcribe.load_model(settings)  # load now, not inside the timed call

    def run() -> tuple[str, Words | None]:
        tr = transcribe.transcribe(path, settings)
        segs = tr.segments
        return " ".join(s.text for s in segs), [(w.start, w.text) for s in segs for w in s.words]

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--sets", type=int, default=5, help="times the 5 clips are repeated")
    ap.add_argument("--variants", default="A,B,F,C,D,E,C4", help="comma-separated subset")
    ap.add_argument("--verbose", action="store_true", help="print per-clip errors")
    ap.add_argument("--workdir", type=Path, help="where the joined WAV goes (default: temp)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    print(machine())
    print(code_version())
    print("start:", load())
    path = work / "joined.wav"
    seconds, ref, marks = build(path, args.sets)
    began = time.perf_counter()
    audio = decode_audio(str(path), sampling_rate=RATE)
    decode_s = time.perf_counter() - began
    print(f"audio: {seconds:.1f} s, {len(marks)} clips, {len(ref)} reference words; "
          f"decoding the WAV takes {decode_s:.2f} s")  # fmt: skip

    base = Settings()
    model_path = str(transcribe.ensure_default_model(base.cache_path))
    wanted = args.variants.split(",")
    runners: dict[str, Runner] = {}
    if {"A", "B"} & set(wanted):  # one float32 model serves both
        plain_model = WhisperModel(model_path, device="cpu", compute_type="default")
        print("plain model: compute type", plain_model.model.compute_type,
              "| CT2 threads: faster-whisper default (cpu_threads=0 -> 4)")  # fmt: skip
        runners["A"] = plain(plain_model, audio, words=False)
        runners["B"] = plain(plain_model, audio, words=True)
    if "F" in wanted:
        int8_model = WhisperModel(model_path, device="cpu", compute_type="int8")
        runners["F"] = plain(int8_model, audio, words=True)
    configs = {"C": base, "C0": base.replace(redecode=False), "D": base.replace(beam_size=5),
               "E": base.replace(batch_size=1),
               "C4": base.replace(cpu_threads=4)}  # fmt: skip
    for name, settings in configs.items():
        if name in wanted:
            runners[name] = indexer(path, settings)
    order = [v for v in wanted if v in runners]

    times: dict[str, list[float]] = {v: [] for v in order}
    cpu: dict[str, list[float]] = {v: [] for v in order}
    outputs: dict[str, tuple[str, Words | None]] = {}
    for r in range(args.rounds):
        for v in order[r % len(order) :] + order[: r % len(order)]:  # rotate who goes first
            began, began_cpu = time.perf_counter(), time.process_time()
            outputs[v] = runners[v]()
            times[v].append(time.perf_counter() - began)
            cpu[v].append(time.process_time() - began_cpu)
            print(f"round {r + 1} {v}: {times[v][-1]:.1f} s, CPU {cpu[v][-1]:.1f} s", flush=True)
    print("end:", load())

    rows = []
    ref_time = statistics.median(times[order[0]])
    for v in order:
        text, words = outputs[v]
        hyp = norm_words(text)
        errors, n = wer(ref, hyp)
        best, med = min(times[v]), statistics.median(times[v])
        timing = "-"
        if words is not None:
            errs = timing_errors(words, marks)
            timing = f"{statistics.median(errs):+.2f} / {max(abs(e) for e in errs):.2f}"
            if args.verbose:
                print(v, "per-clip start errors:", " ".join(f"{e:+.2f}" for e in errs))
        if args.verbose:
            print(v, "errors:", " ".join(diff(ref, hyp)))
        rows.append([v, f"{best:.1f}", f"{med:.1f}", f"{statistics.median(cpu[v]):.1f}",
                     f"{med / seconds:.3f}",
                     f"{ref_time / med:.2f}x", f"{100 * errors / n:.1f}% ({errors}/{n})",
                     len(hyp), timing])  # fmt: skip
    print(f"\n{args.rounds} interleaved rounds, {seconds:.0f} s of audio\n")
    print(table(["variant", "min s", "median s", "CPU s (median)", "RTF (median)", f"speed vs {order[0]}",
                 "WER", "words out", "first word - true onset, s (median / max abs)"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
