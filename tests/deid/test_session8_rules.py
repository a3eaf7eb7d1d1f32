"""Issue 15, session 8: five kinds the rules missed on unseen notes, by kind: short dates after an abbreviation
that is no analyte (a club, a hospital, an examination, a procedure), a compact sample date right after a lab
value, month abbreviations with a dot and a year, phone numbers right after a person's name with no cue word, and
well-known employers and services named without a generic noun. Every case is written by hand (names, numbers
and sentences not from the hand-written set); each carries a distractor that must stay (lab values, doses,
scores, the UK durations ``3/7`` and ``6/12``, visual acuity, years alone, lab numbers with no phone cue).
"""

from __future__ import annotations

import datetime as dt

import pytest

from deid.dates import find_dates, is_analyte, parse_one, render_like
from deid.engine import Deidentifier
from deid.recognizers.phone import NordicPhoneRecognizer
from tests.deid.conftest import found
from tests.deid.test_handwritten_kinds import Case, _check

SHORT_DATES_AFTER_ABBREVIATIONS: list[Case] = [
    ("da", "Skadet til kamp i Tarm IF 14/6, K 4,2.", "14/6", "DATE", "4,2"),
    ("da", "Set i Neurologisk Ambulatorium, Odense UH 21/11, Hb 8,1.", "21/11", "DATE", "8,1"),
    ("da", "Keglesnit efter LLETZ 3/12, BT 132/84.", "3/12", "DATE", "132/84"),
    ("nb", "Skade på trening i Bryne FK 22/8, CRP 4.", "22/8", "DATE", "CRP 4"),
    ("nb", "Kontroll hos ØNH 14/3, Na 139.", "14/3", "DATE", "Na 139"),
    ("sv", "Operation enligt TURP 9/4, Hb 112.", "9/4", "DATE", "Hb 112"),
    ("sv", "Bedömd på SUS 17/9, K 3,9.", "17/9", "DATE", "3,9"),
    ("et", "TÜK 14.06 – sääreluu murd, CRP 22.", "14.06", "DATE", "CRP 22"),
    ("et", "Põlve UH 21.3.: meniski rebend, K 4,4.", "21.3.", "DATE", "4,4"),
    ("fi", "Tähystys KYS 12.4. jälkeen, Krea 71.", "12.4.", "DATE", "Krea 71"),
    ("fi", "Kuvattu MRI 18.10, ALAT 31.", "18.10", "DATE", "ALAT 31"),
    ("en", "Seen at CUH 28/10, K 4.1.", "28/10", "DATE", "4.1"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), SHORT_DATES_AFTER_ABBREVIATIONS)
def test_a_short_date_after_an_abbreviation_that_is_no_analyte(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    "text",
    [
        "K 4.8.",
        "Na 3.9.",
        "BT 3/2",
        "CRP 12.10",
        "P-K 4.8.",
        "HB 12.11",
        "eGFR 6/8",
        "SpO2 9/10",
        "VA 6/9",
        "VA 6/12 bilat.",
        "R 6/12, L 6/9",
        "GCS 14/15",
        "1/2 tbl",
        "3/7 hx of cough",
        "coryzal for 2/7",
        "fall 6/12 ago",
        "3/12 history of back pain",
        "amoxicillin x 5/7",
        "flucloxacillin BD 7/7",
        "IV 3/7 then oral",
    ],
)
def test_values_scores_acuity_and_durations_stay(text: str) -> None:
    assert [text[f.start : f.end] for f in find_dates(text)] == []


@pytest.mark.parametrize(
    ("word", "analyte"),
    [("K", True), ("CRP", True), ("eGFR", True), ("HB", True), ("IF", False), ("UH", False), ("On", False)],
)
def test_the_analyte_lexicon_is_specific(word: str, analyte: bool) -> None:
    assert is_analyte(word) is analyte


COMPACT_AFTER_VALUES: list[Case] = [
    ("et", "Eelmine K 3,8 250112, kontroll kuu pärast.", "250112", "DATE", "3,8"),
    ("fi", "Edellinen CRP 18 230915, nyt 4.", "230915", "DATE", "CRP 18"),
    ("en", "Previous Hb 109 240722, now 121 g/L.", "240722", "DATE", "Hb 109"),
    ("sv", "Tidigare Krea 104 µmol/l 231130, nu 96.", "231130", "DATE", "Krea 104"),
    ("da", "Blodprøve taget 250112 kl. 08.40, K 4,1.", "250112", "DATE", "4,1"),
    ("fi", "Näyte otettu 240311 klo 7.45, Krea 71.", "240311", "DATE", "Krea 71"),
    ("sv", "Provnr 24-118392. Prov taget 240610 på vårdcentralen, Hb 131.", "240610", "DATE", "Hb 131"),
    ("et", "Proov võetud 250114, tulemus normis, CRP 3.", "250114", "DATE", "CRP 3"),
    ("da", "Rekv. 250112 sendt, K 4,1.", "250112", "ID", "4,1"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), COMPACT_AFTER_VALUES)
