"""Organisations and their towns told by their form: a resolved PERSON or LOCATION whose words say it names an
institution or a firm becomes an ORGANIZATION, an organisation's town after a preposition becomes a place of its
own (:func:`towns_after_prepositions`), and capitalised words before a found town join it as a firm's branch
(:func:`branches_before_towns`). Nothing found is lost here: labels change, spans are split or grown (a span
removed under another label is removed all the same; its surrogate is of the right kind).

Two forms, each counted on the gold spans of every hand-written part before it was written:

- **A definite noun, then a name** (Swedish, Danish, Norwegian): ``Stödboendet Kastanjen``, ``Räddningstjänsten
  Mitt Bergslag``, ``Blodbanken Telemark``, ``Distriktsveterinärerna Mora``. A person's or a place's name does not
  start with a common noun in its definite form; an institution's often does (291 organisations, no person or
  place).
- **A name, then a town** (every language): ``FysioDanmark Silkeborg``, ``Joker Kaupanger``, ``Resevaccin
  Lund``: a chain's or firm's branch, when no word is a given name, the first is no initial, town or part of a
  place's name (``Nedre``, ``Södra``) and the last no family name (257 organisations, one person, ``Dagfinn
  Rørvik``, whose given name the lists lack, and no place).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import regex

from deid.dates import is_month_name
from deid.labels import Label
from deid.lexicon import (
    HOSPITAL_AREAS,
    KINSHIP_CUES,
    SIGNATURE_CUES,
    TITLE_CUES,
    cities,
    first_names,
    foreign_given_names,
    last_names,
    stop_words,
    villages,
)
from deid.recognizers.address import street_suffixes
from deid.recognizers.location import is_country
from deid.spans import PhiSpan
from deid.wordlists import facility_at, role_regex, word_set

DEFINITE_LANGUAGES = frozenset({"sv", "da", "nb"})
_SINGULAR_DEFINITE = ("en", "et", "an")
_PLURAL_DEFINITE = ("erna", "orna", "arna", "erne", "ene")
"""Endings of a Scandinavian common noun's definite form (``Blodbanken``, ``Boendet``, ``Hälsan``, plural
``Distriktsveterinärerna``, ``Psykiaterne``); ``-na`` and ``-ne`` alone end too many given names (``Karianne``)."""
_NAME_ENDINGS = ("sen", "son", "ssen", "ström", "dén", "lén")
"""Family names that end like a definite noun (``Johansen``, ``Eriksson``): never read as one."""
_INITIAL = regex.compile(r"\p{Lu}\.?")
_PLACE_PREFIXES = frozenset(
    {
        *("nedre", "øvre", "ytre", "indre", "nordre", "søndre", "vestre", "østre", "nord", "sør", "vest", "øst"),
        *("norra", "södra", "västra", "östra", "stora", "lilla", "nya", "gamla", "övre", "sankt", "st", "st."),
        *("nørre", "sønder", "store", "lille", "ny", "gammel", "upper", "lower", "north", "south", "east", "west"),
        *("great", "little", "new", "old", "port", "mount", "county", "co.", "ala", "ylä", "vähä", "iso", "suur"),
        *("alam", "ülem", "vana", "uus", "väike"),
    }
)
"""Words that make part of a place's own name (``Nedre Eiker``, ``Södra Sandby``, ``West Cork``, ``Ylä-Kainuu``)."""
_RELABELLED = frozenset({Label.PERSON, Label.LOCATION})


def organizations_by_form(spans: Sequence[PhiSpan], text: str, lang: str) -> list[PhiSpan]:
    """``spans`` with each PERSON or LOCATION of an organisation's form (see the module) read as an ORGANIZATION."""
    out: list[PhiSpan] = []
    for span in spans:
        words = text[span.start : span.end].replace(",", " ").split()
        if span.label in _RELABELLED and (
            (lang in DEFINITE_LANGUAGES and _starts_with_definite_noun(words)) or _a_branch(words)
        ):
            span = PhiSpan(span.start, span.end, Label.ORGANIZATION, span.score, span.country)
        out.append(span)
    return out


def _starts_with_definite_noun(words: list[str]) -> bool:
    """``Stödboendet Kastanjen``: a capitalised common noun in its definite form, then a name that is no person's
    (``Steffen Hansen`` is a given name the lists lack and a family name, ``Tränaren Micke Granlund`` a role and a
    person)."""
    if len(words) < 2 or not words[1][:1].isupper():
        return False
    first = words[0]
    if len(first) < 7 or not first[:1].isupper() or not first[1:].isalpha() or not first[1:].islower():
        return False
    lower = first.lower()
    plural = lower.endswith(_PLURAL_DEFINITE)
    if not (plural or lower.endswith(_SINGULAR_DEFINITE)) or lower.endswith(_NAME_ENDINGS):
        return False
    rest = [w.rstrip(".") for w in words[1:]]
    if rest[-1] in last_names() or all(_a_persons_name(w) for w in rest) or _a_name(first):
        return False
    # a singular role in its definite form is a person's ("Fastlegen", "Sjuksköterskan"); a plural one names a
    # practice ("Psykiaterne Østerbro", "Distriktsveterinärerna Mora")
    return plural or not _a_role(first)


