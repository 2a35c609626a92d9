"""Language-aware analysis: transcript words and typed queries -> search terms.

Terms are computed here, in Python, and stored space-separated, so the database is
indexed with FTS5's built-in tokenizer (`unicode61 remove_diacritics 0 categories
'L* N* Co M*'`) and stays readable and searchable by any SQLite, with no custom
tokenizer to load. Each term is exactly one token for that tokenizer.

Both sides share one analysis, a pure function of (word, language):

- fold: NFKC, casefold, Latin diacritics stripped (but not ñ), Greek accents,
  Cyrillic ё -> е, Arabic harakat/tatweel removed and letter variants unified;
- split on punctuation (English clitics, Turkish suffixes after an apostrophe and
  French/Italian/Catalan elisions are handled first);
- stem with the episode language's Snowball stemmer, only for words in its script;
- Han/kana runs, joined across words, become overlapping bigrams; Thai, Lao, Khmer
  and Myanmar runs, joined across words, are split into words by ICU; Korean
  particles are stripped from each eojeol.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
import unicodedata
from collections.abc import Iterator, Sequence

import snowballstemmer
from icu4py.breakers import WordBreaker
from icu4py.locale import Locale

# Script tags of letters. CJK covers Han, kana and bopomofo; SEA the scripts that
# are written without spaces between words and need ICU's dictionaries.
LATIN, GREEK, CYRILLIC, ARMENIAN, HEBREW, ARABIC = "Latn", "Grek", "Cyrl", "Armn", "Hebr", "Arab"
DEVANAGARI, TAMIL, HANGUL, CJK, SEA, OTHER = "Deva", "Taml", "Hang", "cjk", "sea", ""

_RANGES: list[tuple[int, int, str]] = sorted(
    [
        (0x0041, 0x005A, LATIN),
        (0x0061, 0x007A, LATIN),
        (0x00AA, 0x00AA, LATIN),
        (0x00BA, 0x00BA, LATIN),
        (0x00C0, 0x00D6, LATIN),
        (0x00D8, 0x00F6, LATIN),
        (0x00F8, 0x02AF, LATIN),
        (0x0370, 0x03FF, GREEK),
        (0x0400, 0x052F, CYRILLIC),
        (0x0530, 0x058F, ARMENIAN),
        (0x0590, 0x05FF, HEBREW),
        (0x0600, 0x06FF, ARABIC),
        (0x0750, 0x077F, ARABIC),
        (0x0870, 0x08FF, ARABIC),
        (0x0900, 0x097F, DEVANAGARI),
        (0x0B80, 0x0BFF, TAMIL),
        (0x0E00, 0x0EFF, SEA),  # Thai, Lao
        (0x1000, 0x109F, SEA),  # Myanmar
        (0x1100, 0x11FF, HANGUL),
        (0x1780, 0x17FF, SEA),  # Khmer
        (0x19E0, 0x19FF, SEA),
        (0x1C80, 0x1C8F, CYRILLIC),
        (0x1D00, 0x1DBF, LATIN),
        (0x1E00, 0x1EFF, LATIN),
        (0x1F00, 0x1FFF, GREEK),
        (0x2C60, 0x2C7F, LATIN),
        (0x2DE0, 0x2DFF, CYRILLIC),
        (0x2E80, 0x2FDF, CJK),
        (0x3005, 0x3007, CJK),  # 々 〆 〇
        (0x3021, 0x3029, CJK),
        (0x3031, 0x3035, CJK),
        (0x3038, 0x303C, CJK),
        (0x3040, 0x312F, CJK),  # kana, bopomofo
        (0x3130, 0x318F, HANGUL),
        (0x31A0, 0x31BF, CJK),
        (0x31F0, 0x31FF, CJK),
        (0x3400, 0x4DBF, CJK),
        (0x4E00, 0x9FFF, CJK),
        (0xA640, 0xA69F, CYRILLIC),
        (0xA720, 0xA7FF, LATIN),
        (0xA8E0, 0xA8FF, DEVANAGARI),
        (0xA960, 0xA97F, HANGUL),
        (0xA9E0, 0xA9FF, SEA),
        (0xAA60, 0xAA7F, SEA),
        (0xAB30, 0xAB6F, LATIN),
        (0xAC00, 0xD7FF, HANGUL),
        (0xF900, 0xFAFF, CJK),
        (0xFB50, 0xFDFF, ARABIC),
        (0xFE70, 0xFEFF, ARABIC),
        (0x1AFF0, 0x1B16F, CJK),  # kana supplements
        (0x20000, 0x3FFFF, CJK),
    ]
)
_STARTS = [start for start, _, _ in _RANGES]

_ALGORITHMS = set(snowballstemmer.algorithms())
_STEMMERS = {
    code: name
    for code, name in {
        "ar": "arabic",
        "ca": "catalan",
        "cs": "czech",
        "da": "danish",
        "de": "german",
        "el": "greek",
        "en": "english",
        "eo": "esperanto",
        "es": "spanish",
        "et": "estonian",
        "eu": "basque",
        "fa": "persian",
        "fi": "finnish",
        "fr": "french",
        "ga": "irish",
        "hi": "hindi",
        "hu": "hungarian",
        "hy": "armenian",
        "id": "indonesian",
        "it": "italian",
        "lt": "lithuanian",
        "ne": "nepali",
        "nl": "dutch",
        "nn": "norwegian",
        "no": "norwegian",
        "pl": "polish",
        "pt": "portuguese",
        "ro": "romanian",
        "ru": "russian",
        "sr": "serbian",
        "st": "sesotho",
        "sv": "swedish",
        "ta": "tamil",
        "tr": "turkish",
        "yi": "yiddish",
    }.items()  # fmt: skip
    if name in _ALGORITHMS
}
_SCRIPTS: dict[str, frozenset[str]] = {
    "ar": frozenset({ARABIC}),
    "fa": frozenset({ARABIC}),
    "el": frozenset({GREEK}),
    "hi": frozenset({DEVANAGARI}),
    "ne": frozenset({DEVANAGARI}),
    "hy": frozenset({ARMENIAN}),
    "ru": frozenset({CYRILLIC}),
    "sr": frozenset({CYRILLIC, LATIN}),  # its stemmer transliterates Cyrillic itself
    "ta": frozenset({TAMIL}),
    "yi": frozenset({HEBREW}),
}
_LATIN_ONLY = frozenset({LATIN})
_NAMES = {name: code for code, name in _STEMMERS.items() if code != "nn"} | {
    "chinese": "zh", "japanese": "ja", "korean": "ko", "thai": "th", "ukrainian": "uk",
    "vietnamese": "vi", "hebrew": "he", "cantonese": "yue", "lao": "lo", "khmer": "km",
    "burmese": "my", "myanmar": "my",
}  # fmt: skip
_ALIASES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "nb": "no", "mo": "ro"}
_UNDEFINED = frozenset({"und", "mul", "zxx", "mis"})

# Where the stemmer's suffixes carry the diacritics (Turkish vowel harmony, French
# -ée, Polish, Czech, Romanian endings) words are stemmed before folding, which
# measured better on inflected pairs; elsewhere folding first lets more spellings
# without accents meet (Spanish también/tambien).
_STEM_BEFORE_FOLD = frozenset({"tr", "az", "fr", "pl", "cs", "ro"})
_TURKIC = frozenset({"tr", "az"})
# Vietnamese tone marks tell most words apart (bán, bàn, bạn): never strip them.
_KEEP_LATIN_MARKS = frozenset({"vi"})

_LATIN_LETTERS = str.maketrans(
    {"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ŧ": "t", "ı": "i", "æ": "ae", "œ": "oe"}
)
_ARABIC_LETTERS = str.maketrans(
    {"ٱ": "ا", "ى": "ي", "ی": "ي", "ک": "ك", "ة": "ه", "ـ": None}  # after NFD: أ إ آ -> ا
)
# A nasal consonant with virama before another consonant, written as anusvara by many.
_HALF_NASAL = re.compile("[\u0919\u091e\u0923\u0928\u092e]\u094d(?=[\u0915-\u0939])")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'", "`": "'", "´": "'"})
_TURKISH_UPPER = str.maketrans({"I": "ı", "İ": "i"})
# Invisible format characters vanish; a zero-width space separates words (Khmer, Myanmar).
_FORMAT = re.compile("[\u00ad\u061c\u180e\u200c-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_ASCII_PIECES = re.compile(r"[a-z0-9]+|\s+|[^a-z0-9\s]+")
_HYPHENS = frozenset("-\u2010\u2011")

_L = r"[^\W\d_]"  # a letter
_CLITICS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    # "don't" -> "dont" (as readers type it); "Berlin's", "we're", "I'll" -> the word alone
    "en": [
        (re.compile(rf"(?<={_L})n't(?!{_L})"), "nt"),
        (re.compile(rf"(?<={_L})'(?:s|re|ll|ve|d|m)(?!{_L})"), ""),
    ],
    # "Türkiye'de", "1990'larda": the case suffix after a proper noun or number
    "tr": [(re.compile(rf"(?<=[^\W_])'{_L}+"), "")],
    "az": [(re.compile(rf"(?<=[^\W_])'{_L}+"), "")],
    "fr": [(re.compile(rf"(?<!{_L})(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)'(?={_L})"), "")],
    "it": [
        (
            re.compile(
                rf"(?<!{_L})(?:[cdl]|un|dell|all|dall|nell|sull|coll|quell|quest|bell|sant)'"
                rf"(?={_L})"
            ),
            "",
        )
    ],
    "ca": [(re.compile(rf"(?<!{_L})[dlmnst]'(?={_L})"), "")],
}
# Ukrainian and Belarusian write an apostrophe inside words (м'ясо).
_CYRILLIC_APOSTROPHE = re.compile("(?<=[\u0400-\u04ff])'(?=[\u0400-\u04ff])")
_ARABIC_JOINED = ("وال", "فال", "بال", "كال")

# Korean particles and endings, longest first. Those that often end a noun as well
# (국가, 제도, 회의) are only stripped when two syllables remain, so that 국가 and
# 국가가 both give 국가.
_KO_SHORT = frozenset("이가의로와과도만나요들께랑야")
# fmt: off
_KO_LONG = (
    "에서", "에게", "께서", "으로", "까지", "부터", "보다", "처럼", "하고", "이나",
    "입니다", "이다", "이며", "이고", "이었다", "였다", "이라고", "라고", "이라는", "라는",
    "이라", "한테", "에서는", "에는", "에도", "으로는", "로는", "과의", "와의", "마다",
    "조차", "밖에", "에게서", "으로서", "로서", "으로써", "로써", "이랑", "하며", "했다",
    "했습니다", "합니다", "하는", "한다", "했던", "해서", "하게", "된다", "됐다", "되는",
    "됩니다", "이에요", "예요", "이죠", "이지만", "지만",
)
# fmt: on
_KO_ENDINGS = sorted({*_KO_SHORT, "은", "는", "을", "를", "에", *_KO_LONG}, key=len, reverse=True)
_KO_PARTICLES = frozenset(_KO_ENDINGS)

_local = threading.local()  # snowball stemmers keep state between calls: one set per thread


def _script(ch: str) -> str:
    """The script tag of a character (OTHER when not one we treat specially)."""
    cp = ord(ch)
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    return OTHER


def _is_token_char(ch: str) -> bool:
    """True for the characters unicodedata's categories L*, N*, M* and Co."""
    cat = unicodedata.category(ch)
    return cat[0] in "LNM" or cat == "Co"


