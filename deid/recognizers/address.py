"""Street addresses: a street name with a Nordic-Baltic street word (``Storgata``, ``Skolvägen``, ``Asters Allé``,
``Niitynperäntie``, ``Tartu mnt``) and a house number, optionally followed by a postal code and town; and the
English ``6907 Griffith Street`` order.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, words_alternation

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
    "tänav",
    "tn",
    "mnt",
    "maantee",
    "puiestee",
    "pst",
    "põik",
    "väljak",
    "tee",
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
_STANDALONE = ("tn", "mnt", "pst", "gt.")
"""Abbreviated street words that are words of their own (``Tamme tn``), never a name's ending (``Kolbotn``)."""
_DESIGNATORS = (
    r"(?:,?[ ](?:(?i:lgh|lägenhet|leil|leilighet|bolignr|oppgang|trappa|tr|vån|våning|etg|etasje|as|asunto|rappu"
    r"|korter|krt|apt|flat|suite|unit)\.?[ ]?[A-Z]?\d{1,4}[A-Z]?|(?:st|kl|\d{1,2})\.[ ]?(?:th|tv|mf|sal)\.?"
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


def _rules() -> tuple[Rule, ...]:
    suffix = words_alternation([x for x in street_suffixes() if x not in _STANDALONE])
    standalone = words_alternation(_STANDALONE)
    cap = rf"[{_UP}][\w\-']*"
    postal = rf"(?:,?[ ](?:(?:N|S|DK|FI|EE)-)?(?:\d{{3}}[ ]\d{{2}}|\d{{4,5}})[ ]{cap}(?:[ ]{cap})?)?"
    number = rf"[ ]\d{{1,4}}(?:[ ]?[A-Za-z](?:[ ]\d{{1,3}})?(?![\w]))?(?:[ ]?-[ ]?\d{{1,4}})?{_DESIGNATORS}"
    street = rf"(?:{cap}[ ]){{0,2}}(?:[{_UP}][\w\-]*(?i:{suffix})|(?i:{suffix})|(?<=[ ])(?:{standalone}))(?![\w])\.?"
    en_suffix = words_alternation(english_suffixes())
    apartment = r"(?:,?[ ](?:Apt\.|Suite)[ ]\d{1,4})?"
    en = rf"\d{{1,5}}[A-Za-z]?[ ](?:{cap}[ ]){{1,3}}(?:{en_suffix})(?![\w])\.?{apartment}"
    # "Flat 6, Orchard House, 22 Bow Road": a flat and a building name before the number
    en_prefix = rf"(?:(?:Flat|Apartment|Apt\.?|Unit)[ ]\d{{1,4}}[A-Za-z]?,?[ ](?:(?:{cap}[ ]){{0,2}}{cap},[ ])?)?"
    # a British postcode after the town (or alone): "Fareham PO16 7AB", "London E3 4DH"
    uk_postcode = rf"(?:,?[ ](?:{cap}(?:[ ]{cap})?[ ])?[A-Z]{{1,2}}\d[A-Z\d]?[ ]\d[A-Z]{{2}})"
    cued = rf"(?<![\w]){_ADDRESS_CUES}[ ]*:?[ ]*(?P<phi>{cap}(?:[ ][\w\-']+){{0,2}}{number}{postal})(?![\w])"
    return (
        Rule("nordic_street", rf"(?<![\w])(?P<phi>{street}{number}{postal})(?![\w]|[.,/]\d)", 0.9),
        Rule("cued_street", cued + r"(?![.,/]\d)", 0.9),
        Rule("english_street", rf"(?<![\w])(?P<phi>{en_prefix}{en}(?:{uk_postcode}|{postal}))(?![\w])", 0.85),
    )


class StreetAddressRecognizer(RuleRecognizer):
    """Street addresses (street word + house number, with an optional postal code and town)."""

    ENTITY: ClassVar[Label] = Label.ADDRESS
    RULES: ClassVar[tuple[Rule, ...]] = ()

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, rules=_rules())

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Reject a match whose first word is a lower-case street word alone (``vei 3`` in running text)."""
        first = text[start:end].split(" ", 1)[0]
        return rule.score if first[:1].isupper() or first[:1].isdigit() else None
