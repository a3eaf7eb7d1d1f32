"""Spans that identify no one, dropped as the last step whatever found them (a rule, the tagger, a relabelling):

- a country, or a national agency, registry, professional body or service alone (``Försäkringskassan``, ``Statens
  vegvesen``, ``Traficomille``, ``Det Danske Vaccinationsregister``, ``Lægeforeningen``), or a part of one's name
  (``Scotland`` in ``Police Scotland``); a regional office written with its region is a longer span (``Vest
  politidistrikt``, ``NAV Grorud``, ``Tusla Mid West``) and stays;
- a national health portal's web address (``helsenorge.no``, ``1177.se``; not a local service's subdomain, nor a
  path with a number in it);
- a drug or a product read as a name, told by what follows it: a dose, a dosage form, a batch (``T. Oxazepam
  7,5 mg``, ``Abilify Maintena -pistos``, ``Vaxigrip Tetra, partii X3B411V``), or a sign or a blood group before
  its result (``RH neg.``), or a brand or a microbe's genus in ``deid/data/products.txt`` (``Mepilex Border``,
  ``Phonak Audéo``, ``Klebsiella``);
- a person's span holding an agency or made of countries (``Kelan TULES-kurssi``, ``Iranista Turkin``), an
  organisation that is an agency and a verb, an address that is a country and a year; a country right after a
  person's name is cut off the name (``Rainoga Keeniasse``).

The agencies and domains are package data (``deid/data/national_agencies.txt``, ``public_domains.txt``), the
countries :func:`deid.recognizers.location.country_names`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cache, lru_cache

import regex

from deid.labels import Label
from deid.lexicon import first_names, kinship_words, last_names
from deid.recognizers._base import RESULT_AFTER
from deid.recognizers.location import country_names, is_country
from deid.spans import PhiSpan
from deid.wordlists import CASE_ENDINGS, REGISTRY_ENDINGS, facility_at, trie_alternation, words

_PLACE_LABELS = frozenset({Label.ORGANIZATION, Label.LOCATION})
_NAME_LABELS = frozenset({Label.PERSON, Label.ORGANIZATION})
_NAMED_LABELS = frozenset({Label.PERSON, Label.ORGANIZATION, Label.LOCATION})
_WORD = regex.compile(r"\p{L}[\p{L}\-'’]*")
_PRODUCT_AFTER = regex.compile(
    r"[ ]*(?:\d+(?:[.,]\d+)?[ ]*(?:mg|g|µg|mcg|mikrog|mikrogram|microg|ml|IE|IU|E|mmol|%|T)(?![\w])"
    r"|-?(?i:pistos|pistoksena|injektio|injektion|injection|inj|tabl|tablett|tabletter|tablet|kapsel)(?![\w])"
    r"|,?[ ](?i:partii|parti|batch|lot|erä|eränumero|ch\.-b\.)(?![\w]))"
)
"""What follows a drug's or a product's name, never a person's: a dose, a dosage form, a batch, a scanner's field
strength (``Philips Ingenia 3,0 T``)."""
_SUSCEPTIBILITIES = regex.compile(r"(?:\p{Lu}\p{Ll}+[ ][SRI],[ ]?)+\p{Lu}\p{Ll}+[ ][SRI]\.?")
"""Two or more antibiotics, each with its susceptibility (a signer's ``Sanna R.`` is one name and an initial)."""
_SCORE_AFTER = regex.compile(
    r"[ ]*(?:(?i:grad|grade|gr\.?|nivå|nivel|stage|taso|level)[ ])?(?:\d|(?:I{1,3}|IV|V|[A-C])(?![\w]))"
)
"""A number or a grade right after a score's eponym (``Bosniak III``, ``Nottingham grad 2``, ``Morse 55``, ``Weber
B``)."""
_CASE_TAIL = rf"(?:'s|:(?:n|ssa|ssä|sta|stä|lla|llä|lle|lta|ltä|iin)|-(?:s|st|sse|le|lt|l|i|ga)|{CASE_ENDINGS})?"
"""A case ending or a genitive the name may carry (``Kelalle``, ``Traficomille``, ``NAV:n``, ``Tervisekassasse``)."""


@cache
def _public_name() -> regex.Pattern[str]:
    names = sorted({*words("national_agencies"), *(c for c in country_names() if " " in c)}, key=len, reverse=True)
    return regex.compile(rf"(?:{'|'.join(regex.escape(n) for n in names)}){_CASE_TAIL}")


@cache
def _long_public_name() -> regex.Pattern[str]:
    """The agencies' and countries' names of two words or more, as one prefix tree, between word boundaries."""
    names = [n for n in {*words("national_agencies"), *country_names()} if " " in n]
    return regex.compile(rf"(?<![\p{{L}}\p{{N}}])(?:{trie_alternation(names)}){_CASE_TAIL}(?![\p{{L}}\p{{N}}])")


@lru_cache(maxsize=4)
def _long_public_names_in(text: str) -> tuple[tuple[int, int], ...]:
    """Where ``text`` names an agency in two words or more (looked up once per text, not once per span)."""
    return tuple((m.start(), m.end()) for m in _long_public_name().finditer(text))


@cache
def _public_domains() -> tuple[str, ...]:
    return words("public_domains")


@cache
def _score_names() -> frozenset[str]:
    """Scores' names (``measure_words``, ``score_eponyms``) that are no family or given name (``Berg`` is one)."""
    people = {n.lower() for n in (*first_names(), *last_names())}
    listed = {w.lower() for w in (*words("measure_words"), *words("score_eponyms"))}
    return frozenset(listed - people)


@cache
def _products() -> frozenset[str]:
    return frozenset(words("products"))


def is_public_name(phrase: str, *, place: bool = True) -> bool:
    """Whether ``phrase`` is a national agency, registry or body, or a country of several words, in any case form,
    and nothing more; with ``place``, also a country of one word (``Jordan`` and ``Georgia`` are given names too)."""
    phrase = phrase.strip().rstrip(".,;:")
    if _public_name().fullmatch(phrase) is not None or phrase.lower().endswith(REGISTRY_ENDINGS):
        return True
    return place and " " not in phrase and is_country(phrase)


def is_public_domain(url: str) -> bool:
    """Whether ``url``'s host is a national health portal's or agency's (:file:`deid/data/public_domains.txt`)."""
    host, _, path = regex.sub(r"^(?i:https?://)?(?i:www\.)?", "", url.strip()).partition("/")
    return host.lower().rstrip(".") in _public_domains() and not any(c.isdigit() for c in path)


def identifies_no_one(span: PhiSpan, text: str) -> bool:
    """Whether ``span`` is public (see the module)."""
    if span.label is Label.URL:
        return is_public_domain(text[span.start : span.end])
    if span.label not in _NAMED_LABELS and span.label is not Label.ADDRESS:
        return False  # a date, a number, an e-mail: nothing here applies
    piece = text[span.start : span.end]
    words = _WORD.findall(piece)
    if span.label in _NAME_LABELS and (_PRODUCT_AFTER.match(text, span.end) or RESULT_AFTER.match(text, span.end)):
        return True
    if span.label in _NAMED_LABELS and _a_score_and_its_value(words, text, span.end):
        return True  # "Bosniak III", "Morse 55", "Sokolow-Lyon": a score named after people, and its value
    if span.label in _NAME_LABELS and _SUSCEPTIBILITIES.fullmatch(piece.rstrip()):
        return True  # "Mecillinam S, Nitrofurantoin S, Trimetoprim R": a culture's resistance pattern
    if span.label in _NAMED_LABELS and any(w in _products() for w in words):
        return True  # "Mepilex Border", "Phonak Audéo", "växt av Klebsiella": a product or a microbe
    if span.label is Label.PERSON and any(is_public_name(w, place=False) for w in words):
        return True  # "Kelan TULES-kurssi": an agency's course, no one's name
    if words and all(map(is_country, words)) and (span.label is not Label.PERSON or not _kin_before(text, span.start)):
        return True  # "Iranista Turkin", "Suomeen Kazakstanista": countries (but "Partner Kuba" is a person)
    capitalised = [w for w in words if w[:1].isupper()]
    if (
        span.label is Label.ORGANIZATION
        and len(parts := _JOINED.split(piece.strip())) > 1
        and all(map(is_public_name, parts))
    ):
        return True  # "Statens vegvesen og Helsedirektoratet": two national bodies joined
    if (
        span.label is Label.ORGANIZATION
        and capitalised
        and all(map(is_public_name, capitalised))
        and not any(facility_at(w) >= 0 for w in words if not w[:1].isupper())
    ):
        return True  # "Försäkringskassan upprättas": the agency alone, a verb after it (not its "mottagningsenhet")
    if span.label in _NAMED_LABELS and _inside_a_public_name(span, text):
        return True  # "Police Scotland" read as "Scotland": a part of an agency's name
    return span.label is not Label.PHONE and is_public_name(piece, place=span.label in _PLACE_LABELS)


def _inside_a_public_name(span: PhiSpan, text: str) -> bool:
    """Whether ``span`` is a part of a longer agency's name written around it (``Police Scotland``)."""
    return any(
        start <= span.start and span.end <= end and end - start > span.end - span.start
        for start, end in _long_public_names_in(text)
    )


def _a_score_and_its_value(words: list[str], text: str, end: int) -> bool:
    """One or two words, each part a score's name, with a number or a grade right after them; a score named after a
    family name (``Clark``, ``Weber``) only with a grade (``Clark nivå III``, ``Weber B``), inside the span or after
    it."""
    if words and _GRADE.fullmatch(words[-1]) and len(words) > 1:
        named = [p for w in words[:-1] for p in w.split("-") if p]
        return len(named) <= 2 and all(p.lower() in _score_eponyms() for p in named)
    parts = [p for w in words for p in w.split("-") if p]
    if not 0 < len(words) <= 2:
        return False
    if _SCORE_AFTER.match(text, end) is not None and all(p.lower() in _score_names() for p in parts):
        return True
    return _GRADE_AFTER.match(text, end) is not None and all(p.lower() in _score_eponyms() for p in parts)


_GRADE = regex.compile(r"I{1,3}|IV|V|[A-C]")
_GRADE_AFTER = regex.compile(
    r"[ ]*(?:(?i:grad|grade|nivå|nivel|taso|level|stage|type|tyyppi)[ ])?(?:I{1,3}|IV|V|[A-C])(?![\w])"
)
"""A grade (not a bare number) after a score named after a family name: ``Clark nivå III``, ``Weber B``."""


@cache
def _score_eponyms() -> frozenset[str]:
    return frozenset(w.lower() for w in words("score_eponyms"))


_JOINED = regex.compile(r"[ ]+(?:og|och|and|ja|ning|sekä)[ ]+|,[ ]+")
_KIN_BEFORE = regex.compile(r"(\p{L}+)[ ]+$")


def _kin_before(text: str, start: int) -> bool:
    """Whether a kinship or companion word comes right before ``start`` (``Partner Kuba``, ``datter Georgia``)."""
    found = _KIN_BEFORE.search(text, max(0, start - 24), start)
    return found is not None and found.group(1).lower() in kinship_words()


def _without_trailing_public_part(span: PhiSpan, text: str) -> PhiSpan:
    """A span less a country written right after a person's name (``Rainoga Keeniasse``, ``Andres Soomes``), or
    less the national body after a regional office's name and a comma (``Tayside Division CID, Police
    Scotland``)."""
    piece = text[span.start : span.end]
    head, _, last = piece.rpartition(" ")
    if span.label is Label.PERSON and head.strip() and is_country(last.rstrip(".,;:")):
        return replace(span, end=span.start + len(head.rstrip(" ,")))
    head, comma, tail = piece.rpartition(", ")
    if span.label is Label.ORGANIZATION and comma and head.strip() and is_public_name(tail, place=False):
        return replace(span, end=span.start + len(head))
    return span


def without_public_names(spans: Sequence[PhiSpan], text: str) -> list[PhiSpan]:
    """``spans`` less those that identify no one (see the module), and less a country after a person's name."""
    return [_without_trailing_public_part(s, text) for s in spans if not identifies_no_one(s, text)]
