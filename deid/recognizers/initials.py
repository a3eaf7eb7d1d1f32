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
from deid.lexicon import SIGNATURE_CUES, stop_words
from deid.recognizers._base import Rule, RuleRecognizer
from deid.wordlists import role_regex, role_words, word_set

_INITIALS = (
    r"\p{Lu}{1,2}(?:Mc|Mac)\p{Lu}|\p{Lu}O['’]\p{Lu}|\p{Lu}{2,3}|\p{Lu}\.[ ]?\p{Lu}\.(?:[ ]?\p{Lu}\.)?"
    r"|\p{Lu}-\p{Lu}\.[ ]\p{Lu}\."
)
_TAIL = regex.compile(
    r"[ \t]*(?:[,/][ \t]*\p{L}[\p{L}()&'’ ./\-]{0,38}"
    r"|[ \t]+(?:\p{Ll}[\p{L}'’ .\-]{0,38}|\([\p{L} ]{1,20}\)|\p{Lu}\p{L}*\d?))?"
    r"[ \t]*$"
)
"""What may follow initials on their line: nothing; a role or workplace after a comma or a slash (``, lähihoitaja``,
``/lægesekr.``, ``/Legesenteret Brumunddal``); a lower-case role
(`` travel nurse``); a role in brackets (`` (PN)``); one role word (`` SpR``). Never a capitalised name
(``OT Laura Hakala``: there the capitals are the role)."""
_SLASH_BEFORE = regex.compile(r"(?:^|[ \t])//?[ \t]*(?:\p{L}+\.?,?[ \t]+)?$")
"""A slash (or two) right before, maybe with one word between (``/TKJ``, ``//TH``, ``/ SK``, ``/spl. JV``,
``/Lab, AMH``)."""
_BY = frozenset({"by", "av", "af"})


def _acronym_alone(bare: str) -> bool:
    """An examination's, a diagnosis's or a service's abbreviation, or an analyte (``EKG``, ``KOL``, ``CRP``)."""
    return bare in word_set("clinical_acronyms") or is_analyte(bare)


_SENTENCE_BEFORE = regex.compile(r"[.!?)][ \t]+$")
_ROLE_BEFORE = regex.compile(r"(?<![\w])(?P<role>\p{L}[\p{L}\-]*)\.?[ \t]+$")
SCORE = 0.75