@functools.lru_cache(maxsize=4096)
def language_code(language: str | None) -> str | None:
    """The base ISO 639 code of a language tag or name ('pt-BR' -> 'pt'), or None."""
    if not language:
        return None
    base = language.strip().replace("_", "-").split("-")[0].lower()
    base = _ALIASES.get(base) or _NAMES.get(base) or base
    if not base.isascii() or not base.isalpha() or not 2 <= len(base) <= 3:
        return None
    return None if base in _UNDEFINED else base


def _stem(word: str, algorithm: str) -> str:
    """The word stemmed by this thread's Snowball stemmer of the algorithm."""
    stemmers: dict[str, object] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    stemmer = stemmers.get(algorithm)
    if stemmer is None:
        stemmer = stemmers[algorithm] = snowballstemmer.stemmer(algorithm)
    return str(stemmer.stemWord(word))  # type: ignore[attr-defined]


def _fold(text: str, language: str | None) -> str:
    """Script-aware folding of one casefolded, NFKC run of word characters."""
    if text.isascii():
        return text
    out: list[str] = []
    base = OTHER
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch):
            if base == LATIN:
                if (
                    language in _KEEP_LATIN_MARKS
                    or (ch == "\u0303" and out[-1:] == ["n"])
                    or (
                        # French ï tells words apart: maïs (maize) is not mais (but)
                        ch == "\u0308" and language == "fr" and out[-1:] == ["i"]
                    )
                ):
                    out.append(ch)  # ñ is a letter of its own: año is not ano
            elif base == CYRILLIC:
                if ch not in "\u0300\u0301" and not (ch == "\u0308" and out[-1:] == ["е"]):
                    out.append(ch)  # stress marks go, ё -> е, but й and ї stay
            elif base == DEVANAGARI:
                if ch != "\u093c":  # Hindi as typed: without nukta (जरूरी for ज़रूरी)
                    out.append(ch)
            elif base not in (GREEK, ARABIC):
                out.append(ch)  # Thai, Tamil, ... marks are part of the word
            continue
        base = _script(ch)
        out.append(ch)
    folded = unicodedata.normalize("NFC", "".join(out))
    if base == DEVANAGARI or "\u094d" in folded:
        # हिन्दी and हिंदी, चाँद and चांद are one word each
        folded = _HALF_NASAL.sub("\u0902", folded).replace("\u0901", "\u0902")
    return folded.translate(_LATIN_LETTERS).translate(_ARABIC_LETTERS)


