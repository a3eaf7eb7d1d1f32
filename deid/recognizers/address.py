"""Street addresses: a street name with a Nordic-Baltic street word (``Storgata``, ``Skolvägen``, ``Asters Allé``,
``Niitynperäntie``, ``Tartu mnt``) and a house number, optionally followed by a postal code and town; and the
English ``6907 Griffith Street`` order.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, ClassVar

import regex
from presidio_analyzer import RecognizerResult

from deid.dates import find_dates
from deid.labels import Label
from deid.lexicon import cities, first_names, last_names, stop_words, villages
from deid.recognizers._base import Rule, RuleRecognizer, Windows, make_result, words_alternation
from deid.recognizers.address_segments import segment_addresses
from deid.wordlists import facility_at

_EXTRA_SUFFIXES = (
    "gate",
    "gata",
    "gaten",
    "gt.",
    "veien",
    "vegen",
    "vei",
    "veg",
    "allé",
    "alle",
    "plass",
    "plassen",
    "vej",
    "vejen",
    "gade",
    "stræde",
    "vænget",
    "vænge",
    "vang",
    "parken",
    "boulevard",
    "torv",
    "torg",
    "vägen",
    "väg",
    "gatan",
    "gränd",
    "torget",
    "backen",
    "stigen",
    "katu",
    "tie",
    "kuja",
    "polku",
    "bulevardi",
    "raitti",
    "väylä",
    "rinne",
    "kaari",
    "lenkki",
    "kierros",
    "reitti",
    "aukio",
    "gøta",
    "vegur",
    "tänav",
    "tn",
    "mnt",
    "maantee",
    "puiestee",
    "pst",
    "põik",
    "väljak",
    "tee",
    "iela",
)
_EN_SUFFIXES = (
    "Street",
    "St.",
    "Avenue",
    "Ave",
    "Road",
    "Rd",
    "Lane",
    "Drive",
    "Court",
    "Way",
    "Boulevard",
    "Place",
    "Square",
    "Terrace",
    "Circle",
)
_UP = "A-ZÆØÅÄÖÕÜŠŽ"
_STANDALONE = ("tn", "mnt", "pst", "gt.", "iela")
"""Abbreviated street words that are words of their own (``Tamme tn``), never a name's ending (``Kolbotn``)."""
_DESIGNATORS = (
    r"(?:,?[ ](?:(?i:lgh|lägenhet|leil|leilighet|lejl|lejlighed|bolignr|oppgang|trappa|tr|vån|våning|etg|etasje|as"
    r"|asunto|rappu|korter|krt|apt|flat|suite|unit)\.?[ ]?[A-Z]?\d{1,4}[A-Z]?"
    r"|(?:st|kl|\d{1,2})\.[ ]?(?:th|tv|mf|sal)\.?"
    r"|\d{1,2}\.[ ]?(?:etasje|etage|etg|våning|vån|tr|kerros|krs|korrus)\.?"
    r"|\d{1,2}(?:st|nd|rd|th)[ ]floor"
    r"|st\.|kl\.)(?![\w]))*"
)
"""Apartment, floor and entrance after the house number: Swedish ``lgh 1201``, Norwegian ``leil. H0201``, Danish
``st. th.``, ``2. tv.``, ``1. sal``, Finnish ``as. 4`` (``B 7``/``D 9`` are part of the number), ``Apt. 4``."""
_ADDRESS_CUES = (
    r"(?i:bor på|boende på|bosatt på|bosat på|bor i|bosatt i|adresse|adress|address|osoite|osoitteessa|elukoht"
    r"|kotiosoite|hemadress|bostadsadress|bopæl|bopel|hjemmeadresse|home address|elukoha aadress|aadressil"
    r"|adr\.?|addr\.?|os"
    r"|aadress|lives at|living at|resides at)"
)
"""Words before an address: after them a capitalised name with a house number is a street, even one without a
street word (``bor på Fjellsiden 7``)."""