class SignatureInitialsRecognizer(RuleRecognizer):
    """A signer's initials at the end of a line (see the module)."""

    ENTITY: ClassVar[Label] = Label.PERSON
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("initials", rf"(?<![\w.'’])(?<![^\n]-)(?P<phi>{_INITIALS})(?![\w\-'’])", SCORE),
        Rule(
            "lower_initials",
            r"(?m)/[ \t]*(?:\p{L}+\.[ \t]*)?(?P<phi>\p{Ll}{2,3})"
            r"(?:,[ \t]*\p{Ll}(?:[\p{Ll}\-]{3,30}|\p{Ll}{1,6}\.))?[ \t]*$",  # "/mkj, spl.": a role written short
            SCORE,
        ),
        Rule("lower_last_line", r"\n(?P<phi>\p{Ll}{2,3})[ \t]*\n?\Z", SCORE),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Initials that end their line after a slash, a role, the line's start or the note's last sentence."""
        if rule.name in ("lower_initials", "lower_last_line"):
            return self._lower_case(text, start, end)
        value = text[start:end]
        bare = value.replace(".", "").replace(" ", "").replace("-", "")
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        tail = text[end:line_end]
        stripped = tail.strip()
        alone_at_end = (
            not stripped and not text[line_end:].strip() and text[text.rfind("\n", 0, start) + 1 : start] == ""
        )
        role_before = _ROLE_BEFORE.search(text[text.rfind("\n", 0, start) + 1 : start])
        slash_then_role = (
            _SLASH_BEFORE.search(text[text.rfind("\n", 0, start) + 1 : start]) is not None
            and stripped[:1].islower()
            and _a_role(stripped.split(" ")[0].rstrip(".,"))
        )  # "/ST sygeplejerske": a slash opens a signature, a lower-case role closes it
        if (
            "." not in value
            and bare in word_set("role_acronyms")
            and stripped not in word_set("role_acronyms")
            and not alone_at_end
            and not slash_then_role
            and not (
                role_before is not None
                and not stripped
                and role_before["role"].islower()
                and _a_role(role_before["role"])
            )  # "õde LT": a lower-case role, then its bearer's initials (not "Specialist SLT")
        ):
            return None  # "OT Laura Hakala", "/Mette, SSA": a role in capitals, not the signer (but "LT DN", or
            # the letters alone on the note's last line)
        acronym = "." not in value and _acronym_alone(bare)
        if _TAIL.fullmatch(tail) is None or (stripped[:1] not in (",", "/") and stripped.endswith((".", ","))):
            return None
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start]
        if _SLASH_BEFORE.search(before) or before.strip(" \t") in ("-", "–"):
            return rule.score  # "/NB", "/ SK", "-PL, lähihoitaja": a slash or a dash opens a signature
        role = _ROLE_BEFORE.search(before)
        if role is not None and role["role"].lower() in _BY and not _acronym_alone(bare):
            return rule.score  # "Seen by LB RMN", "sett av TK"
        if role is not None and _a_role(role["role"]):
            return rule.score  # "Ssk TB", "sh P.K."
        last_line = not text[line_end:].strip()
        if (
            last_line
            and (len(bare) == 2 or bare not in word_set("clinical_acronyms"))
            and (not before.strip(" \t") or _SENTENCE_BEFORE.search(before))
        ):
            return rule.score  # "LH", "LT DN", "... 7.11.2024. TR", "HA": the note's last line (but "EKG" alone)
        if acronym:
            return None  # "KOL", "CRP" alone or closing a sentence; dotted initials ("P.K.") are no test's
        if not before.strip(" \t"):
            return rule.score
        return None

    @staticmethod
    def _lower_case(text: str, start: int, end: int) -> float | None:
        """Lower-case initials after a slash (``/lh``, ``Fredrik Ahlström/ml``, ``overlege / skr. lhk``) or alone
        on a note's last line (``mh``), that are no unit (``mg/ml``) and no closing word (``mvh``, ``ok``)."""
        value = text[start:end]
        slash = text.rfind("/", max(0, start - 12), start)
        if slash > 0 and not (text[slash - 1].isalnum() or text[slash - 1] in " \t\n."):
            return None  # "(1/2)/ml": what precedes the slash is no name, role or line start
        if slash > 0 and text[slash - 1].isalnum():
            word_before = regex.search(r"[\w.]+$", text[:slash])
            before = word_before.group(0) if word_before else ""
            if not before[:1].isupper() or (before.isupper() and value in _NOT_LOWER_INITIALS):
                return None  # "mg/ml", "5/dl", "IE/ml": a unit, not a signer after a name
            return SCORE  # "Fredrik Ahlström/ml", "AHL/mrk": the typist after the signer's name or initials
        if value in _NOT_LOWER_INITIALS or value in stop_words():
            return None
        return SCORE


_NOT_LOWER_INITIALS = frozenset(
    {
        *("ml", "dl", "cl", "mg", "kg", "ug", "mcg", "mmol", "kpa", "min", "mnd", "mdr", "dag", "dgn", "dygn", "vrk"),
        *("uke", "vko", "wk", "wks", "yr", "yrs", "år", "sek", "hr", "hrs", "mvh", "vh", "ok", "ua", "obs", "nb", "ps"),
        *("pkl", "ja", "og", "och", "and", "ei", "ej", "ikke", "not", "nil", "neg", "pos", "prn", "bid", "tid", "qds"),
        *(
            "tds",
            "od",
            "bd",
            "om",
            "on",
            "nocte",
            "mane",
            "po",
            "iv",
            "im",
            "sc",
            "sl",
            "pr",
            "inh",
            "tbl",
            "tab",
            "stk",
        ),
    }
)
"""Lower-case words that end a line after a slash or close a note but are no one's initials."""


@cache
def _a_role(word: str) -> bool:
    """A signature cue or an agent noun (``sh``, ``klass``, ``tandsköt``, ``Sjuksköterska``)."""
    lower = word.lower()
    return (
        lower in SIGNATURE_CUES
        or lower in _SHORT_ROLES
        or lower in role_words()
        or role_regex().search(word) is not None
    )


_SHORT_ROLES = frozenset(
    {
        *("sh", "ssk", "dsk", "usk", "lh", "ph", "th", "tk", "ll", "el", "spl", "klass", "kl", "tandsköt", "tandl"),
        *("sjuksk", "sygepl", "spes", "lege", "läk", "lääk", "arst", "õde", "dr", "rn", "hca", "sn", "spr"),
    }
)
"""Roles written short before a signer's initials (``sh M.K.``, ``/spl. JV``, ``/ klass. TK``)."""
