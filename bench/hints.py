"""Do vocabulary hints (title + show notes as whisper's initial_prompt) make names come out right?

Builds 10 short spoken episodes with espeak-ng (tests/speech.py), each naming one or two
unusual people whose names are also in the episode's title and show notes, and transcribes
every episode twice, interleaved: without hints and with
``indexer.transcribe.build_hints(title, description)``. Measures the share of name tokens
found in the transcript, the word error rate on the other words, whether names that are
only in the show notes (never spoken) leak into the transcript, and whether searching a
surname in a database indexed by ``indexer.pipeline.index_item`` puts the right episode
first (with ``hints`` off vs on).

Run:  .venv/bin/python bench/hints.py [--workdir DIR] [--cache-dir DIR] [--verbose]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import code_version, load, machine, norm_words, table, wer

from indexer import download, pipeline, search, store, transcribe
from indexer.config import Settings
from indexer.models import Transcript
from tests.speech import speak_lines, write_wav


@dataclass(frozen=True)
class Episode:
    slug: str
    title: str
    notes: str
    lines: tuple[tuple[str, str], ...]  # (espeak voice, sentence)
    names: tuple[str, ...]  # people spoken about (and named in the notes)
    unspoken: tuple[str, ...] = ()  # named in the notes only


US, GB, GBF, USM = "en-us", "en-gb", "en-gb+f3", "en-us+m3"
EPISODES = (
    Episode("harbour", "Harbour dredging, with Siobhan Okonkwo",
            "Mayor Siobhan Okonkwo on the harbour expansion. Produced by Ngozi Adeyemi. "
            "Music by Bartholomew Fairweather. https://example.org/ep1",
            ((US, "Welcome back to the city desk."),
             (GB, "Today the mayor, Siobhan Okonkwo, joins us from the harbour."),
             (US, "Siobhan Okonkwo says the dredging will begin next spring."),
             (GB, "Our producer Ngozi Adeyemi spoke to the fishermen.")),
            ("Siobhan Okonkwo", "Ngozi Adeyemi"), ("Bartholomew Fairweather",)),
    Episode("market", "The night market", "We meet noodle seller Nguyen Thi Minh.",
            ((GBF, "This week we visit the night market by the river."),
             (USM, "Nguyen Thi Minh has sold noodles there for twenty years."),
             (GBF, "She told us that the rent has doubled since the spring.")),
            ("Nguyen Thi Minh",)),
    Episode("transfer", "Transfer deadline day",
            "Oleksandr Zinchenko signs on. Thanks to our sponsor, Leopold Vanderbilt.",
            ((USM, "The transfer window closed on Friday evening."),
             (US, "Oleksandr Zinchenko signed a new contract with the club."),
             (USM, "The manager praised Zinchenko for his work in midfield.")),
            ("Oleksandr Zinchenko",), ("Leopold Vanderbilt",)),
    Episode("violin", "Aoife Ní Bhriain live", "Violinist Aoife Ní Bhriain in the studio.",
            ((GB, "Our guest tonight is a violinist from Dublin."),
             (GBF, "Aoife Ní Bhriain plays traditional tunes and classical music."),
             (GB, "She studied in Berlin for four years.")),
            ("Aoife Ní Bhriain",)),
    Episode("kitchen", "In the kitchen", "Chef Joaquín Castellanos on bread and patience.",
            ((US, "The restaurant opened its doors last autumn."),
             (GB, "Head chef Joaquín Castellanos cooks with local vegetables."),
             (US, "Castellanos says the secret is patience and good bread.")),
            ("Joaquín Castellanos",)),
    Episode("chess", "A brilliant sacrifice",
            "Krzysztof Wróblewski v Thandiwe Mthembu. Commentary: Ingrid Halvorsen.",
            ((USM, "The chess final lasted almost six hours."),
             (GBF, "Krzysztof Wróblewski played the black pieces."),
             (USM, "His opponent, Thandiwe Mthembu, won with a brilliant sacrifice."),
             (GBF, "Mthembu is now the youngest champion in the history of the event.")),
            ("Krzysztof Wróblewski", "Thandiwe Mthembu"), ("Ingrid Halvorsen",)),
    Episode("theatre", "Festival preview", "Director Saoirse Geraghty and her lighthouse play.",
            ((GB, "The theatre festival starts on Thursday."),
             (US, "Saoirse Geraghty directs a new play about a lighthouse keeper."),
             (GB, "Geraghty wrote the script during the long winter.")),
            ("Saoirse Geraghty",)),
    Episode("irish", "Irish online", "Teacher Tadhg Ó Súilleabháin on learning Irish.",
            ((GBF, "Can an old language find new speakers online?"),
             (USM, "Tadhg Ó Súilleabháin teaches Irish to thousands of students."),
             (GBF, "His lessons are short, funny and free.")),
            ("Tadhg Ó Súilleabháin",)),
    Episode("planet", "Water on a distant planet",
            "Astronomer Jyoti Raghunathan on the discovery.",
            ((US, "A new telescope has found water on a distant planet."),
             (GB, "The astronomer Jyoti Raghunathan led the team."),
             (US, "Raghunathan says the discovery took seven years of work.")),
            ("Jyoti Raghunathan",)),
    Episode("ward", "The night shift",
            "Doctor Xiomara Quispe and nurse Wojciech Przybylski on staffing.",
            ((GBF, "Hospitals are struggling to hire enough nurses."),
             (USM, "Doctor Xiomara Quispe runs the emergency ward."),
             (GBF, "Her colleague Wojciech Przybylski says the night shifts are the hardest.")),
            ("Xiomara Quispe", "Wojciech Przybylski")),
)  # fmt: skip
VARIANTS = ("no hints", "hints")


def name_tokens(name: str) -> list[str]:
    """Tokens of a name that are scored: particles shorter than 3 letters (Ní, Ó) are not."""
    return [t for t in norm_words(name) if len(t) >= 3]


def copied_ngrams(notes: str, ref: list[str], hyp: list[str], n: int = 4) -> list[str]:
    """Runs of n words from the show notes that are in the transcript but were never said."""

    def grams(words: list[str]) -> set[tuple[str, ...]]:
        return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}

    leaked = (grams(norm_words(notes)) & grams(hyp)) - grams(ref)
    return sorted(" ".join(g) for g in leaked)


def surname(name: str) -> str:
    """The family name searched for (Vietnamese names put it first)."""
    return name.split()[0] if name.startswith("Nguyen") else name.split()[-1]


def text_of(tr: Transcript) -> str:
    return " ".join(s.text for s in tr.segments)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workdir", type=Path, help="where audio and databases go (default: temp)")
    ap.add_argument("--cache-dir", default="", help="Settings.cache_dir (default: the usual)")
    ap.add_argument("--verbose", action="store_true", help="print every transcript")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-hints-"))
    work.mkdir(parents=True, exist_ok=True)
    print(machine())
    print(code_version())
    print("start:", load())
    settings = Settings(cache_dir=args.cache_dir)
    flags = {"no hints": settings.replace(hints=False), "hints": settings.replace(hints=True)}
    dbs = {v: store.open_db(work / f"{v.replace(' ', '-')}.db") for v in VARIANTS}
    for db in dbs.values():  # a second run over the same workdir must start empty
        for row in store.list_episodes(db, limit=1000):
            store.delete_episode(db, row["id"])
    transcribe.load_model(settings)  # exclude loading from the timings

    found = {v: 0 for v in VARIANTS}
    full = {v: 0 for v in VARIANTS}
    leaked = {v: 0 for v in VARIANTS}
    errs = {v: [0, 0] for v in VARIANTS}
    secs = {v: 0.0 for v in VARIANTS}
    same = 0
    ep_ids: dict[str, dict[int, str]] = {v: {} for v in VARIANTS}
    per_ep: list[list[str]] = []
    copied = {v: 0 for v in VARIANTS}
    n_tokens = n_names = n_unspoken = 0
    audio_s = 0.0
    for ep in EPISODES:
        samples, placed = speak_lines(list(ep.lines))
        wav = write_wav(work / f"{ep.slug}.wav", samples)
        audio_s += len(samples) / 22050
        hints = transcribe.build_hints(ep.title, ep.notes)
        ref = norm_words(" ".join(text for _, text in ep.lines))
        name_set = {t for n in ep.names for t in norm_words(n)}
        skip = {i for i, w in enumerate(ref) if w in name_set}
        texts: dict[str, list[str]] = {}
        cells: dict[str, list[str]] = {v: [] for v in VARIANTS}
        for v in VARIANTS:  # interleaved per episode
            began = time.perf_counter()
            tr = transcribe.transcribe(wav, settings, hints=hints if v == "hints" else None)
            secs[v] += time.perf_counter() - began
            texts[v] = norm_words(text_of(tr))
            if args.verbose:
                print(f"[{ep.slug} / {v}] {text_of(tr)}")
            e, n = wer(ref, texts[v], skip)
            errs[v][0] += e
            errs[v][1] += n
            leak = copied_ngrams(ep.notes, ref, texts[v])
            copied[v] += bool(leak)
            cells[v] = [f"{e}/{n}", " / ".join(leak) or "-"]
            leaked[v] += sum(t in texts[v] for u in ep.unspoken for t in name_tokens(u))
            item = download.local_item(str(wav))
            item.title, item.description = ep.title, ep.notes
            res = pipeline.index_item(dbs[v], item, flags[v], force=True)
            assert res.episode_id is not None, res.error
            ep_ids[v][res.episode_id] = ep.slug
            stored = " ".join(s.text for s in store.get_segments(dbs[v], res.episode_id))
            same += norm_words(stored) == texts[v]
        n_unspoken += sum(len(name_tokens(u)) for u in ep.unspoken)
        got = {v: 0 for v in VARIANTS}
        for name in ep.names:
            toks = name_tokens(name)
            n_tokens += len(toks)
            n_names += 1
            for v in VARIANTS:
                hit = [t in texts[v] for t in toks]
                got[v] += sum(hit)
                found[v] += sum(hit)
                full[v] += all(hit)
        n_ep = sum(len(name_tokens(n)) for n in ep.names)
        per_ep.append([f"{ep.slug} ({ep.lines[0][0]}, {ep.lines[1][0]})",
                       *(f"{got[v]}/{n_ep}" for v in VARIANTS),
                       *(cells[v][0] for v in VARIANTS), cells["hints"][1]])  # fmt: skip

    top = {v: 0 for v in VARIANTS}
    top_full = {v: 0 for v in VARIANTS}
    for ep in EPISODES:
        for name in ep.names:
            for v in VARIANTS:
                for query, counter in ((surname(name), top), (name, top_full)):
                    hits = search.search(dbs[v], query, limit=5).hits
                    ok = bool(hits) and ep_ids[v].get(hits[0].episode_id) == ep.slug
                    counter[v] += ok and not hits[0].partial

    def pct(a: int, b: int) -> str:
        return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "-"

    print("end:", load())
    print(f"\n{len(EPISODES)} episodes, {audio_s:.0f} s of speech, {n_names} names, "
          f"{n_tokens} scored name tokens; transcripts equal via index_item: "
          f"{same}/{2 * len(EPISODES)}\n")  # fmt: skip
    head = ["episode (voices)", "name tokens: no hints", "hints", "other-word errors: no hints",
            "hints", "show-note text copied (hints)"]  # fmt: skip
    print(table(head, per_ep) + "\n")
    rows = [
        ["name tokens in transcript", *(pct(found[v], n_tokens) for v in VARIANTS)],
        ["full names right", *(pct(full[v], n_names) for v in VARIANTS)],
        ["surname search: right episode first, not partial",
         *(pct(top[v], n_names) for v in VARIANTS)],
        ["full-name search: right episode first, not partial",
         *(pct(top_full[v], n_names) for v in VARIANTS)],
        ["WER on the other words", *(pct(*errs[v]) for v in VARIANTS)],
        ["unspoken show-note names in transcript", *(pct(leaked[v], n_unspoken) for v in VARIANTS)],
        ["episodes with unspoken show-note text (4 words) in transcript",
         *(pct(copied[v], len(EPISODES)) for v in VARIANTS)],
        ["transcription time (s, all episodes)", *(f"{secs[v]:.1f}" for v in VARIANTS)],
    ]  # fmt: skip
    print(table(["metric", *VARIANTS], rows))


if __name__ == "__main__":
    main()