def _in_scripts(word: str, scripts: frozenset[str]) -> bool:
    """True when the word has letters and all of them are of these scripts."""
    if word.isascii():
        return LATIN in scripts and not word.isdigit()
    letters = [ch for ch in word if ch.isalpha()]
    return bool(letters) and all(_script(ch) in scripts for ch in letters)


@functools.lru_cache(maxsize=1 << 18)
def _stem_run(text: str, language: str | None, stem_first: bool | None = None) -> str:
    """One word-character run (no CJK, SEA or Hangul) folded and stemmed: one term."""
    algorithm = _STEMMERS.get(language) if language else None
    if stem_first is None:
        stem_first = language in _STEM_BEFORE_FOLD
    word = text if stem_first else _fold(text, language)
    if language in (None, "en") and word.isascii():
        word = _american().get(word, word)  # colour, organise, travelled: one term each
    if algorithm is not None:
        assert language is not None
        if _in_scripts(word, _SCRIPTS.get(language, _LATIN_ONLY)):
            if language == "ar" and word.startswith(_ARABIC_JOINED) and len(word) > 4:
                word = word[1:]  # و/ف/ب/ك + ال: Snowball only knows some of these
            if language == "ar" and word.endswith("ات") and len(word) >= 5:
                word = word[:-2]  # the plural ريالات -> ريال, which Snowball leaves as ريالا
            word = _stem(word, algorithm)
            if language == "tr":
                # Snowball Turkish strips one layer of suffixes per call (seçimler -> seçim)
                for _ in range(3):
                    again = _stem(word, algorithm)
                    if again == word:
                        break
                    word = again
                if len(word) < 3 <= len(text):
                    word = text[:3]  # deniz is not de-niz (de: "also", said everywhere)
                if len(word) >= 5 and word[-1] == "s" and word[-2] in "aeıioöuü":
                    word = word[:-1]  # the buffer s of a possessive: atölyesi -> atölye
            elif language == "fr":
                if word.endswith("er") and len(word) > 4:
                    word = _stem(word, algorithm)  # loyers -> loyer -> loi, as loyer -> loi
                if word.endswith("ux") and len(word) <= 5:
                    word = word[:-1]  # feux, jeux, lieux, eaux: the plural of -eu, -au
            elif language == "ar" and word.startswith("ال") and len(word) > 4:
                word = word[2:]
    return _fold(word, language)


