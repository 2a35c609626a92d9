import sqlite3

import pytest

from indexer.analyze import (
    analyze_words,
    is_lone_unit,
    language_code,
    query_terms,
    query_words,
)

TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'"

# Lines as whisper or a publisher would display them, words separated by spaces...
TEXTS = {
    "en": "The city council's housing plan didn't pass, and rents kept rising in Berlin.",
    "fr": (
        "Le gouvernement a présenté lundi sa réforme des retraites, mais l'économie "
        "française ralentit et les syndicats appellent à la grève dans les hôpitaux."
    ),
    "de": (
        "Wegen des Streiks fallen heute viele Züge aus, und in München fehlen bezahlbare Wohnungen."
    ),
    "es": (
        "El año pasado los trenes de cercanías sufrieron retrasos generales, según el "
        "Ministerio de Transportes."
    ),
    "ru": "В Москве цены на квартиры выросли на двадцать процентов за год.",
    "tr": "Yerel seçimlerde İstanbul'da katılım oranı yüzde seksenin üzerindeydi.",
    "ar": "وصل القطار إلى المحطة متأخرا بسبب العاصفة، والقطار القادم سيغادر بعد ساعة.",
    "hi": "दिल्ली में विधानसभा चुनावों के नतीजे आज घोषित किए जाएंगे।",
    "ko": "이번 총선의 투표율은 역대 최고였고 서울에서는 투표율이 더 높았다.",
}
# ... and as whisper's word tokens where the script has no spaces: one or a few Han
# characters each, Thai cut into fragments that are not words.
SENTENCES: dict[str, list[str]] = {lang: text.split() for lang, text in TEXTS.items()} | {
    "zh": ["在", "這", "幾年", "住房", "價格", "上漲", "了", "不少", "。"],
    "ja": [
        "来月",
        "の",
        "選挙",
        "を",
        "前に",
        "、",
        "地下鉄",
        "と",
        "新幹線",
        "が",
        "混雑",
        "した",
    ],
    "th": ["นายก", "รัฐมนตรี", "กล่าว", "ว่าเศรษ", "ฐกิจ", "ของประเทศ", "ไทยกำลัง", "ฟื้นตัว"],
}


def terms(words: str | list[str], language: str | None, *, extra: bool = True) -> list[str]:
    """The terms of a line given as a string of space-separated words or as a list."""
    if isinstance(words, str):
        words = words.split()
    return [term for term, _ in analyze_words(words, language, extra=extra)]


def found(query: str, words: str | list[str], language: str | None) -> bool:
    """True when every unit of the query has an alternative that occurs as a phrase."""
    indexed = terms(words, language)
    units = [u for typed in query.split() for w in query_words(typed)
             for u in query_terms(w, [language])]  # fmt: skip
    assert units, query

    def occurs(phrase: list[str]) -> bool:
        if len(phrase) == 1 and is_lone_unit(phrase[0]):  # as search looks for it: a prefix
            return any(term.startswith(phrase[0]) for term in indexed)
        n = len(phrase)
        return any(indexed[i : i + n] == phrase for i in range(len(indexed) - n + 1))

    return all(any(occurs(alternative) for alternative in unit) for unit in units)


def meet(a: str, b: str, language: str | None) -> bool:
    """True when two spellings, typed, give the same terms."""
    return terms(a, language, extra=False) == terms(b, language, extra=False)


def test_english_inflections_and_clitics():
    line = SENTENCES["en"]
    assert found("council", line, "en")
    assert found("houses", line, "en")
    assert found("rise", line, "en")
    assert found("didnt", line, "en")
    assert found("didn't", line, "en")
    assert found("Berlin's", line, "en")
    assert terms("council's we're I'll", "en") == ["council", "we", "i"]
    assert not found("rental", line, "en")


