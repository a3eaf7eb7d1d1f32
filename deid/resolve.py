"""Conflict resolution: overlapping candidates become one span, labelled by validation, language and score.

Candidates that overlap are merged into one span covering all of them (a partial overlap must not leave PHI
behind). Every candidate has passed its recognizer's validation (checksum, date, word list). The label is the best
candidate's, ranked by whether its identifier format belongs to the note's language (a Danish note prefers the
CPR reading of a number the Swedish rule also accepts), then score (a checksum-valid identifier scores 1.0),
then length, then a fixed label order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deid.labels import COUNTRY_OF_LANGUAGE, Label
from deid.recognizers._base import COUNTRY_KEY
from deid.spans import PhiSpan

MIN_SCORE = 0.4
"""Candidates below this are dropped (a lone family name scores 0.6, a validated number 1.0)."""

LABEL_ORDER: tuple[Label, ...] = (
    Label.NATIONAL_ID,
    Label.EMAIL,
    Label.URL,
    Label.IP,
    Label.PHONE,
    Label.ID,
    Label.DATE,
    Label.AGE,
    Label.ADDRESS,
    Label.ORGANIZATION,
    Label.PERSON,
    Label.LOCATION,
)
_RANK = {label: len(LABEL_ORDER) - i for i, label in enumerate(LABEL_ORDER)}


NATIONAL_ID_ENTITIES = frozenset({"NO_FODSELSNUMMER", "SE_PERSONNUMMER", "DK_CPR", "FI_HENKILOTUNNUS", "EE_ISIKUKOOD"})
"""Presidio entity names of the country-specific identifier recognizers; all become ``NATIONAL_ID``."""


def label_of(entity_type: str) -> Label:
    """Our label for a Presidio entity name."""
    return Label.NATIONAL_ID if entity_type in NATIONAL_ID_ENTITIES else Label(entity_type)


def _candidate(result: Any) -> PhiSpan:
    meta = result.recognition_metadata or {}
    return PhiSpan(
        result.start, result.end, label_of(result.entity_type), float(result.score), meta.get(COUNTRY_KEY, "")
    )


def resolve(results: Iterable[Any], language: str, min_score: float = MIN_SCORE) -> list[PhiSpan]:
    """Non-overlapping PHI spans, in text order, from Presidio ``RecognizerResult`` candidates."""
    home = COUNTRY_OF_LANGUAGE.get(language, "")
    candidates = sorted(
        (c for c in map(_candidate, results) if c.score >= min_score and c.end > c.start),
        key=lambda c: (c.start, -c.end),
    )

    def rank(c: PhiSpan) -> tuple[int, float, int, int]:
        return (int(bool(home) and c.country == home), round(c.score, 3), c.end - c.start, _RANK[c.label])

    out: list[PhiSpan] = []
    cluster: list[PhiSpan] = []
    cluster_end = -1
    for cand in [*candidates, None]:
        if cand is not None and cand.start < cluster_end:
            cluster.append(cand)
            cluster_end = max(cluster_end, cand.end)
            continue
        if cluster:
            best = max(cluster, key=rank)
            out.append(PhiSpan(cluster[0].start, cluster_end, best.label, best.score, best.country))
        if cand is not None:
            cluster, cluster_end = [cand], cand.end
    return out
