"""Towns and cities of the five countries from a gazetteer, including Finnish and Estonian case forms
(``Tampereella``, ``Oulussa``, ``Tartus``). Country names are not PHI and stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any, ClassVar

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.labels import Label
from deid.lexicon import (
    COUNTRIES,
    EPONYMS,
    ESTONIAN_CASE_ENDINGS,
    FINNISH_CASE_ENDINGS,
    FINNISH_CITY_FORMS,
    HOSPITAL_AREAS,
    HOSPITAL_WORDS,
    MEDICAL_SUFFIXES,
    NATIONALITIES,
    NOT_NAMES,
    PLACE_CUE_ALTERNATION,
    cities,
    first_names,
    last_names,
    stop_words,
)
from deid.recognizers._base import make_result
from deid.recognizers._tokens import Token, adjacent, sentence_initial, tokens
from deid.wordlists import LAW_OR_REGISTRY_ENDINGS, facility_at, facility_regex, trie_alternation, word_set
from deid.wordlists import words as word_list


@cache
def place_forms() -> dict[str, str]:
    """Every written form of every known town, mapped to its base form."""
    forms: dict[str, str] = {}
    for city in cities():
        forms[city] = city
        for ending in (*FINNISH_CASE_ENDINGS, *ESTONIAN_CASE_ENDINGS):
            forms.setdefault(city + ending, city)
        if regex.search(r"[^aeiouyäöõü]$", city):
            # Estonian genitive stem of a consonant-final town: Tallinn -> Tallinna, Tallinnas, Tallinnast
            for ending in ("", *ESTONIAN_CASE_ENDINGS):
                forms.setdefault(city + "a" + ending, city)
    for city, inflected in FINNISH_CITY_FORMS.items():
        for form in inflected:
            forms[form] = city
    for city in cities():
        for form in _finnish_head_forms(city):
            forms.setdefault(form, city)
    return forms


_FINNISH_HEADS: dict[str, tuple[str, str, str]] = {
    "niemi": ("nieme", "nieme", "ä"),
    "lahti": ("lahde", "lahte", "a"),
    "joki": ("joe", "joke", "a"),
    "järvi": ("järve", "järve", "ä"),
    "mäki": ("mäe", "mäke", "ä"),
    "saari": ("saare", "saare", "a"),
    "koski": ("koske", "koske", "a"),
    "salmi": ("salme", "salme", "a"),
    "lampi": ("lamme", "lampe", "a"),
}
"""Finnish place names end in a handful of nature words whose stem changes in the cases (``Rovaniemi`` ->
``Rovaniemellä``, ``Seinäjoki`` -> ``Seinäjoella``, ``Iisalmi`` -> ``Iisalmessa``): per head, the weak stem of the
genitive and local cases, the strong stem of the illative, and the vowel its endings take."""


def _finnish_head_forms(city: str) -> tuple[str, ...]:
    """The genitive, local-case and illative forms of a town named by a Finnish nature word (none otherwise)."""
    for head, (weak, strong, vowel) in _FINNISH_HEADS.items():
        if city.endswith(head) and len(city) > len(head):
            base = city[: -len(head)]
            endings = ("n", f"ss{vowel}", f"st{vowel}", f"ll{vowel}", f"lt{vowel}", "lle")
            return (*(base + weak + e for e in endings), base + strong + "en")
    return ()


_CASE_LANGUAGES = frozenset({"fi", "et"})
_UNIT_WORDS = frozenset(word_list("unit_words"))
_MONTHS_DAYS = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "christmas",
        "easter",
    ]
)
_LOCATIVE = regex.compile(r"^\p{Lu}\p{Ll}{3,}(?:ssa|ssä|sta|stä)$")
"""A Finnish word in the inessive or elative (``Meilahdessa``, ``Kiimingistä``): in running text, capitalised and
not a name, it is a place, known to the gazetteer or not."""


_PLACE_HEAD_CASE = regex.compile(
    r"^\p{Lu}\p{Ll}{2,}(?:järve|joe|koske|nieme|mäe|lahde|salme|saare|vaara|vuore|ranna|lamme|linna|kylä|harju"
    r"|kankaa|selä|vede|lehdo|kummu|numme|maa)(?:lla|llä|lta|ltä|lle|ssa|ssä|sta|stä|en)$"
)
"""A Finnish place by its head noun (``-järvi``, ``-joki``, ``-koski``, ``-niemi``, ``-mäki``, ``-lahti``, ...) in a
local case: ``Siilinjärvellä``, ``Kauhajoella``, ``Valkeakoskelta``, ``Väinölänniemeltä``, ``Pieksämäellä``."""
_NATURE_SUFFIXES = (
    *("vatnet", "vannet", "fjorden", "sjøen", "sjön", "holmen", "berget", "fjellet", "fjället", "tinden", "torget"),
    *("torvet", "plassen", "platsen", "parken", "toppen", "sundet", "skogen", "øya", "øyna", "järves", "järvel"),
    *("järvelt", "järve", "varden", "nuten", "heia", "breen", "bukta", "neset"),
)
_NATURE_PLACE = regex.compile(
    # the compound's ending is looked for once, at the word's end (not at every letter of every capitalised word)
    r"(?<![\w\-])(?P<phi>\p{Lu}\p{Ll}{2,}(?![\w\-])"
    rf"(?<=\p{{Lu}}\p{{Ll}}{{2,}}{trie_alternation(_NATURE_SUFFIXES)})"
    r"|\p{Lu}\p{Ll}+(?:[ ](?:Sø|sø|saarel|saarele|saarelt|saarest|saar|järv|järves|järvel|sjön|sjø|øya|ö|Sogn|sogn"
    r"|socken|sokn)|(?<=\p{Ll}{2})(?=[ ](?:mäel|mäele|mäelt|mäest|mäe[ ]otsas|jõel|jõe[ ]ääres|rabas|rabasse|rabast)))"
    r"|(?:Lough|Loch|Lake|Mount|Ben|Slieve|Glen)[ ]\p{Lu}\p{Ll}+"
    r"|(?<=(?<![\w])the[ ])\p{Lu}\p{Ll}{2,}[ ]estate(?![\w])"
    r"|(?<=(?<![\w])(?:gården|gårdsbruket|torpet|farm|talu|talus|talust)[ ])\p{Lu}\p{Ll}+(?:[ ]\p{Lu}\p{Ll}+)?"
    r"|\p{Lu}\p{Ll}{2,}n(?=[ ](?:ranna(?:lla|lle|lta|ssa|n)|rantaan"
    r"|(?:ulkoilu|hiihto|lenkki|vaellus|luonto|kunto|pyörä)?reiti(?:n|llä|lle|ltä)|reittiä"
    r"|keskusta(?:ssa|an|sta|n)?|erämaa(?:-alueella|-alueelle|-alueelta|ssa|han|sta)|suunna(?:lla|ssa|sta)"
    r"|suuntaan|seudu(?:lla|lle|lta)|satama(?:ssa|an|sta)|tori(?:lla|lle|lta)|ostari(?:lla|lle|lta)"
    r"|kirkonkylä(?:ssä|llä|lle|ltä)|lähistö(?:llä|lle|ltä)|kaupungi(?:ssa|lla|lle|sta)"
    r"|rintee(?:ssä|llä|ltä)|rinteelle|huipu(?:lla|lle|lta)|selällä|jää(?:llä|lle|ltä)|saare(?:ssa|lla|lle|lta)|kierroksella|laavulla"
    r"|autiotuvalla|tunturi(?:ssa|lla|lle)))"
    r")(?![\w\-])"
)
"""Lakes, islands, fjords and mountains by their nature word, where people live, holiday or are hurt: a compound
in its definite form (``Jonsvatnet``, ``Hjälmaren`` is a gazetteer's, ``Brattholmen``, ``Kebnekaisefjället``,
``Keiservarden``), a name and its nature word or parish (``Hald Sø``, ``Kihnu saarel``, ``Pühajärves``, ``Horne
Sogn``; before an Estonian mountain, river or bog the name alone: ``Marmolada mäel``, ``Pärnu jõe ääres``), the
English and Irish word before the name (``Lough Corrib``, ``Ben Nevis``), or a Finnish genitive before a shore, a
trail, a slope or a summit
(``Päijänteen rannalle``, ``Kevon reitin varrelta``, ``Aulangon ulkoilureitillä``), a town centre, a
wilderness, a direction, a district, a harbour, a square or a town (``Oulaisten keskustassa``, ``Nilsiän
suunnalla``, ``Kontulan ostarilta``). Definite forms, which family names do not take (``Holm``,
``Berg``)."""
_FROM_PLACE = regex.compile(
    r"(?<![\w])(?P<prep>fra|från|from|via|(?:returns|returned|returning|travels|travelled|traveled|travelling|flew"
    r"|flies|moved|moving|relocated|emigrated)[ ]to|(?:reiser|reiste|flytter|flyttet|flytta|rejser|rejste|flyttede"
    r"|reser|reste|flyttar|flyttade|heim|hjem|hem|home|going[ ]home)[ ](?:til{1,2}|to)"
    r"|(?:bussen|tåget|toget|båten|färjan|ferja|ferjen|færgen|flyget|flyet|flyveren|the[ ]bus|the[ ]train"
    r"|the[ ]ferry)[ ](?:till|til|to))[ ]"
    r"(?P<phi>\p{Lu}\p{Ll}[\p{L}\-]*(?:[ ]\p{Lu}\p{Ll}[\p{L}\-]*)?)"
    r"(?![\w\-'’])(?![ ]?\d(?!\d?[./]\d))"
)
"""``pensjonert snekker fra Vinstra``, ``visits from Hebden Bridge``, ``returns to Porto``, ``flyttet til Alta``: a
capitalised word after "from" or a journey's "to" that no list explains away (a person, a country, a month, a
facility) is where someone comes from or goes."""
_DEPARTMENT_ENDINGS = (
    "ology",
    "iatry",
    "iatrics",
    "ics",
    "surgery",
    "medicine",
    "care",
    "ward",
    "team",
    "clinic",
    "practice",
    "service",
    "services",
)

"""English department and service words (``from Dermatology``, ``from Paediatrics``): no place."""
_DOSE_NEXT = regex.compile(
    r"(?:[ ]\p{L}+\.?){0,2}[ ]?\d+(?:[.,]\d+)?[ ]?(?i:%|mg|ml|g|µg|mcg|ie|iu|mmol|tabl?|kaps)(?![\w])"
)
"""A dose within two words after a capitalised word: the word names a drug."""
_FROM_LANGUAGES = {
    "nb": ("fra", "via", "til"),
    "da": ("fra", "via", "til"),
    "sv": ("från", "via", "till"),
    "en": ("from", "via", "to"),
}
"""Each language's words for "from", "via" (``Ankom via Kangerlussuaq``, ``flew in via Keflavík``) and the "to" of a
journey's verb (``returns to Porto``)."""
_CITY_IN_BRACKETS = regex.compile(
    r"(?<![\w])(?P<country>\p{Lu}\p{Ll}+)[ ]\((?P<phi>\p{Lu}\p{Ll}[\p{L}\-]*(?:[ ]\p{Lu}\p{Ll}[\p{L}\-]*)?)"
    r"(?=\)|,[ ]|[ ](?:and|og|och|ja|ning|&)[ ])"
)
"""A town in brackets after its country (``resa till Somalia (Hargeisa)``, ``Nigeria (Lagos and a village near
...)``)."""
_CITY_WITH_COUNTRY = regex.compile(
    r"(?<![\w])(?P<country>\p{Lu}\p{Ll}+)[ ](?i:incl\.|inkl\.|including|inklusive|inklusiv)"
    r"[ ](?P<phi>\p{Lu}\p{Ll}{2,}(?:[ ]\p{Lu}\p{Ll}+)?)(?![\w\-])"
)
"""A place named with its country (``Tanzania incl. Zanzibar``; not after "and": ``Vietnam og Kambodsja``)."""
_CLIMBED = regex.compile(
    r"(?<![\w])(?:bestige|bestiga|besteg|besteget|bestigning[ ]av|bestigningen[ ]av|climb|climbing|climbed|summit"
    r"|summited|hike[ ]up|hiked[ ]up|hiking[ ]up|kiivetä|kiipesi|kiipeämään|ronida|ronis|ronimas|tõusis)"
    r"[ ](?P<phi>\p{Lu}\p{Ll}{2,}(?:[ ]\p{Lu}\p{Ll}+)?)(?![\w\-])"
)
"""A mountain after a verb of climbing (``bestige Kilimanjaro``, ``climbed Ben Macdui``), the verb in lower case (a
title's ``Climbing Stairs`` is no place)."""
_A_CLIMBING_VERB = regex.compile(r"besti|besteg|climb|summit|hik|kiiv|kiip|roni|tõusis")
"""The verbs' stems, looked for first: one literal scan instead of the whole pattern's at every word."""
_AFTER_FACILITY = regex.compile(
    r",[ ](?P<phi>\p{Lu}\p{Ll}[\p{L}\-]*(?:[ ]\p{Lu}\p{Ll}[\p{L}\-]*)?)(?=[.,;:)]|[ ]?\n|$)"
)
"""``Äldreboendet Tallgården, Arvidsjaur.``: a capitalised word closing a clause after a facility's name and a
comma is the facility's town."""