def test_french_accents_fold_and_elisions_go():
    line = SENTENCES["fr"]
    assert found("économie", line, "fr")
    assert found("economie", line, "fr")
    assert found("reforme", line, "fr")
    assert found("hopital", line, "fr")
    assert found("présentée", line, "fr")
    assert meet("café", "cafe", "fr")
    assert meet("élections", "election", "fr")
    assert terms("l'économie qu'il jusqu'à", "fr") == ["econom", "il", "a"]


def test_french_folding_costs_accent_only_pairs():
    # Decided: fold accents, because readers leave them out far more often than
    # a pair differs by an accent alone; où/ou meet as a result. maïs/mais stay
    # apart only because French is stemmed before folding (maïs -> mai).
    assert meet("où", "ou", "fr")
    assert meet("à", "a", "fr")
    assert not meet("maïs", "mais", "fr")
    # the cost of stemming first: -ée written without accents is not an -é form
    assert meet("présentée", "présenté", "fr")
    assert not meet("presentee", "présentée", "fr")


def test_german_inflections_and_umlauts():
    line = SENTENCES["de"]
    assert found("Wohnung", line, "de")
    assert found("Zug", line, "de")
    assert found("Zuge", line, "de")
    assert found("Munchen", line, "de")
    assert meet("Wohnung", "Wohnungen", "de")
    assert meet("Straße", "Strasse", "de")
    # Snowball 3's German stemmer reads ue/oe/ae as umlauts, false hits included;
    # the folding itself does not (no language: Zuege stays zuege).
    assert found("Zuege", line, "de")
    assert meet("Poet", "Pot", "de")
    assert not meet("Zuege", "Züge", None)


def test_spanish_inflections_and_enye():
    line = SENTENCES["es"]
    assert found("tren", line, "es")
    assert found("general", line, "es")
    assert found("cercanias", line, "es")
    assert found("segun", line, "es")
    assert found("año", line, "es")
    assert meet("trenes", "tren", "es")
    assert meet("generales", "general", "es")
    assert meet("café", "cafe", "es")
    # ñ is a letter of its own, not an n with an accent
    assert not meet("año", "ano", "es")
    assert not found("ano", line, "es")


def test_russian_inflections():
    line = SENTENCES["ru"]
    assert found("квартира", line, "ru")
    assert found("квартире", line, "ru")
    assert found("Москва", line, "ru")
    assert found("процент", line, "ru")
    assert meet("квартира", "квартиры", "ru")
    assert meet("ёлка", "елка", "ru")
    assert not meet("край", "краи", None)  # й is not и with a mark to strip
    # Latin words in a Russian episode are folded but not stemmed
    assert terms("iPhones", "ru") == ["iphones"]


def test_turkish_inflections_and_dotted_i():
    line = SENTENCES["tr"]
    assert found("seçim", line, "tr")
    assert found("secim", line, "tr")
    assert found("İstanbul", line, "tr")
    assert found("Istanbul", line, "tr")
    assert found("istanbul", line, "tr")
    assert meet("seçim", "seçimler", "tr")
    assert meet("seçim", "seçimde", "tr")
    assert meet("ISTANBUL", "İstanbul", "tr")
    assert meet("kızlar", "kiz", "tr")
    # the suffix after an apostrophe is dropped: Türkiye'de is Türkiye
    assert meet("Türkiye'de", "Türkiye", "tr")
    # Turkish capital I is dotless ı, stemmed as such and only then folded to i
    assert terms("IŞIK", "tr") == terms("ışık", "tr") == ["isik"]


def test_arabic_article_conjunction_and_harakat():
    line = SENTENCES["ar"]
    assert found("قطار", line, "ar")
    assert found("القطار", line, "ar")
    assert found("والقطار", line, "ar")
    assert found("الْقِطَارُ", line, "ar")
    assert meet("القطار", "قطار", "ar")
    assert meet("والقطار", "قطار", "ar")
    assert meet("والقطارات", "قطار", "ar")
    assert meet("الْقِطَارُ", "القطار", "ar")  # harakat removed
    assert meet("أحمد", "احمد", "ar")
    assert meet("مستشفى", "مستشفي", "ar")
    assert meet("مدرسة", "مدرسه", "ar")
    assert meet("العـــربية", "العربية", "ar")  # tatweel
    assert not found("سيارة", line, "ar")