_TAIL_DESIGNATOR = (
    r",?[ ](?:H\d{4}|(?i:lgh|lägenhet|leil|leilighet)\.?[ ]?H?\d{3,4}|\d{1,2}[ ]?tr\.?(?:[ ](?:ög|bv|nb))?"
    r"|(?:nb|bv|ög)|(?i:oppgang|uppg|uppgång|trapp|port|inngang|opgang|rappu)\.?[ ][A-Z]"
    r"|(?i:vån|våning|plan|kerros|korrus)\.?[ ]\d{1,2}|\d{1,2}\.[ ]?(?:etg|etasje|etage|sal|th|tv|mf|krs|korrus)\.?"
    r"|(?:st|kld?)\.?[ ]?(?:th|tv|mf)\.?|kld\.|st\.|(?i:korter|krt)\.?[ ]\d{1,4}"
    r"|(?i:Flat|Apt|Apartment|Room|Unit|Block)\.?[ ][A-Z\d]{1,4})(?![\w])"
)
"""A flat, floor, entrance or staircase after a house number: Swedish ``3 tr``, ``lgh 1304``, ``1 tr ög``, ``nb``,
Norwegian ``H0304``, ``oppgang A``, ``2. etg.``, Danish ``st.th.``, ``kld. tv.``, ``2. sal``, Estonian ``korter 6``,
English ``Flat 2``, ``Block C``."""
_CAP_WORD = r"\p{Lu}[\p{L}\-'’]*"
_TAILS = regex.compile(
    rf"(?P<designator>{_TAIL_DESIGNATOR})"
    rf"|(?P<postal>,?[ ](?:(?:N|S|DK|FI|EE)-)?(?:\d{{3}}[ ]\d{{2}}|\d{{4,5}})[ ]{_CAP_WORD}(?:[ ](?:C|V|K|S|N|Ø))?"
    r"(?![\w]))"
    r"|(?P<lv>,[ ]LV-\d{4})(?![\w])"
    rf"|(?P<county>,[ ]Co\.[ ]{_CAP_WORD}|,?[ ]Dublin[ ]\d{{1,2}}(?![\w]))"
    r"|(?P<code>[ ](?:[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|[AC-FHKNPRTV-Y]\d{2}[ ][AC-FHKNPRTV-Y\d]{4})(?![\w]))"
    rf"|(?P<unit>,[ ]{_CAP_WORD}[ ](?i:vald|küla|alevik|alev|vallas|kommun|kommune|sogn))(?![\w])"
    rf"|(?P<town>,[ ](?P<word>{_CAP_WORD})(?:[ ](?P<word2>{_CAP_WORD}))?)(?![\w])"
)
"""What may follow a street address and belongs to it: a designator, a postal code and town, a Latvian ``LV-``
code, an Irish county or Dublin district, a British postcode or Eircode, an Estonian rural unit, or a town."""
_NEXT_IS_CODE = regex.compile(
    r",?[ ](?:(?:\d{3}[ ]\d{2}|\d{4,5})[ ]\p{Lu}|Co\.[ ]|Dublin[ ]\d"
    r"|\p{Lu}\p{L}*[ ](?:vald|küla|alevik)(?![\w])|[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}(?![\w])|LV-\d"
    r"|[AC-FHKNPRTV-Y]\d{2}[ ][AC-FHKNPRTV-Y\d]{4}(?![\w]))"
)


def _town_tail(text: str, m: regex.Match[str]) -> int:
    """How much of a ``, Town`` tail belongs to the address: a known town, a county (``Harjumaa``), or any
    capitalised word right before a postal code, a county or a postcode (``Skovby, 5400 Bogense``)."""
    word, word2 = m.group("word"), m.group("word2")
    if word2 is not None and (f"{word} {word2}" in cities() or _NEXT_IS_CODE.match(text, m.end())):
        return int(m.end())
    end = int(m.start("word")) + len(word)
    if word in cities() or regex.search(r"\p{Ll}maa$", word) or _NEXT_IS_CODE.match(text, end):
        return end
    if word2 is None and _ENDS_SENTENCE.match(text, end) and _a_town_by_place(word):
        return end  # "Tallbacksvägen 14, lgh 1203, Sollefteå.": the last word of the sentence is the town
    return -1


