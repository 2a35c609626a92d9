"""Findability: does a reader who types words they heard land on the moment they were said?

    .venv/bin/python bench/findability.py [--minutes 22] [--seed 11] [--audio ../shared/audio]
        [--variants batched,sequential,default,plain] [--keep DIR]

Builds a long episode with the true time of every word group: hand-written news/podcast
sentences (SENTENCES, drawn with a seeded random.Random without repetition until the list is
used up, then reshuffled) spoken by espeak-ng in six voices at three speeds, with pauses of
0.3-1.5 s and sometimes two sentences of one speaker back to back. Every sentence is cut at
random word boundaries into 2-3 parts, each synthesised alone and joined with a 0.05-0.1 s
pause, so the start of every part is known. Every 6th item is a real human recording from
../shared/audio (LJ Speech, JFK). The episode is served as a WAV in an RSS feed on
127.0.0.1 and indexed with the product's CLI (`python -m indexer add FEED`) once per variant,
each into its own database:

    batched     INDEXER_BATCH_SIZE=8, INDEXER_REDECODE=false (the batched pipeline only)
    sequential  INDEXER_BATCH_SIZE=1 (plain sequential model.transcribe in the product)
    default     no overrides (batched plus re-decoding of speech gaps, where it exists)
    plain       WhisperModel(model_dir).transcribe(wav, word_timestamps=True), library
                defaults otherwise; transcript quality and RTF only, not indexed

RTF = wall time / audio seconds: for the indexed variants the whole `add` subprocess
(process start, model load, download, decoding, storing); for plain the transcription only.

Queries (searched in-process with indexer.search.search, top hit only, exactly as typed):
(a) the first 4 words of every sentence, espeak and human; truth = the sentence start;
(b) the first 4 words of part 2 of every espeak sentence; truth = the start of part 2;
(c) per sentence its longest word of >= 8 letters whose stem is in no other sentence of the
    episode; truth = the part that holds it. A query lands when hits[0].start lies in
    [truth - 2.0 s, truth + 0.5 s] for (a)/(b), [part start - 2.0 s, part end + 0.5 s] for (c).
A sentence said more than once (the list or a human clip repeats on long episodes) gives one
query, which lands at any of its occurrences.

Transcript quality: the transcript's words are given to the nearest reference sentence by
time and aligned with it (bench/common.py): coverage = reference words recognised, subs,
dels, ins, WER; "empty" = espeak parts / human clips in whose [start, end] no word starts.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import snowballstemmer
from common import align, code_version, load, machine, norm_words, table
from deeplink import _load_real, serve

from indexer import search, store, transcribe
from indexer.config import Settings, load_settings
from tests.speech import RATE, espeak, write_wav

ROOT = Path(__file__).resolve().parents[1]
VOICES = ["en-us", "en-gb", "en-gb+f3", "en-us+m3", "en-gb-x-rp", "en-us+f2"]
SPEEDS = [140, 165, 190]
JFK = ("And so, my fellow Americans, ask not what your country can do for you, "
       "ask what you can do for your country.")  # fmt: skip
VARIANTS = {
    "batched": {"INDEXER_BATCH_SIZE": "8", "INDEXER_REDECODE": "false"},
    "sequential": {"INDEXER_BATCH_SIZE": "1"},
    "default": {},
    "plain": None,  # not indexed: a plain faster-whisper call
}
BEFORE, AFTER = 2.0, 0.5  # a hit lands in [truth - BEFORE, truth + AFTER]
KINDS = {"a": "sentence start", "b": "mid sentence", "c": "rare word"}

SENTENCES = [
    # city budgets and local politics
    "The city council approved a budget of 412 million euros late on Tuesday night.",
    "Councillor Okonkwo said the new parking charges would pay for three extra bus routes.",
    "Opposition members walked out before the final vote on the library closures.",
    "The finance committee wants every department to cut spending by four percent next year.",
    "Property taxes will rise for the second year in a row, the treasurer confirmed.",
    "Residents packed the town hall to complain about the state of the roads.",
    "A consultant's report found that the council overpaid for street lighting by nearly a third.",
    "Councillor Okonkwo has asked for an independent audit of the waste collection contract.",
    "The mayor insists the swimming pool will stay open through the summer.",
    "Funding for youth clubs was restored after a petition gathered twelve thousand signatures.",
    "Critics say the budget leaves almost nothing for repairing crumbling schools.",
    "The deputy mayor resigned on Friday, citing personal reasons.",
    "Officials admitted that the new software system is two years behind schedule.",
    "Council staff will move into the renovated courthouse building next spring.",
    "The vote on the tourist tax has been postponed until after the elections.",
    "Local businesses want the market square closed to cars on weekends.",
    "The auditor general described the accounts as messy but not fraudulent.",
    "Aoife Brennan was elected chair of the planning committee by a single vote.",
    # housing
    "Rents in the city centre have climbed by eighteen percent since last January.",
    "Aoife Brennan, who runs a tenants' union, says landlords are ignoring basic repairs.",
    "The developer plans to build six hundred flats on the old gasworks site.",
    "Only a fifth of the new homes will be classed as affordable.",
    "Young couples are moving to commuter towns because they cannot find anything to buy.",
    "The housing minister promised a register of short-term holiday lets by autumn.",
    "Mortgage approvals fell sharply in the last quarter, according to the central bank.",
    "A fire in a tower block on Harcourt Road forced two hundred people from their homes.",
    "Inspectors found damp and mould in more than half of the council flats they visited.",
    "Students have been sleeping in their cars while they wait for a room.",
    "The cooperative bought the derelict warehouse for one euro and a promise to restore it.",
    "Planning permission was refused because the tower would overshadow the park.",
    "Homelessness charities say the winter shelters are already full.",
    "Builders blame rising material costs for the slowdown in construction.",
    # transport
    "The new tram line will connect the airport with the university in twenty minutes.",
    "Commuters faced delays of up to two hours after a signal failure at Central Station.",
    "Cycling to work has doubled since the protected bike lanes opened.",
    "Bus drivers will strike on Monday and Thursday over pay and working hours.",
    "The bridge will close for repairs for six weeks starting in July.",
    "Electric scooters are to be banned from pavements from the first of March.",
    "A pilot scheme offers free public transport to everyone under twenty-five.",
    "The motorway extension has been delayed again by an archaeological discovery.",
    "Night trains between Vienna and Amsterdam are fully booked for the summer.",
    "Ferry crossings were cancelled because of gale force winds in the channel.",
    "Taxi drivers protested outside parliament against the ride-hailing apps.",
    "Engineers found cracks in the supporting pillars of the flyover.",
    "The rail operator apologised after passengers were stuck in a tunnel for three hours.",
    "Ticket prices on regional trains will go up by six percent in January.",
    "A new cable car across the river is expected to carry four thousand passengers a day.",
    # weather and environment
    "Forecasters expect heavy rain and strong winds to sweep in from the Atlantic tonight.",
    "Temperatures could reach thirty-eight degrees in the south by the weekend.",
    "Flood warnings remain in place for the river valleys in the west.",
    "It was the driest spring on record, and farmers are worried about the harvest.",
    "Snow closed several mountain passes and stranded hundreds of lorries overnight.",
    "A tornado damaged roofs and uprooted trees in a small village near the coast.",
    "Air pollution in the capital exceeded legal limits on forty days this year.",
    "Volunteers collected two tonnes of plastic from the beaches over the weekend.",
    "The glacier has lost a quarter of its volume in just fifteen years.",
    "Authorities in Yekaterinburg declared an emergency after the river burst its banks.",
    "Fog is expected to linger around the estuary until the middle of the morning.",
    "Wildfires have burned more than ten thousand hectares of forest this month.",
    "The water company has introduced a hosepipe ban across three counties.",
    "Meteorologists say the hurricane season will be more active than usual.",
    "A late frost destroyed much of the apricot blossom in the orchards.",
    "Thunderstorms will clear by Thursday, leaving a bright and breezy end to the week.",
    # sports
    "Mbappé scored twice in the second half to give his side a comfortable win.",
    "The home team lost three nil and the manager was sacked the next morning.",
    "Tickets for the cup final sold out within eleven minutes.",
    "The marathon was won in two hours and six minutes, a new course record.",
    "After twelve seasons with the club, the captain announced his retirement.",
    "Rain stopped play at the cricket ground shortly after lunch.",
    "The women's hockey team qualified for the Olympics for the first time.",
    "A late penalty from Mbappé sent the crowd home disappointed.",
    "The boxer from Yekaterinburg defended his title with a knockout in the ninth round.",
    "The stadium will be expanded to hold sixty thousand spectators.",
    "The young cyclist crashed on the final descent but still finished fourth.",
    "Swimming coaches are worried that the local pool is too cold for training.",
    "The referee was criticised for ignoring a clear handball in the penalty area.",
    "Aoife Brennan won the national chess championship without losing a single game.",
    "The rugby league has introduced new rules on head injuries.",
    "Fans have raised forty thousand pounds to save their football club from bankruptcy.",
    "The tennis final lasted nearly five hours and ended after midnight.",
    # science and health
    "Astronomers have found a planet that may have liquid water on its surface.",
    "A new vaccine against malaria has been approved for children in eleven countries.",
    "Researchers in Yekaterinburg have built a battery that charges in ninety seconds.",
    "The telescope will be launched next year on a rocket from French Guiana.",
    "Scientists warn that antibiotic resistance could kill millions by the middle of the century.",
    "Dolphins appear to call each other by name, according to a study of wild pods.",
    "The hospital has cut waiting times for hip operations from a year to four months.",
    "Doctors are seeing more cases of measles as vaccination rates fall.",
    "An asteroid the size of a football pitch will pass safely between the Earth and the Moon.",
    "Engineers tested a quieter supersonic aircraft over the desert last week.",
    "The study followed nine thousand volunteers for more than twenty years.",
    "Bees exposed to the pesticide struggled to find their way back to the hive.",
    "A fossil found in a quarry turned out to be a previously unknown dinosaur.",
    "Physicists at the laboratory have measured the mass of the neutrino more precisely than ever.",
    "Sleeping less than six hours a night was linked to a higher risk of heart disease.",
    "The robot surgeon completed its first operation without human help.",
    "Drinking coffee in moderation does not seem to harm the heart, the researchers concluded.",
    # interviews and conversation
    "Thanks for joining us this morning, it's great to have you in the studio.",
    "So tell me, how did you first get interested in beekeeping?",
    "I grew up above my grandmother's bakery, so bread was always part of my life.",
    "Honestly, I never expected the book to sell more than a few hundred copies.",
    "My guest today is Aoife Brennan, a marine biologist who studies basking sharks.",
    "What would you say to someone who is thinking about starting their own business?",
    "We spent three months walking from the border to the capital with two donkeys.",
    "Councillor Okonkwo, you promised cheaper buses, so why have fares gone up?",
    "That's a fair question, and I think the answer is more complicated than it looks.",
    "Let's take a short break, and after that we'll be talking about your new album.",
    "You were a nurse for twenty years before you became a novelist, weren't you?",
    "People forget that the orchestra nearly closed in 1998 for lack of money.",
    "I remember the night the power went out across the whole valley.",
    "When I arrived in Yekaterinburg in the winter, it was minus thirty outside.",
    "Do you think artificial intelligence will replace translators within ten years?",
    "We're joined on the line by our correspondent in Nairobi, Wanjiru Kamau.",
    "My advice is simple: write every day, even if it's only a paragraph.",
    "That's all we have time for today, thank you so much for listening.",
    # business, technology and culture
    "The chip maker announced four thousand job cuts as demand for laptops slumps.",
    "Inflation eased to 3.1 percent in May, the lowest level in two years.",
    "Shares in the airline rose sharply after it reported a record summer.",
    "The bakery chain will open fifty new shops across the north this year.",
    "A cyber attack forced the hospital to postpone hundreds of appointments.",
    "The festival will feature more than two hundred bands on seven stages.",
    "The museum has returned the bronze statues to the kingdom they were taken from.",
    "Streaming services now account for most of the music industry's revenue.",
    "A painting found in an attic sold at auction for 2.4 million dollars.",
    "The theatre will stage a new production of the opera in October.",
    "Farmers markets are booming as shoppers look for local produce.",
    "The smartphone maker was fined for slowing down older models.",
    "Unemployment fell to its lowest level since records began in 1971.",
    "The publishing house has signed a deal for the memoirs of the former prime minister.",
    "The bookshop on Quay Street is closing after ninety years in business.",
    "A documentary about the fishing community won the audience award in Berlin.",
    "The central bank kept interest rates unchanged for the fourth month running.",
    "Crowds queued for hours to see the exhibition of Egyptian jewellery.",
    # education, crime, world news
    "Teachers have voted to accept a pay rise of five and a half percent.",
    "The university will offer free courses in coding to anyone over sixty.",
    "Police have arrested two men in connection with the robbery at the jeweller's.",
    "A judge ruled that the company must compensate more than seven hundred workers.",
    "The trial of the former minister is expected to last until Christmas.",
    "Schools in the region will close early because of the heatwave.",
    "Exam results improved in maths but fell slightly in languages.",
    "The peace talks resumed in Geneva after a pause of three weeks.",
    "Millions of people voted in the first round of the presidential election.",
    "The earthquake measured six point two and was felt as far away as the capital.",
    "Aid agencies say the refugee camp now holds more than eighty thousand people.",
    "The prime minister will travel to Washington for talks on trade next month.",
    "Negotiators reached an agreement on fishing quotas in the early hours.",
    "The ambassador was summoned to explain comments made on television.",
    "Protesters marched through the capital demanding cleaner air and cheaper transport.",
    "The kidnapped journalist was released unharmed after nineteen days.",
    "Customs officers seized three tonnes of counterfeit medicine at the port.",
    "The library will lend out tools and sewing machines as well as books.",
    "The orchestra's conductor, Tomasz Wieczorek, will step down after the spring season.",
    "Priya Raghunathan has become the first woman to lead the national observatory.",
    "A rare white stork has been spotted nesting on the church tower in Ballymore.",
    "Mbappé is expected to miss the next three matches with a hamstring injury.",
    "The lighthouse keeper's cottage has been turned into a tiny museum.",
    "Fishermen say the mackerel arrived a month earlier than usual this year.",
    "The night bus service will be extended to the outer suburbs from December.",
    "Volunteers repainted the underpass with a mural of local heroes.",
    "The recycling plant will process forty thousand tonnes of glass a year.",
    "A cat that went missing during the floods was found alive a fortnight later.",
]
_STEM = snowballstemmer.stemmer("porter")


@dataclass
class Part:
    text: str
    start: float
    end: float


@dataclass
class Item:
    """One sentence of the episode: an espeak sentence in parts, or a human clip (one part)."""

    text: str
    voice: str  # "human:<clip>" for real recordings
    speed: int
    parts: list[Part] = field(default_factory=list)

    @property
    def human(self) -> bool:
        return self.voice.startswith("human")

    @property
    def start(self) -> float:
        return self.parts[0].start

    @property
    def end(self) -> float:
        return self.parts[-1].end


def _real_clips(audio_dir: Path) -> list[tuple[str, str, np.ndarray]]:
    """(name, text, samples trimmed of silence) for the recordings in audio_dir."""
    texts = {"jfk": JFK}
    listing = audio_dir / "ljspeech_transcripts.txt"
    if listing.is_file():
        for line in listing.read_text().splitlines():
            key, _, text = line.partition("|")
            texts[key] = text.strip()
    clips = []
    for path in sorted(audio_dir.glob("LJ001-000[1-4].wav")) + [audio_dir / "jfk.flac"]:
        if path.is_file() and path.stem in texts:
            samples = _load_real(path)
            loud = np.flatnonzero(np.abs(samples) > 300)  # as tests.speech.espeak trims
            if len(loud):
                samples = samples[loud[0] : loud[-1] + 1]
            clips.append((path.stem, texts[path.stem], samples))
    return clips


def _cuts(n_words: int, rng: random.Random) -> list[int]:
    """Word indexes where parts 2 (and 3) begin: every part has at least 2 words, and 4
    words at least follow the start of part 2 (the mid-sentence query)."""
    n_parts = 3 if n_words >= 12 and rng.random() < 0.5 else 2
    while True:
        cuts = sorted(rng.sample(range(2, n_words - 1), n_parts - 1))
        if cuts[0] <= n_words - 4 and all(
            b - a >= 2 for a, b in zip([0, *cuts], [*cuts, n_words], strict=True)
        ):
            return cuts


def build(minutes: float, audio_dir: Path | None, seed: int) -> tuple[np.ndarray, list[Item]]:
    """The episode's samples and its items with the true times of every part."""
    rng = random.Random(seed)
    real = _real_clips(audio_dir) if audio_dir and audio_dir.is_dir() else []
    if not real:
        print(f"note: no human recordings found in {audio_dir}", file=sys.stderr)
    deck: list[str] = []
    audio: list[np.ndarray] = [np.zeros(RATE, dtype=np.int16)]
    t = 1.0
    items: list[Item] = []
    prev: Item | None = None

    def add(samples: np.ndarray) -> float:
        nonlocal t
        audio.append(samples)
        start, t = t, t + len(samples) / RATE
        return start

    while t < minutes * 60:
        n = len(items)
        same = prev is not None and not prev.human and rng.random() < 0.3
        add(np.zeros(int(rng.uniform(0.3, 0.7 if same else 1.5) * RATE), dtype=np.int16))
        if real and n % 6 == 5:
            name, text, samples = real[(n // 6) % len(real)]
            item = Item(text, f"human:{name}", 0)
            start = add(samples)
            item.parts.append(Part(text, start, t))
        else:
            if not deck:
                deck = list(SENTENCES)
                rng.shuffle(deck)
            text = deck.pop()
            if same and prev is not None:
                voice, speed = prev.voice, prev.speed
            else:
                voice = rng.choice([v for v in VOICES if prev is None or v != prev.voice])
                speed = rng.choice(SPEEDS)
            item = Item(text, voice, speed)
            words = text.split()
            # The same sentence is always cut the same way, so a mid-sentence query is
            # spoken at a known moment in every occurrence of a repeated sentence.
            bounds = [0, *_cuts(len(words), random.Random(f"{seed}:{text}")), len(words)]
            for k, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
                if k:
                    add(np.zeros(int(rng.uniform(0.05, 0.1) * RATE), dtype=np.int16))
                piece = " ".join(words[a:b])
                start = add(espeak(piece, voice, speed))
                item.parts.append(Part(piece, start, t))
        items.append(item)
        prev = item
    add(np.zeros(RATE, dtype=np.int16))
    return np.concatenate(audio), items


def query_words(text: str, n: int = 4) -> str:
    """The first n words of text as a reader types them: lowercase, no edge punctuation."""
    words = [w.strip(".,;:!?\"“”‘’()'").lower() for w in text.split()]
    return " ".join([w for w in words if w][:n])


def _letters(word: str) -> str:
    return "".join(norm_words(word))


def make_queries(items: list[Item]) -> list[dict]:
    """(a), (b) and (c) queries; a query said more than once lands at any of its moments."""
    texts = list(dict.fromkeys(it.text for it in items))
    stem_texts: Counter[str] = Counter()
    grams: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        words = norm_words(text)
        stem_texts.update({_STEM.stemWord(w) for w in words})
        grams.update({tuple(words[i : i + 4]) for i in range(len(words) - 3)})
    queries: dict[tuple[str, str], dict] = {}

    def add(kind: str, q: str, lo: float, hi: float, truth: float, item: Item) -> None:
        entry = queries.setdefault((kind, q), {
            "kind": kind, "query": q, "truths": [], "windows": [], "human": item.human,
            "voice": item.voice, "speed": item.speed,
            "ambiguous": kind != "c" and grams[tuple(norm_words(q))] > 1,
        })  # fmt: skip
        entry["truths"].append(round(truth, 3))
        entry["windows"].append((round(lo, 3), round(hi, 3)))

    for it in items:
        add("a", query_words(it.text), it.start - BEFORE, it.start + AFTER, it.start, it)
        if not it.human:
            p2 = it.parts[1]
            rest = " ".join(p.text for p in it.parts[1:])
            add("b", query_words(rest), p2.start - BEFORE, p2.start + AFTER, p2.start, it)
        rare = [(len(_letters(w)), -i, w, p) for p in it.parts
                for i, w in enumerate(p.text.split())
                if len(_letters(w)) >= 8 and len(norm_words(w)) == 1
                and stem_texts[_STEM.stemWord(_letters(w))] == 1]  # fmt: skip
        if rare:
            _, _, word, part = max(rare, key=lambda r: r[:2])
            add("c", query_words(word, 1), part.start - BEFORE, part.end + AFTER, part.start, it)
    return list(queries.values())


def run_queries(db_path: Path, queries: list[dict]) -> list[dict]:
    """Each query's top hits and whether the first one lands."""
    db = store.open_db(db_path, readonly=True)
    results = []
    for q in queries:
        hits = search.search(db, q["query"], limit=5).hits
        top = hits[0] if hits else None
        landed = top is not None and any(lo <= top.start <= hi for lo, hi in q["windows"])
        results.append({**q, "landed": landed,
                        "top": None if top is None else {
                            "start": round(top.start, 2), "end": round(top.end, 2),
                            "partial": top.partial, "quote": top.quote},
                        "hits": [round(h.start, 2) for h in hits]})  # fmt: skip
    db.conn.close()
    return results


def quality(items: list[Item], words: list[tuple[float, str]]) -> dict:
    """Coverage, subs, dels, ins, WER and empty parts of a transcript (start, text) words."""
    # In transcript order (stable on start: a word's tokens, or words with one start, stay).
    tokens = sorted(((start, tok) for start, text in words for tok in norm_words(text)),
                    key=lambda x: x[0])  # fmt: skip
    starts = [s for s, _ in tokens]
    bounds = [(a.end + b.start) / 2 for a, b in zip(items, items[1:], strict=False)]
    per_item: list[list[str]] = [[] for _ in items]
    for start, tok in tokens:
        per_item[bisect.bisect_right(bounds, start)].append(tok)
    counts = Counter()
    for item, hyp in zip(items, per_item, strict=True):
        ref = norm_words(item.text)
        counts["ref"] += len(ref)
        counts.update(op for op, _, _ in align(ref, hyp))
    parts = [p for it in items for p in it.parts]
    empty = [p for p in parts
             if bisect.bisect_left(starts, p.start) == bisect.bisect_right(starts, p.end)]  # fmt: skip
    n = counts["ref"] or 1
    return {"coverage": counts["="] / n, "subs": counts["S"], "dels": counts["D"],
            "ins": counts["I"], "wer": (counts["S"] + counts["D"] + counts["I"]) / n,
            "empty": len(empty), "parts": len(parts),
            "empty_parts": [asdict(p) for p in empty]}  # fmt: skip


def product_words(db_path: Path) -> list[tuple[float, str]]:
    db = store.open_db(db_path, readonly=True)
    episode_id = store.list_episodes(db)[0]["id"]
    words = []
    for seg in store.get_segments(db, episode_id):
        words += [(w.start, w.text) for w in seg.words] or [(seg.start, seg.text)]
    db.conn.close()
    return words


def index_variant(name: str, overrides: dict[str, str], feed: str, tmp: Path) -> dict:
    """Run `python -m indexer add FEED` for one variant; its wall time and database."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("INDEXER_BATCH_SIZE", "INDEXER_REDECODE")}  # fmt: skip
    env.update({"INDEXER_DB": str(tmp / f"{name}.db"), "INDEXER_CONFIG": "",
                "INDEXER_MEDIA_DIR": str(tmp / f"media-{name}"), **overrides})  # fmt: skip
    t0 = time.perf_counter()
    added = subprocess.run([sys.executable, "-m", "indexer", "add", feed],
                           env=env, cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - t0
    out = (added.stdout.strip() + "\n" + added.stderr.strip()).strip()
    print(f"{name}: {out.splitlines()[-1] if out else ''} [{wall:.1f} s]")
    if added.returncode != 0 or not (tmp / f"{name}.db").is_file():
        print(f"{name}: add failed (rc {added.returncode}):\n{out}", file=sys.stderr)
        return {"wall": wall, "db": None}
    return {"wall": wall, "db": tmp / f"{name}.db"}


def model_dir() -> Path:
    """The bundled model's folder, assembled once (so no variant's time includes that)."""
    settings = load_settings(env={**os.environ, "INDEXER_CONFIG": ""})
    return transcribe.ensure_default_model(settings.cache_path)


def plain_words(wav: Path) -> tuple[list[tuple[float, str]], float, float]:
    """Words of a plain faster-whisper transcription, its wall time and the model load time."""
    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    model = WhisperModel(str(model_dir()))
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    segments, _ = model.transcribe(str(wav), word_timestamps=True)
    words = [(w.start, w.word) for seg in segments for w in seg.words or ()]
    return words, time.perf_counter() - t0, loaded


def _pct(hit: int, n: int) -> str:
    return f"{hit}/{n} ({100 * hit / n:.0f}%)" if n else "-"


def requery(folder: Path) -> None:
    """Run the kept queries again on the kept databases and print what lands now."""
    kept = json.loads((folder / "results.json").read_text())
    print(code_version())
    print("| variant | " + " | ".join(f"({k}) {name}" for k, name in KINDS.items()) + " |")
    print("|---|" + "---|" * len(KINDS))
    for name, variant in kept["variants"].items():
        db_path = folder / f"{name}.db"
        if not db_path.is_file() or not variant.get("results"):
            continue
        results = run_queries(db_path, variant["results"])
        cells = [_pct(sum(r["landed"] for r in results if r["kind"] == k),
                      sum(r["kind"] == k for r in results)) for k in KINDS]  # fmt: skip
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=22.0)
    parser.add_argument("--audio", type=Path, default=ROOT.parent / "shared" / "audio")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, from {', '.join(VARIANTS)}")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="keep the databases and results.json here")
    parser.add_argument("--requery", type=Path, metavar="DIR",
                        help="only search again the databases a --keep run left in DIR "
                             "(to measure a search change without transcribing again)")  # fmt: skip
    args = parser.parse_args()
    if args.requery:
        return requery(args.requery)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")

    print(machine())
    print(code_version())
    redecode = getattr(Settings, "redecode", None)
    print(f"Settings.redecode: {'absent' if redecode is None else redecode}; start: {load()}")
    samples, items = build(args.minutes, args.audio, args.seed)
    seconds = len(samples) / RATE
    queries = make_queries(items)
    print(f"episode: {seconds / 60:.1f} min, {len(items)} sentences "
          f"({sum(it.human for it in items)} human clips, "
          f"{len({it.text for it in items if not it.human})} distinct espeak sentences), "
          f"{sum(len(it.parts) for it in items)} parts; queries: "
          + ", ".join(f"({k}) {sum(q['kind'] == k for q in queries)}" for k in KINDS)
          + f"; ambiguous 4-word queries: {sum(q['ambiguous'] for q in queries)}")  # fmt: skip

    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = args.keep
        www = tmp / "www"
        www.mkdir(exist_ok=True)
        wav = write_wav(www / "episode.wav", samples)
        base = serve(www)
        (www / "feed.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>City Desk</title>'
            "<item><title>City Desk weekly</title><guid>findability-1</guid>"
            f'<enclosure url="{base}/episode.wav" type="audio/wav" length="1"/></item>'
            "</channel></rss>"
        )
        model_dir()
        for name in names:
            if VARIANTS[name] is None:
                words, wall, loaded = plain_words(wav)
                report[name] = {"wall": wall, "load": loaded, "quality": quality(items, words)}
                continue
            run = index_variant(name, VARIANTS[name], f"{base}/feed.xml", tmp)
            report[name] = {"wall": run["wall"]}
            if run["db"] is not None:
                report[name]["quality"] = quality(items, product_words(run["db"]))
                report[name]["results"] = run_queries(run["db"], queries)
        if args.keep:
            (args.keep / "results.json").write_text(json.dumps(
                {"seconds": seconds, "items": [asdict(it) for it in items], "variants": report},
                indent=1, ensure_ascii=False))  # fmt: skip

    rows = []
    for name, r in report.items():
        q, res = r.get("quality"), r.get("results")
        row = [name, f"{r['wall'] / seconds:.3f}"]
        row += (["-"] * 6 if q is None else
                [f"{100 * q['coverage']:.1f}%", q["subs"], q["dels"], q["ins"],
                 f"{100 * q['wer']:.1f}%", f"{q['empty']}/{q['parts']}"])  # fmt: skip
        for kind in KINDS:
            sub = [x for x in res or () if x["kind"] == kind]
            row.append(_pct(sum(x["landed"] for x in sub), len(sub)) if res else "-")
        human = [x for x in res or () if x["kind"] == "a" and x["human"]]
        row.append(f"{sum(x['landed'] for x in human)}/{len(human)}" if res else "-")
        rows.append(row)
    print(f"\n{seconds / 60:.1f} min episode, seed {args.seed}; a hit lands in "
          f"[truth - {BEFORE} s, truth + {AFTER} s], top hit only\n")  # fmt: skip
    print(table(["variant", "RTF", "coverage", "subs", "dels", "ins", "WER", "empty parts",
                 "(a) sentence start", "(b) mid sentence", "(c) rare word",
                 "human (a)"], rows))  # fmt: skip
    if "plain" in report:
        print(f"\nRTF: indexed variants = whole `indexer add` (process start, model load, "
              f"download, storing); plain = transcription only (its model load: "
              f"{report['plain']['load']:.1f} s, not counted).")  # fmt: skip
    print(f"end: {load()}")

    shown = "default" if "default" in report else next(iter(report))
    misses = [x for x in report[shown].get("results") or () if not x["landed"]]
    if misses:
        print(f"\nmisses of `{shown}` ({len(misses)}):\n")
        print(table(["kind", "query", "voice", "truth", "top hit", "partial", "top hit quote"],
                    [[KINDS[x["kind"]], x["query"],
                      x["voice"] if x["human"] else f"{x['voice']} {x['speed']}",
                      " / ".join(f"{t:.1f}" for t in x["truths"]),
                      "no hit" if x["top"] is None else f"{x['top']['start']:.1f}",
                      "" if x["top"] is None else ("yes" if x["top"]["partial"] else "no"),
                      "" if x["top"] is None else x["top"]["quote"][:60]]
                     for x in sorted(misses, key=lambda x: x["truths"][0])]))  # fmt: skip
    empty = (report[shown].get("quality") or {}).get("empty_parts") or []
    if empty:
        print(f"\nparts of `{shown}` with no transcript word ({len(empty)}):")
        for p in empty:
            print(f"  {p['start']:7.1f}-{p['end']:.1f} s  {p['text']!r}")


if __name__ == "__main__":
    main()
