"""Names that identify no one: a country, or a national agency, registry or service alone (``Försäkringskassan``,
``Statens vegvesen``, ``Traficomille``, ``Sotsiaalkindlustusametile``, ``Irish Prison Service``).

Whatever found such a span (a rule, the tagger, a relabelling step), it is dropped as the last step: it is public
and names no patient. A regional office written with its region is a longer span (``Vest politidistrikt``, ``NAV
Grorud``, ``Tusla Mid West``) and stays an organisation. The agencies are package data
(``deid/data/national_agencies.txt``), the countries :func:`deid.recognizers.location.country_names`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import regex

from deid.labels import Label
from deid.recognizers.location import country_names, is_country
from deid.spans import PhiSpan
from deid.wordlists import words

_PUBLIC_LABELS = frozenset({Label.ORGANIZATION, Label.LOCATION})
_CASE_TAIL = (
    r"(?:'s|s|:n|:ssa|:ssä|:sta|:stä|:lla|:llä|:lle|:lta|:ltä|:iin|n|en|et|a|ä|st|sse|l|le|lt|ga|ssa|ssä|sta|stä"
    r"|lla|llä|lle|lta|ltä|an|än|iin|is|ist|isse|il|ile|ilt|-s|-st|-sse|-le|-lt|-l|-i|-ga)?"
)
"""A case ending or a genitive the name may carry (``Kelalle``, ``Traficomille``, ``NAV:n``, ``Tervisekassasse``)."""


@cache
def _public_name() -> regex.Pattern[str]:
    names = sorted({*words("national_agencies"), *(c for c in country_names() if " " in c)}, key=len, reverse=True)
    return regex.compile(rf"(?:{'|'.join(regex.escape(n) for n in names)}){_CASE_TAIL}")


def is_public_name(phrase: str) -> bool:
    """Whether ``phrase`` is a country or a national agency, in any case form, and nothing more."""
    phrase = phrase.strip().rstrip(".,;:")
    return _public_name().fullmatch(phrase) is not None or (" " not in phrase and is_country(phrase))


def without_public_names(spans: Sequence[PhiSpan], text: str) -> list[PhiSpan]:
    """``spans`` less the organisations and places that are a country or a national agency alone."""
    return [s for s in spans if s.label not in _PUBLIC_LABELS or not is_public_name(text[s.start : s.end])]