_ENDS_SENTENCE = regex.compile(r"[ \t]*(?:[.;)\n]|$)")


def _a_town_by_place(word: str) -> bool:
    """A capitalised word closing an address's sentence that no list reads as a person or a function word."""
    return word in villages() or (
        word not in first_names() and word not in last_names() and word not in stop_words() and facility_at(word) < 0
    )


def extend_address(text: str, end: int) -> int:
    """The end of an address that starts before ``end``, taking every designator, code and town after it."""
    for _ in range(8):
        m = _TAILS.match(text, end)
        if m is None:
            break
        new = _town_tail(text, m) if m.group("town") is not None else m.end()
        if new <= end:
            break
        end = new
    return end


_GATES = {
    "uk_postcode_end": regex.compile(
        r"[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|[AC-FHKNPRTV-Y]\d{2}[ ]?[AC-FHKNPRTV-Y\d]{4}|Co\.[ ]"
    ),
    "ee_flat": regex.compile(r"\d[ ]?-[ ]?\d|(?i:korter|krt)"),
    "ee_farm": regex.compile(r"[ ]talu,"),
}
"""Cheap tests a text must pass before the rule of that name runs on it (superset of the rule's matches)."""


@cache
def street_suffixes() -> tuple[str, ...]:
    """Street-name endings: Faker's Norwegian, Swedish, Finnish and Danish tables plus the list above."""
    out = set(_EXTRA_SUFFIXES)
    for locale in ("no_NO", "sv_SE", "fi_FI", "da_DK"):
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        out.update(s.strip().lower() for s in getattr(provider, "street_suffixes", ()))
    return tuple(sorted(out))


@cache
def english_suffixes() -> tuple[str, ...]:
    provider = importlib.import_module("faker.providers.address.en_US").Provider
    return tuple(sorted({*_EN_SUFFIXES, *(str(s) for s in provider.street_suffixes)}))


def _street_endings() -> str:
    """Every street word, as the end of a word (``-gatan``, ``-vej``, ``tn``)."""
    return words_alternation([*street_suffixes(), *(w.rstrip(".") for w in _STANDALONE)])


def _street_ahead() -> str:
    """What every street address starts with: one to three words, the last ending in a street word, a dot or two,
    and the house number. Checked first at each word so the long street-word alternation runs only where a street
    word meets a number (a superset of the street rule's matches)."""
    return rf"(?=[\w\-']++(?:[ ][\w\-']++){{0,2}}(?=\.{{0,2}}[ ]\d)(?<=(?i:{_street_endings()})))"


@cache
def _number_after_word() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    """A house number after a word (a dot or two between), and a street word ending right where it starts."""
    return regex.compile(r"(?<=[\w\-'])\.{0,2}[ ]\d"), regex.compile(rf"(?<=(?i:{_street_endings()}))")


def _street_lines(text: str) -> list[tuple[int, int]]:
    """The lines where a street word meets a house number: the street rule runs only there (none of its matches
    crosses a line, and each holds such a meeting), instead of trying :func:`_street_ahead` at every word."""
    number, street_word = _number_after_word()
    out: list[tuple[int, int]] = []
    for m in number.finditer(text):
        if (out and m.start() < out[-1][1]) or street_word.match(text, m.start()) is None:
            continue
        end = text.find("\n", m.end())
        out.append((text.rfind("\n", 0, m.start()) + 1, len(text) if end < 0 else end))
    return out