def _a_branch(words: list[str]) -> bool:
    """``FysioDanmark Silkeborg``: capitalised words, none a given name, a town after the first, the first no
    initial or town, the last no family name."""
    if len(words) < 2 or not all(w[:1].isupper() for w in words):
        return False
    if _INITIAL.fullmatch(words[0]) or words[0] in cities() or words[-1] in last_names():
        return False
    if words[0].lower() in _PLACE_PREFIXES:
        return False  # "Nedre Eiker", "Södra Sandby", "West Cork": a part of a place is a place
    if any(w in first_names() for w in words):
        return False
    return any(w in cities() for w in words[1:])


@cache
def _a_persons_name(word: str) -> bool:
    return word in first_names() or word in last_names()


@cache
def _a_name(word: str) -> bool:
    """A person's, a town's or a street's name."""
    return _a_persons_name(word) or word in cities() or word.lower().endswith(street_suffixes())


@cache
def _a_role(word: str) -> bool:
    """A kinship, title or signature word, or an agent noun (``Datteren``, ``Fastlegen``, ``Sjuksköterskan``)."""
    lower = word.lower()
    return lower in KINSHIP_CUES or lower in TITLE_CUES or lower in SIGNATURE_CUES or bool(role_regex().search(word))


_TOWN_PREPOSITIONS = regex.compile(r"[ ](?:i|på|in|at)[ ](?=\p{Lu})")
_DISTRICT = regex.compile(r"(?:[ ](?:C|N|S|V|Ø|M|K|NV|NØ|SV|SØ|Nord|Syd|Øst|Vest))?")


@cache
def _towns_and_villages() -> frozenset[str]:
    return cities() | villages()


def towns_after_prepositions(spans: Sequence[PhiSpan], text: str) -> list[PhiSpan]:
    """``spans`` with each ORGANIZATION that ends ``i``/``in``/``på``/``at`` and a known town split into the
    organisation and the place (``Grundfos i Bjerringbro``, ``Arresthuset i Horsens``): the independent writers
    split such phrases 141 times and kept them one name 27 times."""
    out: list[PhiSpan] = []
    places = _towns_and_villages()
    for span in spans:
        if span.label is Label.ORGANIZATION:
            value = text[span.start : span.end]
            cut = None
            for m in _TOWN_PREPOSITIONS.finditer(value):
                tail = value[m.end() :]
                bare = _DISTRICT.sub("", tail) if regex.search(r" \p{Lu}{1,2}$", tail) else tail
                if bare in places:
                    cut = m
            if cut is not None and cut.start() > 0:
                out.append(PhiSpan(span.start, span.start + cut.start(), span.label, span.score, span.country))
                out.append(PhiSpan(span.start + cut.end(), span.end, Label.LOCATION, span.score, span.country))
                continue
        out.append(span)
    return out


_NAME_BEFORE = regex.compile(r"(?:(?<=^|[ (])\p{Lu}[\p{L}'’\-]*[ ]){1,3}$")
_SENTENCE_START = regex.compile(r"(?:^|[.!?:;]\s+|\n)$")


def branches_before_towns(spans: Sequence[PhiSpan], text: str) -> list[PhiSpan]:
    """``spans`` with each found town that capitalised words run into grown into the firm's branch they name
    (``Nordlab Kokkola``, ``Optiker Hegge Steinkjer``): words that are no function word, given name, role, month,
    place prefix, town or acronym, inside a sentence, or opening one when a facility noun is among them or the
    name and town make a line of their own (a letterhead)."""
    out: list[PhiSpan] = []
    taken = [(s.start, s.end) for s in spans]
    for span in spans:
        if span.label is Label.LOCATION and text[span.start : span.end] in cities():
            line_start = text.rfind("\n", 0, span.start) + 1
            before = text[line_start : span.start]
            found = _NAME_BEFORE.search(before)
            if found is not None:
                start = line_start + found.start()
                words = found.group().split()
                opener = _SENTENCE_START.search(text[:start]) is not None
                if (
                    not any(s < span.start and start < e for s, e in taken if (s, e) != (span.start, span.end))
                    and not any(_not_a_firm_word(w) for w in words)
                    and (
                        not opener
                        or any(facility_at(w) >= 0 for w in words)
                        or (_starts_field(before[: found.start()]) and _heads_its_line(text, span.end))
                    )
                ):
                    span = PhiSpan(start, span.end, Label.ORGANIZATION, span.score, span.country)
        out.append(span)
    return out


