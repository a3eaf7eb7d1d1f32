"""Telephone numbers of Norway, Sweden, Denmark, Finland and Estonia (national numbering plans: Nkom, PTS,
Energistyrelsen, Traficom, TTJA), in international form (``+47``, ``0047``, ``(+358)``) or national groupings.

National 8-digit Norwegian/Danish numbers written without spaces look like any other number: next to a phone cue
word (``tlf``, ``tel``, ``puh``, ``mob``, ``gsm``, ...) they score high; alone, in a Norwegian, Danish or Estonian
note, they score below a reference number's cue (so ``Rekv. 44018735`` stays an ID) and never when they read as a
``YYYYMMDD`` date. Numbers written without separators or in British/Irish groupings (``0703318264``,
``07903441285``, ``01206 577 213``, ``027 51884``) count when python-phonenumbers accepts them for one of the
countries whose notes carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import phonenumbers
import regex

from deid.labels import Label
from deid.lexicon import first_names, last_names, stop_words
from deid.recognizers._base import Gate, Rule, RuleRecognizer, any_literal, is_valid_date
from deid.wordlists import phrase_trie

_CC = r"(?:47|46|45|358|372)"
_END = r"(?![\d])"
_START = r"(?<![\w+\-/.,])"
_GROUP_BEFORE = regex.compile(r"(?:^|[ (])\d{2,4}[ ]$")

CUES = (
    "(?i:"
    + phrase_trie(
        "tlf|tel|telefon|telefonnr|telefonnummer|phone|ph|puh|puhelin|puhelinnumero|mob|mobil|mobile|mobiltelefon"
        "|gsm|mobiil|matkapuhelin|kontakt|tavoitettavissa|soita|soittakaa|helista|helistada|call back on|callback|call"
        "|ring back on|ring tilbake på|ring tillbaka på|ring tilbage på|ringes på|ringt på|ring på|ringde på|ringede på"
        "|ringet på|nås på|treffes på|træffes på|nåes på|ring|reached on|reached at|call on|phoned on|on mobile"
        "|telefonil|telefonile|telefonilt|telefoni|helistaja|yhteys|puhelimitse|direkte|direct line|direct dial"
    )
    + ")"
)
"""Phone cue words and phrases (``ringt på``, ``nås på``, ``reached on``, ``tavoitettavissa``, Estonian
``telefonil``, a caller's number, Finnish ``yhteys``, a direct line ``direkte nr.``)."""


_EE_CUES = (
    r"(?i:nr|nr-lt|nr-le|nr-l|number|numbrile|numbril|numbrilt|tel|telefon|telefonil|telefonile|telefonilt"
    r"|telefoninr|telefoninumber|telefoninumbril|telefoninumbrile|mob|mobiil|mobiilil|mobiilile|mobiililt|mobiilinr"
    r"|mobiilinumber|mobiilinumbril|mobiilinumbrile|gsm|helistada|helista|helistage|helistas|helistab|kontakt"
    r"|kontakttelefon)"
)
"""Estonian phone cues right before a number (``helistada numbrile``, ``nr-lt``, ``telefonil``, ``mobiil``)."""
_IE_CUES = (
    r"(?i:call[\- ]?back|tel|telephone|phone|ph|landline|contact|home|work|mobile|mob|ring|call|reached on"
    r"|reached at)"
)
"""English phone words before an Irish number, maybe followed by ``no.``/``number`` (``Callback no.``)."""
_REFERENCE_NOUN = regex.compile(
    r"(?<![\w])(?i:labor|labori|analüüs|analüüsi|proov|proovi|haigusloo|juhtumi|saatekirja|kaardi|arve|tellimuse"
    r"|uuringu|partii|seeria|registri|dokumendi|otsuse|toimiku|patsiendi|isiku|lepingu|palati|voodi|toa|kabineti"
    r"|ruumi|retsepti|poliisi|konto|vastus|tulemus|ref|reference|case|record|file|chart|claim|policy|account|acct"
    r"|invoice|order|sample|specimen|lab|batch|lot|serial|pps|ppsn|nhs|mrn|hospital|hosp|episode|patient"
    r"|requisition|referral|booking|ticket|registration|reg|licence|license|passport|membership|staff"
    r"|employee|room|bed|item|page|result)\.?:?[ ]*$"
)
"""Lab, sample, batch and reference nouns (Estonian and English): a number right after one, or after its ``nr``,
``no.`` or ``number`` (``proovi nr 53990127``, ``Ref no. 0599131482``, ``Lab number 53990127``, ``partii
58120334``), is a reference or a lab number, not a phone number."""


def after_reference_noun(text: str, start: int) -> bool:
    """Whether a lab, sample or reference noun (:data:`_REFERENCE_NOUN`) ends right before ``start``."""
    return _REFERENCE_NOUN.search(text, max(0, start - 30), start) is not None


class NordicPhoneRecognizer(RuleRecognizer):
    """Phone numbers of the five countries."""

    ENTITY: ClassVar[Label] = Label.PHONE
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "intl",
            rf"(?<![\w])(?P<phi>(?:\(\+?{_CC}\)|\+{_CC}|00{_CC})[ \-]?(?:\(0\)[ \-]?)?\d(?:[ \-]?\d){{5,10}}){_END}",
            0.9,
        ),
        Rule(
            "intl_other",
            rf"(?<![\w+])(?P<phi>(?:\+|00)[1-9]\d{{0,2}}[ \-]?(?:\(0\)[ \-]?)?\d(?:[ \-]?\d){{6,12}}){_END}",
            0.7,
        ),
        Rule("no_dk_2222", rf"{_START}(?P<phi>\d{{2}} \d{{2}} \d{{2}} \d{{2}}){_END}", 0.6, country="no"),
        Rule("no_323", rf"{_START}(?P<phi>[2-9]\d{{2}} \d{{2}} \d{{3}}){_END}", 0.6, country="no"),
        Rule("dk_44", rf"{_START}(?P<phi>[2-9]\d{{3}} \d{{4}}){_END}", 0.5, country="dk"),
        Rule(
            "se_area",
            rf"{_START}(?P<phi>0\d{{1,3}}(?:-|[ ]?–[ ]?|[ ]-[ ])\d{{2,3}}(?: \d{{2,3}}){{1,3}}){_END}",
            0.7,
            country="se",
        ),
        Rule("se_mobile", rf"{_START}(?P<phi>07\d \d{{3}} \d{{2}} \d{{2}}){_END}", 0.7, country="se"),
        Rule("se_mobile_4222", rf"{_START}(?P<phi>07\d\d \d{{2}} \d{{2}} \d{{2}}){_END}", 0.7, country="se"),
        Rule(
            "fi",
            rf"{_START}(?P<phi>(?:\(0\d{{1,2}}\)|0\d{{1,3}})[ \-]\d{{3,4}}(?: ?\d{{3,5}}|(?:[ ]\d{{2,3}}){{2}})){_END}",
            0.6,
            country="fi",
        ),
        Rule("ee", rf"{_START}(?P<phi>[56]\d{{2,3}} \d{{4}}){_END}", 0.5, country="ee"),
        Rule("ee_233", rf"{_START}(?P<phi>5\d[ ]\d{{3}}[ ]\d{{3}}){_END}", 0.5, country="ee"),
        Rule(
            "cued_number",
            rf"(?<![\w])(?i:numero|number|nummer)\.?:?[ ]*(?P<phi>(?:0[4-9]\d{{8}}|[2-9]\d{{6,7}})){_END}",
            0.7,
        ),
        Rule(
            "cued_number_grouped",
            rf"(?<![\w])(?i:numero|number|nummer|nr)\.?:?[ ]*(?P<phi>0\d{{2,4}}[ ]\d{{3}}[ ]?\d{{3,4}}){_END}",
            0.7,
        ),
        Rule("uk_mobile", rf"{_START}(?P<phi>07\d{{3}}[ ]\d{{6}}){_END}", 0.6),
        Rule("compact_trunk", rf"{_START}(?P<phi>0\d{{9}}){_END}", 0.6),
        Rule("compact_uk", rf"{_START}(?P<phi>0\d{{10}}){_END}", 0.6),
        Rule(
            "grouped_trunk",
            rf"{_START}(?P<phi>0\d{{4}}[ ]\d{{3}}[ ]\d{{3}}|0\d{{4}}[ ]\d{{5,6}}|0\d{{3}}[ ]\d{{3}}[ ]\d{{3,4}}"
            rf"|0\d{{2}}[ ]\d{{5,7}}"
            rf"|0\d{{2}}[ ]\d{{3}}[ ]\d{{4}}){_END}",
            0.6,
        ),
        Rule("compact_8", rf"{_START}(?P<phi>[2-9]\d{{7}}){_END}", 0.5),
        Rule("ee_local", rf"{_START}(?P<phi>5\d{{6,7}}|[3-8][ ]\d{{3}}[ ]\d{{3}}){_END}", 0.5),
        Rule("ee_landline", rf"{_START}(?P<phi>[3-8]\d{{2}}[ ]\d{{4}}|[3-8]\d[ ]\d{{2}}[ ]\d{{3}}){_END}", 0.5),
        Rule(
            "ee_mobile_cued",
            rf"(?<![\w]){_EE_CUES}\.?:?[ ]*(?P<phi>5\d(?:[ \-]?\d){{5,6}}){_END}",
            0.8,
        ),
        Rule(
            "ie_landline_cued",
            rf"(?<![\w])(?:{_IE_CUES}\.?:?[ ]*(?:(?i:no|number|nr)\.?:?[ ]*)?|(?P<bare>(?i:no|number))\.?:?[ ]*)"
            rf"(?P<phi>0\d{{8,9}})(?![\w\-/])",
            0.8,
        ),
        Rule(
            "after_name",
            r"(?<![\w])(?P<name>\p{Lu}\p{Ll}+)[ ]+(?P<phi>\+?\d(?:[ \-]?\d){6,11})(?![\w\-/]|[.,]\d)",
            0.8,
        ),
        Rule(
            "cued",
            rf"(?<![\w]){CUES}\.?:?[ ]*(?:(?i:nr|no|number|numbril|numero|nummer)\.?:?[ ]*)?"
            rf"(?P<phi>\+?\d[\d \-()]{{5,16}}\d){_END}",
            0.8,
        ),
        Rule(
            # a hospital extension after its word: "SHO, ext 4417", "ankn. 2231", "sisänumero 345"
            "extension",
            r"\b(?i:ext|extension|anknytning|ankn|sisänumero|alanumero)\.?:?[ ]?(?P<phi>\d{3,5})(?![\w\-/]|[.,]\d)",
            0.7,
        ),
    )
    GATES: ClassVar[Mapping[str, Gate]] = {
        "extension": any_literal("ext", "Ext", "EXT", "ankn", "Ankn", "sisänumero", "alanumero", "Sisänumero")
    }

    def __init__(self, supported_language: str = "en") -> None:
        rules = [r for r in self.RULES if supported_language in _LANGUAGE_ONLY.get(r.name, (supported_language,))]
        super().__init__(supported_language=supported_language, rules=rules)

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Between 7 and 15 digits, as the numbering plans allow; numbers without a cue or a country code must also
        be valid in a country whose notes write them so (and, for 8 digits, in a note of that country)."""
        digits = "".join(c for c in text[start:end] if c.isdigit())
        if rule.name == "extension":
            return rule.score if len(set(digits)) > 1 else None
        if not 7 <= len(digits) <= 15 or len(set(digits)) == 1:
            return None  # "0000000000": a placeholder, no one's number
        if _GROUP_BEFORE.search(text, max(0, start - 6), start):
            return None  # the tail of a longer number ("701 552 9476": an invalid NHS number's last groups)
        if rule.name == "after_name":
            return self._after_name(text, match, digits, rule.score)
        if rule.name == "ee_mobile_cued":
            return _cued_ee_mobile(text, match, digits, rule.score)
        if rule.name == "ie_landline_cued":
            bare = match.start("bare")
            if bare >= 0 and after_reference_noun(text, bare):
                return None
            return rule.score if _valid(digits, "IE") else None
        if rule.name in ("cued_number", "cued_number_grouped") and after_reference_noun(text, match.start()):
            return None  # "Lab number 53990127": the lab's number
        regions = _UNCUED_REGIONS.get(rule.name)
        if regions is None:
            return rule.score
        if after_reference_cue(text, start) or after_reference_noun(text, start):
            return None
        if _reads_as_date(digits):
            return None
        uk_number = "GB" in regions and len(digits) == 11 and digits[:2] in ("01", "02", "03", "07")
        # a UK number of the right length, Ofcom's drama ranges (07700 900xxx, 01632 960xxx) included
        return rule.score if uk_number or any(_valid(digits, r) for r in regions) else None

    def _after_name(self, text: str, match: Any, digits: str, score: float) -> float | None:
        """A number right after a person's name (``naabrinaine Aili Tamm 53440918``, ``datter Berit 91234567``):
        a phone number when it is a mobile or fixed-line number of the note's country; never after a word that is
        no name, after a reference cue, or when it reads as a date."""
        name = match.group("name")
        if (name not in first_names() and name not in last_names()) or name in stop_words():
            return None
        if after_reference_noun(text, match.start()) or _reads_as_date(digits):
            return None
        regions = _NOTE_REGIONS.get(self.supported_language, ())
        if regions and regions[0] in _TRUNK_ZERO and not match.group("phi").startswith(("0", "+")):
            return None  # "Karin 123456789": Swedish, Finnish, British and Irish numbers are written from 0
        return score if any(_valid(digits, r, personal=True) for r in regions) else None


def _reads_as_date(digits: str) -> bool:
    """Eight digits that read as a ``YYYYMMDD`` date of 1900-2099 (``20240315``); ``53440918`` does not."""
    return (
        len(digits) == 8
        and digits[:2] in ("19", "20")
        and is_valid_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    )


_NOTE_REGIONS: dict[str, tuple[str, ...]] = {
    "nb": ("NO",),
    "sv": ("SE",),
    "da": ("DK",),
    "fi": ("FI",),
    "et": ("EE",),
    "en": ("GB", "IE"),
}
"""The numbering plans a language's notes use."""
_TRUNK_ZERO = frozenset({"SE", "FI", "GB", "IE"})
"""Countries whose national numbers are written with the trunk prefix 0."""
_PERSONAL_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


