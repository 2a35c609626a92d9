"""Regenerate indexer/samples/newsroom-sample.ogg, the bundled demo recording (needs espeak-ng)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.speech import encode, speak_lines, write_wav

LINES = [
    (
        "en-us",
        "Welcome to the Newsroom Weekly podcast. I'm your host, and today we talk about the city budget.",
    ),
    (
        "en-gb",
        "Thanks for having me. The council approved the budget on Tuesday, after a long debate.",
    ),
    (
        "en-us",
        "The biggest change is the money for new bicycle lanes on Main Street and along the river.",
    ),
    (
        "en-gb+f3",
        "Cyclists have asked for safer routes for years, and the transport office finally listened.",
    ),
    ("en-us", "Critics say the plan removes too much parking from the old market district."),
    (
        "en-gb",
        "Construction starts in the spring, and the first lanes should open before the summer festival.",
    ),
    (
        "en-us",
        "That's all for this week. Send your questions to the newsroom, and we'll answer them next time.",
    ),
]


def main() -> None:
    samples, lines = speak_lines(LINES, gap=0.9)
    target = ROOT / "indexer" / "samples" / "newsroom-sample.ogg"
    with tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(Path(tmp) / "sample.wav", samples)
        encode(wav, target, title="Newsroom Weekly: the city budget and new bicycle lanes")
    for line in lines:
        print(f"{line.start:7.2f}  {line.text}")
    print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
