"""Medical record, case, referral and sample numbers: an identifier after its cue word (``MRN``, ``journalnr``,
``sagsnr.``, ``potilasnumero``, ``haigusloo nr``...). The identifier is the span; the cue stays.
"""

from __future__ import annotations

from typing import Any, ClassVar

import regex

from deid.dates import parse_one
from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, words_alternation
from deid.wordlists import phrase_trie, words

_CUES = (
    "(?i:"
    + phrase_trie(
        "mrn|medical record number|medical record no.|medical record no|medical record|record number|record no."
        "|record no|case number|case no.|case no|patient id|patient-id|patientid|journalnummer|journalnr|journal"
        "|pasientnr|pasient-id|patientnr|sagsnr|saksnr|saksnummer|sagsnummer|ärendenr|ärendenummer|diarienr"
        "|diarienummer|remissnr|henvisningsnr|prøvenr|prøvenummer|provnr|labnr|potilasnumero|potilasnro"
        "|potilastunniste|sairauskertomusnumero|lähetenumero|näytenumero|haigusloo nr|haigusloo number|haiguslugu"
        "|juhtumi nr|saatekiri nr|accession number|accession no.|accession no|accession|episode no.|episode no|episode"
        "|rekvisisjonsnr|rekvisisjonsnummer|rekvisitionsnr|rekvisitionsnummer|henvisningsnummer|remissnummer"
        "|provnummer|labbnr|labnummer|prøve|prov|provrör|lähete|lähetteen numero|näyte|tutkimusnumero"
        "|saatekirja nr|saatekirja number|saatekirja|saatekiri|proovi nr|proovi number|proovi|proov|analüüsi nr"
        "|referral number|referral no.|referral no|referral|requisition number|requisition no.|requisition no"
        "|requisition|sample number|sample no.|sample no|sample id|sample|specimen number|specimen no.|specimen no"
        "|specimen|order number|order no.|order no|asianumero|diaarinumero|dnro|asiakasnumero|oppdragsnr"
        "|oppdragsnummer|oppdrag|uppdragsnr|uppdragsnummer|uppdrag|opgavenr|opgave|väljakutse|job|incident|chi no."
        "|chi no|chi number|chi|ubrn|pas no.|pas no|pas number|pas|hospital no.|hospital no|hospital number"
        "|hosp. no.|hosp. no|hosp no.|hosp no|crn|req.|req|request|kaart|kaardi|saatekirjale|saatekirjaga"
        "|lähetteellä|lähetteen|ehic|ehic no.|ehic no|ehic number|ehic card"
    )
    + ")"
)
"""Cue words and phrases of a record, case, referral or sample number, as one prefix tree (the rule tries them
at every word of a note)."""


_NUMBER_WORD = r"(?:nr|nro|no|nummer|number|numero|num|id|ref)"
_NOT_CUES = (
    r"(?:nhs|pps|ppsn|person|personal|fødsels|födelse|foedsels|henkilö|isiku|social|cpr|telefon|telephone|tele|tel|tlf|mobil|mobile"
    r"|puhelin|phone|soitto|takaisinsoitto|uppringnings|återuppringnings|callback|fax|lot|batch|charge|serie|serial|ean|vare|artikel|artikkel|katalog|atc|icd|room|rom|rum|huone"
    r"|palat|bed|seng|säng|vuode|voodi)"
)
"""Words a number word may end without making a reference cue: national identifiers and phones (their own
recognizers validate them; an invalid one is a distractor), batch and article numbers, rooms and beds."""
_GENERIC_CUE = (
    rf"(?i:(?<![\w\-])(?!{_NOT_CUES}[\-. ]?{_NUMBER_WORD})"
    rf"(?:[\p{{L}}][\p{{L}}.\-]*?[.\-]?|\p{{L}}{{2,}}\.?[ ]){_NUMBER_WORD}\.?"
    rf"|(?:{words_alternation(words('reference_cues'))})\.?(?:[ ]{_NUMBER_WORD}\.?)?)"
)
"""A word ending in a number word (``Rekv.nr.``, ``Pyyntönro``, ``Henvisnings-ID``), a number word after a word
(``Uuringu nr``), or a case or request noun (``Ärende``, ``Case ref``)."""
_REFERENCE = (
    r"(?P<phi>(?:\p{Lu}{1,3}\d?[ ])?(?:\d{3,5}(?:[ ]\d{3,5}){1,3}(?:[ ]\d{2})?|\d{2}(?:[ ]\d{3}){2,3})"
    r"(?![\w\-/]|[.,]\d)"
    r"|(?:\p{Lu}[\p{Lu}\p{Ll}]{0,3}\d{0,2}[\- /])?\d[\d\-/]{3,14}\d|\p{Lu}{1,4}\d{0,2}[\-/]?\d{5,12}"
    r"|\p{Lu}{1,2}\d{4,8}\p{Lu}{1,3}|\d{1,3}\p{Lu}{1,3}\d{4,8}|\d{6,8}\p{Lu}{1,2}|\p{Lu}\d{6,8}-\d{4})"
)
"""A reference number: five or more digits, grouped by ``-`` or ``/``, maybe after a short upper-case prefix
(``4471203``, ``2024/18830``, ``R-8812045``, ``MEM/22871``, ``SoL 44120/24``, ``RJ1-7740921``), grouped by spaces
(``4417 3385 21``, a health-insurance card's ``80250 01420 33719 8842``), between capitals (a prison number
``A7742DK``), or mixed with them (a passport's ``13IB55021``, an Irish medical card's ``0847215K``)."""
_STANDARD_PREFIXES = frozenset(
    {"ISO", "IEC", "DIN", "NS", "SS", "DS", "SFS", "EVS", "BS", "ICD", "ATC", "NPU", "CE", "EAN", "GTIN", "LOT"}
    | {"REF", "SN", "UDI", "NDC", "CAS", "PMID", "DOI", "HLA", "COVID", "SARS", "NCT", "RFC", "ISBN", "ISSN", "NOK"}
    | {"SEK", "DKK", "EUR", "GBP", "USD", "MTK", "ICPC", "KVÅ", "NCSP", "NOMESCO", "SNOMED"}
)
"""Prefixes of standards, code systems, catalogue numbers and currencies: a number after one is not PHI."""
_CUE_BEFORE = regex.compile(rf"(?<![\w]){_GENERIC_CUE}(?:[ ]\p{{Ll}}+){{0,2}}[ ]*[:#]?[ ]*$", regex.REVERSE)
"""The cue, checked only in the few characters before a candidate number (scanning the whole note for cue words
first would cost more than every other rule here together). Searched from the end (``REVERSE``): only whether a
cue ends right before the number counts, and the pattern (no atomic or possessive parts) matches the same spans in
either direction, so the answer is the same, found without trying every start in the window."""