def _cued_ee_mobile(text: str, match: Any, digits: str, score: float) -> float | None:
    """An Estonian mobile (seven or eight digits from 5, valid for EE) after a phone cue; a bare ``nr`` after a
    reference noun (``proovi nr``) is a reference number's cue."""
    cue_start = match.start()
    if match.group(0)[:2].lower() == "nr" and after_reference_noun(text, cue_start):
        return None
    return score if len(digits) in (7, 8) and _valid(digits, "EE") else None


_UNCUED_REGIONS = {
    "compact_trunk": ("SE", "FI", "IE", "GB"),
    "compact_uk": ("GB",),
    "grouped_trunk": ("GB", "IE", "FI"),
    "compact_8": ("NO", "DK"),
    "ee_local": ("EE",),
    "ee_landline": ("EE",),
    "ee_233": ("EE",),
}
"""Rules without a cue or a country code, and the countries whose numbering plan must accept the number."""
_LANGUAGE_ONLY = {
    "compact_8": frozenset({"nb", "da"}),
    "ee_local": frozenset({"et"}),
    "ee_landline": frozenset({"et"}),
    "ee_233": frozenset({"et"}),
    "compact_uk": frozenset({"en"}),
    "ee_mobile_cued": frozenset({"et"}),
    "ie_landline_cued": frozenset({"en"}),
}
"""Rules that count only in notes of these languages (eight bare digits are a phone number in Norway and
Denmark, a reference number elsewhere; eleven starting with 0 a British number in English, an identifier's shape
in a Nordic note)."""


