"""What a tagged span must be to be kept, checked as the rules check their own: no country, month, weekday or
agency, no eponym or disease name, an age only as a whole number from 90, a digit in every record number."""

from __future__ import annotations

from functools import cache

import regex

from deid.dates import is_analyte, is_month_name
from deid.labels import Label
from deid.lexicon import DISEASE_HEADS, EPONYMS, HOSPITAL_AREAS, NATIONALITIES, NOT_NAMES, TITLE_CUES, stop_words
from deid.recognizers.location import AGENCY_ENDINGS, is_country, names_a_scale, world_countries
from deid.tagger.model import TaggedSpan
from deid.wordlists import (
    LANGUAGE_ENDINGS,
    LAW_OR_REGISTRY_ENDINGS,
    SPECIALTY_ENDINGS,
    lower_set,
    role_regex,
    role_words,
    word_set,
)

_WORD = regex.compile(r"\p{L}[\p{L}\-'’]*")
_HOUSE_NUMBER = regex.compile(r"(?<![\p{L}\d])\d{1,5}(?![\p{L}\d])")
_NEXT_WORD = regex.compile(r"[ \t-]*(\p{L}+)")
_DISEASE_HEADS = frozenset(DISEASE_HEADS)
_PATHOGEN_HEADS = frozenset(
    {"virus", "viruksen", "viirus", "bacillus", "bakterie", "bacteria", "sign", "tegn", "tecken"}
)
CODE_SYSTEM_BEFORE = regex.compile(
    r"(?<![\w])(?:SNOMED(?:[ \-]?CT)?|LOINC|ICD(?:-?1[01])?|ICPC(?:-?2)?|ATC|NOMESCO|NCSP|KVÅ|OPCS(?:-?4)?|DRG|CPT|KST"
    r"|NPU)[ :]*(?:\S+[ ]+)?\S*$"
)
"""A code system's name right before a number (``SNOMED: T67000 M81403``, ``LOINC 3016-3``, ``KST 4410``): the
number is a code or a cost centre, never a person's."""
_CODE_SYSTEM_START = regex.compile(r"(?:SNOMED|LOINC|ICD|ICPC|ATC|NOMESCO|NCSP|KVÅ|OPCS|DRG|CPT|KST|NPU)(?![\p{L}])")
"""A tagged number that opens with a code system's name (``LOINC 3016-3``)."""
_AGE = regex.compile(r"\d{2,3}")
_YEAR = regex.compile(r"(?:19|20)\d\d")
_CONNECTORS = frozenset({"and", "og", "och", "ja", "ning", "&", "or", "eller"})
_AFTER_A_MEASURE = regex.compile(r"\s*(?:[,.]\d|%|‰|\p{L}{0,3}/|(?:kg|g|mg|µg|ml|mmol|mm|cm|dB|bpm)\b)")
"""What follows a number that is a measurement, not an age (``92,5 kg``, ``95 %``, ``91 mmol/l``)."""
_MEASURE = regex.compile(r"\d\s*(?:%|‰|(?:kg|g|mg|µg|ml|mmol|mm|cm|dB|bpm|kPa|mmHg|IE|IU|E)\b)")
"""A measurement inside a span: a run of lab values is no street address."""
_NEXT_WORD_LAW = regex.compile(rf"[ ]\p{{L}}*(?i:{'|'.join(regex.escape(w) for w in LAW_OR_REGISTRY_ENDINGS)})(?![\w])")
"""A law's or a registry's head noun right after a span."""
_LETTER_AND_COMMA = regex.compile(r"\p{Lu},[ ]")
_UNIT_SLASH_BEFORE = regex.compile(r"\p{L}/$")
_RANGE_AFTER = regex.compile(r"[ ]?[-–][ ]?\d")
_CLOCK_TIMES = regex.compile(r"(?:[01]\d|2[0-3])[0-5]\d(?:/(?:[01]\d|2[0-3])[0-5]\d)+")
_DECIMAL = regex.compile(r"\d[,.]\d")
"""A decimal number (``S-Kol 6,8, S-LDL-kol 4,6``): a lab value, never in an address."""
_NATIONAL_ID_SHAPE = regex.compile(r"\d{6}[-+A]?\d{3}[\dA-Z]?|[0-7]\d{10}|(?:19|20)\d{10}|\d{7}[A-W][A-IW]?")
"""The shape of a Nordic or Estonian personal number or an Irish PPS number: a valid one the checksum rules have
already taken, so a tagged number of that shape is an invalid one, which is no identifier."""
WEEKDAYS = frozenset(
    {
        *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        *("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
        *("måndag", "tisdag", "lördag", "söndag"),
        *("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai"),
        *("esmaspäev", "teisipäev", "kolmapäev", "neljapäev", "reede", "laupäev", "pühapäev"),
    }
)


_WORD_BEFORE = regex.compile(r"(?:^|[ (\n])([\p{L}\-]+)[ ]*:?[ ]*$")
_VITAL_SIGNS = frozenset({"fr", "hr", "hf", "pulse", "puls", "pulss", "spo2", "sat", "sats", "rr", "resp", "bt"})


def _after_a_measure_word(text: str, start: int) -> bool:
    """Whether an analyte or a vital sign comes right before (``P-Krea 94``, ``fr 96``, ``SpO2 93``)."""
    found = _WORD_BEFORE.search(text, max(0, start - 24), start)
    if found is None:
        return False
    word = found.group(1)
    bare = word.split("-")[-1]
    return is_analyte(word) or is_analyte(bare) or word.lower() in _VITAL_SIGNS


def _names_something(text: str, start: int, words: list[str]) -> bool:
    """Whether a span holds a word written as a name: two capitalised words, or one that does not merely start
    the sentence (``Innlagt på sykehuset`` names nothing)."""
    first_capital_is_initial = not text[:start].rstrip(" \t")[-1:] or text[:start].rstrip(" \t")[-1:] in ".!?:\n"
    capitals = [w for w in words if w[:1].isupper()]
    if len(capitals) > 1 or (capitals and capitals[0] != words[0]):
        return True
    return bool(capitals) and not first_capital_is_initial


def _names_a_disease(text: str, end: int, words: list[str]) -> bool:
    """Whether the span is (part of) a disease's name: it ends in, or is followed by, a disease head
    (``Denys - Drash syndrome``, ``Forssman - Lehmann`` before ``syndrome``)."""
    following = _NEXT_WORD.match(text, end)
    return words[-1].lower() in _DISEASE_HEADS or (
        following is not None and following.group(1).lower() in _DISEASE_HEADS
    )


def _token_around(text: str, start: int, end: int) -> str:
    """The whitespace-delimited word holding ``text[start:end]``, trailing punctuation trimmed."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end].rstrip(".,;:)")


WEEKDAY_ABBREVIATIONS = frozenset({"mon", "tue", "tues", "wed", "weds", "thu", "thur", "thurs", "fri", "sat"})
"""English weekdays written short (``Mon/Wed/Fri``); ``Sun`` and the Nordic ones (``Tor``, ``Ons``) are names too."""
_INTERPRETER_BEFORE = regex.compile(r"(?i:tolk|tolken|tulkki|tõlk|interpreter)[ ]$")
LANGUAGE_ABBREVIATIONS = frozenset({"eng", "swe", "nor", "dan", "fin", "est", "rus", "ara", "som", "pol", "ukr"})
"""Languages written short (``fluent Eng/Swe``)."""


def _calendar_word(word: str) -> bool:
    lower = word.lower()
    return is_month_name(word) or any(lower.startswith(day) for day in WEEKDAYS) or lower in WEEKDAY_ABBREVIATIONS


def plausible(text: str, span: TaggedSpan) -> bool:
    """Whether a tagged span can be PHI at all (the checks a model trained on a thousand notes cannot learn)."""
    piece = text[span.start : span.end]
    words = _WORD.findall(piece)
    if span.label is Label.AGE:
        before = text[max(0, span.start - 1) : span.start]
        return (
            _AGE.fullmatch(piece) is not None
            and 90 <= int(piece) <= 125
            and before != "("
            and not (before.isalnum() or before in ".,")
            and _AFTER_A_MEASURE.match(text, span.end) is None
            and _RANGE_AFTER.match(text, span.end) is None
            and not _after_a_measure_word(text, span.start)
        )  # not "ABPI 0.91", "R91", "O2 titrated to 94-98", "P-Krea 94", "fr 96"
    if span.label is Label.ID and _CLOCK_TIMES.fullmatch(piece):
        return False  # "times 0700/1200/1700": when a drug is given
    if span.label is Label.ID:
        if _YEAR.fullmatch(piece):
            return False  # "arrived 2024": a year alone identifies no one
        token = _token_around(text, span.start, span.end)
        if CODE_SYSTEM_BEFORE.search(text, max(0, span.start - 24), span.start) or _CODE_SYSTEM_START.match(piece):
            return False  # "SNOMED: T67000 M81403", "LOINC 3016-3", "KST 4410": a code, no one's number
        return any(c.isdigit() for c in piece) and _NATIONAL_ID_SHAPE.fullmatch(token) is None
    if piece.rstrip().endswith(("-", "–")):
        return False  # "Denys -" (of "Denys - Drash syndrome"): a name does not end in a dash
    if not words or (
        span.label is Label.ADDRESS
        and (_MEASURE.search(piece) or _DECIMAL.search(piece) or not _HOUSE_NUMBER.search(piece))
    ):
        return False  # an address the tagger alone found has a house number or postcode and no lab values
    if (
        span.label is Label.PERSON
        and _UNIT_SLASH_BEFORE.search(text, max(0, span.start - 2), span.start)
        and len(words[0]) <= 2
    ):
        return False  # "412 ng/L. Dx": a unit's last letter, no initial
    if all(w.lower() in LANGUAGE_ABBREVIATIONS or w in NATIONALITIES for w in words):
        return False  # "fluent Eng/Swe.", "in English": languages
    if (
        len(words) == 1
        and words[0].lower().endswith(LANGUAGE_ENDINGS)
        and _INTERPRETER_BEFORE.search(text, max(0, span.start - 16), span.start)
    ):
        return False  # "tolk Arabiska", "tolk Somalisk": the language an interpreter speaks
    if len(words) == 1 and (
        words[0] in word_set("role_acronyms") or (words[0].isupper() and words[0].lower() in stop_words())
    ):
        return False  # "PHN home visit": a role in capitals; "CT CHEST/ABDOMEN WITH CONTRAST": a function word
    if _LETTER_AND_COMMA.match(piece):
        return False  # "S, Trimetoprim R.": a susceptibility's letter, then the next antibiotic
    if "Rh" in words or "RhD" in words:
        return False  # "O Rh neg": a blood group
    if len(words) == 1 and (is_country(words[0]) or _calendar_word(words[0]) or len(words[0]) <= 2):
        return False  # a country, a month, a weekday, a two-letter symbol (Tf, Fe)
    if all(is_country(w) or w.lower() in _CONNECTORS for w in words) or (
        len(words) > 1 and is_country(words[-1]) and words[-1] not in world_countries()
    ):
        return False  # "Libyen och Italien", "Saapunut Afganistanista": countries, or a word and a country's case
        # form (a firm's national branch keeps the base form: "Subsea Norge", "SYNLAB Eesti")
    if text[span.end : span.end + 1].isdigit():
        return False  # "AHBVC512AB": the capitals of a batch or a code
    if any(w in NATIONALITIES for w in words) or _names_a_disease(text, span.end, words):
        return False
    if len(words) > 1 and (words[-1].lower() in _DISEASE_HEADS or words[-1].lower() in _PATHOGEN_HEADS):
        return False  # "Epstein-Barr virus": a pathogen or a disease named after people
    following = _NEXT_WORD.match(text, span.end)
    if any(names_a_scale(w) for w in words) or (following is not None and names_a_scale(following.group(1))):
        return False  # "Glasgow Coma Scale", "Boston" before "Naming Test": a test's name, no place or firm
    if _NEXT_WORD_LAW.match(text, span.end):
        return False  # "i Barnets lov § 133", "i Nasjonalt tolkeregister": a law's or a registry's name
    if span.label is not Label.ADDRESS and not _names_something(text, span.start, words):
        return False
    if len(words) == 1 and words[0].lower().endswith(SPECIALTY_ENDINGS):
        return False  # "Orthopaedics", "Kardiologi": a specialty, named alone
    if all(w.lower() in HOSPITAL_AREAS for w in words):
        return False  # "..., Majors cubicle 9", "Emergency Dept": a part of the hospital
    if all(w.lower() in _generic_service_words() for w in words):
        return False  # a specialty or a service named generically: "Rheumatology", "the Memory Service"
    if (
        span.label is Label.PERSON
        and len(words) == 1
        and (words[0].upper() in word_set("clinical_acronyms") or (words[0].isupper() and is_analyte(words[0])))
    ):
        return False  # "astma og KOLS", "CRP 12": a diagnosis or an analyte written short, not a signer's initials
    if span.label is Label.PERSON and all(_role_word(w) for w in words):
        return False  # "Specialist Registrar", "Sykepleier": a role, not a person's name
    if words[-1].lower().endswith(AGENCY_ENDINGS):
        return False  # Försäkringskassan, Skatteverket: a national agency identifies no one
    return not all(w in NOT_NAMES or _eponym(w) for w in words)


def _eponym(word: str) -> bool:
    """An eponym, also in an English, Scandinavian, Finnish or Estonian genitive (``Parkinsons``, ``Lymen``,
    ``Binswangerin``), or a double one (``Cheyne-Stokes``)."""
    forms = (word, word.rstrip("s'"), word.removesuffix("in"), word.removesuffix("n"), word.removesuffix("'s"))
    if any(form in EPONYMS for form in (*forms, word.removesuffix("i"))):  # Estonian "Stokesi"
        return True
    parts = word.split("-")
    return len(parts) > 1 and all(part and _eponym(part) for part in parts)


_SERVICE_HEADS = frozenset({"service", "services", "unit", "team", "clinic", "centre", "center", "department", "ward"})


@cache
def _generic_service_words() -> frozenset[str]:
    """The generic words of a department's or service's name (``deid/data/service_words.txt``) and their heads."""
    return lower_set("service_words") | _SERVICE_HEADS


@cache
def _role_words() -> frozenset[str]:
    """The listed role and occupation words and the titles (``Registrar``, ``overlege``, ``Dr``)."""
    return role_words() | frozenset(TITLE_CUES)


def _role_word(word: str) -> bool:
    """A title, role or occupation word (``Registrar``, ``overlege``), or an agent noun by its ending."""
    return word.lower() in _role_words() or (len(word) > 4 and role_regex().search(word) is not None)