def _rules() -> tuple[Rule, ...]:
    suffix = words_alternation([x for x in street_suffixes() if x not in _STANDALONE])
    standalone = words_alternation(_STANDALONE)
    cap = rf"[{_UP}][\w\-']*"
    postal = rf"(?:,?[ ](?:(?:N|S|DK|FI|EE)-)?(?:\d{{3}}[ ]\d{{2}}|\d{{4,5}})[ ]{cap}(?:[ ]{cap})?)?"
    number = rf"[ ]\d{{1,4}}(?:[ ]?[A-Za-z](?:[ ]\d{{1,3}})?(?![\w]))?(?:[ ]?-[ ]?\d{{1,4}})?{_DESIGNATORS}"
    street = (
        rf"(?:(?:{cap}[ ]){{0,2}}(?:[{_UP}][\w\-]*(?i:{suffix})|(?i:{suffix})|(?<=[ ])(?:{standalone}))"
        # a Finnish genitive before a lower-case compound street word: "Hervannan valtaväylä", "Kalevan puistotie"
        rf"|{cap}n[ ]\p{{Ll}}[\p{{Ll}}\-]*(?<=(?i:{suffix})))(?![\w])\.?"
    )
    en_suffix = words_alternation(english_suffixes())
    apartment = r"(?:,?[ ](?:Apt\.|Suite)[ ]\d{1,4})?"
    en = rf"\d{{1,5}}[A-Za-z]?[ ](?:{cap}[ ]){{1,3}}(?:{en_suffix})(?![\w])\.?{apartment}"
    # "Flat 6, Orchard House, 22 Bow Road": a flat and a building name before the number
    en_prefix = rf"(?:(?:Flat|Apartment|Apt\.?|Unit)[ ]\d{{1,4}}[A-Za-z]?,?[ ](?:(?:{cap}[ ]){{0,2}}{cap},[ ])?)?"
    # a British postcode after the town (or alone): "Fareham PO16 7AB", "London E3 4DH"
    uk_postcode = rf"(?:,?[ ](?:{cap}(?:[ ]{cap})?[ ])?[A-Z]{{1,2}}\d[A-Z\d]?[ ]\d[A-Z]{{2}})"
    cued = rf"\b{_ADDRESS_CUES}[ ]*:?[ ]*(?P<phi>{cap}(?:[ ][\w\-']+){{0,2}}{number}{postal})(?![\w])"
    # "Rytterkær 5 st.th.", "Ekbacken 4, 2 tr", "Lindealléen 9 H0203": a house number with a designator is an
    # address even when the street has no street word
    name = r"\p{Lu}\p{Ll}[\p{L}\-']*"
    designated = rf"\b(?P<phi>{name}(?:[ ]{name})?[ ]\d{{1,4}}[A-Za-z]?(?:{_TAIL_DESIGNATOR})+)(?![\w])"
    # "Kaevu 12-4, Valga", "Lepa 3 korter 9": an Estonian house and flat number before a town or a flat word
    ee_flat = (
        rf"\b(?P<phi>{name}[ ]\d{{1,3}}(?:[ ]?-[ ]?\d{{1,4}}(?=,[ ](?:\d{{5}}[ ])?(?P<town>{cap}))"
        r"|[ ](?i:korter|krt)\.?[ ]\d{1,4}))(?![\w])"
    )
    # a British postcode or an Irish Eircode closes an address that starts with a house or flat number
    item = rf"(?:\d{{1,4}}[A-Za-z]?|{cap}\.?|of|upon|on|the|an|na)"
    uk_end = r"(?:[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|[AC-FHKNPRTV-Y]\d{2}[ ]?[AC-FHKNPRTV-Y\d]{4})"
    # a house number runs into its street ("14 Cotham Brow"); a flat may take a comma ("Flat 2, ...")
    start = r"(?:\d{1,4}[A-Za-z]?|(?i:Flat|Apt\.?|Apartment|Room|Unit)[ ]\w{1,4},?)"
    county = rf",[ ]Co\.[ ]{cap}"
    uk_postcode_end = rf"\b(?<![/.\-])(?P<phi>{start}(?:[ ]{item},?){{1,9}}(?:[ ]{uk_end}|(?<=\w){county}))(?![\w])"
    # "Tehase 5, 79514 Rapla": a house number right before a postal code and a town
    before_code = (
        rf"\b(?P<phi>{name}(?:[ ]{name})?[ ]\d{{1,4}}[A-Za-z]?)(?=,?[ ](?P<code>\d{{3}}[ ]\d{{2}}|\d{{4,5}})[ ]"
    )
    before_code += rf"(?P<town>{cap}))"
    # "Oja talu, Viitina küla": an Estonian farm before its village or parish
    ee_farm = rf"(?<![\w])(?P<phi>{name}[ ]talu)(?=,[ ]{cap}[ ](?:küla|vald|alevik))"
    return (
        Rule("nordic_street", rf"\b{_street_ahead()}(?P<phi>{street}{number}{postal})(?![\w]|[.,/]\d)", 0.9),
        Rule("designated", designated, 0.8),
        Rule("ee_flat", ee_flat, 0.75),
        Rule("uk_postcode_end", uk_postcode_end, 0.8),
        Rule("before_code", before_code, 0.75),
        Rule("ee_farm", ee_farm, 0.75),
        Rule("cued_street", cued + r"(?![.,/]\d)", 0.9),
        Rule("english_street", rf"\b(?P<phi>{en_prefix}{en}(?:{uk_postcode}|{postal}))(?![\w])", 0.85),
    )


