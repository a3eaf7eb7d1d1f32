"""Dates as the five countries and English write them: find, parse, and re-render shifted in the same format.

Formats: ``2024-03-12``, ``12.03.2024``, ``12.3.2024``, ``12.3.24``, ``12/3-24``, ``12/3/2024``, ``12. mars 2024``,
``12 mars``, ``12. maaliskuuta 2024``, ``12. märtsil 2024``, ``March 12, 2024``, ``12 March 2024``, ``mars 2024``,
``maaliskuussa 2024``, Estonian case forms (``augustist 2024``, ``2019 mais``, ``2021. aasta juulis``), the
year-less ``12.03.``, ``14.9.``, ``7/2``, ``9/3 2024``, ranges within a month (``2.–5.4.``, ``17–18/6``), the
compact ``240315`` (YYMMDD) and ``050324`` (DDMMYY; short forms only where the words around them do not make them
a measurement), dashed ``17-Aug-1958``, ``2-3-1946`` and Swedish ``23-11-20``, ISO months ``2019-03``, an Estonian
case ending after a hyphen (``2022-11-30-ga``), and a month named alone after a word of time or in a Finnish or
Estonian case (``in Sept``, ``kesäkuussa``). A year alone is not a date (it must stay).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import regex

from deid.wordlists import phrase_trie, words

_MONTHS: dict[str, tuple[tuple[str, ...], ...]] = {
    # one tuple of 12 forms per written form, per language
    "en": (
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    ),
    "nb": (
        (
            "januar",
            "februar",
            "mars",
            "april",
            "mai",
            "juni",
            "juli",
            "august",
            "september",
            "oktober",
            "november",
            "desember",
        ),
        ("jan", "feb", "mar", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "des"),
    ),
    "sv": (
        (
            "januari",
            "februari",
            "mars",
            "april",
            "maj",
            "juni",
            "juli",
            "augusti",
            "september",
            "oktober",
            "november",
            "december",
        ),
    ),
    "da": (
        (
            "januar",
            "februar",
            "marts",
            "april",
            "maj",
            "juni",
            "juli",
            "august",
            "september",
            "oktober",
            "november",
            "december",
        ),
    ),
    "fi": (
        (
            "tammikuuta",
            "helmikuuta",
            "maaliskuuta",
            "huhtikuuta",
            "toukokuuta",
            "kesäkuuta",
            "heinäkuuta",
            "elokuuta",
            "syyskuuta",
            "lokakuuta",
            "marraskuuta",
            "joulukuuta",
        ),
        (
            "tammikuussa",
            "helmikuussa",
            "maaliskuussa",
            "huhtikuussa",
            "toukokuussa",
            "kesäkuussa",
            "heinäkuussa",
            "elokuussa",
            "syyskuussa",
            "lokakuussa",
            "marraskuussa",
            "joulukuussa",
        ),
        (
            "tammikuu",
            "helmikuu",
            "maaliskuu",
            "huhtikuu",
            "toukokuu",
            "kesäkuu",
            "heinäkuu",
            "elokuu",
            "syyskuu",
            "lokakuu",
            "marraskuu",
            "joulukuu",
        ),
    ),
    "et": (
        (
            "jaanuaril",
            "veebruaril",
            "märtsil",
            "aprillil",
            "mail",
            "juunil",
            "juulil",
            "augustil",
            "septembril",
            "oktoobril",
            "novembril",
            "detsembril",
        ),
        (
            "jaanuar",
            "veebruar",
            "märts",
            "aprill",
            "mai",
            "juuni",
            "juuli",
            "august",
            "september",
            "oktoober",
            "november",
            "detsember",
        ),
        (
            "jaanuaris",
            "veebruaris",
            "märtsis",
            "aprillis",
            "mais",
            "juunis",
            "juulis",
            "augustis",
            "septembris",
            "oktoobris",
            "novembris",
            "detsembris",
        ),
    ),
}

_FI_STEMS = ("tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka", "marras", "joulu")
_MONTHS["fi"] = (
    *_MONTHS["fi"],
    *(tuple(f"{stem}kuu{case}" for stem in _FI_STEMS) for case in ("sta", "hun", "lta", "n", "ssa", "lle", "lla")),
)
"""Finnish months in the elative, illative, ablative, genitive, inessive, allative and adessive (``toukokuusta
2023``, ``kesäkuuhun 2024``, ``marraskuulle 2024``)."""
_MONTHS["et"] = (
    *_MONTHS["et"],
    ("jaan", "veebr", "märts", "apr", "mai", "juuni", "juuli", "aug", "sept", "okt", "nov", "dets"),
)
_MONTHS["sv"] = (
    *_MONTHS["sv"],
    ("jan", "febr", "mars", "apr", "maj", "juni", "juli", "aug", "sept", "okt", "nov", "dec"),
)
_MONTHS["da"] = (
    *_MONTHS["da"],
    ("jan", "febr", "marts", "apr", "maj", "juni", "juli", "aug", "sept", "okt", "nov", "dec"),
)
_MONTHS["fi"] = (
    *_MONTHS["fi"],
    tuple(f"{stem}k" for stem in _FI_STEMS),
)
"""Month abbreviations written with a dot (Swedish and Danish ``febr.``, ``sept.``, Finnish ``marrask.``,
``tammik.``); Norwegian ``febr.`` and ``sept.`` read through the same forms."""
_ET_STEMS = (
    "jaanuari",
    "veebruari",
    "märtsi",
    "aprilli",
    "mai",
    "juuni",
    "juuli",
    "augusti",
    "septembri",
    "oktoobri",
    "novembri",
    "detsembri",
)
_MONTHS["et"] = (
    *_MONTHS["et"],
    *(tuple(f"{stem}{case}" for stem in _ET_STEMS) for case in ("", "st", "sse", "ni", "le", "lt", "ks", "na", "ga")),
)
"""Estonian months in the genitive (``märtsi lõpus``), elative (``augustist 2024``), illative (``oktoobrisse``),
terminative (``septembrini 2024``), allative, ablative, translative, essive and comitative."""


def month_forms(lang: str) -> tuple[tuple[str, ...], ...]:
    """The month-name tables of a language (each a 12-tuple)."""
    return _MONTHS.get(lang, _MONTHS["en"])


def _trie(forms: list[str]) -> str:
    """A regex alternation of ``forms`` factored by common prefixes (``tammikuu(?:ta|ssa|sta)?``): the month
    patterns try one branch per first letter instead of every form at every position."""
    if not forms:
        return ""
    heads: dict[str, list[str]] = {}
    ends = False
    for form in forms:
        if form:
            heads.setdefault(form[0], []).append(form[1:])
        else:
            ends = True
    branches = [regex.escape(h) + _trie(tails) if any(tails) else regex.escape(h) for h, tails in sorted(heads.items())]
    for h, tails in heads.items():
        if any(tails) and "" in tails:
            branches[sorted(heads).index(h)] = regex.escape(h) + "(?:" + _trie([t for t in tails if t]) + ")?"
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return body if not ends else "(?:" + body + ")?"


_FORM_INDEX: dict[str, tuple[int, tuple[str, ...]]] = {}
for _tables in _MONTHS.values():
    for _table in _tables:
        for _i, _name in enumerate(_table):
            _FORM_INDEX.setdefault(_name.lower(), (_i + 1, _table))
_FORM_INDEX["sept"] = _FORM_INDEX["sep"]  # "8th Sept": the four-letter English abbreviation
_NORDIC_TABLE: dict[str, tuple[str, ...]] = {}
for _lang, _tables in _MONTHS.items():
    for _table in _tables if _lang != "en" else ():
        for _name in _table:
            _NORDIC_TABLE.setdefault(_name, _table)
"""A lower-case form's Nordic table (``sept.`` is shifted to ``okt.``, not the English ``Oct``)."""
_SEASONS = {
    **dict.fromkeys(("spring", "våren", "våras", "foråret", "kevät", "keväällä", "keväänä", "kevad", "kevadel"), 4),
    **dict.fromkeys(("summer", "sommaren", "sommeren", "sommer", "kesä", "kesällä", "suvi", "suvel"), 7),
    **dict.fromkeys(("autumn", "fall", "hösten", "høsten", "efteråret", "syksy", "syksyllä", "sügis", "sügisel"), 10),
    **dict.fromkeys(("winter", "vintern", "vinteren", "talvi", "talvella", "talv", "talvel"), 1),
}
"""Seasons, with the month that stands for them when a season and a year are shifted (``summer 2023``)."""
_SEASON_ALT = _trie(sorted(_SEASONS))
_EN_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_EN_MONTH_ABBREVIATIONS = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"