_NATIONAL_SHAPE = regex.compile(
    r"^(?:\d\d(?:0[1-9]|1[0-2]|4[1-9]|5[0-2])\d\d[\-+A]\d{3,4}[\dA-Z]?|(?:19|20)\d{6}[\-+]\d{4}|\d{3}[ ]\d{3}[ ]\d{4})$"
)
"""A national identifier's shape (``DDMMYY-NNNN`` or ``YYMMDD-NNNN`` with a month in the middle, Norwegian H-numbers'
month plus 40, ``YYYYMMDD-NNNN``, an NHS number's ``NNN NNN NNNN``): checked, or left as a distractor, by the
national-identifier recognizers, never taken as a reference number; ``202409-48813`` (no month in it) is a
reference."""


_LEADING_CAPITALS = regex.compile(r"\p{Lu}*")
_GROUP_SEPARATOR = regex.compile(r"[\-/]")
_DIGIT_RUN = regex.compile(r"\d+")
"""Compiled once: :meth:`RecordNumberRecognizer.check` runs for every candidate number."""


class RecordNumberRecognizer(RuleRecognizer):
    """Record and case numbers after a cue word."""

    ENTITY: ClassVar[Label] = Label.ID
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "cued_record",
            rf"\b{_CUES}\.?[ ]*(?:(?i:nr|no|number)\.?[ ]*)?[:#]?[ ]*"
            rf"(?P<phi>[A-Z]{{0,4}}[\-/]?\d[\dA-Z\-/]{{3,24}})(?![\w\-/])",
            0.85,
        ),
        Rule(
            # an interpreter's or a professional's register number, four digits after its own cue: "tolknr 4417",
            # "tolk-ID 5521", "HPR-nr 9913", a paramedic's "PIN 4471"
            "register_number",
            r"\b(?:(?i:tolke?|tõlk|tulkki|interpreter|hpr|reg)[\-. ]?(?i:nr|nummer|number|numero|id)\.?|PIN):?[ ]*"
            r"(?P<phi>\d{4})"
            r"(?![\w\-/]|[.,]\d)",
            0.8,
        ),
        Rule(
            # Finnish compounds ending in a task or identifier noun: "siirtotehtävä 5530178", "Y-tunnus 2719034-2",
            # "e-reseptin tunnus 1052 8813 0042 7" (grouped by four)
            "compound_cue",
            r"(?i:tehtävä|tunnus)(?:numero)?[ ]*:?[ ]*(?P<phi>\d[\d\-]{4,12}\d|\d{4}(?:[ ]\d{4}){1,3}(?:[ ]\d)?)"
            r"(?![\w\-/])",
            0.8,
        ),
        Rule(
            # a letter prefix (maybe with a two-digit year), a hyphen or slash and six or more digits in all is a
            # reference of some office, lab or insurer even without a cue ("policy AV-77314409", "PAD T23-44190",
            # "HV-2024-3318", with a department's capitals after the office's: "RVH-CT-24-118375"); five digits (a code
            # "K-12345") need a cue
            "prefixed_reference",
            r"(?<![\w\-/.])(?P<phi>(?P<prefix>\p{Lu}{1,4})\d{0,2}(?:-\p{Lu}{1,4})?(?:[\-/]\d{2,10}){1,3})"
            r"(?![\w\-/]|[.,]\d)",
            0.6,
        ),
        Rule(
            "generic_reference",
            rf"(?<=[ :#\t]){_REFERENCE}(?![\w\-/]|[.,]\d)",
            0.65,
        ),
        Rule(
            # the number alone, for when the capitals before it are its cue, not its prefix ("IMC 018822")
            "generic_number",
            r"(?<=[ :#\t])(?P<phi>\d[\d\-/]{3,14}\d)(?![\w\-/]|[.,]\d)",
            0.65,
        ),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """At least four digits; never a bare year (``prøve 2024``)."""
        value = text[start:end]
        letters = _LEADING_CAPITALS.match(value)
        if letters is not None and letters.group(0) in _STANDARD_PREFIXES:
            return None  # a trial, standard or code-system number ("NCT05511234", "ISO 15189"), not a person's
        if rule.name == "prefixed_reference":
            digits = sum(c.isdigit() for c in value)
            last = len(_GROUP_SEPARATOR.split(value)[-1])
            return None if match.group("prefix") in _STANDARD_PREFIXES or digits < 6 or last < 3 else rule.score
        if rule.name in ("cued_record", "compound_cue") and _NATIONAL_SHAPE.match(value) is not None:
            return None  # "henkilötunnus 010190-123A": the national-identifier recognizers check it
        if ("/" in value or "." in value) and parse_one(value) is not None:
            return None  # "12/2024", "18/03/2024": a date, whatever the cue before it
        if rule.name in ("generic_reference", "generic_number") and (
            (sum(c.isdigit() for c in value) < 5 and _PRISON_NUMBER.fullmatch(value) is None)
            or _CUE_BEFORE.search(text, max(0, start - 48), start) is None
            or len(max(_DIGIT_RUN.findall(value), key=len)) < 3
            or (value.isdigit() and len(value) > 9 and not _long_reference(text, start, value, self.supported_language))
            or _NATIONAL_SHAPE.match(value) is not None
        ):
            return None
        if sum(c.isdigit() for c in value) < 4 or (len(value) == 4 and value.isdigit() and 1900 <= int(value) <= 2099):
            return None
        return rule.score