def _after_leading_date(text: str, start: int, end: int) -> int:
    """Where an address starts when a date and a comma open its match (``8 Feb 2022, 14 Cleaboy Park, ...``: a
    date of birth before the house number)."""
    found = next((d for d in find_dates(text[start:end]) if d.start == 0), None)
    if found is None or text[start + found.end : start + found.end + 2] != ", ":
        return start
    return start + found.end + 2


_TOWN_AND_YEAR = regex.compile(r"[ ]\p{Ll}+[ ](?:19|20)\d\d(?!\d)")


class StreetAddressRecognizer(RuleRecognizer):
    """Street addresses (street word + house number, with an optional postal code and town)."""

    ENTITY: ClassVar[Label] = Label.ADDRESS
    RULES: ClassVar[tuple[Rule, ...]] = ()
    WINDOWS: ClassVar[Mapping[str, Windows]] = {"nordic_street": _street_lines}

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, rules=_rules())

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Reject a match whose first word is a lower-case street word alone (``vei 3`` in running text), and an
        Estonian house-flat number whose town is not known."""
        first = text[start:end].split(" ", 1)[0]
        if rule.name == "ee_flat" and match.group("town") is not None and match.group("town") not in cities():
            return None
        if rule.name == "cued_street" and _TOWN_AND_YEAR.search(text[start:end]):
            return None  # "bor i Jyderup siden 2016": a town and a year, no street
        if rule.name == "before_code":
            code = match.group("code")
            if len(code) == 4 and 1900 <= int(code) <= 2099 and match.group("town") not in cities():
                return None
        return rule.score if first[:1].isupper() or first[:1].isdigit() or rule.name == "uk_postcode_end" else None

    def active_rules(self, text: str) -> Sequence[tuple[Rule, Any]]:
        """Skip the rules whose anchor (a postcode, a flat number, a farm) the text does not contain."""
        return [(r, c) for r, c in self._compiled if (g := _GATES.get(r.name)) is None or g.search(text)]

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Every address, extended over the designators, codes and towns that follow it, and the British and Irish
        addresses written as parts with no house number (:mod:`deid.recognizers.address_segments`)."""
        out = []
        for r in super().analyze(text, entities, nlp_artifacts):
            r.start = _after_leading_date(text, r.start, r.end)
            end = extend_address(text, r.end)
            if end == r.end:
                out.append(r)
            else:
                country = (r.recognition_metadata or {}).get("country", "")
                out.append(make_result(self, r.entity_type, r.start, end, r.score, country))
        for start, end in segment_addresses(text, english=self.supported_language == "en"):
            out.append(make_result(self, self.entity_name, start, end, 0.8))
        return out