@cache
def _not_a_firm_word(word: str) -> bool:
    """A word that cannot be part of a firm's name before its town."""
    lower = word.lower()
    return (
        word in stop_words()
        or word in first_names()
        or lower in _PLACE_PREFIXES
        or _a_role(word)
        or is_month_name(word)
        or word in cities()
        or word in foreign_given_names()
        or word in word_set("clinical_acronyms")
        or word in word_set("role_acronyms")
    )


def _starts_field(before: str) -> bool:
    """Only blanks, or a field's label and its colon, come before on the line (``Community prescriber: ``)."""
    return not before.strip() or before.rstrip().endswith(":")


def _heads_its_line(text: str, end: int) -> bool:
    """Nothing but a comma or a full stop follows the town on its line; when the name also starts the line, the
    two make a line of their own, a letterhead (``Näkötalo Vaasa``, ``Optika Silmaring Jõhvi, 19.09.2024``), not
    a sentence (``... 2024. Kotipaikka Sotkamo.``)."""
    line_end = text.find("\n", end)
    rest = text[end : len(text) if line_end < 0 else line_end]
    return not rest.strip() or rest.startswith((",", "."))


_PLACE_AFTER = regex.compile(
    r",[ ](?P<place>\p{Lu}\p{Ll}[\p{L}\-'’]*(?:[ ]\p{Lu}\p{Ll}[\p{L}\-'’]*)?)(?=[ ]?[.,;:)\-–\n]|[ ]\p{Ll}|$)"
)
_DEPARTMENT_ENDINGS = ("ology", "ologi", "ics", "iatry", "iatri", "ery", "apy", "icine", "ity", "ents")
"""Endings of a department or specialty written capitalised after its hospital (``Orthopaedics``, ``Surgery``)."""


_PLACE_HOLDERS = frozenset({Label.ORGANIZATION, Label.LOCATION})
_PLACE_BEFORE_PLACE = regex.compile(
    r"(?<![\w])(?:på|paa|i|in|at|ved|vid)[ ](?P<place>\p{Lu}\p{Ll}[\p{L}\-'’]*)[ ](?:i|in)[ ]$"
)
"""A place inside the next one after a preposition (``heime på Rauland i Vinje``, ``at Ballyvourney in Cork``)."""


def places_after_organizations(spans: Sequence[PhiSpan], text: str) -> list[PhiSpan]:
    """``spans`` with the place named right after an organisation or a place and a comma (``Sunnaas sykehus,
    Nesoddtangen``, ``Sports Surgery Clinic, Santry``, ``building site at Straume, Sotra``), or before a place
    and its preposition (``på Rauland i Vinje``), added as a LOCATION: the independent writers wrote 123 such
    towns after organisations; what else follows there (a title and a name, a country, a code, a department) is
    left."""
    taken = [(s.start, s.end) for s in spans]
    added: list[PhiSpan] = []
    for span in spans:
        before = _PLACE_BEFORE_PLACE.search(text, max(0, span.start - 48), span.start)
        if (
            span.label is Label.LOCATION
            and before is not None
            and not any(s < before.end("place") and before.start("place") < e for s, e in taken)
            and not any(_no_place_word(w) for w in before.group("place").split(" "))
        ):
            added.append(PhiSpan(before.start("place"), before.end("place"), Label.LOCATION, span.score, ""))
        if span.label not in _PLACE_HOLDERS:
            continue
        m = _PLACE_AFTER.match(text, span.end)
        if m is None or any(s < m.end("place") and m.start("place") < e for s, e in taken):
            continue
        if any(_no_place_word(w) for w in m.group("place").split(" ")):
            continue
        added.append(PhiSpan(m.start("place"), m.end("place"), Label.LOCATION, span.score, ""))
    return sorted([*spans, *added], key=lambda s: s.start) if added else list(spans)


@cache
def _no_place_word(word: str) -> bool:
    """A word that cannot be (part of) a place's name after an organisation."""
    lower = word.lower()
    if word in _towns_and_villages():
        return False
    return (
        lower in stop_words()
        or word in first_names()
        or _a_role(word)
        or is_month_name(word)
        or is_country(word)
        or word in word_set("clinical_acronyms")
        or word in word_set("role_acronyms")
        or facility_at(word) >= 0
        or lower.endswith(_DEPARTMENT_ENDINGS)
        or lower in HOSPITAL_AREAS  # "..., Majors cubicle 9", "..., Dept of Radiology"
    )