_MONTH_ALT = _trie(sorted(_FORM_INDEX))
_ABBR_ALT = _trie(
    sorted(
        {
            form.lower()
            for tables in _MONTHS.values()
            for table in tables
            for form in table
            if len(form) <= 4 and form.lower() not in ("mars", "maj", "mai", "mail", "mais", "may", "juni", "juli")
        }
        | {f"{stem}k" for stem in _FI_STEMS}
    )
)
"""Month abbreviations that take a dot and a year, with or without a space (``okt. 21``, ``febr. 22``,
``marrask. 23``, ``sept.23``, ``okt.2021``)."""
_ET_CASE_ALT = _trie(
    sorted({f"{stem}{case}" for stem in _ET_STEMS for case in ("s", "st", "sse", "ni", "l", "le", "lt")} - {"mail"})
)
"""Estonian months in a case that can follow a bare year (``2019 mais``, ``2024 septembrini``); ``mail`` is also
English."""

_TIME_PREPOSITIONS = (
    r"in|since|from|until|till|by|during|early|late|mid|end[ ]of|start[ ]of|beginning[ ]of|last|next|before|after"
    r"|i|fra|från|siden|sedan|til|innen|inden|innan|før|före|etter|efter|under|medio|ultimo|primo|sist|neste|næste"
    r"|i[ ]slutten[ ]av|i[ ]slutet[ ]av|i[ ]slutningen[ ]af|i[ ]starten[ ]av|i[ ]början[ ]av|i[ ]begyndelsen[ ]af"
    r"|i[ ]midten[ ]av|i[ ]mitten[ ]av|i[ ]midten[ ]af"
)
_LONE_MONTHS = _trie(
    sorted(
        form
        for form in _FORM_INDEX
        if len(form) >= 3 and form not in ("mail", "jul", "mais", "des", "mar", "may", "dec", "jan")
    )
)
_CASE_MONTHS = _trie(
    sorted(
        form
        for form in _FORM_INDEX
        if form.endswith(("kuussa", "kuusta", "kuuhun", "kuulla"))
        or (form.startswith(_ET_STEMS) and form.endswith(("is", "ist", "isse", "ini", "iks")) and form != "mais")
    )
)
"""A month named alone is a date's element (HIPAA's Safe Harbor removes every element of a date but the year):
after a word of time (``in Sept``, ``i januari``, ``sedan maj``), or in the Finnish and Estonian cases that say
when by themselves (``kesäkuussa``, ``jaanuaris``). Never ``jul`` (Christmas), ``mail``, ``Des`` (a stent), the
English ``May``, ``Mar``, ``Dec`` or ``Jan`` (a verb, a given name) without a word of time."""

