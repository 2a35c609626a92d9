"""Helpers shared by the benchmark scripts: text normalisation, WER, machine info, tables.

Not a benchmark itself; imported by bench/hints.py and bench/transcribe_speed.py.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so `tests.speech` and `indexer` import when run as a script
    sys.path.insert(0, str(ROOT))


def norm_words(text: str) -> list[str]:
    """Lowercase, strip diacritics and punctuation (hyphens split words); the words left."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = plain.replace("'", "").replace("’", "")
    return re.findall(r"[a-z0-9]+", plain)


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[str, int | None, int | None]]:
    """Levenshtein alignment of two word lists: ops ('=', 'S', 'D', 'I') with ref/hyp indexes."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0 if ref[i - 1] == hyp[j - 1] else 1
            d[i][j] = min(d[i - 1][j - 1] + cost, d[i - 1][j] + 1, d[i][j - 1] + 1)
    ops: list[tuple[str, int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("=" if ref[i - 1] == hyp[j - 1] else "S", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            ops.append(("D", i - 1, None))
            i -= 1
        else:
            ops.append(("I", None, j - 1))
            j -= 1
    return ops[::-1]


def wer(ref: Sequence[str], hyp: Sequence[str], skip: set[int] | None = None) -> tuple[int, int]:
    """(errors, reference words) of hyp against ref, ignoring reference positions in skip.

    An insertion is charged unless it sits next to a skipped reference word (a name
    transcribed as two words, say, is not charged to the surrounding words).
    """
    skip = skip or set()
    errors, last_ref = 0, -1
    ops = align(ref, hyp)
    for k, (op, i, _) in enumerate(ops):
        if i is not None:
            last_ref = i
            if op != "=" and i not in skip:
                errors += 1
        else:
            nxt = next((o[1] for o in ops[k + 1 :] if o[1] is not None), -1)
            if last_ref not in skip and nxt not in skip:
                errors += 1
    return errors, len(ref) - len(skip)


def diff(ref: Sequence[str], hyp: Sequence[str], width: int = 6) -> list[str]:
    """The errors of hyp against ref as short strings: '-[a b c]' deleted, '+[x]' inserted,
    '[a->x]' substituted; long runs are abbreviated."""

    def short(words: list[str]) -> str:
        body = " ".join(words) if len(words) <= width else f"{' '.join(words[:width])} ..."
        return f"[{body}]" + (f"x{len(words)}" if len(words) > width else "")

    out: list[str] = []
    run: list[str] = []
    kind = ""
    for op, i, j in align(ref, hyp) + [("=", None, None)]:
        if op != kind and run:
            out.append(kind.replace("D", "-").replace("I", "+") + short(run))
            run = []
        kind = op
        if op == "S":
            out.append(f"[{ref[i]}->{hyp[j]}]")  # type: ignore[index]
            kind = ""
        elif op == "D":
            run.append(ref[i])  # type: ignore[index]
        elif op == "I":
            run.append(hyp[j])  # type: ignore[index]
    return out


def machine() -> str:
    """One line: cores, CPU model, Python, OS, UTC date."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"nproc={os.cpu_count()}, CPU: {cpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {date}"
    )


def code_version() -> str:
    """Fingerprint of the indexer code measured (no git here): sha256 of its modules."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "indexer").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    tr = (ROOT / "indexer" / "transcribe.py").read_bytes()
    return (
        f"indexer/*.py sha256 {digest.hexdigest()[:12]}, "
        f"indexer/transcribe.py sha256 {hashlib.sha256(tr).hexdigest()[:12]}"
    )


def load() -> str:
    """The 1/5/15-minute load averages."""
    a, b, c = os.getloadavg()
    return f"load average {a:.2f}, {b:.2f}, {c:.2f}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