def test_a_compact_sample_date_after_a_lab_value_or_before_an_hour(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize("text", ["Prøver 12 240315", "lot 12 240315", "nr 7 240315", "3 4 240315"])
def test_six_digits_after_a_number_that_is_no_lab_value_stay(text: str) -> None:
    assert [f.fmt for f in find_dates(text)] == []


MONTH_ABBREVIATIONS: list[Case] = [
    ("sv", "Opererad febr. 2021, Hb 121.", "febr. 2021", "DATE", "Hb 121"),
    ("da", "Sidst set sept. 2022, dosis 5 mg.", "sept. 2022", "DATE", "5 mg"),
    ("nb", "Innlagt okt. 22 med pneumoni, CRP 140.", "okt. 22", "DATE", "CRP 140"),
    ("nb", "Kontroll des. 23, K 4,0.", "des. 23", "DATE", "4,0"),
    ("en", "Last seen Jan.-23, Hb 131.", "Jan.-23", "DATE", "Hb 131"),
    ("fi", "Leikattu marrask. 2022, annos 10 mg.", "marrask. 2022", "DATE", "10 mg"),
    ("fi", "Kontrolli helmik. 24, Krea 80.", "helmik. 24", "DATE", "Krea 80"),
    ("fi", "Oireet alkoivat syysk. 2021, vuonna 2019 terve.", "syysk. 2021", "DATE", "2019"),
    ("et", "Uuring veebr. 2023, aastal 2020 normis.", "veebr. 2023", "DATE", "2020"),
    ("et", "Kontroll dets 2024, CRP 5.", "dets 2024", "DATE", "CRP 5"),
    ("da", "Scannet sept.23 på sygehuset, K 3,9.", "sept.23", "DATE", "3,9"),
    ("nb", "Operert okt.2021, Hb 11,2.", "okt.2021", "DATE", "11,2"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), MONTH_ABBREVIATIONS)
def test_month_abbreviations_with_a_dot_and_a_year(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("text", "shifted"),
    [
        ("febr. 2021", "mars. 2021"),
        ("marrask. 2022", "jouluk. 2022"),
        ("okt. 22", "nov. 22"),
        ("sept.23", "okt.23"),
        ("jan. 2024", "feb. 2024"),
    ],
)
def test_a_month_abbreviation_is_shifted_in_the_same_form(text: str, shifted: str) -> None:
    date = parse_one(text)
    assert date is not None
    assert render_like(date, date.as_date() + dt.timedelta(days=31)) == shifted


@pytest.mark.parametrize("text", ["nov. 12 mg", "jan. 3 x", "Op. 12 pas", "apr. 2 tabl"])
def test_a_month_abbreviation_before_a_dose_stays(text: str) -> None:
    assert [text[f.start : f.end] for f in find_dates(text) if f.fmt == "month_abbr_year2"] == []


PHONES_AFTER_NAMES: list[Case] = [
    ("et", "Helistas tütar Kadri Mägi 56120348, ema segane.", "56120348", "PHONE", ""),
    ("et", "Teavitatud poeg Andres 6412087, Hb 118.", "6412087", "PHONE", "Hb 118"),
    ("nb", "Kontakt sønn Eirik 48217093. Hb 12,1.", "48217093", "PHONE", "12,1"),
    ("da", "Pårørende datter Mette 28417065, K 4,1.", "28417065", "PHONE", "4,1"),
    ("sv", "Anhörig dotter Karin 070-412 83 17, CRP 8.", "070-412 83 17", "PHONE", "CRP 8"),
    ("fi", "Omainen poika Mikko 0407391258, Krea 77.", "0407391258", "PHONE", "Krea 77"),
    ("en", "NOK daughter Siobhan 0871234566, Hb 121.", "0871234566", "PHONE", "Hb 121"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), PHONES_AFTER_NAMES)
def test_a_phone_number_right_after_a_name(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "number"),
    [
        ("nb", "Berit 2019 og 2021 frisk.", "2019"),  # years after a name
        ("da", "Mette 20240315 indlagt.", "20240315"),  # a date's shape
        ("fi", "Mikko 12345678 näyte.", "12345678"),  # no Finnish number
        ("sv", "Karin 123456789 remiss.", "123456789"),  # no Swedish number
        ("en", "Siobhan 1234567 MRN.", "1234567"),  # no British or Irish number
        ("et", "Proov 71234567 saadetud, Kask teadlik.", "71234567"),  # a lab number with no name or cue
        ("et", "Patsient Mari 48001015719 teadlik.", "48001015719"),  # a personal code's length
        ("da", "Patient Mette 010180-1234 indlagt.", "010180-1234"),  # a CPR number
        ("sv", "Patient Karin 19800101-1234 inlagd.", "19800101-1234"),  # a personnummer
    ],
)
def test_a_number_after_a_name_that_is_no_phone_stays(
    deidentifier: Deidentifier, lang: str, text: str, number: str
) -> None:
    start = text.index(number)
    spans = deidentifier.detect(text, lang)
    assert not [s for s in spans if s.start < start + len(number) and start < s.end and str(s.label) == "PHONE"]
    assert found(NordicPhoneRecognizer(lang), text) == []