_BARE_NUMBER_WORD = regex.compile(rf"(?i:{_NUMBER_WORD}|no|ref|reference)\.?[ ]*[:#]?[ ]*$")


def _long_reference(text: str, start: int, digits: str, lang: str = "en") -> bool:
    """Ten to thirteen digits after a cue that names what they number (``Prøve-ID 7700412983``, ``Retsepti nr
    1004587326``, ``medlemsnr. 4418229031``), and, but for thirteen, opening with no date: ten to twelve is a
    national identifier's length, so a bare ``Number`` or ``Ref.`` before it, or a date at its start, leaves it to
    the national-identifier recognizers (an invalid one is a distractor)."""
    if len(digits) > 13 or (len(digits) < 13 and _date_led(digits) and _national_length(len(digits), lang)):
        return False  # thirteen digits are no national identifier anywhere here ("PPJ-nr. 2406020144871")
    before = text[max(0, start - 24) : start]
    bare = _BARE_NUMBER_WORD.search(before)
    return bare is None or bool(_NAMING_WORD_END.search(before[: bare.start()]))


_NAMING_WORD_END = regex.compile(r"\p{L}(?:-|[ ])$|\p{L}{3}$")
"""What ends right before a bare number word for the cue to name what it numbers: a word and a hyphen or space
(``Prøve-ID``, ``Retsepti nr``), or a compound's first part (``medlemsnr.``; never ``Fnr``, ``pnr``)."""


_NATIONAL_LENGTHS = {"et": (11,), "fi": (), "nb": (11,), "da": (10,), "sv": (10, 12)}
"""Digit counts a national identifier written without separators has in each language's notes (the Finnish one
always has its century sign); an English note may hold any of them."""


def _national_length(length: int, lang: str) -> bool:
    """Whether ``length`` digits may be a national identifier in a note of ``lang`` (``retsepti nr 1102938475``:
    ten digits are no Estonian isikukood)."""
    return length in _NATIONAL_LENGTHS.get(lang, (10, 11, 12))


_PRISON_NUMBER = regex.compile(r"\p{Lu}\d{4}\p{Lu}{2}")
"""A prison number (``A7742DK``): four digits between capitals, a reference after its cue."""


def _date_led(digits: str) -> bool:
    """Ten to twelve digits that open with a date, as a national identifier does (``27016521899``): its own
    recognizer validates it, and an invalid one is no reference. ``2023118842`` and ``7700412983`` are."""
    day, month, year = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    long_year = digits[:2] in ("19", "20") and _calendar(int(digits[6:8]), int(digits[4:6]))
    estonian = len(digits) == 11 and digits[0] in "123456" and _calendar(int(digits[5:7]), int(digits[3:5]))
    return _calendar(day, month) or _calendar(year, month) or long_year or estonian


def _calendar(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31
