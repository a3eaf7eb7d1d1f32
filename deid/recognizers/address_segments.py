r"""British and Irish addresses written as comma-separated parts with no house number before the street:
``Drumlish Road, Ballinalee, Co. Longford N39 T6Y2``, ``Ty Newydd, Heol y Bryn, Llanrwst LL26 0EF``,
``Knockanillaun, Ballyhaunis Road, Castlebar, Co. Mayo``, ``Main Street, Castlebar``.

An address of this kind is recognised by its end: a postcode or Eircode (after a town or not), an Irish county
(``Co. Mayo``, ``Co. na Gaillimhe``), a Dublin district (``Dublin 24``), or a town after a part that names a street
or starts with a number. The parts before the end are taken back to the first one that is not a place's
shape: a person's name (``Mihaela Popescu, Apt 12, ...``), a part holding a facility's noun, a lower-case word.
"""

from __future__ import annotations

import re
from functools import cache

import regex

from deid.dates import is_month_name
from deid.lexicon import TITLE_CUES, cities, first_names, foreign_given_names, stop_words, villages
from deid.wordlists import facility_at

_NAME = r"\p{Lu}[\p{L}\-'’]*"
_WORD = rf"(?:\p{{Lu}}\p{{Ll}}{{0,2}}\.|{_NAME})"
"""A capitalised word, or a short one with its abbreviation's full stop (``St.``, ``Co.``; not ``Oslo.``)."""
_JOINER = r"(?:of|the|y|yr|an|na|upon|on|le|la|de|du|in)"
"""Lower-case words inside a Welsh, Irish, Cornish or Scots place's name (``Heol y Bryn``, ``Cnoc na Gréine``,
``Mill of Fintray``)."""
_NUMBERED = (
    r"(?:(?:No\.|Flat|Apt\.?|Apartment|Unit|Block|Room|PO[ ]Box)[ ]?[A-Z\d]{1,4}|\d{1,4}[A-Za-z]?"
    r"|\d{1,2}(?:st|nd|rd|th)[ ](?i:floor))"
)
"""What a part may start with, or be: a house, flat or box number, a floor."""
_PART = (
    rf"(?:{_NUMBERED}(?:[ ]{_WORD}(?:[ ](?:{_WORD}|{_JOINER})){{0,3}})?|{_WORD}(?:[ ](?:{_WORD}|{_JOINER})){{0,3}}"
    rf"|{_NAME}[ ]\d{{1,4}}[A-Za-z]?)"
)
"""One comma-separated part: a numbered house or flat, a name of up to four words, or a name and its number in the
continental order (``Kopli 25``)."""
_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|[AC-FHKNPRTV-Y]\d{2}[ ]?[AC-FHKNPRTV-Y\d]{4})"
"""A British postcode or an Irish Eircode."""
_CODE = re.compile(r"(?<= )(?:[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}|[AC-FHKNPRTV-Y]\d{2} [AC-FHKNPRTV-Y\d]{4})(?!\w)")
"""A British postcode or an Irish Eircode after a space (the standard library's ``re`` finds these ASCII shapes
five times faster than ``regex``). The Eircode's space is asked for: ``N06DA02`` is a drug's ATC code."""
_COUNTY_END = regex.compile(
    rf",[ ](?:Co\.[ ](?:na[ ])?{_NAME}(?:,?[ ]{_POSTCODE}(?![\w]))?|Dublin[ ]\d{{1,2}}(?![\w]))"
)
"""An Irish county (with its Eircode) or a Dublin district closing an address."""
_TOWN_END = regex.compile(rf",[ ](?P<town>{_NAME}(?:[ ]{_NAME})?)(?![\w])")
_PARTS_BEFORE = regex.compile(rf"(?<![\w\-/.]|&[ ])(?P<parts>{_PART}(?:,[ ]{_PART}){{0,6}})\Z")
"""The parts right before an end, as many as there are (the search is bounded by the end's line)."""
_HOUSE = regex.compile(rf"{_NUMBERED}[ ]\p{{Lu}}")
_NAME_AND_NUMBER = regex.compile(rf"{_NAME}[ ]\d{{1,4}}[A-Za-z]?$")
_BARE_NUMBER = regex.compile(r"\d+$")
_STREET_WORDS = frozenset(
    {
        "Road", "Rd", "Street", "St", "St.", "Lane", "Avenue", "Ave", "Drive", "Court", "Terrace", "Park", "Close",
        "Crescent", "Grove", "Gardens", "Place", "Square", "Way", "Row", "Mews", "Hill", "View", "Heights",
        "Cottages", "Walk", "Green", "Rise", "Wynd", "Brae", "Estate", "Lawn", "Lawns", "Manor", "Heol", "Lôn",
        "Ffordd", "Stryd", "Bóthar", "Sráid",
    }
)  # fmt: skip
"""Words that make a part a street: with one of them (or a number) a part before a known town is an address."""


@cache
def _titles() -> frozenset[str]:
    return frozenset(t.lower().rstrip(".") for t in TITLE_CUES)


_NOT_PLACE_WORDS = frozenset(
    {"Dept", "Department", "Office", "Ltd", "Limited", "Plc", "PLC", "Services", "Claims", "Ward", "Bed", "Bay"}
    | {"Theatre", "Level", "Gate"}
)
"""Words of an organisation's or a hospital's part that no street or house name holds (``Ward 7, Galway``)."""