_IN_PLACE = regex.compile(
    r"(?<![\w])(?P<prep>i|in)[ ](?P<phi>\p{Lu}\p{Ll}{2,}(?:(?:-(?:de|la|le|on|upon|in|under|by|en|sur|the|of))+"
    r"-\p{Lu}\p{Ll}+|[ \-]\p{Lu}\p{Ll}{2,})?)(?![\w\-'’])"
)
"""``i Sundbyberg``, ``in Wembley``: a capitalised word after the preposition "in" is a place (or, followed by a
facility noun, part of an organisation's name)."""
_IN_LANGUAGES = {"nb": "i", "sv": "i", "da": "i", "en": "in"}
_FROM_TO = regex.compile(
    r"(?<![\w])(?i:fra|från|from)[ ]\p{Lu}[\p{L}\-]+(?:[ ]\p{Lu}[\p{L}\-]+)?[ ](?i:til|till|to)[ ]"
    r"(?P<phi>\p{Lu}\p{Ll}[\p{L}\-]+(?:[ ]\p{Lu}\p{Ll}[\p{L}\-]+)?)(?![\w\-])"
)
"""``flyttet fra Stovner til Lørenskog``, ``moved from Bow to Barking``: the second place of a move (the first one
follows the cue)."""


_SHORT_PLACE = regex.compile(
    r"(?<=(?<![\w])(?i:i|på|in|at|til|till|to|fra|från|from|ved|vid|nær|nära|near|utenfor|utanför|uden[ ]for)[ ])"
    r"(?P<phi>Os|Ås|Bø|Mo|Ål|Å|Ed|Ii|Ry)(?![\w\-'’])"
)
"""Towns of one or two letters (``hytte på Os``, ``i Ry``, ``til Ås``, ``fra Bø``), which the gazetteer leaves out
(too short to read anywhere): a place after a preposition of place."""
_NEXT_WORD = regex.compile(r"[ ]([\p{L}\-]+)")


