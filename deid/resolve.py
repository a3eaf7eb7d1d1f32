"""Conflict resolution: overlapping candidates become one span, labelled by validation, language and score.

Candidates that overlap are merged into one span covering all of them (a partial overlap must not leave PHI
behind). Every candidate has passed its recognizer's validation (checksum, date, word list). The label is the best
candidate's, ranked by whether its identifier format belongs to the note's language (a Danish note prefers the
CPR reading of a number the Swedish rule also accepts), then score (a checksum-valid identifier scores 1.0),
then length, then a fixed label order.

One exception keeps a place apart from the organisation it follows (``Solgården Plejecenter i Brædstrup``,
``Hoivakoti Kotimaa Kuopiossa``): the town is a LOCATION of its own, see :func:`_split_town`. And a place
written after a department and a comma names the hospital site (``Akutmodtagelsen, Bispebjerg``, ``Ward 4,
Rotunda``): an ORGANIZATION, see :data:`_DEPARTMENT_BEFORE`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import pairwise
from typing import Any

import regex

from deid.labels import COUNTRY_OF_LANGUAGE, Label
from deid.lexicon import PLACE_CUE_ALTERNATION, cities, hospital_short_name_set, villages
from deid.recognizers._base import COUNTRY_KEY
from deid.spans import PhiSpan
from deid.tagger import TAGGED_LABELS, TaggedSpan
from deid.tagger.checks import plausible
from deid.wordlists import facility_at, words

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


NATIONAL_ID_ENTITIES = frozenset(
    {"NO_FODSELSNUMMER", "SE_PERSONNUMMER", "DK_CPR", "FI_HENKILOTUNNUS", "EE_ISIKUKOOD", "IE_PPS", "GB_HEALTH_NUMBER"}
)
"""Presidio entity names of the country-specific identifier recognizers; all become ``NATIONAL_ID``."""


_TOWN_AFTER = re.compile(r"[ \t]+(?:i|in)[ \t]+$")
"""``<organisation> i <town>`` (da/nb/sv) and ``<organisation> in <town>`` (en)."""
_NAME_SCHOOL = re.compile(r"\w{3,}(?:skolan|skolen|skole|skola|skule|gymnasiet|gymnasium)$")
"""A school compound with a name before it (Västangårdsskolan); a bare ``Skolan i X`` is the school's name."""
_CASE_TOWN = re.compile(r"\w+(?:ssa|ssä|lla|llä|aan|ään|oon|uun|yyn|iin|s|l|st|sse|le)$")
"""A Finnish or Estonian town in a local case (inessive, adessive, illative): where, not which organisation."""

_FINNISH_LOCAL_CASE = re.compile(r"\w{3,}(?:ssa|ssä|lla|llä|sta|stä|lta|ltä)$")
"""An organisation's one word in a local case (``Pihlajalinnassa``): the town after it, in its own case, is where
(``Pihlajalinnassa Lahdessa``); a chain's name in the nominative with its town is one branch's name."""

_DEPARTMENT_BEFORE = re.compile(
    r"(?i:\b(?:ward|unit|clinic|department|dept\.?\s+of\s+\w+|service|services|centre|center)(?:\s+\w{1,3})?"
    r"|\w+(?:logi|ology|logia|afdeling|afdelingen|avdeling|avdelingen|avdelning|avdelningen|modtagelsen"
    r"|mottagningen|mottaket|ambulatoriet|ambulatorium|legevakt|legevakten|klinikken|kliniken|poliklinikk"
    r"|poliklinikken|enheten|enheden|fysiologi|medicin|kirurgi|ortopedi))[ \t]*,[ \t]*$"
)
"""A department or unit, then a comma: the place after it is the hospital's site (``Klinisk fysiologi, Ryhov``)."""


