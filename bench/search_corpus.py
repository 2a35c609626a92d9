"""A seeded generator of synthetic spoken-English transcripts, for search benchmarks.

Not real speech, but text with the statistical shape of transcribed speech, so that an
FTS index built from it has realistic posting lists:

- a vocabulary of about 40,000 words in Zipf-Mandelbrot order: ~230 function words and
  fillers of conversation first ("the", "and", "I", "you", "that", "like", "know" ...), then
  ~700 common real content words, then real topical words, names, places and numbers
  spread through a long tail of pronounceable synthetic words built from syllables;
- 50 shows, each with a topic (economy, climate, football, ...) whose words and collocations
  ("interest rates", "climate change") it says far more often than the others, and episodes
  with a few keywords of their own (a guest's name, a story), so content words are bursty
  per episode the way they are in real shows;
- sentences of 5-25 words (one transcript segment each) with capitals, commas and
  . ? ! endings, spoken collocations ("you know", "a lot of", "at the end of the day");
- word timings at about 2.5 words per second (longer words take longer, pauses between
  sentences), episodes of about 100 chunks of 45 s (20 to 250), published over 5 years.

Everything comes from numpy's PCG64 seeded with (seed, episode number): episode k is the
same whatever else is generated, so a build can resume. Imported by bench/search_scale.py;
run it directly to print a sample and the corpus statistics:

  .venv/bin/python bench/search_corpus.py [--episodes 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from indexer.models import MediaItem, Segment, Transcript, Word


def _words(text: str) -> list[str]:
    return text.split()


# Spoken English, most frequent first (roughly the order of conversational corpora;
# whisper drops most "uh"/"um", so they are rare here).
FUNCTION_WORDS = _words("""
the and i to a you that it of is in we so like they was know but this what have it's
just on for yeah be not do there with are about think if he can get all don't at one
really my or people right me because i'm go from an going no they're mean some would
that's was were her she his as your more very our time had been then when him them
how well lot actually kind us which there's now see want by who say said out also up
things even thing will could into here much only something way these other those did
make where i've we're any than thing being yes okay good too over oh two first back
said has many should need still why let's through down sort can't you're after said
never same before around every little maybe talk because doesn't didn't isn't lot
always pretty another each both while again most probably quite such own us since
though whether might yeah course sure three able try look feel put take come got
thought went made off give great new big whole anything everything nothing someone
everyone anyone somebody else already enough part point kind sometimes often bit last
next long real important different able case fact yet between under without during
against among toward upon hey huh uh um ah wow right
""")

# Common real content words: the broad middle of the distribution.
COMMON_WORDS = _words("""
year years day days week world life work school money family home house story question
problem country state city government company business market job game team night group
child children man woman men women friend friends place party company point issue side
hand week month money water idea body information power end member law car book word
minute hour head service area way line eye guy guys music show podcast episode today
tomorrow yesterday morning afternoon evening moment person community history example
reason level office door health food room mother father parent kids moment price data
system program number public private national local social human experience research
interesting amazing crazy hard easy bad better best worse worst true false early late
young old small large huge major minor simple special certain clear whole free full
open close level move play run turn start stop happen happened happening help call
keep leave believe bring begin seem hear listen watch read write learn change lead
understand follow create speak allow add spend grow offer remember consider appear
buy wait serve die send expect build stay fall reach kill remain suggest raise pass
sell require report decide pull explain hope develop carry break receive agree support
hit produce eat cover catch draw choose cause point plan focus deal win lose pay meet
include continue set seem list process power season match coach player fan fans
question answer guest host interview conversation chat topic news article video
website email phone internet online social media platform channel audience listeners
thanks thank welcome sorry please hello bye love hate wonderful terrible fantastic
incredible honestly basically literally obviously absolutely definitely exactly totally
seriously especially certainly generally usually recently finally eventually suddenly
anyway whatever however therefore although unless except beyond behind across above
below inside outside within along near far away together alone ahead
""")

# Topic -> its words (real, said far more often by shows on that topic).
TOPICS: dict[str, list[str]] = {
    "economy": _words("""economy inflation interest rates recession bank banks federal reserve
        budget deficit debt taxes tax wages salary unemployment jobs growth gdp stocks bonds
        investors investment portfolio dividend mortgage housing rent landlord tenants
        tariffs trade exports imports currency dollar euro crypto bitcoin startup venture
        capital revenue profit earnings quarterly shareholders"""),
    "climate": _words("""climate warming emissions carbon dioxide methane renewable solar wind
        turbines batteries electric vehicles grid coal oil gas pipeline drought flooding
        wildfire wildfires hurricane glacier glaciers ocean sea levels biodiversity species
        extinction forest deforestation recycling plastic pollution heatwave agriculture
        farmers soil water irrigation sustainability"""),
    "politics": _words("""election elections vote voters ballot campaign candidate senator senate
        congress parliament minister president governor mayor council policy legislation
        bill amendment constitution supreme court judge justice democracy democrats
        republicans conservative liberal progressive polling primary debate referendum
        coalition opposition lobbying scandal impeachment"""),
    "technology": _words("""technology software hardware computer computers algorithm algorithms
        artificial intelligence machine learning model models data privacy security
        encryption hackers cloud server servers database app apps smartphone iphone android
        google apple microsoft amazon startup developers programming python javascript
        robot robots automation chip chips semiconductor"""),
    "football": _words("""football soccer goal goals striker midfielder defender goalkeeper
        penalty referee offside league premier champions transfer manager tactics
        formation pressing stadium supporters derby relegation promotion trophy cup final
        semifinal injury hamstring contract loan academy var corner freekick"""),
    "health": _words("""health doctor doctors hospital patients patient nurse nurses vaccine
        vaccines virus pandemic covid symptoms diagnosis treatment therapy cancer diabetes
        heart blood pressure sleep exercise diet nutrition protein sugar mental anxiety
        depression medication surgery clinic insurance emergency"""),
    "music": _words("""music album albums song songs singer guitar drums bass piano band bands
        tour concert festival record label producer studio lyrics melody chorus vinyl
        spotify streaming jazz rock hiphop rap punk orchestra symphony playlist"""),
    "film": _words("""film films movie movies director actor actress cinema screenplay script
        sequel franchise marvel netflix streaming series season episode trailer oscar
        oscars festival documentary animation camera editing casting premiere"""),
    "science": _words("""science scientist scientists physics chemistry biology experiment
        theory universe galaxy planet planets telescope nasa rocket mars moon asteroid
        quantum particle evolution genetics gene genes dna cells neuroscience brain
        fossil dinosaurs laboratory hypothesis"""),
    "history": _words("""history empire roman romans medieval war wars revolution king queen
        dynasty colonial archive archives century ancient egypt greek castle battle
        soldiers treaty monarchy civilization archaeology historian manuscript"""),
    "food": _words("""food cooking recipe recipes kitchen chef restaurant restaurants bread
        cheese wine coffee tea chocolate garlic onion pasta rice noodles spicy sauce
        baking oven vegetables fruit breakfast lunch dinner menu flavour"""),
    "crime": _words("""crime police detective murder investigation suspect victim evidence
        trial jury verdict prison sentence lawyer attorney prosecutor witness robbery
        fraud heist gang kidnapping forensic confession alibi podcast"""),
}

# Spoken collocations: said as a unit (the phrase queries' natural prey).
COLLOCATIONS = [
    "you know", "i mean", "kind of", "sort of", "a lot of", "at the end of the day",
    "i think", "i don't know", "to be honest", "in terms of", "at the same time",
    "you know what i mean", "the thing is", "a little bit", "as well", "right now",
    "first of all", "on the other hand", "let's talk about", "going to", "want to",
    "have to", "thank you so much", "welcome back to the show", "that's a great question",
    "the united states", "new york", "last year", "next week", "all the time",
]  # fmt: skip
TOPIC_COLLOCATIONS: dict[str, list[str]] = {
    "economy": ["interest rates", "the federal reserve", "the stock market", "supply chain",
                "cost of living", "real estate"],
    "climate": ["climate change", "fossil fuels", "net zero", "electric vehicles",
                "sea levels", "renewable energy"],
    "politics": ["the supreme court", "the white house", "the prime minister",
                 "the election campaign", "public opinion"],
    "technology": ["artificial intelligence", "machine learning", "social media",
                   "open source", "the cloud", "large language models"],
    "football": ["the world cup", "the premier league", "the champions league",
                 "the transfer window", "a clean sheet"],
    "health": ["mental health", "public health", "blood pressure", "the pandemic",
               "side effects"],
    "music": ["the new album", "on tour", "the music industry", "live music"],
    "film": ["box office", "the director's cut", "the film festival", "behind the scenes"],
    "science": ["the big bang", "black holes", "climate models", "peer review"],
    "history": ["the roman empire", "the middle ages", "the cold war",
                "the industrial revolution"],
    "food": ["olive oil", "the recipe", "fine dining", "street food"],
    "crime": ["true crime", "the crime scene", "the murder trial", "cold case"],
}  # fmt: skip

FIRST_NAMES = _words("""james mary john patricia robert jennifer michael linda david elizabeth
william barbara richard susan joseph jessica thomas sarah charles karen chris nancy
daniel lisa matthew betty anthony sandra mark ashley steven emily paul michelle andrew
amanda josh melissa kevin rebecca brian laura george stephanie tim sharon ryan cynthia
jacob kathleen gary amy nick angela eric anna jonathan emma ahmed fatima wei mei priya
raj sofia lucas olga ivan yuki hiroshi carlos lucia kwame amara""")
SURNAMES = _words("""smith johnson williams brown jones garcia miller davis rodriguez martinez
hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez
thompson white harris sanchez clark ramirez lewis robinson walker young allen king
wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell
mitchell carter roberts okafor patel kim chen wang singh kowalski novak schmidt
muller rossi dubois tanaka suzuki""")
PLACES = _words("""london paris berlin tokyo chicago boston texas california florida london
canada mexico brazil india china japan australia africa europe asia russia ukraine
germany france italy spain ireland scotland seattle denver atlanta toronto sydney
lagos nairobi mumbai delhi beijing shanghai seoul madrid rome""")
NUMBERS = [str(n) for n in (*range(1, 21), 25, 30, 40, 50, 100, 200, 500, 1000,
                            *range(1990, 2026))]  # fmt: skip

SHOW_ADJ = _words("""Daily Weekly Morning Late Open Deep Big Small Honest Curious Modern Quiet
Loud Slow Fast Long Short Hidden""")
SHOW_NOUN = _words("""Desk Hour Table Signal Briefing Room Dispatch Notes Report Lab Talk Week
Show Review Files Story Club Circle""")

_ONSETS = _words("b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr bl cl fl gl pl sl "
                 "ch sh th st sp sk")  # fmt: skip
_VOWELS = _words("a e i o u a e i o u a e i o ai ea ou")
_CODAS = [""] * 6 + _words("n r l s t m k nd st rt nt")

FIRST_DATE = date(2020, 1, 1)
SPAN_DAYS = 5 * 365
CHUNK_SECONDS = 45.0
SHOW_WORDS = 350


def _zipf_weights(n: int, s: float = 1.25, q: float = 4.0) -> np.ndarray:
    """Zipf-Mandelbrot weights 1 / (rank + q)^s, normalised."""
    w = 1.0 / np.power(np.arange(1, n + 1, dtype=np.float64) + q, s)
    return w / w.sum()


def _cdf(weights: np.ndarray) -> np.ndarray:
    c = np.cumsum(weights)
    c[-1] = 1.0
    return c


@dataclass(frozen=True)
class Show:
    """A synthetic show: its name, feed, topic and the words it says far more than others."""

    index: int
    name: str
    feed: str
    topic: str
    words: np.ndarray  # vocabulary ids, most frequent first
    collocations: tuple[str, ...]


class Corpus:
    """The seeded vocabulary, shows and episode generator."""

    def __init__(self, seed: int = 1, vocab_size: int = 40_000, shows: int = 50) -> None:
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        head = list(dict.fromkeys(FUNCTION_WORDS))
        common = [w for w in dict.fromkeys(COMMON_WORDS) if w not in head]
        special: list[str] = []
        for words in TOPICS.values():
            special += words
        special += FIRST_NAMES + SURNAMES + PLACES + NUMBERS
        taken = set(head) | set(common)
        special = [w for w in dict.fromkeys(special) if w not in taken]
        taken |= set(special)
        # The long tail: pronounceable 2-4 syllable words, unique, in a seeded order.
        synthetic: list[str] = []
        want = vocab_size - len(head) - len(common) - len(special)
        while len(synthetic) < want:
            syllables = int(rng.choice([1, 2, 2, 2, 3, 3]))
            word = (
                "".join(
                    _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                    for _ in range(syllables)
                )
                + _CODAS[rng.integers(len(_CODAS))]
            )
            if word not in taken:
                taken.add(word)
                synthetic.append(word)
        # Real special words take random ranks among the first ~8,000 of the tail, so
        # "inflation" or "okafor" are mid-frequency words, not the rarest ones.
        tail: list[str | None] = list(synthetic)
        slots = np.sort(rng.choice(min(8000, len(tail) + len(special)), len(special),
                                   replace=False))  # fmt: skip
        order = rng.permutation(len(special))
        for slot, k in zip(slots, order, strict=True):
            tail.insert(int(slot), special[int(k)])
        self.words: list[str] = head + common + [w for w in tail if w is not None]
        self.n_function = len(head)
        self.n_common = len(common)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.cdf = _cdf(_zipf_weights(len(self.words)))
        capital = set(FIRST_NAMES) | set(SURNAMES) | set(PLACES)
        self.display = [
            w.capitalize() if w in capital else ("I" + w[1:] if w in ("i", "i'm", "i've") else w)
            for w in self.words
        ]
        # Shows: a topic each, its topic words then jargon words from the tail, 350 in all.
        topics = list(TOPICS)
        self.shows: list[Show] = []
        for k in range(shows):
            srng = np.random.default_rng([seed, 1, k])
            topic = topics[k % len(topics)]
            own = [self.index[w] for w in dict.fromkeys(TOPICS[topic])]
            jargon = srng.choice(np.arange(self.n_function + self.n_common, len(self.words)),
                                 SHOW_WORDS, replace=False)  # fmt: skip
            chosen = np.array((own + [int(j) for j in jargon if int(j) not in own])[:SHOW_WORDS])
            name = f"The {SHOW_ADJ[k % len(SHOW_ADJ)]} {SHOW_NOUN[(k * 7) % len(SHOW_NOUN)]}"
            if k >= len(SHOW_ADJ):
                name += f" {k // len(SHOW_ADJ) + 1}"
            slug = name.lower().replace(" ", "-")
            self.shows.append(Show(k, name, f"https://{slug}.example.org/feed.xml", topic,
                                   chosen, tuple(TOPIC_COLLOCATIONS[topic])))  # fmt: skip
        self._show_cdf = _cdf(_zipf_weights(SHOW_WORDS, s=0.9, q=5.0))

    def is_content(self, word: str) -> bool:
        """True for a word past the function words and fillers."""
        return self.index.get(word, 0) >= self.n_function

    def episode(self, k: int, max_chunks: int | None = None) -> tuple[MediaItem, Transcript, Show]:
        """Episode number k: its metadata, its transcript and its show (deterministic)."""
        rng = np.random.default_rng([self.seed, 2, k])
        show = self.shows[k % len(self.shows)]
        target = int(np.clip(round(100 * math.exp(rng.normal(0.0, 0.35))), 20, 250))
        if max_chunks is not None:
            target = min(target, max_chunks)
        duration = target * (CHUNK_SECONDS - 4.0)
        # Keywords of this episode (a guest, a story): a handful of tail words said often.
        keywords = rng.integers(self.n_function + self.n_common, len(self.words), 6)
        segments = list(self._segments(rng, show, keywords, duration))
        published = FIRST_DATE + timedelta(days=int(k * SPAN_DAYS / 10_000) % SPAN_DAYS)
        title_words = [self.display[int(w)] for w in keywords[:3]]
        number = k // len(self.shows) + 1
        item = MediaItem(
            source_url=show.feed,
            extractor="generic",
            media_id=f"synthetic-{self.seed}-{k}",
            title=f"{show.name} #{number}: {' '.join(title_words).title()}",
            webpage_url=f"{show.feed.rsplit('/', 1)[0]}/episodes/{number}",
            channel=show.name,
            published=published.isoformat(),
            duration=segments[-1].end if segments else 0.0,
            media_url=f"{show.feed.rsplit('/', 1)[0]}/audio/{number}.mp3",
            language="en",
        )
        transcript = Transcript(tuple(segments), "en", item.duration or 0.0, "base")
        return item, transcript, show

    def _segments(self, rng: np.random.Generator, show: Show, keywords: np.ndarray,
                  duration: float) -> Iterator[Segment]:  # fmt: skip
        t = float(rng.uniform(0.0, 2.0))
        while t < duration:
            # A batch of sentences at a time keeps numpy's per-call cost low.
            lengths = np.clip(np.round(rng.triangular(5, 10, 25, 64)), 5, 25).astype(int)
            n = int(lengths.sum())
            ids = np.searchsorted(self.cdf, rng.random(n))
            source = rng.random(n)
            topical = source < 0.10
            ids[topical] = show.words[
                np.searchsorted(self._show_cdf, rng.random(int(topical.sum())))
            ]
            keyword = source > 0.985
            ids[keyword] = keywords[rng.integers(0, len(keywords), int(keyword.sum()))]
            comma = rng.random(n) < 0.07
            colloc = rng.random(len(lengths))
            colloc_pick = rng.random(len(lengths))
            ends = rng.random(len(lengths))
            gaps = rng.uniform(0.25, 0.9, len(lengths))
            jitter = rng.uniform(0.85, 1.2, n)
            # As faster-whisper's words come: most start where the previous one ended (87%
            # in our real transcripts); the rest after a short pause.
            pauses = np.where(rng.random(n) < 0.13, rng.uniform(0.05, 0.8, n), 0.0)
            pos = 0
            for s, length in enumerate(lengths):
                texts = [self.display[int(i)] for i in ids[pos : pos + length]]
                marks = comma[pos : pos + length]
                texts = [w + "," if c else w for w, c in zip(texts, marks, strict=True)]
                if colloc[s] < 0.35:
                    pool = show.collocations if colloc[s] < 0.12 else COLLOCATIONS
                    phrase = pool[int(colloc_pick[s] * len(pool))].split()
                    at = int(colloc_pick[s] * 997) % (len(texts) + 1)
                    texts[at:at] = ["I" if w == "i" else w for w in phrase]
                texts[0] = texts[0][0].upper() + texts[0][1:]
                last = texts[-1].rstrip(",")
                texts[-1] = last + ("?" if ends[s] < 0.12 else "!" if ends[s] < 0.15 else ".")
                words = []
                scale = jitter[pos : pos + length]
                for j, w in enumerate(texts):
                    # ~0.36 s for a 4-letter word, a little more for long ones.
                    spoken = (0.12 + 0.05 * len(w)) * float(scale[j % length])
                    words.append(Word(round(t, 2), round(t + spoken, 2), w))
                    t = round(t + spoken, 2) + float(pauses[pos + j % length])
                pos += length
                yield Segment(words[0].start, words[-1].end, " ".join(texts), tuple(words))
                t += float(gaps[s])
                if t >= duration:
                    return


def _stats(corpus: Corpus, episodes: int) -> None:
    from indexer.chunk import chunk_segments
    from indexer.search import tokens

    df: Counter[str] = Counter()
    chunks = words = chars = 0
    seconds = 0.0
    for k in range(episodes):
        _, transcript, _ = corpus.episode(k)
        for c in chunk_segments(transcript.segments, CHUNK_SECONDS):
            toks = tokens(c.text)
            df.update(set(toks))
            words += len(toks)
            chars += len(c.text.encode()) + 1
            chunks += 1
        seconds += transcript.duration
    print(f"{episodes} episodes, {chunks} chunks ({chunks / episodes:.0f}/episode), "
          f"{seconds / 3600:.1f} h, {words / seconds:.2f} words/s, "
          f"{words / chunks:.0f} words/chunk, {chars / chunks:.0f} bytes/chunk, "
          f"{len(df)} distinct tokens")  # fmt: skip
    print("share of chunks holding:")
    for w, n in df.most_common(12):
        print(f"  {w:10} {n / chunks:6.1%}")
    for w in ("inflation", "climate", "okafor", "guitar"):
        print(f"  {w:10} {df[w] / chunks:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    corpus = Corpus(args.seed)
    item, transcript, show = corpus.episode(0)
    print(f"vocabulary {len(corpus.words)} words; show {show.name!r} ({show.topic})")
    print(item)
    for seg in transcript.segments[:8]:
        print(f"  [{seg.start:7.2f}-{seg.end:7.2f}] {seg.text}")
    _stats(corpus, args.episodes)


if __name__ == "__main__":
    main()