EMPLOYERS_AND_SERVICES: list[Case] = [
    ("nb", "Jobber som bussjåfør i AtB, sykmeldt. Hb 13,1.", "AtB", "ORGANIZATION", "13,1"),
    ("nb", "Student ved UiT, bor på hybel. CRP 3.", "UiT", "ORGANIZATION", "CRP 3"),
    ("sv", "Arbetar som förare på Västtrafik, Hb 140.", "Västtrafik", "ORGANIZATION", "Hb 140"),
    ("sv", "Doktorand vid KTH, stressad. K 4,0.", "KTH", "ORGANIZATION", "4,0"),
    ("da", "Ansat i Midttrafik som chauffør, INR 2,3.", "Midttrafik", "ORGANIZATION", "2,3"),
    ("da", "Studerer på DTU, 3. semester. Hb 8,4.", "DTU", "ORGANIZATION", "8,4"),
    ("da", "Nye briller fra Synoptik, VA 6/9.", "Synoptik", "ORGANIZATION", "6/9"),
    ("fi", "Alkoholi, myyjä Stockmannilla, Krea 70.", "Stockmann", "ORGANIZATION", "Krea 70"),
    ("fi", "Opiskelee Metropoliassa, CRP 2.", "Metropolia", "ORGANIZATION", "CRP 2"),
    ("et", "Õpib TalTechis, kontroll 3/52.", "TalTech", "ORGANIZATION", "3/52"),
    ("et", "Kodus Verisure häirenupp, Hb 122.", "Verisure", "ORGANIZATION", "Hb 122"),
    ("en", "Works for Specsavers as a dispenser, Hb 131.", "Specsavers", "ORGANIZATION", "Hb 131"),
    ("en", "Lecturer at UCD, off work 2/52.", "UCD", "ORGANIZATION", "2/52"),
    ("en", "Bus driver with Dublin Bus, BP 142/88.", "Dublin Bus", "ORGANIZATION", "142/88"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), EMPLOYERS_AND_SERVICES)
def test_well_known_employers_and_services_without_a_generic_noun(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(("text", "year", "day"), [("okt. 22", 2022, None), ("Sept. 12", None, 12)])
def test_a_nordic_abbreviation_takes_a_year_an_english_one_a_day(text: str, year: int | None, day: int | None) -> None:
    date = parse_one(text)
    assert date is not None
    assert (date.year, date.day) == (year, day)


FRIENDS: list[Case] = [
    ("da", "Kammeraten Bjarke fandt ham i entréen, BT 128/80.", "Bjarke", "PERSON", "128/80"),
    ("nb", "Kameraten Sindre kjørte ham hjem, CRP 6.", "Sindre", "PERSON", "CRP 6"),
    ("sv", "Kamraten Olle ringde efter ambulans, Hb 141.", "Olle", "PERSON", "Hb 141"),
    ("fi", "Kaveri Jussi toi hänet päivystykseen, Krea 64.", "Jussi", "PERSON", "Krea 64"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), FRIENDS)
def test_a_friend_named_by_first_name_after_the_word_for_friend(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    "text",
    [
        "Dihydropyrimidine dehydrogenase (DPD) deficiency: DPD activity was 0.1 nmol/mg/h.",
        "Screened for DPD before capecitabine; DPD deficiency excluded.",
    ],
)
def test_an_enzyme_named_like_a_courier_stays(deidentifier: Deidentifier, text: str) -> None:
    assert not [s for s in deidentifier.detect(text, "en") if "DPD" in text[s.start : s.end]]