def test_hindi_inflections_and_marks_kept():
    line = SENTENCES["hi"]
    assert found("चुनाव", line, "hi")
    assert found("दिल्ली", line, "hi")
    assert meet("चुनाव", "चुनावों", "hi")
    assert not meet("दाल", "दिल", "hi")
    assert not meet("दिल", "दिल्ली", "hi")
    assert not meet("दाल", "दिल्ली", "hi")
    assert not found("दिल", line, "hi")


def test_chinese_words_inside_runs():
    line = SENTENCES["zh"]
    assert found("住房", line, "zh")
    assert found("價格", line, "zh")
    assert found("這幾年", line, "zh")
    # one character is a unit of its own, which bigrams hold only as a prefix
    assert query_terms("住", ["zh"]) == [[["住"]]]
    assert not found("房屋", line, "zh")
    assert query_terms("住房價格", ["zh"]) == [[["住房", "房价", "价格"]]]  # folded to simplified


def test_traditional_and_simplified_chinese_meet():
    line = SENTENCES["zh"]  # traditional, as whisper often writes Mandarin
    assert found("价格", line, "zh") and found("这几年", line, "zh")
    assert found("價格", ["住房价格上涨了"], "zh")
    assert not found("价钱", line, "zh")


def test_british_and_american_spellings_meet():
    line = ["The", "neighbourhood", "centre", "was", "organised", "by", "the", "harbour", "board."]
    for query in ("neighborhood", "center", "organized", "organize", "harbor", "harbour"):
        assert found(query, line, "en"), query
    assert found("colors", ["Its", "colours", "faded."], None)  # unknown language too
    assert not found("four", ["for", "the", "hour"], "en")


def test_hindi_as_typed_without_nukta_and_with_anusvara():
    assert meet("ज़रूरी", "जरूरी", "hi") and meet("फ़िल्म", "फिल्म", "hi")
    assert meet("हिन्दी", "हिंदी", "hi") and meet("चाँद", "चांद", "hi")
    assert not found("दिल", ["दिल्ली"], "hi")


def test_korean_compounds_with_and_without_spaces():
    assert found("사전 투표", ["사전투표율이", "높았다"], "ko")
    assert found("사전투표", ["사전", "투표가", "시작됐다"], "ko")
    assert found("평론가", ["정치평론가", "박상철"], "ko")
    assert not found("부동산", ["부동층이", "많다"], "ko")


def test_chinese_and_japanese_queries_are_cut_into_words():
    assert found("北京西站候车大厅", ["我在北京西站的候车大厅"], "zh")  # 的 left out
    assert found("運転を見合わせる", ["新幹線は", "運転を見合わせています。"], "ja")
    assert found("瓦が飛ばされる", ["屋根の瓦が飛ばされたんです"], "ja")
    assert not found("地下水", ["東京の地下鉄は"], "ja")


def test_turkish_typed_without_its_letters():
    line = ["Seçimlerde", "katılım", "oranı", "yüzde", "seksen", "oldu."]
    for query in ("katilim orani", "secimlerde", "seçim", "oranı", "yuzde"):
        assert found(query, line, "tr"), query
    assert found('"katılım oranı"', line, "tr")


