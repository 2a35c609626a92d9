"""What meaning-search vectors cost next to transcription, per episode, in one run.

    .venv/bin/python bench/embed_cost.py [--sets 6]

The episode is real human speech: the clips of ../shared/audio (LJ Speech and JFK) joined
`--sets` times with pauses, as bench/transcribe_speed.py builds it. It is transcribed by the
product (`transcribe.transcribe`, the bundled base model, default settings), chunked as the
product chunks (45 s), then each embedding model makes the chunks' vectors and line sign bits
as `indexer add` does (`pipeline.chunk_vectors`), model loaded beforehand. Reported: seconds
and the share of the transcription's time; the issue allows 5%.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import load, machine
from transcribe_speed import build

from indexer import embed, pipeline, transcribe
from indexer.chunk import chunk_segments
from indexer.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=6, help="times the clips are repeated")
    parser.add_argument("--models", default=f"{embed.DEFAULT},{embed.MINILM}")
    parser.add_argument("--rounds", type=int, default=3, help="timed embedding runs (best)")
    args = parser.parse_args()
    print(machine())
    print("start:", load())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "episode.wav"
        seconds, _, _ = build(path, args.sets)
        settings = Settings()
        transcribe.load_model(settings)
        began = time.perf_counter()
        transcript = transcribe.transcribe(path, settings)
        spent = time.perf_counter() - began
    segments = transcript.segments
    chunks = chunk_segments(segments, settings.chunk_seconds)
    print(f"episode: {seconds:.0f} s of speech, {len(chunks)} chunks; transcription "
          f"{spent:.1f} s (RTF {spent / seconds:.3f})")  # fmt: skip
    print("| model | vectors s (best of runs) | ms a chunk | share of transcription |")
    print("|---|---|---|---|")
    for name in args.models.split(","):
        model_settings = Settings(embedding_model=name)
        embed.load(name).embed(["warm up"])
        times = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            pipeline.chunk_vectors(chunks, model_settings, segments)
            times.append(time.perf_counter() - began)
        best = min(times)
        print(f"| {embed.model_id(name)} | {best:.2f} | {best / len(chunks) * 1000:.0f} | "
              f"{best / spent:.1%} |")  # fmt: skip
    print("end:", load())


if __name__ == "__main__":
    main()