# Languages whose words are split into compound parts, with the wordfreq list the parts
# are looked up in, and how: Germanic compounds of two or three parts with linking
# elements (Wohnung-s-markt, Kind-er-garten); two plain parts (doğal-gaz, पाइप-लाइन);
# Romance words after a known prefix only (tele-trabajo, micro-pisos).
GERMANIC, PLAIN, PREFIXED = "germanic", "plain", "prefixed"
_COMPOUNDING: dict[str, tuple[str, str]] = {
    **{code: (code, GERMANIC) for code in ("de", "nl", "sv", "da", "is")},
    "no": ("nb", GERMANIC), "nn": ("nb", GERMANIC),
    # (not English: its compounds are mostly written apart, and English relevance is
    # measured on whole words)
    **{code: (code, PLAIN) for code in ("tr", "hi", "fi", "hu")},
    **{code: (code, PREFIXED) for code in ("es", "it", "pt", "ca", "fr")},
    "ru": ("ru", "linked"), "uk": ("uk", "linked"),
}  # fmt: skip
LINKED = "linked"  # Russian: a word and a linking о/е (овощ-е-хранилище), or a prefix (агро-)
_SLAVIC_LINKS = ("о", "е")
_SLAVIC_PREFIXES = frozenset(
    [
        "агро",
        "авто",
        "био",
        "эко",
        "теле",
        "микро",
        "макро",
        "мини",
        "супер",
        "гипер",
        "электро",
        "нефте",
        "газо",
        "энерго",
        "медиа",
        "видео",
        "фото",
        "радио",
        "кибер",
        "нано",
        "спорт",
        "гос",
        "мед",
        "тех",
    ]  # noqa: SIM905
)
_LINKS = ("", "s", "es", "n", "en", "e", "er", "ens")
_PREFIXES = frozenset(
    [
        "tele",
        "micro",
        "macro",
        "mini",
        "maxi",
        "auto",
        "super",
        "hiper",
        "hyper",
        "ultra",
        "multi",
        "inter",
        "anti",
        "contra",
        "sobre",
        "semi",
        "bio",
        "eco",
        "euro",
        "narco",
        "ciber",
        "cyber",
        "video",
        "vídeo",
        "foto",
        "radio",
        "termo",
        "hidro",
        "agro",
        "electro",
        "neuro",
        "psico",
        "socio",
        "mega",
        "nano",
        "vice",
        "pluri",
        "poli",
    ]  # noqa: SIM905
)
_MIN_PART = 3
# Parts more common than this are function words and prefixes (ein, auf, über): "Einsatz"
# is not about a "Satz".
_MAX_PART_FREQ = 8e-4
# A split must be this much likelier than the whole word (Koehn and Knight use 1).
_SPLIT_RATIO = 1.0
# Suffixes and prefixes that the word lists hold as words of their own (English "ten",
# "and"), which are never a part a reader searches for.
_NOT_PARTS = frozenset(
    [
        "ende",
        "ing",
        "nen",
        "ten",
        "res",
        "and",
        "innen",
        "tel",
        "ver",
        "ent",
        "zer",
        "ren",
        "ner",
        "est",
        "ums",
        "ens",
        "ern",
        "chen",
        "lich",
        "sche",
        "igen",
        "ungen",
        "ung",
        "heit",
        "keit",
        "bar",
        "haft",
        "los",
        "tum",
        "ción",
        "ment",
        "mente",
        "ler",
        "lar",
    ]  # noqa: SIM905
)


def _wordlike(word: str) -> bool:
    """Letters and marks only (Devanagari vowel signs are marks, not letters)."""
    return all(ch.isalpha() or unicodedata.category(ch)[0] == "M" for ch in word)


@functools.cache
def _word_frequencies(wordlist: str) -> dict[str, float]:
    """wordfreq's 'small' list of a language (about 40k words of frequency >= 1e-6)."""
    import wordfreq  # imported on first use: most indexes never need it

    return wordfreq.get_frequency_dict(wordlist, "small")


@functools.cache
def _stem_frequencies(language: str) -> dict[str, float]:
    """The same list by stem (the commonest form's frequency): an inflected head
    (Gewerkschaften, doğalgazın) is found by its stem."""
    stems: dict[str, float] = {}
    for word, f in _word_frequencies(_COMPOUNDING[language][0]).items():
        if _wordlike(word) and f <= _MAX_PART_FREQ and word not in _NOT_PARTS:
            stem = _stem_run(word, language)
            if len(stem) >= _MIN_PART and f > stems.get(stem, 0.0):
                stems[stem] = f
    return stems