def _a_person(part: str) -> bool:
    """A part written like a person's name: a known given name then a capitalised word and no street word, or a
    given name alone (with its possessive)."""
    words = part.split(" ")
    if len(words) == 1:
        return part.removesuffix("'s").removesuffix("’s") in first_names()  # "Jordan's, 42 Hindley Road"
    if any(w in _STREET_WORDS for w in words):
        return False
    return words[0] in first_names() or words[0] in foreign_given_names()


def _stops_at(part: str) -> bool:
    """A part an address cannot begin with: a person, a facility, an organisation's word, a title, a date; never
    a street (``Church Lane``, ``School Road``)."""
    words = part.split(" ")
    if len(words) > 1 and words[-1] in _STREET_WORDS:
        return False
    return (
        _a_person(part)
        or any(facility_at(w) >= 0 or w in _NOT_PLACE_WORDS for w in words)
        or words[0].lower().rstrip(".") in _titles()
        or any(is_month_name(w) for w in words)  # "8 Feb 2022, 14 Cleaboy Park, ...": a date before the house
    )


def _town_like(name: str) -> bool:
    """A capitalised name after an address's street that may be its town: a known place, or a word no list reads
    as a given name, a common word or a facility."""
    if name in cities() or name in villages():
        return True
    if name.isupper():
        return False  # "..., PULSE": an acronym
    return (
        all(
            w not in first_names()
            and w.lower() not in stop_words()
            and w.lower() not in _titles()
            and facility_at(w) < 0
            for w in name.split()
        )
        and name not in _ABBREVIATIONS
    )


_ABBREVIATIONS = frozenset({"Co", "St", "Rd", "Ave", "No"})


def _first_kept(text: str, start: int, parts: list[str]) -> int:
    """How many leading parts to drop: up to and including the last one an address cannot begin with, and the
    first part when a title stands right before it (``Mrs Byrne, ...``)."""
    drop = 0
    for i, part in enumerate(parts):
        if _stops_at(part) or (i == drop and _BARE_NUMBER.match(part)):
            drop = i + 1  # "Teresa Quinlan, 98, St Joseph's, ...": an age is no house number
    before = text[max(0, start - 6) : start].rstrip().rsplit(" ", 1)[-1].lower().rstrip(".")
    if drop == 0 and before in _titles():
        drop = 1
    return drop


def _parts_before(text: str, end: int) -> tuple[int, list[str]] | None:
    """Where the parts before ``end`` (on its line) start, and the parts, after dropping those an address cannot
    begin with; None when none is left."""
    line_start = text.rfind("\n", 0, end) + 1
    m = _PARTS_BEFORE.search(text, line_start, end, timeout=5.0)
    if m is None:
        return None
    start = int(m.start("parts"))
    parts = m.group("parts").split(", ")
    drop = _first_kept(text, start, parts)
    if drop >= len(parts):
        return None
    for part in parts[:drop]:
        start += len(part) + 2
    return start, parts[drop:]


def _town_at(m: regex.Match[str]) -> int:
    """The end of a town right after a comma (two words, else the first), or -1."""
    town = m.group("town")
    if town in cities() or (" " in town and _town_like(town)):
        return int(m.end())
    first = town.split(" ", 1)[0]
    return int(m.start("town")) + len(first) if _town_like(first) else -1


def _street_before_town(parts: list[str], *, known_town: bool, english: bool) -> bool:
    """Parts that make the name after them a town: a street's name and number before a known town (``Kopli 25,
    Tallinn``); in English notes also a part naming a street (``Main Street``), or two or more parts one of which is
    a numbered house (``21 Beechlawn, Johnstown``)."""
    if known_town and _NAME_AND_NUMBER.match(parts[-1]):
        return True
    if not english:
        return False
    if any(w in _STREET_WORDS for p in parts for w in p.split(" ")):
        return True
    return len(parts) >= 2 and any(_HOUSE.match(p) for p in parts)


def segment_addresses(text: str, *, english: bool = True) -> list[tuple[int, int]]:
    """The ``(start, end)`` of every comma-separated British or Irish address in ``text``, and of a street's name
    and number before a known town; ``english``: the note is in English (the forms without a number or a known
    town are read only there)."""
    out: list[tuple[int, int]] = []
    for code in _CODE.finditer(text):  # "..., Llanrwst LL26 0EF", "..., Towyn, LL22 9HN": the town is a part
        parts_end = code.start() - (2 if text[code.start() - 2 : code.start()] == ", " else 1)
        found = _parts_before(text, parts_end)
        if found is not None:
            out.append((found[0], code.end()))
    for m in _COUNTY_END.finditer(text, timeout=5.0):
        found = _parts_before(text, int(m.start()))
        if found is not None:
            out.append((found[0], int(m.end())))
    for m in _TOWN_END.finditer(text, timeout=5.0):
        end = _town_at(m)
        if end < 0:
            continue
        found = _parts_before(text, int(m.start()))
        known = m.group("town")[: end - int(m.start("town"))] in cities()
        if found is not None and _street_before_town(found[1], known_town=known, english=english):
            out.append((found[0], end))
    return _outermost(out)


def _outermost(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans that lie inside no other."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda s: (s[0], -s[1])):
        if kept and end <= kept[-1][1]:
            continue
        kept.append((start, end))
    return kept