_REFERENCE_CUE = regex.compile(
    r"(?<![\w])(?i:[\w\-]*(?:nr|nro|nummer|number|numero|numer|ordre|order|rekv|ref|id|kood|koodi|kod)|no|j)"
    r"\.?:?[ ]*$"
)


_PHONE_COMPOUND = regex.compile(
    r"(?i:soitto|puhelin|ringning|uppring|opring|ringe|telefon|tlf|tel|mobil|mob|phone|callback|call[ ]back|helista"
    r"|contact|kontakt|puh)"
)
"""A number word whose first part says it is a phone's (``Takaisinsoittonumero``, ``Återuppringningsnr``,
``telefonnummer``), or a phone word right before the cue (``Callback no.``, ``tel. nr``): no reference cue."""


def after_reference_cue(text: str, start: int) -> bool:
    """Whether a number word or a reference cue (``ordrenr``, ``Rekv.``, ``ref``, ``ID``) comes right before
    ``start``: a bare number there is a reference, not a phone number or an identifier."""
    window = text[max(0, start - 30) : start]
    cue = _REFERENCE_CUE.search(window)
    return cue is not None and _PHONE_COMPOUND.search(window[max(0, cue.start() - 12) : cue.end()]) is None


def _valid(digits: str, region: str, *, personal: bool = False) -> bool:
    """Whether ``digits`` is a valid number in ``region`` (with ``personal``: a mobile or fixed line)."""
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    return not personal or phonenumbers.number_type(number) in _PERSONAL_TYPES