@functools.lru_cache(maxsize=1 << 16)
def _compound_parts(word: str, language: str) -> tuple[str, ...]:
    """The stems of a compound word's parts, or () when it is not one.

    Koehn and Knight (2003): the split whose known parts have the highest geometric mean
    frequency wins, when that beats the frequency of the whole word. Modifiers are looked
    up as written (with a linking element, or as a stem: Heiz-kosten, Schul-bus), the
    head by its stem.
    """
    if len(word) < 2 * _MIN_PART + 1 or not _wordlike(word):
        return ()
    wordlist, style = _COMPOUNDING[language]
    freq = _word_frequencies(wordlist)
    stems = _stem_frequencies(language)
    links = _LINKS if style == GERMANIC else ("",)

    def modifier(part: str) -> tuple[float, str]:
        if style == PREFIXED:
            return (_MAX_PART_FREQ, part) if part in _PREFIXES else (0.0, "")
        if style == LINKED:
            if part in _SLAVIC_PREFIXES:
                return _MAX_PART_FREQ, part
            if part[-1:] in _SLAVIC_LINKS and len(part) > _MIN_PART:
                f = freq.get(part[:-1], 0.0)
                return (f, part[:-1]) if f <= _MAX_PART_FREQ else (0.0, "")
            return 0.0, ""
        found = (0.0, "")
        for link in links:
            if link and not part.endswith(link):
                continue
            base = part[: len(part) - len(link)]
            # a stem that is no word stands for one (Schul-bus, Heiz-kosten)
            stand_in = style == GERMANIC and not link and base not in freq
            for form in (base, base + "e", base + "en") if stand_in else (base,):
                f = freq.get(form, 0.0)
                # a 3-letter word before a link is mostly a fragment (unt-er-gang); a
                # 2-letter one without is a word (Öl-heizung)
                shortest = _MIN_PART + bool(link) - (style == GERMANIC and not link)
                if len(base) >= shortest and found[0] < f <= _MAX_PART_FREQ \
                        and form not in _NOT_PARTS:  # fmt: skip
                    found = (f, form)
        return found

    def head(part: str) -> tuple[float, str]:
        stem = _stem_run(part, language)
        if not _fold(part, language).startswith(stem):
            return 0.0, stem  # the stemmer ate more than an ending (sinde -> nde): no word
        return (
            (0.0, stem)
            if part in _NOT_PARTS or stem in _NOT_PARTS
            else (stems.get(stem, 0.0), stem)
        )

    whole = max(freq.get(word, 0.0), stems.get(_stem_run(word, language), 0.0))
    best: tuple[float, tuple[str, ...]] = (_SPLIT_RATIO * whole, ())
    n = len(word)
    for i in range(_MIN_PART - (style == GERMANIC), n - _MIN_PART + 1):
        first, first_form = modifier(word[:i])
        if not first:
            continue
        last, last_stem = head(word[i:])
        if last and (first * last) ** 0.5 > best[0]:
            best = ((first * last) ** 0.5, (first_form, last_stem))
        for j in (
            range(i + _MIN_PART, n - _MIN_PART) if style == GERMANIC and i >= _MIN_PART else ()
        ):
            middle, middle_form = modifier(word[i:j])
            if not middle:
                continue
            last, last_stem = head(word[j:])
            score = (first * middle * last) ** (1 / 3) if last else 0.0
            if score > best[0]:
                # with the first two parts as one (Lokführer-gewerkschaft)
                best = (score, (first_form, middle_form, last_stem, word[:j]))
    if not best[1]:
        return ()
    parts = best[1] if len(best[1]) == 2 else (*best[1][:2], best[1][3], best[1][2])
    return tuple(p if p == best[1][-1 if len(best[1]) == 2 else 2] else _stem_run(p, language)
                 for p in parts)  # fmt: skip


def _run_terms(run: str, language: str | None, extra: bool) -> tuple[str, ...]:
    """The terms of one word-character run: its stem, then with `extra` (as the index holds
    them) the stems of its compound parts or its accent-less form."""
    term = _stem_run(run, language)
    if not term or not extra:
        return (term,) if term else ()
    terms = [term]
    if language in _STEM_BEFORE_FOLD and not run.isascii():
        # Also the term of the word typed without its accents (katilim orani for katılım
        # oranı), which the stemmer reads differently: both are indexed.
        plain = _stem_run(run, language, stem_first=False)
        if plain and plain != term:
            terms.append(plain)
    if language in _COMPOUNDING and len(run) >= 2 * _MIN_PART + 1:
        terms += [p for p in _compound_parts(run, language) if p and p not in terms]
    return tuple(terms)


@functools.cache
def _american() -> dict[str, str]:
    """British spellings -> American ones (breame's list of about 1,700 words and forms)."""
    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    return dict(BRITISH_ENGLISH_SPELLINGS)


def has_british_spelling(text: str) -> bool:
    """True when the text holds a word that breame spells differently in American English."""
    spellings = _american()
    return any(word in spellings for word in re.findall(r"[a-z]+", text.lower()))