def _next_word(text: str, end: int) -> str:
    """The word right after ``end`` (after one space), or ``""`` when punctuation or a line break comes first."""
    m = _NEXT_WORD.match(text[end : end + 40])
    return m.group(1) if m else ""


@cache
def country_names() -> frozenset[str]:
    """Country names of the world in English and the Nordic languages, one word or several: Faker's tables, our
    own list and ``deid/data/countries.txt`` (Norwegian and Estonian names, definite and plural forms)."""
    import importlib

    out = set(COUNTRIES) | set(word_list("countries"))
    for locale in ("en_US", "sv_SE", "da_DK", "fi_FI", "no_NO"):
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        out.update(str(c) for c in getattr(provider, "countries", ()))
    return frozenset(out)


@cache
def world_countries() -> frozenset[str]:
    """The one-word names of :func:`country_names`."""
    return frozenset(c for c in country_names() if " " not in c)


def _case_stems(word: str) -> Iterator[str]:
    """The base forms a Finnish or Estonian case form may have: the word less its ending, less a Finnish linking
    ``i`` (``Afganistan-i-sta``), or with a consonant doubled again (``Turki-n`` of ``Turkki``)."""
    for ending in (*FINNISH_CASE_ENDINGS, *ESTONIAN_CASE_ENDINGS):
        if not word.endswith(ending) or len(word) - len(ending) < 3:
            continue
        stem = word[: -len(ending)]
        yield stem
        if stem.endswith("i"):
            yield stem[:-1]
        if ending == "n" and len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] in "aeiouyäö":
            stem = stem[:-1]  # the illative lengthens the vowel: "Suomee-n", "Ruotsii-n"
            yield stem
        if stem.endswith("e"):
            yield stem[:-1] + "i"  # "Suome-ssa", "Suome-en" of "Suomi"
        if len(stem) > 3 and stem[-2] in "kpt" and stem[-3] != stem[-2]:
            yield stem[:-1] + stem[-2] + stem[-1]