def test_german_compounds_are_found_by_their_parts():
    line = ["Der", "Wohnungsmarkt", "in", "Berlin", "und", "die", "Strompreise", "steigen."]
    for part in ("Wohnung", "Wohnungen", "Markt", "Märkte", "Strom", "Preis", "wohnungsmarkt"):
        assert found(part, line, "de"), part
    assert found("Wohnungsmarkt in Berlin", line, "de")  # a phrase through a compound
    assert found("wohnungsmärkte", line, "de")
    # an inflected head, three parts, and the first two of them as one
    assert found("Gewerkschaft", ["Lokführergewerkschaften"], "de")
    assert found("Lokführer", ["Lokführergewerkschaft"], "de")
    assert found("Bahnhof", ["Münchner", "Hauptbahnhof"], "de")


def test_compound_parts_in_other_languages():
    assert found("gaz", ["doğalgazın"], "tr") and found("yakıt", ["akaryakıt"], "tr")
    assert found("पाइप", ["पाइपलाइन"], "hi")
    assert found("trabajo", ["teletrabajo"], "es")  # after a known prefix only
    assert not found("mayor", ["Sotomayor"], "es")
    assert not found("care", ["healthcare"], "en")  # English words are kept whole
    # Lexicalised words and derivations are not split into parts a reader never means
    for word, part in [("Einsatz", "Satz"), ("vereinbar", "Bar"), ("spielten", "ten"),
                       ("Untergang", "unter")]:  # fmt: skip
        assert not found(part, [word], "de"), (word, part)


def test_japanese_words_inside_runs():
    line = SENTENCES["ja"]
    for word in ("選挙", "地下鉄", "新幹線", "混雑", "地下鉄と新幹線"):
        assert found(word, line, "ja"), word
    assert not found("選挙前", line, "ja")
    assert not found("選挙区", line, "ja")
    # punctuation ends a run: no bigram across 、
    assert "に地" not in terms(SENTENCES["ja"], "ja")
    assert terms(["ｶﾀｶﾅ"], "ja") == ["かた", "たか", "かな", "な"]  # half-width, as hiragana
    assert found("ごみ", ["宇宙ゴミ、いわゆる"], "ja")  # katakana and hiragana meet


def test_korean_particles():
    line = SENTENCES["ko"]
    assert found("투표율", line, "ko")
    assert found("투표율은", line, "ko")
    assert found("서울", line, "ko")
    assert found("총선", line, "ko")
    assert meet("투표율은", "투표율이", "ko")
    assert meet("투표율", "투표율이", "ko")
    assert meet("국가", "국가가", "ko")
    assert meet("서울", "서울에서는", "ko")
    assert terms("BTS가 AI를", "ko") == ["bts", "ai"]


def test_thai_words_in_fragments():
    line = SENTENCES["th"]
    assert found("เศรษฐกิจ", line, "th")
    assert found("นายกรัฐมนตรี", line, "th")
    assert found("กำลัง", line, "th")
    assert not found("การศึกษา", line, "th")
    # indexed as pairs of letters: a word typed alone, which ICU cuts otherwise than in
    # the sentence (ไต้ + ฝุ่น there), is still found
    assert found("ไต้ฝุ่น", ["พายุไต้ฝุ่นยางิ", "เข้า"], "th")
    assert found("ระดับน้ำปิง", ["ระดับน้ำแม่น้ำปิงสูงขึ้น"], "th")  # a word left out
    assert found("อีเมล์", ["ส่งมาทางอีเมลของรายการ"], "th")  # the silencing mark
    assert not found("ปิงปอง", ["ระดับน้ำแม่น้ำปิงสูงขึ้น"], "th")


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_every_term_is_one_fts5_token(language):
    db = sqlite3.connect(":memory:")
    db.execute(f'create virtual table t using fts5(x, tokenize="{TOKENIZE}")')
    db.execute("create virtual table v using fts5vocab(t, 'instance')")
    extra = "ŁÓDŹ Ærø ﬁnal ①② x²  ‐—«»™ Ǆ ﬀ straße ΣΊΣΥΦΟΣ ̈́ a\u200db e\u0301"
    expected = terms(SENTENCES[language] + extra.split(), language)
    db.execute("insert into t values (?)", (" ".join(expected),))
    vocab = [row[0] for row in db.execute("select term from v order by offset")]
    assert vocab == expected
    assert all(expected)