@functools.cache
def _simplified() -> dict[int, str]:
    """Traditional Chinese characters -> simplified ones (OpenCC's table, first choice), so
    that a reader typing either script finds both (whisper writes either)."""
    from importlib.resources import files

    table: dict[int, str] = {}
    text = (files("opencc_purepy") / "dicts" / "TSCharacters.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        source, _, targets = line.partition("\t")
        first = targets.split(" ")[0]
        if len(source) == 1 and len(first) == 1 and not source.startswith("#"):
            table[ord(source)] = first
    return table


def _strip_particles(eojeol: str) -> str:
    """A Korean eojeol without its trailing particles and common endings."""
    for _ in range(3):
        for ending in _KO_ENDINGS:
            rest = len(eojeol) - len(ending)
            if eojeol.endswith(ending) and rest >= (2 if ending in _KO_SHORT else 1):
                eojeol = eojeol[:rest]
                break
        else:
            break
    return eojeol


def _normalize(word: str, language: str | None) -> str:
    """NFKC, casefolded, symbols as spaces, clitics handled: the text to split."""
    text = word.translate(_APOSTROPHES)
    if language in _TURKIC:
        text = text.translate(_TURKISH_UPPER)
    if not text.isascii():
        # Symbols are separators; NFKC would turn some into letters (™ -> TM).
        text = "".join(" " if unicodedata.category(ch)[0] == "S" else ch for ch in text)
        text = unicodedata.normalize("NFKC", text).casefold()
        text = _FORMAT.sub("", unicodedata.normalize("NFKC", text).replace("\u200b", " "))
        # NFKC splits Thai and Lao sara am (ำ -> ํา), which ICU's dictionaries don't know.
        text = text.replace("\u0e4d\u0e32", "\u0e33").replace("\u0ecd\u0eb2", "\u0eb3")
        if "'" in text:
            text = _CYRILLIC_APOSTROPHE.sub("", text)
    else:
        text = text.lower()
    if "'" in text:
        for pattern, replacement in _CLITICS.get(language or "", ()):
            text = pattern.sub(replacement, text)
    return text


# One part of a word: ("t", term), ("c", Han/kana), ("s", Thai etc.), ("p", "") for
# punctuation, ("w", "") for white space. CJK and SEA runs are joined across words.
Part = tuple[str, str]


@functools.lru_cache(maxsize=1 << 18)
def _word_parts(word: str, language: str | None, extra: bool = True) -> tuple[Part, ...]:
    """The analysed parts of one displayed word, in order."""
    text = _normalize(word, language)
    parts: list[Part] = []
    if text.isascii():
        for match in _ASCII_PIECES.finditer(text):
            piece = match.group()
            if piece[0].isalnum():
                parts.extend(("t", term) for term in _run_terms(piece, language, extra))
            else:
                parts.append(("w" if piece[0].isspace() else "p", ""))
        return tuple(parts)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if not _is_token_char(ch):
            kind = "w" if ch.isspace() else "p"
            if not parts or parts[-1] != (kind, ""):
                parts.append((kind, ""))
            i += 1
            continue
        # A run of word characters, cut where the kind of script changes.
        runs: list[tuple[str, str]] = []
        start, current = i, ""
        while i < n and _is_token_char(text[i]):
            ch = text[i]
            if i > start and unicodedata.category(ch)[0] == "M":
                i += 1  # a mark belongs to the letter before it
                continue
            script = _script(ch)
            this = script if script in (CJK, SEA, HANGUL) else OTHER
            if i > start and this != current:
                runs.append((current, text[start:i]))
                start = i
            current = this
            i += 1
        runs.append((current, text[start:i]))
        for k, (kind, run) in enumerate(runs):
            if kind == CJK:
                # simplified Han, and hiragana for katakana (ゴミ, ごみ)
                parts.append(("c", run.translate(_simplified()).translate(_HIRAGANA_FOR)))
            elif kind == SEA:
                # อีเมล์ and อีเมล: the silencing mark is often left out
                parts.append(("s", run.replace("\u0e4c", "")))
            elif kind == HANGUL:
                if k and run in _KO_PARTICLES:
                    continue  # a bare particle after a non-Hangul word: BTS가, AI를
                # Without its particles, then as syllable pairs like Han: compound nouns
                # are written with and without spaces (사전투표, 사전 투표; 정치평론가).
                parts.append(("c", _strip_particles(run)))
            else:
                parts.extend(("t", term) for term in _run_terms(run, language, extra))
    return tuple(parts)


def _clusters(run: str) -> list[tuple[str, int]]:
    """A run's letters, each with the marks that follow it, and where each starts."""
    out: list[tuple[str, int]] = []
    for i, ch in enumerate(run):
        if out and unicodedata.category(ch)[0] == "M":
            out[-1] = (out[-1][0] + ch, out[-1][1])
        else:
            out.append((ch, i))
    return out


def unspaced_form(text: str) -> str | None:
    """The text as its Han, kana and Thai-like pairs are indexed, character for character
    (simplified, hiragana), or None when it has none of those scripts."""
    if text.isascii() or not _UNSPACED.search(text):
        return None
    return text.translate(_simplified()).translate(_HIRAGANA_FOR)


def is_lone_unit(term: str) -> bool:
    """True for a term of one Han, kana or Hangul character or one Thai-like letter with its
    marks: the pairs of the index hold it only as a prefix."""
    if not term or term.isascii() or not term[0].isalpha():
        return False
    script = _script(term[0])
    if script in (CJK, HANGUL):
        return len(term) == 1
    return script == SEA and len(_clusters(term)) == 1


@functools.lru_cache(maxsize=1 << 14)
def _sea_words(run: str) -> tuple[tuple[str, int], ...]:
    """ICU's words of a Thai, Lao, Khmer or Myanmar run, with their start offsets."""
    words: list[tuple[str, int]] = []
    offset = 0
    # Iterate the strings: .segments() counts UTF-16 code units, not characters.
    for segment in WordBreaker(run, Locale("th")):
        if any(_is_token_char(ch) for ch in segment):
            words.append((segment, offset))
        offset += len(segment)
    return tuple(words)


def analyze_words(
    words: Sequence[str], language: str | None, *, extra: bool = True
) -> list[tuple[str, int]]:
    """Search terms of a line's words, in order, each with the index of the word it starts in.

    The index holds `extra` terms after some words (a German compound's parts, the
    accent-less form of a Turkish word); a typed word needs only its own term to find them.
    """
    code = language_code(language)
    terms: list[tuple[str, int]] = []
    run_kind = ""  # "c" or "s" while a CJK or SEA run is being collected
    run_chars: list[str] = []
    run_words: list[int] = []  # the word of each collected character

    def flush() -> None:
        if run_kind == "c":
            if len(run_chars) == 1:
                terms.append((run_chars[0], run_words[0]))
            for j in range(len(run_chars) - 1):
                terms.append((run_chars[j] + run_chars[j + 1], run_words[j]))
            if extra and len(run_chars) > 1:
                # the last character alone, so that a one-character query (found as the
                # prefix of a pair) also finds it at the end of a clause: 中盘商。
                terms.append((run_chars[-1], run_words[-1]))
        elif run_kind == "s":
            # Pairs of letters (with their marks), like Han: ICU's words depend on the
            # context, so a word typed alone was often cut otherwise than in the sentence.
            clusters = _clusters("".join(run_chars))
            if len(clusters) == 1:
                terms.append((clusters[0][0], run_words[0]))
            for (a, at), (b, _) in zip(clusters, clusters[1:], strict=False):
                terms.append((a + b, run_words[at]))
            if extra and len(clusters) > 1:  # the last letter alone, as for Han
                terms.append((clusters[-1][0], run_words[clusters[-1][1]]))
        run_chars.clear()
        run_words.clear()

    for index, word in enumerate(words):
        for kind, text in _word_parts(word, code, extra):
            if kind == "t":
                if run_kind:
                    flush()
                    run_kind = ""
                terms.append((text, index))
            elif kind in "cs":
                if run_kind != kind:
                    flush()
                    run_kind = kind
                run_chars.extend(text)
                run_words.extend([index] * len(text))
            elif run_kind and (kind == "p" or run_kind == "s"):
                # Punctuation ends any run; white space ends a Thai run (Thai uses
                # spaces between phrases) but not a Han one, where bigrams across it
                # do no harm and find names written with and without the space.
                flush()
                run_kind = ""
    flush()
    return terms


def _query_units(text: str) -> Iterator[str]:
    """The units a reader thinks of as words: ICU words, with CJK runs, hyphenated
    words and words ICU cut at a change of script (BTS가) put back together."""
    unit: list[str] = []
    unit_kind = ""  # "c" (CJK), "s" (one SEA word) or "w"
    hyphen = False  # the unit ends in a hyphen that may join the next word
    for segment in WordBreaker(text, Locale("en")):
        if not any(_is_token_char(ch) for ch in segment):
            if segment in _HYPHENS and unit_kind == "w" and not hyphen:
                hyphen = True
                unit.append(segment)
                continue
            if unit:
                yield "".join(unit[:-1] if hyphen else unit)
            unit, unit_kind, hyphen = [], "", False
            continue
        scripts = {_script(ch) for ch in segment if ch.isalpha()}
        kind = "c" if scripts == {CJK} else "s" if scripts == {SEA} else "w"
        if unit and not (kind == unit_kind and kind != "s"):
            yield "".join(unit[:-1] if hyphen else unit)
            unit = []
        unit.append(segment)
        unit_kind, hyphen = kind, False
    if unit:
        yield "".join(unit[:-1] if hyphen else unit)


def query_terms(
    text: str, languages: Sequence[str | None], *, extra: bool = False
) -> list[list[list[str]]]:
    """Per query unit, in order, the alternative term sequences: one per language, deduplicated.

    A unit in Han, kana, Thai-like scripts or Hangul does not depend on the language
    and gives one alternative; a unit that yields no term (punctuation) is dropped.
    """
    codes = list(dict.fromkeys(language_code(language) for language in languages)) or [None]
    units: list[list[list[str]]] = []
    for unit in _query_units(text):
        language_free = all(_script(ch) in (CJK, SEA, HANGUL) for ch in unit if _is_token_char(ch))
        alternatives: list[list[str]] = []
        for code in [None] if language_free else codes:
            terms = [term for term, _ in analyze_words([unit], code, extra=extra)]
            if terms and terms not in alternatives:
                alternatives.append(terms)
        if alternatives:
            units.append(alternatives)
    return units


_HAN_CLASS = (
    "\u2e80-\u2fdf\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
)
_HAN = re.compile(f"[{_HAN_CLASS}]")


def has_han(text: str) -> bool:
    """True when the text holds a Han character (Chinese, or kanji)."""
    return not text.isascii() and _HAN.search(text) is not None


def has_devanagari(text: str) -> bool:
    """True when the text holds a Devanagari character (Hindi, Marathi, Nepali...)."""
    return not text.isascii() and re.search("[\u0900-\u097f]", text) is not None


_PARTICLES_JA = frozenset("がをのにはでともへやかねよ")  # noqa: RUF001


def _hiragana(text: str) -> bool:
    return all("\u3041" <= ch <= "\u309f" for ch in text)


_KANA = re.compile("[\u3040-\u30ff]")
_HIRAGANA_FOR = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}
_HAN_RUNS = re.compile(f"[{_HAN_CLASS}]+|[^{_HAN_CLASS}]+")