@lru_cache(maxsize=1 << 16)
def is_country(word: str) -> bool:
    """A country name, also with a Finnish or Estonian case ending (``Soomes``, ``Ruotsissa``, ``Afganistanista``)."""
    countries = world_countries()
    if word in countries:
        return True
    if word in first_names() or word in last_names():
        return False  # Malin, Elin, Burman: a name that only looks like a country's case form
    return any(stem in countries for stem in _case_stems(word))


AGENCY_ENDINGS = (
    *("kassan", "verket", "myndigheten", "styrelsen", "nämnden", "tjänsten", "tjenesten", "etaten"),
    *("registeret", "registret"),
)
"""Swedish and Norwegian agencies and national registries by their definite ending (``Försäkringskassan``,
``Skatteverket``, ``Kreftregisteret``): no place, and no one's organisation."""


SCALE_WORDS = frozenset(
    {"scale", "score", "test", "naming", "coma", "criteria", "classification", "questionnaire", "protocol", "index"}
)
"""Words after a town that make it a test's or a scale's name (``Glasgow Coma Scale``, ``Boston Naming Test``,
``Manchester score``)."""


def names_a_scale(word: str) -> bool:
    """Whether ``word`` makes the name before it a test's or a scale's (:data:`SCALE_WORDS`)."""
    return word.lower() in SCALE_WORDS