def _site_label(text: str, span: PhiSpan, before: PhiSpan | None) -> PhiSpan:
    """``span`` as an ORGANIZATION when it is a place written right after a department and a comma (not after
    a named organisation, whose town it is: ``Capio Artro Clinic, Stockholm``)."""
    if span.label is not Label.LOCATION or not text:
        return span
    line_start = text.rfind("\n", 0, span.start) + 1
    dept = _DEPARTMENT_BEFORE.search(text, max(line_start, span.start - 60), span.start)
    if dept is None or (before is not None and before.end > dept.start()):
        return span
    return PhiSpan(span.start, span.end, Label.ORGANIZATION, span.score, span.country)


def _split_town(text: str, lang: str, org: PhiSpan, town: PhiSpan) -> bool:
    """Whether the LOCATION ``town`` at the end of the organisation ``org`` is a place of its own.

    Scandinavian and English: after ``i``/``in`` when the organisation before it (from its last comma) has two
    words or is a named school (``Lasarettet i Ystad``, ``Sykehuset i Vestfold`` stay one name). Finnish and
    Estonian: a town in a local case right after an organisation named with two words or more, or with one word
    itself in a local case (a chain's one word and its town, ``Mehiläinen Jyväskylässä``, is one branch's name).
    """
    head = text[org.start : town.start]
    if "\n" in head:
        return False
    if lang in ("fi", "et"):
        stem = head.rsplit(",", 1)[-1].split()
        return (
            (len(stem) >= 2 or (len(stem) == 1 and bool(_FINNISH_LOCAL_CASE.search(stem[0]))))
            and " " not in text[town.start : town.end]
            and bool(_CASE_TOWN.search(text[town.start : town.end]))
        )
    cue = _TOWN_AFTER.search(head)
    if cue is None:
        return False
    words = head[: cue.start()].rsplit(",", 1)[-1].split()
    return len(words) >= 2 or (len(words) == 1 and bool(_NAME_SCHOOL.match(words[0])))


def label_of(entity_type: str) -> Label:
    """Our label for a Presidio entity name."""
    return Label.NATIONAL_ID if entity_type in NATIONAL_ID_ENTITIES else Label(entity_type)


def _candidate(result: Any) -> PhiSpan:
    meta = result.recognition_metadata or {}
    return PhiSpan(
        result.start, result.end, label_of(result.entity_type), float(result.score), meta.get(COUNTRY_KEY, "")
    )


def resolve(results: Iterable[Any], language: str, min_score: float = MIN_SCORE, text: str = "") -> list[PhiSpan]:
    """Non-overlapping PHI spans, in text order, from Presidio ``RecognizerResult`` candidates (``text``, the
    analysed text, lets a town after an organisation stay a place of its own)."""
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
            for span in _cluster_spans(text, language, cluster, cluster_end, best):
                out.append(_site_label(text, span, out[-1] if out else None))
        if cand is not None:
            cluster, cluster_end = [cand], cand.end
    return out


def _cluster_spans(text: str, lang: str, cluster: list[PhiSpan], end: int, best: PhiSpan) -> list[PhiSpan]:
    """The span(s) one cluster of overlapping candidates becomes: one, or an organisation and its town."""
    start = cluster[0].start
    if best.label is Label.ORGANIZATION:
        best = _number_of_its_issuer(text, cluster, best)
    if text and best.label is Label.ORGANIZATION:
        towns = [c for c in cluster if c.label is Label.LOCATION and c.end == end and c.start > start]
        if towns:
            town = min(towns, key=lambda c: c.start)
            org = PhiSpan(start, end, best.label, best.score, best.country)
            if _split_town(text, lang, org, town):
                cut = town.start
                cue = _TOWN_AFTER.search(text[start:cut])
                org_end = start + cue.start() if cue else len(text[:cut].rstrip())
                if org_end > start:
                    return [PhiSpan(start, org_end, best.label, best.score, best.country), town]
    return [PhiSpan(start, end, best.label, best.score, best.country)]