@functools.cache
def _jieba() -> object:
    """jieba's tokenizer, loaded on the first Chinese query (about a second)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _chinese_words(text: str) -> list[str]:
    """jieba's words of a Han run, in simplified characters (its dictionary's)."""
    return [w for w in _jieba().cut(text.translate(_simplified())) if w.strip()]  # type: ignore[attr-defined]


def _japanese_words(text: str) -> list[str]:
    """ICU's words of Japanese text, with particles dropped and verb endings cut back to
    their first kana; a run of hiragana is kept together (ICU cuts はやぶさ into letters)."""
    # ICU's pieces, with consecutive hiragana pieces as one
    segments: list[str] = []
    for segment in WordBreaker(text, Locale("ja")):
        if not any(_is_token_char(ch) for ch in segment):
            segments.append("")
        elif segments and segments[-1] and _hiragana(segment) and _hiragana(segments[-1]):
            segments[-1] += segment
        else:
            segments.append(segment)
    words: list[str] = []
    after = ""  # "kanji": the last word ends in kanji; "ending": its ending was cut
    for segment in segments:
        if not segment:
            after = ""
            continue
        cjk = all(_script(ch) == CJK for ch in segment if _is_token_char(ch))
        if cjk and _hiragana(segment):
            if after == "kanji" and segment in _PARTICLES_JA:
                after = ""  # a particle between words
                words.append("")
            elif after == "kanji":
                words[-1] += segment[0]  # okurigana: keep the first kana (見合わ-せる)
                after = "ending"
            elif after != "ending":
                words.append(segment)  # a word in kana: あす, はやぶさ
            continue  # the rest of an ending: 逆さま-になる, 見合わせ-ています
        if cjk and _hiragana(segment[-1]):
            stem = segment.rstrip("".join(chr(c) for c in range(0x3041, 0x30A0)))
            words.append(segment[: len(stem) + 1])
            after = "ending"
            continue
        words.append(segment)
        after = "kanji" if cjk and not _KANA.search(segment[-1]) else ""
    return words


def _join_lone(words: list[str]) -> list[str]:
    """A lone Han character after a Han word belongs to it (宇宙+人, 充电+桩): found alone
    it would match any word that starts with it."""
    out: list[str] = []
    for word in words:  # "" between words that must stay apart (a particle was there)
        if out and out[-1] and len(word) == 1 and _script(word) == CJK \
                and _script(out[-1][-1]) == CJK:  # fmt: skip
            out[-1] += word
        else:
            out.append(word)
    return [w for w in out if w]


def query_words(text: str) -> list[str]:
    """A typed word cut where a reader would, each part found on its own: Chinese by
    jieba's dictionary (北京西站候车大厅 finds 北京西站的候车大厅), Japanese by ICU's, with
    particles (を, が, の) dropped and verb endings cut back to their first kana
    (見合わせる finds 見合わせています), Thai by ICU's."""
    if text.isascii():
        return [text]
    if any(_script(ch) == SEA for ch in text):
        return [w for w, _ in _sea_words(text)] if all(
            _script(ch) == SEA for ch in text if ch.isalpha()) else [text]  # fmt: skip
    if not any(_script(ch) == CJK for ch in text):
        return [text]
    if _KANA.search(text):
        words = _japanese_words(text)
    else:  # Han, perhaps with Latin or digits (2024年, iPhone价格): each Han run apart
        words = []
        for run in _HAN_RUNS.findall(text):
            words += _chinese_words(run) if _script(run[0]) == CJK else [run]
    return _join_lone(words) or [text]