_D = r"(?P<d>0?[1-9]|[12]\d|3[01])"
_M = r"(?P<m>0?[1-9]|1[0-2])"
_MN = rf"(?P<mn>(?i:{_MONTH_ALT}))\.?"
_Y4 = r"(?P<y>(?:1[89]|20)\d\d)"
_Y = r"(?P<y>(?:1[89]|20)\d\d|\d\d)"
_L = r"\b(?<![.,/\-])"
"""Nothing of a word, number or date just before: every format starts with a digit or a letter, so ``\b`` there
means no word character before, and the regex module scans for it faster than for the look-behind alone."""
_R = r"(?![\w/\-]|[.,]\d)"
_CASE_HYPHEN = r"(?:-(?:ga|st|ni|le|lt|l|s|ks|sse|ta|na|ndat|nda|ni|ist|il|ile|ilt|is|iks|isse|ini|iga))?"
"""An Estonian case ending written after a hyphen (``2022-11-30-ga``, ``1.03.2024-st``): inside the date's span."""
_END = r"(?![\w]|\.(?![ \n]|$)|[,]\d)"
"""After a date ending in a dot: no word, no number, and a second dot only as the sentence's full stop (``9.4..``)."""

PATTERNS: tuple[tuple[str, regex.Pattern[str]], ...] = tuple(
    (name, regex.compile(p))
    for name, p in (
        ("iso", rf"{_L}{_Y4}-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01]){_CASE_HYPHEN}{_R}"),
        ("dotted", rf"{_L}{_D}\.{_M}\.{_Y}{_CASE_HYPHEN}{_R}"),
        ("slash_dash", rf"{_L}{_D}/{_M}-{_Y}{_R}"),
        ("slash", rf"{_L}{_D}/{_M}/{_Y}{_R}"),
        ("dash_dmy", rf"{_L}{_D}-{_M}-{_Y4}{_R}"),
        ("dash_month_abbr", rf"{_L}{_D}-(?P<mn>{_EN_MONTH_ABBREVIATIONS})-{_Y}{_R}"),
        ("dash_short_iso", rf"{_L}(?P<y>\d\d)-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01]){_R}"),
        ("iso_dotted", rf"{_L}{_Y4}\.(?P<m>0[1-9]|1[0-2])\.(?P<d>0[1-9]|[12]\d|3[01]){_R}"),
        ("day_month_name", rf"{_L}{_D}(?:\.|st|nd|rd|th|:e|:a)?[ ]{_MN}(?:[ ]{_Y4})?(?![\w])"),
        ("month_name_day", rf"{_L}{_MN}[ ]{_D}(?:st|nd|rd|th)?,?[ ]{_Y4}(?![\w])"),
        # Finnish "helmikuun 6. päivänä 2024": the month's genitive, the day, "on the day"
        ("fi_month_day", rf"{_L}{_MN}[ ]{_D}\.[ ]?(?i:päivänä|päivä|pnä)(?:[ ]{_Y4})?(?![\w])"),
        ("month_name_year", rf"{_L}{_MN}(?:[ ]{_Y4}|[ ]?[\-–'’][ ]?(?P<y>\d\d))(?![\w/\-])"),
        ("et_year_month", rf"{_L}{_Y4}\.?[ ]?(?i:aastal|aasta|a\.?)[ ](?:{_D}\.[ ])?(?P<mn>(?i:{_MONTH_ALT}))(?![\w])"),
        ("et_year_case_month", rf"{_L}{_Y4}[ ](?P<mn>(?i:{_ET_CASE_ALT}))(?![\w])"),
        # a part of a month, then its year: "mai alguses 2024", "toukokuun lopussa 2023"
        (
            "month_part_year",
            rf"{_L}(?P<mn>(?i:{_MONTH_ALT}))[ ](?i:alguses|algul|keskel|lõpus|lõpul|lõpupoole|alussa|lopussa"
            rf"|puolivälissä|loppupuolella|alkupuolella)[ ]{_Y4}(?![\w])",
        ),
        # the look-ahead first: most digits in a note are no month before a year, and this rejects them fastest
        ("month_year", rf"{_L}(?=\d\d?[/.\-](?:1[89]|20)\d\d)(?P<m>0[1-9]|1[0-2]|[1-9](?=/))[/.\-]{_Y4}{_R}"),
        ("iso_month", rf"{_L}(?P<y>(?:19|20)\d\d)-(?P<m>0[1-9]|1[0-2]){_R}"),
        (
            "month_alone",
            rf"(?<=(?<![\w])(?i:{_TIME_PREPOSITIONS})[ ])(?P<mn>(?i:{_LONE_MONTHS}|may|mar|dec|jan|des))\.?(?![\w])",
        ),
        ("month_case_alone", rf"(?<![\w])(?P<mn>(?i:{_CASE_MONTHS}))(?![\w])"),
        ("dotted_no_year", rf"{_L}{_D}\.(?P<m>0[1-9]|1[0-2])\.{_END}"),
        ("dotted_short", rf"{_L}{_D}\.(?P<m>[1-9])\.{_END}"),
        ("dotted_two_digit", rf"{_L}(?P<d>0[1-9]|[12]\d|3[01])\.(?P<m>0[1-9]|1[0-2]){_R}"),
        ("dotted_one_digit_day", rf"{_L}(?P<d>[1-9])\.(?P<m>0[1-9]|1[0-2]){_R}"),
        ("slash_us", rf"{_L}(?P<m>0?[1-9]|1[0-2])/(?P<d>1[3-9]|2\d|3[01]){_R}"),
        (
            "month_name_day_no_year",
            rf"{_L}(?P<mn>{_EN_MONTHS}|{_EN_MONTH_ABBREVIATIONS})\.?[ ]{_D}(?:st|nd|rd|th)?{_R}",
        ),
        ("month_abbr_year2", rf"{_L}(?P<mn>(?i:{_ABBR_ALT}))\.[ ]?{_Y}(?![\w/\-]|[.,:]\d)"),
        ("season_year", rf"{_L}(?P<season>(?i:{_SEASON_ALT}))[ ]{_Y4}(?![\w])"),
        ("compact8", rf"{_L}(?P<y>(?:19|20)\d\d)(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01]){_R}"),
        (
            "dotted_before_time",
            rf"{_L}{_D}\.{_M}(?=[ ](?i:kl|klo|kell|at)\.?[ ]\d{{1,2}}(?:[.:]\d\d)?(?![\d.,]\d|[\d]))",
        ),
        ("slash_short", rf"{_L}{_D}/{_M}(?:[ ]{_Y4})?{_R}"),
        ("compact", rf"{_L}(?P<y>\d\d)(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01]){_R}"),
        ("compact_dmy", rf"{_L}(?P<d>0[1-9]|[12]\d|3[01])(?P<m>0[1-9]|1[0-2])(?P<y>\d\d){_R}"),
        ("range_dotted", rf"{_L}(?P<d0>0?[1-9]|[12]\d|3[01])\.?[ ]?[–\-][ ]?{_D}\.{_M}\.(?:{_Y})?(?![\w.]|[,]\d)"),
        # "6.–7.05": a range whose end has a two-digit month and no full stop
        ("range_dotted_two_digit", rf"{_L}(?P<d0>0?[1-9]|[12]\d|3[01])\.[ ]?[–\-][ ]?{_D}\.(?P<m>0[1-9]|1[0-2]){_R}"),
        ("range_month_name", rf"{_L}(?P<d0>0?[1-9]|[12]\d|3[01])\.?[ ]?[–\-][ ]?{_D}\.?[ ]{_MN}(?:[ ]{_Y4})?(?![\w])"),
        ("range_slash", rf"{_L}(?P<d0>0?[1-9]|[12]\d|3[01])[ ]?[–\-][ ]?{_D}/{_M}(?:[ ]{_Y4})?{_R}"),
        # a night written by its two days: "7./8.11.", "26/27.02" (checked: the second day follows the first)
        ("range_night", rf"{_L}(?P<d0>0?[1-9]|[12]\d|3[01])(?:\.(?:0?[1-9]|1[0-2]))?\.?/{_D}\.{_M}(?:\.{_Y}|\.)?{_R}"),
    )
)

