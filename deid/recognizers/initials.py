"""A signer's initials: ``/TKJ``, ``/ SK, lähihoitaja``, ``sh M.K.``, ``... or SOB. JKS`` at the end of a note.

Clinicians sign an entry with two to four capitals (or dotted initials) at the end of a line: alone, after a
slash, after their role's abbreviation (``sh``, ``spl.``, ``klass.``), or after the last sentence of the note,
sometimes followed by their role or workplace (``, ortopædkirurg``, `` SpR``, `` (PN)``). No name list can hold
them, so the place is the evidence: the initials must end their line (but for such a role), and an abbreviation
of an examination, a diagnosis or a service (``EKG``, ``KOL``, ``NAV``: ``deid/data/clinical_acronyms.txt``) or an
analyte is read as one only after a slash or a role (``/NB``, ``Ssk TB``), and a role in capitals (``OT``,
``SSA``: ``deid/data/role_acronyms.txt``) never.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import regex

from deid.dates import is_analyte
from deid.labels import Label
from deid.lexicon import SIGNATURE_CUES
from deid.recognizers._base import Rule, RuleRecognizer
from deid.wordlists import role_regex, word_set

_INITIALS = r"\p{Lu}{1,2}(?:Mc|Mac)\p{Lu}|\p{Lu}{2,3}|\p{Lu}\.[ ]?\p{Lu}\.(?:[ ]?\p{Lu}\.)?|\p{Lu}-\p{Lu}\.[ ]\p{Lu}\."
_TAIL = regex.compile(
    r"[ \t]*(?:[,/][ \t]*\p{L}[\p{L}()&'’ ./\-]{0,38}"
    r"|[ \t]+(?:\p{Ll}[\p{L}'’ .\-]{0,38}|\([\p{L} ]{1,20}\)|\p{Lu}\p{L}*\d?))?"
    r"[ \t]*$"
)
"""What may follow initials on their line: nothing; a role or workplace after a comma or a slash (``, lähihoitaja``,
``/lægesekr.``, ``/Legesenteret Brumunddal``); a lower-case role
(`` travel nurse``); a role in brackets (`` (PN)``); one role word (`` SpR``). Never a capitalised name
(``OT Laura Hakala``: there the capitals are the role)."""
_SLASH_BEFORE = regex.compile(r"(?:^|[ \t])/[ \t]*(?:\p{L}+\.?,?[ \t]+)?$")
"""A slash right before, maybe with one word between (``/TKJ``, ``/ SK``, ``/spl. JV``, ``/Lab, AMH``)."""
_SENTENCE_BEFORE = regex.compile(r"[.!?)][ \t]+$")
_ROLE_BEFORE = regex.compile(r"(?<![\w])(?P<role>\p{L}[\p{L}\-]*)\.?[ \t]+$")
SCORE = 0.75


class SignatureInitialsRecognizer(RuleRecognizer):
    """A signer's initials at the end of a line (see the module)."""

    ENTITY: ClassVar[Label] = Label.PERSON
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("initials", rf"(?<![\w.\-])(?P<phi>{_INITIALS})(?![\w\-])", SCORE),
        Rule("lower_initials", r"(?m)^/[ \t]*(?P<phi>\p{Ll}{2,3})[ \t]*$", SCORE),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Initials that end their line after a slash, a role, the line's start or the note's last sentence."""
        if rule.name == "lower_initials":
            return rule.score
        value = text[start:end]
        bare = value.replace(".", "").replace(" ", "").replace("-", "")
        if "." not in value and bare in word_set("role_acronyms"):
            return None  # "OT Laura Hakala", "/Mette, SSA": a role in capitals, not the signer
        acronym = "." not in value and (bare in word_set("clinical_acronyms") or is_analyte(bare))
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        tail = text[end:line_end]
        stripped = tail.strip()
        if _TAIL.fullmatch(tail) is None or (stripped[:1] not in (",", "/") and stripped.endswith((".", ","))):
            return None
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start]
        if _SLASH_BEFORE.search(before):
            return rule.score  # "/NB", "/ SK": a slash opens a signature, whatever the letters
        role = _ROLE_BEFORE.search(before)
        if role is not None and _a_role(role["role"]):
            return rule.score  # "Ssk TB", "sh P.K."
        if acronym:
            return None  # "KOL", "CRP" alone or closing a sentence; dotted initials ("P.K.") are no test's
        if not before.strip(" \t"):
            return rule.score
        if _SENTENCE_BEFORE.search(before) and not text[line_end:].strip():
            return rule.score  # "... worse or SOB. JKS" closing the note
        return None


@cache
def _a_role(word: str) -> bool:
    """A signature cue or an agent noun (``sh``, ``klass``, ``tandsköt``, ``Sjuksköterska``)."""
    lower = word.lower()
    return lower in SIGNATURE_CUES or lower in _SHORT_ROLES or role_regex().search(word) is not None


_SHORT_ROLES = frozenset(
    {
        *("sh", "ssk", "dsk", "usk", "lh", "ph", "th", "tk", "ll", "el", "spl", "klass", "kl", "tandsköt", "tandl"),
        *("sjuksk", "sygepl", "spes", "lege", "läk", "lääk", "arst", "õde", "dr", "rn", "hca", "sn", "spr"),
    }
)
"""Roles written short before a signer's initials (``sh M.K.``, ``/spl. JV``, ``/ klass. TK``)."""