def scripts_in(text: str) -> frozenset[str]:
    """The scripts of the letters in a text (a query), by analyze's script tags."""
    return frozenset(_script(ch) for ch in text if ch.isalpha()) - {OTHER}


def stems_script(language: str | None, scripts: frozenset[str]) -> bool:
    """True when the language's analysis (its stemmer, or CJK/Thai/Korean segmentation)
    applies to words in any of these scripts: a Cyrillic query is read as Russian, not
    as English."""
    code = language_code(language)
    if code is None:
        return False
    if code in _STEMMERS:
        return not scripts.isdisjoint(_SCRIPTS.get(code, _LATIN_ONLY))
    return bool(scripts & {CJK, SEA, HANGUL})


# Private-use marks around matched words in snippets (store.MARK_START/END): not letters.
_MARKS = "\ue000\ue001"


def _unspaced(ch: str) -> bool:
    """True for characters of scripts written without spaces between words (and their
    punctuation: 。、「」, fullwidth forms)."""
    return _script(ch) in (CJK, SEA) or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


_UNSPACED = re.compile(
    "["
    + "".join(f"{chr(a)}-{chr(b)}" for a, b, script in _RANGES if script in (CJK, SEA))
    + "\u3000-\u303f\uff00-\uffef]"
)


def join_words(words: Sequence[str]) -> str:
    """Words as a person writes them: spaces between words, but none between two Chinese,
    Japanese or Thai words (whisper gives those one by one)."""
    plain = " ".join(words)
    if plain.isascii() or not _UNSPACED.search(plain):  # most text: nothing to join
        return plain
    out: list[str] = []
    for word in words:
        if out and not (_unspaced(out[-1].rstrip(_MARKS)[-1:] or " ")
                        and _unspaced(word.lstrip(_MARKS)[:1] or " ")):  # fmt: skip
            out.append(" ")
        out.append(word)
    return "".join(out)