_PLACE = r"(?P<phi>\p{Lu}[\p{L}\-]+(?:[ ]\p{Lu}[\p{L}\-]+)?)"
_CUED = regex.compile(rf"\b(?i:{PLACE_CUE_ALTERNATION})[ ]{_PLACE}")
_HOSPITAL_NEXT = facility_regex(HOSPITAL_WORDS)


class GazetteerLocationRecognizer(LocalRecognizer):
    """Known towns, in base or inflected form, one or two words (``Mo i Rana`` is matched by its first word)."""

    ENTITY: ClassVar[Label] = Label.LOCATION

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[str(self.ENTITY)],
            supported_language=supported_language,
            name=f"GazetteerLocationRecognizer_{supported_language}",
        )

    def load(self) -> None:
        """Build the form table once per process."""
        place_forms()
        world_countries()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Every known town that is not the first word of a hospital's name."""
        forms = place_forms()
        inflected = self.supported_language in _CASE_LANGUAGES
        toks = tokens(text)
        out: list[RecognizerResult] = []
        cued: set[int] = set()
        for m in _CUED.finditer(text, timeout=5.0):
            words = m.group("phi").split(" ")
            if words[0] in NOT_NAMES or words[0] in stop_words() or is_country(words[0]):
                continue
            if len(words) == 1 and words[0] in NATIONALITIES:
                continue  # "in English": a language
            if words[0] in word_set("clinical_acronyms"):
                continue  # "Overflyttet til PCI": a procedure, no place
            if words[0] in _UNIT_WORDS and regex.match(r"[ ]\d", text[m.start("phi") + len(words[0]) :]):
                continue  # "moved to Ward 7": a part of the hospital
            if len(words) > 1 and (words[1] in NOT_NAMES or words[1] in stop_words() or facility_at(words[1]) >= 0):
                words = words[:1]
            if facility_at(words[0]) >= 0 or facility_at(_next_word(text, m.end("phi"))) >= 0:
                continue
            start = m.start("phi")
            cued.add(start)
            out.append(make_result(self, str(self.ENTITY), start, start + len(" ".join(words)), 0.75))
        out.extend(
            make_result(self, str(self.ENTITY), m.start("phi"), m.end("phi"), 0.6)
            for m in _SHORT_PLACE.finditer(text, timeout=5.0)
            if facility_at(_next_word(text, m.end("phi"))) < 0  # "fra Os legesenter": the facility's
        )
        out.extend(self._after_in(text, cued))
        out.extend(self._after_from(text, cued))
        out.extend(self._after_facility(text))
        out.extend(self._in_brackets_after_country(text))
        out.extend(self._named_with_country_or_climbed(text))
        for m in _NATURE_PLACE.finditer(text, timeout=5.0):
            first = m.group("phi").split(" ")[0]
            if first not in first_names() and first not in last_names() and first not in NOT_NAMES:
                out.append(make_result(self, str(self.ENTITY), m.start("phi"), m.end("phi"), 0.7))
        for k, tok in enumerate(toks):
            word = tok.bare
            if self.supported_language == "fi" and word not in forms and tok.start not in cued:
                if self._unknown_locative(text, tok):
                    out.append(make_result(self, str(self.ENTITY), tok.start, tok.start + len(word), 0.6))
                continue
            if not tok.is_cap or word not in forms or tok.start in cued:
                continue
            if not inflected and forms[word] != word and sentence_initial(text, tok):
                continue  # "Given" (Give + -n) starting an English sentence: case forms belong to fi/et notes
            nxt = toks[k + 1] if k + 1 < len(toks) else None
            if nxt is not None and adjacent(text, tok, nxt) and (facility_at(nxt.text) >= 0 or names_a_scale(nxt.bare)):
                continue
            after = toks[k + 2] if k + 2 < len(toks) else None
            if nxt is not None and after is not None and adjacent(text, nxt, after) and names_a_scale(after.bare):
                continue  # "Oxford knee score": a scale named after a town and a body part
            out.append(make_result(self, str(self.ENTITY), tok.start, tok.start + len(word), 0.72))
        return out

    @staticmethod
    def _unknown_locative(text: str, tok: Token) -> bool:
        """A capitalised Finnish inessive or elative, or a place by its head noun in any local case, inside a
        sentence, that is no name, eponym or facility."""
        word = tok.bare
        if not tok.is_cap or sentence_initial(text, tok):
            return False
        if _LOCATIVE.match(word) is None and _PLACE_HEAD_CASE.match(word) is None:
            return False
        stem = word[:-3]
        if word in stop_words() or is_country(word) or facility_at(word) >= 0:
            return False
        names = (first_names(), last_names(), EPONYMS)
        candidates = (stem, stem + "nen", stem[:-1] + "nen", stem + "a", stem + "ä", stem[:-1])
        return not any(c in group for c in candidates for group in names) and not word.lower().endswith(
            MEDICAL_SUFFIXES
        )

    @staticmethod
    def _explained(word: str) -> bool:
        """A capitalised word some list explains as no place: a name, country, month, eponym or stop word."""
        if word in cities():
            return False
        if word in stop_words() or word in NOT_NAMES or is_country(word) or word.lower() in _MONTHS_DAYS:
            return True
        if word in EPONYMS or word.lower().endswith(MEDICAL_SUFFIXES) or facility_at(word) >= 0:
            return True
        if word.lower().endswith(_DEPARTMENT_ENDINGS) or word.lower().endswith(AGENCY_ENDINGS):
            return True
        return word in first_names() or word in last_names()

    def _after_from(self, text: str, cued: set[int]) -> list[RecognizerResult]:
        """Capitalised words after "from" (``fra Vinstra``, ``from Hebden Bridge``) that no list explains away."""
        preps = _FROM_LANGUAGES.get(self.supported_language, ())
        out: list[RecognizerResult] = []
        if not any(f"{p} " in text for p in preps):
            return out  # every match starts with one of this language's words for "from" and a space
        for m in _FROM_PLACE.finditer(text, timeout=5.0):
            if m.group("prep").split(" ")[-1] not in preps or m.start("phi") in cued:
                continue
            words = m.group("phi").split(" ")
            if m.group("phi") in cities():
                out.append(make_result(self, str(self.ENTITY), m.start("phi"), m.end("phi"), 0.6))
                continue
            if self._explained(words[0]) or facility_at(_next_word(text, m.end("phi"))) >= 0:
                continue
            end = m.end("phi") if len(words) > 1 and not self._explained(words[1]) else m.start("phi") + len(words[0])
            out.append(make_result(self, str(self.ENTITY), m.start("phi"), end, 0.55))
        return out

    def _in_brackets_after_country(self, text: str) -> list[RecognizerResult]:
        """A capitalised word in brackets right after a country's name (:data:`_CITY_IN_BRACKETS`)."""
        if " (" not in text:
            return []
        return [
            make_result(self, str(self.ENTITY), m.start("phi"), m.end("phi"), 0.7)
            for m in _CITY_IN_BRACKETS.finditer(text, timeout=5.0)
            if is_country(m.group("country")) and not self._explained(m.group("phi").split(" ")[0])
        ]

    def _named_with_country_or_climbed(self, text: str) -> list[RecognizerResult]:
        """A place after its country and "incl." or "and" (:data:`_CITY_WITH_COUNTRY`), or after a verb of climbing
        (:data:`_CLIMBED`), that no list explains away."""
        found = []
        if "ncl" in text or "nkl" in text:  # the cue's letters: most notes have none, and skip the scan
            found += [m for m in _CITY_WITH_COUNTRY.finditer(text, timeout=5.0) if is_country(m.group("country"))]
        if _A_CLIMBING_VERB.search(text) is not None:
            found += list(_CLIMBED.finditer(text, timeout=5.0))
        return [
            make_result(self, str(self.ENTITY), m.start("phi"), m.end("phi"), 0.6)
            for m in found
            if not self._explained(m.group("phi").split(" ")[0]) and facility_at(_next_word(text, m.end("phi"))) < 0
        ]

    def _after_facility(self, text: str) -> list[RecognizerResult]:
        """A capitalised word after a facility's name and a comma, closing the clause (its town)."""
        out: list[RecognizerResult] = []
        for m in _AFTER_FACILITY.finditer(text, timeout=5.0):
            before = regex.split(r"[ \n]+", text[max(0, m.start() - 60) : m.start()].strip())[-4:]
            if not before or not any(facility_at(w.strip(".,()")) >= 0 for w in before):
                continue
            words = m.group("phi").split(" ")
            if m.group("phi") not in cities() and any(self._explained(w) for w in words):
                continue
            if any(w.lower() in HOSPITAL_AREAS for w in (*words, _next_word(text, m.end("phi")))):
                continue
            out.append(make_result(self, str(self.ENTITY), m.start("phi"), m.end("phi"), 0.55))
        return out

    def _after_in(self, text: str, cued: set[int]) -> list[RecognizerResult]:
        """Capitalised words after "i" / "in" that no list explains away (not a month, eponym, country or name)."""
        prep = _IN_LANGUAGES.get(self.supported_language)
        out: list[RecognizerResult] = []
        if prep is None:
            return out
        for m in _FROM_TO.finditer(text, timeout=5.0):
            words = m.group("phi").split(" ")
            if not any(w in stop_words() or w in NOT_NAMES or is_country(w) for w in words):
                out.append(make_result(self, str(self.ENTITY), m.start("phi"), m.end("phi"), 0.6))
        for m in _IN_PLACE.finditer(text, timeout=5.0):
            if m.group("prep") != prep or m.start("phi") in cued:
                continue
            words = regex.split(r"[ \-]", m.group("phi"))
            first = words[0]
            if first in stop_words() or first in NOT_NAMES or is_country(first) or first.lower() in _MONTHS_DAYS:
                continue
            if (len(words) == 1 and first in NATIONALITIES) or first in word_set("clinical_acronyms"):
                continue
            if first in EPONYMS or first.rstrip("s") in EPONYMS or first.lower().endswith(MEDICAL_SUFFIXES):
                continue
            if first.lower().endswith(_DEPARTMENT_ENDINGS) or _DOSE_NEXT.match(text, m.end("phi")):
                continue  # "in Dermatology", "i Xylocain m. adrenalin 1 %": a department or a drug
            if _next_word(text, m.end("phi")).lower().endswith(LAW_OR_REGISTRY_ENDINGS):
                continue  # "i Barnets lov § 133", "i Nasjonalt tolkeregister": a law's or a registry's name
            if first in first_names() and first not in cities():
                continue
            if _HOSPITAL_NEXT.search(m.group("phi")) or facility_at(_next_word(text, m.end("phi"))) >= 0:
                continue
            end = m.end("phi") if len(words) > 1 and words[1] not in NOT_NAMES else m.start("phi") + len(first)
            out.append(make_result(self, str(self.ENTITY), m.start("phi"), end, 0.55))
        return out