def _number_of_its_issuer(text: str, cluster: list[PhiSpan], best: PhiSpan) -> PhiSpan:
    """An identifier whose prefix is an organisation's acronym (``UHL-0998271``, ``UHG 3321907``, ``BVC-448213``):
    the organisation found in it ends inside the number, so the span is the number's (an ID), not the issuer's."""
    numbers = [c for c in cluster if c.label is Label.ID and sum(ch.isdigit() for ch in text[c.start : c.end]) >= 5]
    organizations = [c for c in cluster if c.label is Label.ORGANIZATION]
    for number in numbers:
        if all(number.start < org.end <= number.end for org in organizations):
            return PhiSpan(best.start, best.end, Label.ID, best.score, number.country)
    return best


ORGANIZATION_CONFIDENCE = 0.9
"""How sure the tagger must be that a name is an organisation before a rule's PERSON or LOCATION becomes one:
chosen on parts L and M, each with a tagger trained without it (ORGANIZATION recall 0.77 -> 0.84 and 0.84 -> 0.89,
no span lost, PERSON precision up; at 0.8 an unlisted person's name, ``Nkechi Adebayo``, became a company)."""


def adopt_organizations(spans: list[PhiSpan], tagged: Sequence[TaggedSpan], text: str) -> list[PhiSpan]:
    """The rules' spans with a name list's PERSON or a gazetteer's LOCATION read as the ORGANIZATION the tagger
    finds around it (``Linde Healthcare``, ``Anstalten Kumla``, ``NTNU Gjøvik``).

    A PERSON becomes an ORGANIZATION when a tagged organisation (at least :data:`ORGANIZATION_CONFIDENCE`)
    covers it and either reaches beyond it or holds a facility noun or a company's word (the tagger alone does not
    turn an unlisted person's name into a company), widened to the tagged span when no other span lies there. A
    town becomes one only when the tagged span is longer and written as one name, with no lower-case word joining
    them: ``Tartu Kiirabi`` is one name, ``Kronobergsgymnasiet i Växjö`` keeps its town (the convention
    ``_split_town`` follows too).
    Nothing is found or lost here: only labels and, within a tagged name, boundaries change.
    """
    organizations = [t for t in tagged if t.label is Label.ORGANIZATION and t.probability >= ORGANIZATION_CONFIDENCE]
    if not organizations:
        return spans
    out: list[PhiSpan] = []
    for span in spans:
        out.append(_as_organization(span, spans, organizations, text) if span.label in _ADOPTABLE else span)
    return sorted(out)


_ADOPTABLE = frozenset({Label.PERSON, Label.LOCATION})

PLACE_CONFIDENCE = 0.6
"""How sure the tagger must be that a word is a place before a rule's weak PERSON reading of it yields: chosen on
parts L, M and N, each with a tagger trained without it (LOCATION recall on M 0.947 -> 0.973, nothing lost at 0.6,
0.7 or 0.8; 0.6 also took ``Kilcolgan``)."""
WEAK_PERSON = 0.75
"""A PERSON the rules score below this was read from a name list or capitalisation alone (a lone given name 0.6,
two capitalised words with one known name 0.65-0.7); a cue, or a given name before a family name, scores more."""


def adopt_places(spans: list[PhiSpan], tagged: Sequence[TaggedSpan]) -> list[PhiSpan]:
    """A rule's weak PERSON (read from a name list or capitalisation alone, see :data:`WEAK_PERSON`) that the
    tagger reads, word for word, as a place with confidence becomes a LOCATION (``Recovery Hub in Leigh``,
    ``Nursing Home, Kilcolgan``). Nothing is found or lost here, only labels change."""
    places = [t for t in tagged if t.label is Label.LOCATION and t.probability >= PLACE_CONFIDENCE]
    if not places:
        return spans
    out: list[PhiSpan] = []
    for span in spans:
        if (
            span.label is Label.PERSON
            and span.score < WEAK_PERSON
            and any(t.start == span.start and t.end == span.end for t in places)
        ):
            span = PhiSpan(span.start, span.end, Label.LOCATION, span.score, span.country)
        out.append(span)
    return out


