"""A name found once is found wherever the note repeats it.

A clinician names a person fully once (``mor til pt. Noah``, ``miniä Seija``) and then by the bare name (``Noah
har haft feber``, ``Seija soittaa``), where no cue is left for a rule or the tagger. Each word of a resolved
PERSON span that can stand alone as a name is looked up again in the rest of the note; every capitalised occurrence
not yet covered becomes a PERSON span of its own. A found name's initials (``DN`` for ``Deepika Nair``) count too
where a signature stands: at a line's start or end. Nothing is removed or relabelled here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import regex

from deid.labels import Label
from deid.lexicon import KINSHIP_CUES, NOT_NAMES, SIGNATURE_CUES, TITLE_CUES, stop_words
from deid.spans import PhiSpan
from deid.wordlists import facility_at, role_regex, word_set

MIN_LENGTH = 3
"""Shorter words (``Bo``, ``Li``, initials) are too often something else to be looked up on their own."""
REPEAT_SCORE = 0.7
_WORD = regex.compile(r"\p{Lu}[\p{Ll}'’-]*\p{Ll}")
_GENITIVE = r"(?:s|'s|’s|:s)?"


def repeated_names(spans: Sequence[PhiSpan], text: str) -> list[PhiSpan]:
    """``spans`` and a PERSON span for every further bare occurrence of a found person's name word, and for the
    found names' initials where a signature stands."""
    names: set[str] = set()
    initials: set[str] = set()
    for s in spans:
        if s.label is not Label.PERSON:
            continue
        words = [w.group() for w in _WORD.finditer(text, s.start, s.end) if _standalone(w.group())]
        names.update(words)
        if 2 <= len(words) <= 3:
            initials.add("".join(w[0] for w in words))
    if not names:
        return list(spans)
    taken = sorted((s.start, s.end) for s in spans)
    pattern = regex.compile(
        r"(?<![\p{L}\p{N}.@/-])(?:"
        + "|".join(regex.escape(n) for n in sorted(names, key=len, reverse=True))
        + ")"
        + _GENITIVE
        + r"(?![\p{L}\p{N}@-])"
    )
    found = [(m.start(), m.end()) for m in pattern.finditer(text)]
    initials -= word_set("clinical_acronyms") | word_set("facility_acronyms")  # a role's ("DN") may be initials
    initials = {i for i in initials if i in text}  # a plain substring test first: most notes repeat no initials
    if initials:
        signed = regex.compile(
            r"(?m)(?:^[ \t–—-]*|(?<=[–—/-][ \t]?))(?P<i>" + "|".join(sorted(initials)) + r")(?=[ \t]*\(|[ \t.]*$)"
        )
        found += [(m.start("i"), m.end("i")) for m in signed.finditer(text)]
    added = [
        PhiSpan(start, end, Label.PERSON, REPEAT_SCORE)
        for start, end in found
        if not any(start < e and s < end for s, e in taken)
    ]
    return sorted([*spans, *added], key=lambda s: (s.start, s.end))


@cache
def _standalone(word: str) -> bool:
    """A word that names the person by itself: no function word, title, role or facility noun (``Hammaslääkäri
    E. Sirviö``, ``Kevin Street Garda Station`` read as a person leave ``Hammaslääkäri`` and ``Station`` out)."""
    lower = word.lower()
    return (
        len(word) >= MIN_LENGTH
        and word not in stop_words()
        and word not in NOT_NAMES
        and lower not in KINSHIP_CUES
        and lower not in TITLE_CUES
        and lower not in SIGNATURE_CUES
        and facility_at(word) < 0
        and role_regex().search(word) is None
    )