def test_word_indexes():
    words = ["Berlin,", "don't", "in-depth", "—", "3.5%"]
    assert analyze_words(words, "en") == [
        ("berlin", 0),
        ("dont", 1),
        ("in", 2),
        ("depth", 2),
        ("3", 4),
        ("5", 4),
    ]
    # a bigram spanning two words belongs to the word of its first character
    assert analyze_words(["在", "這", "幾年", "住房"], "zh") == [
        ("在这", 0),
        ("这几", 1),
        ("几年", 2),
        ("年住", 2),
        ("住房", 3),
        ("房", 3),  # the last character alone, for one-character queries
    ]
    assert analyze_words(["2024年", "住房"], "zh") == [
        ("2024", 0), ("年住", 0), ("住房", 1), ("房", 1)
    ]  # fmt: skip
    thai = analyze_words(SENTENCES["th"], "th")
    assert ("เศ", 3) in thai and ("ษฐ", 3) in thai and ("ฐกิ", 4) in thai  # across words
    assert ("กำ", 6) in thai
    assert sorted({index for _, index in analyze_words(SENTENCES["ko"], "ko")}) == list(range(9))


def test_runs_break_at_punctuation_and_thai_spaces():
    assert terms(["住房，", "價格"], "zh") == ["住房", "房", "价格", "格"]
    assert terms(["住房", " 價格"], "zh") == ["住房", "房价", "价格", "格"]
    assert terms(["กิน", "ข้าว"], "th") == ["กิน", "นข้", "ข้า", "าว", "ว"]  # tokens joined
    assert terms(["ประเทศ", " ไทย"], "th")[-4:] == ["ศ", "ไท", "ทย", "ย"]  # not across a space


def test_query_alternatives_per_language():
    assert query_terms("Wohnungen", ["de", "en"]) == [[["wohnung"], ["wohnungen"]]]
    assert query_terms("Berlin", ["de", "en", "de-AT"]) == [[["berlin"]]]
    assert query_terms("地下鉄", ["ja", "en"]) == [[["地下", "下鉄"]]]
    assert query_terms("住", ["zh"]) == [[["住"]]]
    assert query_terms("квартиры", []) == [[["квартиры"]]]
    assert query_terms("квартиры", [None, "ru"]) == [[["квартиры"], ["квартир"]]]


def test_query_units():
    assert query_terms("in-depth, COVID-19 — !!", ["en"]) == [
        [["in", "depth"]],
        [["covid", "19"]],
    ]
    assert query_terms("東京の地下鉄 AI技術", ["ja"]) == [
        [["东京", "京の", "の地", "地下", "下鉄"]],
        [["ai"]],
        [["技术"]],
    ]
    assert query_terms("BTS가 투표율은", ["ko"]) == [[["bts"]], [["투표", "표율"]]]
    assert query_terms("เศรษฐกิจไทย", ["th"]) == [[["เศ", "ศร", "รษ", "ษฐ", "ฐกิ", "กิจ"]],
                                                 [["ไท", "ทย"]]]  # fmt: skip
    assert query_terms("... - «»", ["en"]) == []


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en", "en"),
        ("pt-BR", "pt"),
        ("zh-Hant", "zh"),
        ("en_US", "en"),
        ("EN", "en"),
        ("English", "en"),
        ("iw", "he"),
        ("nb", "no"),
        (None, None),
        ("", None),
        ("und", None),
        ("12", None),
    ],
)
def test_language_code(tag, code):
    assert language_code(tag) == code


def test_no_language_folds_without_stemming():
    assert terms("Wohnungen Züge CAFÉ", None) == ["wohnungen", "zuge", "cafe"]
    assert terms("Wohnungen", "xx") == ["wohnungen"]