_GUARDED = frozenset(
    {
        "dotted_no_year",
        "dotted_short",
        "dotted_before_time",
        "slash_short",
        "compact",
        "compact_dmy",
        "dash_short_iso",
        "range_dotted",
        "range_dotted_two_digit",
        "range_slash",
        "month_year",
        "dotted_two_digit",
        "dotted_one_digit_day",
        "slash_us",
        "month_name_day_no_year",
        "compact8",
        "month_abbr_year2",
    }
)
"""Short forms that also read as a measurement (``K 4.8.``, ``BT 3/2``, ``1/2 tablett``): checked against the words
around them by :func:`_plausible`."""

_MEASURE_BEFORE = regex.compile(
    r"(?i:(?<![\w])(?:kl|klo|kell|at|bt|bp|rr|blodtryck|blodtrykk|blodtryk|verenpaine|vererõhk|mmse|vas|nrs|gcs|"
    r"score|ratio|dose|dosis|annos|doos|x|temp|puls|pulss|spo2|lactate|laktat|kalium|natrium|kreatinin|krea|"
    r"creatinine|glukose|glukos|glukoosi|glükoos|glucose|kaalium|laktaatti|potassium|sodium|calcium|magnesium|"
    r"phosphate|albumin|urea|haemoglobin|hemoglobin|hemoglobiin|ferritin|bilirubin|troponin|weight|vekt|vikt|vægt|"
    r"paino|kaal|titer|titre|titteri|tiiter|dilution|fortynning|spädning|fortynding|laimennos|lahjendus|vision|visus"
    r"|acuity|blåsljud|bilyd|blæselyd|sivuääni|kahin|murmur|grad|pain|headache|smerte|smärta|kipu|valu|number|mmt"
    r"|moca)\.?:?[ ]*)$"
)
_SCORE_BEFORE = regex.compile(
    rf"(?i:(?<![\w])(?:{'|'.join(regex.escape(w) for w in words('measure_words'))})\.?:?[ ]*)$"
)
"""A clinical score or scale name (``Apgar 9/10``, ``GCS 14/15``): the fraction after it is a score."""
_MEASURE_AFTER = regex.compile(
    r"^[ ]*(?:(?i:mmhg|tbl|tabl|tablett|tabletter|tablet|tablets|tabletti|tab|dos|doser|dose|doses|mg|ml|g|x|ganger"
    r"|gånger|gange|kertaa|korda|times|both|bilat|bilateral|begge|båda|molemmin|mõlemad|ou|sites|pulloa|flasker"
    r"|flaskor|bottles|pudelit|rotation|rotasjon|turnus|portion|portionen|porsjon|porsjonen|annos|annoksesta|portsjon|lymph|lymfeknuder|lymfeknuter|lymfkörtlar|imusolmukkeesta|lümfisõlmest)(?![\w])|%)"
)
_EXAMINATIONS = frozenset(
    {
        "ekg",
        "xr",
        "opg",
        "pta",
        "pci",
        "tavi",
        "lscs",
        "stemi",
        "nstemi",
        "edd",
        "tt",
        "rö",
        "op",
        "tee",
        "tte",
        "mdm",
        "ogtt",
        "pad",
        "ecg",
        "ekko",
        "eko",
        "mr",
        "mri",
        "mrt",
        "ct",
        "dt",
        "kt",
        "ul",
        "uls",
        "us",
        "ukg",
        "rtg",
        "uag",
        "cxr",
        "axr",
        "eeg",
        "emg",
        "pet",
        "dexa",
        "dxa",
        "ercp",
        "mrcp",
        "ctg",
        "ogd",
        "ebus",
        "oct",
        "thr",
        "tkr",
        "tha",
        "tka",
    }
)
"""Examinations and operations written short (``XR 21/10``, ``EBUS 18/4``, ``R THR 10/9``): a date follows."""
_LAST_DOSE = regex.compile(
    r"(?i:(?:last|final|latest|siste|sista|sidste|viimeinen|viimane|next|neste|næste|nästa|seuraava|järgmine"
    r"|(?<![\w.,])\d\.|(?<![\w.,])\d(?:st|nd|rd|th))"
    r"[ ](?:dose|dos|dosis|annos|doos)[ ]*:?[ ]*)$"
)
"""``last dose 1/10``, ``Næste dosis 27/11``, ``2. annos 10.4.``: the day of the last, the next or the second dose,
not a dose."""
EN_WEEKDAYS = (
    "mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
"""English weekdays, written out or short, as literal ``a|b`` phrases."""
_SCANDINAVIAN_DAYS = ("man", "tirs", "tis", "ons", "tors", "fre", "lør", "lör", "søn", "sön", "mån")
SCANDINAVIAN_WEEKDAYS = "|".join(f"{day}dag{end}" for day in _SCANDINAVIAN_DAYS for end in ("", "en"))
"""Norwegian, Danish and Swedish weekdays (``mandag``, ``tisdagen``), as literal ``a|b`` phrases."""
_DAY_CUE = regex.compile(
    r"(?i:(?<![\w])(?:kontroll|kontrol|kontrolli|kordusvisiit|visiit|seanss|vastuvõtt|vastuvõtule|vastuvõtul|homme"
    r"|ülehomme|täna|eile|alates|kuni|(?:esmas|teisi|kolma|nelja|lau|püha)päev(?:al|aks|a)?|reedel|reedeks"
    r"|(?:maanan|tiis|keskiviikko|torst|perjan|lauan|sunnun)(?:tai|taina|aina|na)"
    rf"|{phrase_trie(SCANDINAVIAN_WEEKDAYS)}|(?:ekg|ct|kt|mrt|mri|rtg|uh|ehho|eho)-?l)[ ]*:?[ ]*)$"
)
"""Words after which ``5.12`` (a one-digit day, a two-digit month, no full stop) is a day, not a decimal number:
a follow-up visit, tomorrow, a weekday, an examination in the Estonian adessive (``Kordusvisiit 5.12``,
``teisipäeval 3.12``, ``homme 3.08``, ``EKG-l 2.05``)."""
_NEXT_TEST = regex.compile(
    r"(?i:(?<![\w])(?:next|neste|næste|nästa|seuraava|seur\.|järgmine|uusi|uusinta|kordus|uus|repeat|ny|nyt|nytt"
    r"|new)[ ]+"
    r"(?!(?:klo|kl|kello|kell|at)\b)[\w\-]+[ ]*:?[ ]*)$"
)
"""``Nästa PK 16/7``, ``neste INR 12/3``, ``Uusi INR 7.2.``, ``Kordus INR 8.5.``, ``ny CRP 18/4``: the day of the next
test, not its value."""
_DATE_AFTER = regex.compile(r"[ ]?(?:ja|og|och|and|ning|&|–|-)[ ]?\d{1,2}\.\d\d(?![\d])")
"""Another day right after (``9.03 ja 23.03``): the first one is a day too."""


def _plausible(text: str, start: int, end: int, fmt: str) -> bool:
    """A short date form not read as a measurement, a dose, a fraction or a clock time."""
    before = text[max(0, start - 24) : start]
    words = regex.findall(r"[\w]+", before)
    if fmt == "dotted_one_digit_day":
        cued = _DAY_CUE.search(before) is not None or _NEXT_TEST.search(before) is not None
        return cued or _DATE_AFTER.match(text, end) is not None
    if (words and words[-1].lower() in _EXAMINATIONS) or _LAST_DOSE.search(before) or _NEXT_TEST.search(before):
        return True
    if _MEASURE_BEFORE.search(before) or _SCORE_BEFORE.search(before) or _MEASURE_AFTER.match(text[end : end + 12]):
        return False
    if fmt == "dotted_no_year":  # "13.03.": a two-digit month is a date even after "K" (Estonian Wednesday)
        return not (words and words[-1].lower() == "ph")  # but "pH 7.12." at a sentence's end is a blood gas
    if words and before.endswith((" ", ": ")) and is_analyte(words[-1]):
        return False
    if text[start:end].partition("/")[2] in ("7", "12", "52") and (
        _DURATION_BEFORE.search(before) or _DURATION_AFTER.match(text, end)
    ):
        return False  # "for 3/7", "6/12 ago": days or months
    if fmt in _COMPACT and _LAB_VALUE_BEFORE.search(before) and is_analyte(_LAB_VALUE_BEFORE.search(before)["a"]):
        return True  # "K 4,1 240604": the sample's date after the value
    if fmt in _COMPACT or fmt == "compact8":
        # six or eight digits: only after a word, never inside a number list or after a number cue; after a
        # tooth's number when an examination names it ("Rtg 46 050324"), and anywhere before an hour
        # ("Tehtävä 703, 270124 klo 02.14")
        tooth = len(words) >= 2 and words[-1].isdigit() and words[-2].lower() in _EXAMINATIONS
        if tooth or CLOCK_AFTER.match(text, end):
            return True
        return bool(words) and not words[-1].isdigit() and words[-1].lower() not in _NUMBER_CUES
    return True


@cache
def _analytes() -> tuple[frozenset[str], frozenset[str]]:
    entries = words("analyte_abbreviations")
    return frozenset(entries), frozenset(e.upper() for e in entries)


def is_analyte(word: str) -> bool:
    """Whether ``word`` is an analyte, vital sign or measurement written short (``deid/data/
    analyte_abbreviations.txt``: ``K``, ``Hb``, ``CRP``, ``eGFR``, ``BT``, ``VA``): exactly as listed, or in
    capitals (``HB``, ``KREA``); never another case (``ur``, ``se``, ``On`` are words)."""
    exact, upper = _analytes()
    return word in exact or (word.isupper() and word in upper)


_DURATION_BEFORE = regex.compile(
    r"(?i:(?<![\w])(?:for|x|past|last|within|in|every|over|age|aged|complete|completed|completing|total"
    r"|(?<!next[ ])review|rv|f/u|session|sessions)[ ]*)$"
)
_DURATION_AFTER = regex.compile(r"[ ]*(?i:hx|history|hist|ago|duration|previously|prior)(?![\w])")
"""English shorthand for days, weeks and months (``for 2/7``, ``x 5/7``, ``6/12 ago``, ``3/7 hx``, ``review in 4/12``,
``age 14/12``): a fraction over 7, 12 or 52 there is a length of time, not a date."""
_LAB_VALUE_BEFORE = regex.compile(
    r"(?<![\w])(?P<a>\w+)[ ]*[:=]?[ ]*\d+(?:[.,]\d+)?(?:[ ]*[\p{L}µ%][\p{L}µ%/]{0,9})?[ ]+$"
)
"""An analyte and its value (``K 4,1``, ``CRP 12 mg/l``) right before a six-digit number: its sample date."""


CLOCK_AFTER = regex.compile(r"[ ]*,?[ ]*(?i:kl|klo|kello|kell|at)\.?[ ]*(?:[01]?\d|2[0-3])[.:][0-5]\d(?!\d)")
"""A clock time right after a compact date (``250207 kl. 08.12``, ``240315 klo 14:30``)."""
_COMPACT = frozenset({"compact", "compact_dmy"})
"""Six digits: year first (``240315``, as a sample's date) or day first (``050324``, as a person's number begins)."""
_NUMBER_CUES = frozenset(
    {"nr", "no", "nummer", "number", "numero", "nro", "id", "tlf", "tel", "puh", "mob", "mobil", "lab", "labnr"}
)


@dataclass(frozen=True)
class DateMatch:
    """A date found in text: where, which format, and its parts (year None when the text has none)."""

    start: int
    end: int
    fmt: str
    year: int | None
    month: int
    day: int | None
    match: regex.Match[str]

    def as_date(self, default_year: int = 2000) -> dt.date:
        return dt.date(self.year or default_year, self.month, self.day or 1)


def _year(raw: str | None) -> int | None:
    if raw is None:
        return None
    value = int(raw)
    if len(raw) == 2:
        value += 2000 if value <= 30 else 1900
    return value


_MONTH_NAMED = frozenset(
    name for name, pattern in PATTERNS if "(?P<mn>" in pattern.pattern and "(?P<m>" not in pattern.pattern
)
"""The formats that cannot match without a month's name: they run only near one (:func:`_month_windows`)."""
_ANY_MONTH = regex.compile(
    rf"\b(?i:{_MONTH_ALT}|{_ET_CASE_ALT}|{_ABBR_ALT}|{_EN_MONTHS}|{_EN_MONTH_ABBREVIATIONS}|may|mar|dec|jan|des)"
)
"""Every form any month-name format matches, at a word's start as in every one of them (no end asked)."""
_REACH_BEFORE = 32
"""How far before its month's name a month-name date may start (``2024. aastal 12. märts``, ``12. – 15. mars``)."""
_REACH_AFTER = 16


def _month_windows(text: str) -> list[tuple[int, int]]:
    """Stretches of ``text`` around each month's name, merged, each ending at a space or the text's end (so a
    pattern's look-ahead reads the same there as in the whole text; look-behinds see before a window anyway)."""
    windows: list[tuple[int, int]] = []
    for m in _ANY_MONTH.finditer(text):
        start = max(0, m.start() - _REACH_BEFORE)
        end = _space_after(text, m.end() + _REACH_AFTER)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def _space_after(text: str, at: int) -> int:
    """The first whitespace at or after ``at`` (or the text's end)."""
    if at >= len(text):
        return len(text)
    found = _WHITESPACE.search(text, at)
    return found.start() if found is not None else len(text)


_WHITESPACE = regex.compile(r"\s")


def _candidates(
    fmt: str, pattern: regex.Pattern[str], text: str, windows: list[tuple[int, int]]
) -> Iterator[regex.Match[str]]:
    """The matches of one format: in the month windows for a month-name format, in the whole text otherwise."""
    if fmt not in _MONTH_NAMED:
        yield from pattern.finditer(text, timeout=5.0)
        return
    for start, end in windows:
        yield from pattern.finditer(text, start, end, timeout=5.0)


_EN_MONTH_WORDS = frozenset(m.upper() for m in f"{_EN_MONTHS}|{_EN_MONTH_ABBREVIATIONS}".split("|"))


def _capitals_no_month(word: str) -> bool:
    """A month's short form in capitals that no English note writes so (``DES``, ``MAI``, ``OKT``): an acronym."""
    bare = word.rstrip(".")
    return bare.isupper() and len(bare) <= 4 and bare not in _EN_MONTH_WORDS


def find_dates(text: str) -> Iterator[DateMatch]:
    """Every calendar-valid date in ``text`` (overlapping finds from different formats included)."""
    windows = _month_windows(text)
    for fmt, pattern in PATTERNS:
        for m in _candidates(fmt, pattern, text, windows):
            with_year = fmt == "slash_short" and m.group("y") is not None
            if fmt in _GUARDED and not with_year and not _plausible(text, m.start(), m.end(), fmt):
                continue
            groups = m.groupdict()
            if groups.get("mn") and not groups.get("y") and _capitals_no_month(groups["mn"]):
                continue  # "PCI with 1 DES.": a drug-eluting stent, no Norwegian December
            if groups.get("season"):
                month = _SEASONS[groups["season"].lower()]
            else:
                month = _FORM_INDEX[groups["mn"].lower()][0] if groups.get("mn") else int(groups["m"])
            day = int(groups["d"]) if groups.get("d") else None
            year = _year(groups.get("y"))
            try:
                dt.date(year or 2000, month, day or 1)
            except ValueError:
                if fmt != "slash":
                    continue
                # 3/12/2024 written the US way: month first
                if day is None or day > 12:
                    continue
                month, day = day, month
                try:
                    dt.date(year or 2000, month, day)
                except ValueError:
                    continue
            if groups.get("d0") is not None and not 1 <= int(groups["d0"]) <= (day or 31):
                continue  # a range runs forward within one month ("2.–5.4."), not "12-5/3"
            if fmt == "range_night" and day != int(groups["d0"]) + 1:
                continue  # "7./8.11." is a night; "3/12.5" is no date
            yield DateMatch(m.start(), m.end(), fmt, year, month, day, m)


def _pad(original: str, value: int, padded: bool) -> str:
    return f"{value:02d}" if padded or original.startswith("0") else str(value)


def render_like(found: DateMatch, new: dt.date) -> str:
    """``new`` written exactly the way ``found`` was written (padding, separators, month-name form, case)."""
    m = found.match
    numeric = [m.groupdict().get(g) or "" for g in ("d", "m")]
    padded = any(raw.startswith("0") for raw in numeric)
    pieces: list[tuple[int, int, str]] = []
    for group in ("d0", "d", "m", "y", "mn"):
        raw = m.groupdict().get(group)
        if raw is None:
            continue
        start, end = m.span(group)
        if group == "d0":  # the first day of a range moves by the same offset as the date it ends on
            first = dt.date(found.year or 2000, found.month, int(raw)) + (new - found.as_date())
            new_text = _pad(raw, first.day, padded)
        elif group == "d":
            new_text = _pad(raw, new.day, padded)
        elif group == "m":
            new_text = _pad(raw, new.month, padded)
        elif group == "y":
            new_text = f"{new.year % 100:02d}" if len(raw) == 2 else str(new.year)
        else:
            table = _NORDIC_TABLE.get(raw) or _FORM_INDEX[raw.lower()][1]
            name = table[new.month - 1]
            new_text = name.capitalize() if raw[:1].isupper() else name.lower()
        pieces.append((start, end, new_text))
    out = str(m.group(0))
    base = int(m.start())
    for start, end, new_text in sorted(pieces, reverse=True):
        out = out[: start - base] + new_text + out[end - base :]
    return out


def parse_one(text: str) -> DateMatch | None:
    """The date that spans all of ``text``, if any."""
    for found in find_dates(text):
        if found.start == 0 and found.end == len(text):
            return found
    return None


def is_month_name(word: str) -> bool:
    """Whether ``word`` is a month's name or abbreviation in one of the languages, in any listed case form."""
    return word.lower().rstrip(".") in _FORM_INDEX