def _as_organization(span: PhiSpan, spans: list[PhiSpan], organizations: list[TaggedSpan], text: str) -> PhiSpan:
    for org in organizations:
        if not (org.start <= span.start and span.end <= org.end):
            continue
        alone = not any(o is not span and o.start < org.end and org.start < o.end for o in spans)
        longer = org.end - org.start > span.end - span.start
        if span.label is Label.LOCATION and not (
            alone
            and longer
            and _one_name(text[org.start : org.end])
            and not _place_cue_ends(text[org.start : span.start])
        ):
            return span  # "Kotipaikka Sotkamo": a field for where one lives, then the place
        if span.label is Label.PERSON and not (longer or _names_a_business(text[span.start : span.end])):
            return span
        start, end = (org.start, org.end) if alone else (span.start, span.end)
        return PhiSpan(start, end, Label.ORGANIZATION, span.score, span.country)
    return span


@cache
def _place_cue_at_end() -> regex.Pattern[str]:
    return regex.compile(rf"(?<![\w])(?i:{PLACE_CUE_ALTERNATION})[ ]$")


def _place_cue_ends(before: str) -> bool:
    """``before`` ends in a word that says a place follows (:data:`deid.lexicon.PLACE_CUES`)."""
    return bool(before) and _place_cue_at_end().search(before) is not None


def _names_a_business(phrase: str) -> bool:
    """A word of ``phrase`` is a facility noun or a company's name (``Psykologhuset``, ``Healthcare``): an
    unlisted person's name the tagger calls a company alone (``Mirela Kovačević``) stays a person."""
    return any(facility_at(word) >= 0 or word in _company_words() for word in phrase.split())


@cache
def _company_words() -> frozenset[str]:
    return frozenset(word for line in words("companies") for word in line.split() if word[:1].isupper())


def _one_name(phrase: str) -> bool:
    """Written as one name: no word in it starts in lower case (``i``, ``på``, ``keskustassa`` join two)."""
    return not any(word[:1].islower() for word in phrase.split())


def fill_gaps(spans: list[PhiSpan], tagged: Iterable[TaggedSpan], text: str) -> list[PhiSpan]:
    """The rules' resolved ``spans`` plus every span the learned tagger found where no rule found anything.

    Where both found something the rules' span stands as it is (their labels and boundaries are checked by
    validators and conventions); a tagged span is taken only for :data:`deid.tagger.TAGGED_LABELS` and only when
    :func:`deid.tagger.checks.plausible` holds.
    """
    ends = [s.end for s in spans]
    ordered = all(a.end <= b.start for a, b in pairwise(spans))

    def free(t: TaggedSpan) -> bool:
        if not ordered:
            return not any(s.start < t.end and t.start < s.end for s in spans)
        i = bisect_right(ends, t.start)  # the first span ending after t starts: the only one that may overlap it
        return i == len(spans) or spans[i].start >= t.end

    added = [
        PhiSpan(t.start, t.end, _town_or(t, text), round(t.probability, 3))
        for t in tagged
        if t.label in TAGGED_LABELS and free(t) and plausible(text, t)
    ]
    return sorted([*spans, *added]) if added else spans


def _town_or(t: TaggedSpan, text: str) -> Label:
    """A tagged organisation of one word that a gazetteer holds as a town or village is the place
    (``ved Ballstad``, ``at Ågotnes``): across the hand-written notes such a word was a place 298 times, an
    organisation 6 (hospitals known by their town, ``Hvidovre``) and a person once. A hospital known by its
    name stays an organisation."""
    if t.label is not Label.ORGANIZATION:
        return t.label
    word = text[t.start : t.end].rstrip(".")
    if " " in word or word in hospital_short_name_set() or not (word in cities() or word in villages()):
        return t.label
    return Label.LOCATION
