"""Issue 15, session 7: four general kinds the rules missed, by kind: Estonian month names in case forms with a
year, Estonian mobiles after an Estonian phone cue, Irish PPS numbers, Irish landlines written without separators
after a cue. Every case is written by hand (numbers and sentences not from the hand-written set); each carries a
distractor that must stay (lab values, doses, ``3/52``, years alone, invalid PPSNs, lab numbers with no phone cue).
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from stdnum.ie import pps

from deid.dates import find_dates, render_like
from deid.engine import Deidentifier
from deid.recognizers.ie_pps import IePpsRecognizer
from deid.recognizers.phone import NordicPhoneRecognizer
from deid.surrogates import national_id
from tests.deid.conftest import found
from tests.deid.test_handwritten_kinds import Case, _check

ESTONIAN_MONTH_CASES: list[Case] = [
    ("et", "Valud alates augustist 2024, Hb 121.", "augustist 2024", "DATE", "Hb 121"),
    ("et", "Suitsetamisest loobunud märtsist 2021, CRP 5.", "märtsist 2021", "DATE", "CRP 5"),
    ("et", "Opereeritud 2019 mais, Hb 118.", "2019 mais", "DATE", "Hb 118"),
    ("et", "Opereeritud mais 2019, doos 5 mg.", "mais 2019", "DATE", "5 mg"),
    ("et", "Insult 2021. aasta juulis, kontroll 3/52.", "2021. aasta juulis", "DATE", "3/52"),
    ("et", "Diagnoos pandi 2019. a novembris, Hb 121.", "2019. a novembris", "DATE", "Hb 121"),
    ("et", "Infarkt 2022. a aprillis, CRP 12.", "2022. a aprillis", "DATE", "CRP 12"),
    ("et", "Sünnitus 2020. aastal veebruaris, Hb 104.", "2020. aastal veebruaris", "DATE", "Hb 104"),
    ("et", "Haigusleht septembrini 2024, Hb 130.", "septembrini 2024", "DATE", "Hb 130"),
    ("et", "Suunatud oktoobrisse 2025 kontrolli, K 4,1.", "oktoobrisse 2025", "DATE", "4,1"),
    ("et", "Töövõimetus kuni 2024. a detsembrini, doos 10 mg.", "2024. a detsembrini", "DATE", "10 mg"),
    ("et", "Ravi algas 2023. aasta märtsi lõpus, Hb 121.", "2023. aasta märtsi", "DATE", "Hb 121"),
    ("et", "Kaebused alates 2018 jaanuarist, CRP 7.", "2018 jaanuarist", "DATE", "CRP 7"),
    ("et", "Eelmine kontroll 2020 veebruaris, aastal 2019 normis.", "2020 veebruaris", "DATE", "2019"),
    ("et", "Kaebused 12. juulist 2023 alates, Hb 121.", "12. juulist 2023", "DATE", "Hb 121"),
    ("et", "Ravi kuni 3. märtsini, doos 5 mg.", "3. märtsini", "DATE", "5 mg"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), ESTONIAN_MONTH_CASES)
def test_estonian_month_names_in_case_forms(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("Insult 2021. aasta juulis.", "2021. aasta juulis"),
        ("Diagnoos 2019. a novembris.", "2019. a novembris"),
        ("Valud 2019 mais.", "2019 mais"),
        ("Kontroll 2021.a. 12. juulil, Hb 121.", "2021.a. 12. juulil"),
    ],
)
def test_a_year_and_a_case_form_month_are_one_date_span(deidentifier: Deidentifier, text: str, whole: str) -> None:
    spans = deidentifier.detect(text, "et")
    assert [(text[s.start : s.end], str(s.label)) for s in spans] == [(whole, "DATE")]


@pytest.mark.parametrize(
    ("text", "shifted"),
    [
        ("augustist 2024", "septembrist 2024"),
        ("2019 mais", "2019 juunis"),
        ("2021. aasta juulis", "2021. aasta augustis"),
        ("septembrini 2024", "oktoobrini 2024"),
        ("oktoobrisse 2023", "novembrisse 2023"),
    ],
)
def test_a_case_form_date_is_shifted_in_the_same_case(text: str, shifted: str) -> None:
    (date,) = [f for f in find_dates(text) if f.start == 0 and f.end == len(text)]
    assert render_like(date, date.as_date() + dt.timedelta(days=31)) == shifted


@pytest.mark.parametrize(
    "text",
    [
        "Kontroll 3/52, Hb 121, aastal 2019.",
        "Ta tuli mais tagasi, doos 5 mg.",
        "Haiguslugu aastast 2019, CRP 5.",
        "Sündinud 2019. aastal, Hb 121.",
        "Sent 2019 mail to the GP, Hb 121.",
    ],
)
def test_a_year_or_a_month_alone_stays(deidentifier: Deidentifier, text: str) -> None:
    lang = "en" if text.startswith("Sent") else "et"
    assert [text[s.start : s.end] for s in deidentifier.detect(text, lang)] == []


ESTONIAN_MOBILES: list[Case] = [
    ("et", "Helistada numbrile 53990127, Hb 121.", "53990127", "PHONE", "Hb 121"),
    ("et", "Tütar, tel 5399 0127, teavitatud. CRP 5.", "5399 0127", "PHONE", "CRP 5"),
    ("et", "Poeg helistas nr-lt 58 120 334, doos 5 mg.", "58 120 334", "PHONE", "5 mg"),
    ("et", "Abikaasa mobiil 5812 0334, kontroll 3/52.", "5812 0334", "PHONE", "3/52"),
    ("et", "Kättesaadav telefonil 5120334, Hb 118.", "5120334", "PHONE", "Hb 118"),
    ("et", "Tütre nr 56 789 012, Hb 121.", "56 789 012", "PHONE", "Hb 121"),
    ("et", "Kontakt numbril 5399 0127, aastal 2019.", "5399 0127", "PHONE", "2019"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), ESTONIAN_MOBILES)
def test_estonian_mobiles_after_an_estonian_phone_cue(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "number"),
    [
        ("et", "Proovi nr 58120334 laborisse.", "58120334"),
        ("et", "Leukotsüüdid 5,8, labori vastus 58120334.", "58120334"),
        ("et", "Partii 58120334, doos 5 mg.", "58120334"),
        ("en", "Lab number 53990127 received.", "53990127"),
        ("en", "Sample 58120334 sent to the lab, Hb 121.", "58120334"),
    ],
)
def test_lab_and_sample_numbers_without_a_phone_cue_are_not_phones(
    deidentifier: Deidentifier, lang: str, text: str, number: str
) -> None:
    start = text.index(number)
    spans = deidentifier.detect(text, lang)
    assert [str(s.label) for s in spans if s.start < start + len(number) and start < s.end and s.label == "PHONE"] == []


def test_the_estonian_cued_rule_needs_a_valid_estonian_mobile() -> None:
    recognizer = NordicPhoneRecognizer(supported_language="et")
    assert found(recognizer, "Helistada numbrile 53990127.") == ["53990127"]
    assert found(recognizer, "Helistada numbrile 5399012.") == []  # seven digits, not a valid EE number
    assert found(recognizer, "Proovi nr 58120334.") == []
    assert found(NordicPhoneRecognizer(supported_language="nb"), "Prøve nr-lt 58 120 334.") == []


IRISH_PPS: list[Case] = [
    ("en", "PPSN 2357708H, Hb 121.", "2357708H", "NATIONAL_ID", "Hb 121"),
    ("en", "PPS no 1234567TW, dose 5 mg.", "1234567TW", "NATIONAL_ID", "5 mg"),
    ("en", "Her PPSN: 6433435OA, review in 3/52.", "6433435OA", "NATIONAL_ID", "3/52"),
    ("en", "His number 2357708H is on file since 2019.", "2357708H", "NATIONAL_ID", "2019"),
    ("en", "Social welfare claim for 6433435F, Hb 98.", "6433435F", "NATIONAL_ID", "Hb 98"),
    ("en", "Old PPS 2357708 H recorded.", "2357708 H", "NATIONAL_ID", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), IRISH_PPS)
def test_irish_pps_numbers_with_or_without_a_cue(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    "text", ["PPSN 1234567A was mistyped.", "PPS no 6433435E on the old form.", "PPSN 2357708A, Hb 121."]
)
def test_an_invalid_pps_number_stays(deidentifier: Deidentifier, text: str) -> None:
    assert [text[s.start : s.end] for s in deidentifier.detect(text, "en")] == []


def test_the_pps_recognizer_checks_the_letter() -> None:
    recognizer = IePpsRecognizer(supported_language="en")
    assert found(recognizer, "PPSN 2357708H; 1234567TW; 6433435OA") == ["2357708H", "1234567TW", "6433435OA"]
    assert found(recognizer, "PPSN 2357708A; 1234567; 6433435E; 6433435VH; X2357708H") == []


@pytest.mark.parametrize("original", ["2357708H", "1234567TW", "6433435OA"])
def test_a_pps_surrogate_is_valid_and_keeps_its_form(original: str) -> None:
    new = national_id(random.Random(7), original, "ie")
    assert pps.is_valid(new)
    assert new != original
    assert len(new) == len(original)
    assert new[8:] == original[8:]


IRISH_LANDLINES: list[Case] = [
    ("en", "Callback no. 0599131482 after 5pm, Hb 121.", "0599131482", "PHONE", "Hb 121"),
    ("en", "tel 0214567890, dose 5 mg.", "0214567890", "PHONE", "5 mg"),
    ("en", "Daughter's number 0214567890, review 3/52.", "0214567890", "PHONE", "3/52"),
    ("en", "Phone 0567721345 (home), CRP 12.", "0567721345", "PHONE", "CRP 12"),
    ("en", "Call-back number 0719132480; Hb 104.", "0719132480", "PHONE", "Hb 104"),
    ("en", "Contact no: 0498562311 since 2019.", "0498562311", "PHONE", "2019"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), IRISH_LANDLINES)
def test_irish_landlines_without_separators_after_a_cue(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    "text",
    ["Account no. 0599131482 closed.", "Invoice number 0214567890 paid.", "Ref no. 0599131482 on the claim."],
)
def test_a_reference_number_of_landline_shape_is_not_a_phone(deidentifier: Deidentifier, text: str) -> None:
    assert [str(s.label) for s in deidentifier.detect(text, "en") if s.label == "PHONE"] == []


def test_the_irish_cued_rule_needs_a_valid_irish_number() -> None:
    recognizer = NordicPhoneRecognizer(supported_language="en")
    assert found(recognizer, "Callback no. 0599131482.") == ["0599131482"]
    assert found(recognizer, "Callback no. 0000000000.") == []


@pytest.mark.parametrize(
    ("text", "phone"),
    [("Family member number 0214567890.", "0214567890"), ("Fax no. 0599131482 for the letter.", "0599131482")],
)
def test_a_family_members_or_a_fax_number_is_a_phone(deidentifier: Deidentifier, text: str, phone: str) -> None:
    spans = deidentifier.detect(text, "en")
    assert [(text[s.start : s.end], str(s.label)) for s in spans if s.label == "PHONE"] == [(phone, "PHONE")]
