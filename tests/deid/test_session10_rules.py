"""Session 10's rules, on sentences written by hand for these tests (none copied from the hand-written set):
a name repeated bare, a signer's initials, compact day-first dates, call-back numbers, month names alone, ISO
dates with an Estonian case ending, given names from further countries, and a town after an organisation."""

from __future__ import annotations

import pytest

from deid.dates import find_dates
from deid.engine import Deidentifier
from tests.deid.test_handwritten_kinds import _check

Case = tuple[str, str, str, str, str]

REPEATED: list[Case] = [
    ("nb", "Samtale med datteren Ingrid i dag. Ingrid kommer på besøk fredag. Hb 12,1.", "Ingrid kommer", "", "12,1"),
    ("sv", "Hustrun Gunnel ringde. Gunnel oroar sig för CRP 45.", "Gunnel oroar", "", "CRP 45"),
    ("da", "Sønnen Mads Krogh var med. Krogh spørger til INR 2,3.", "Krogh spørger", "", "2,3"),
]


@pytest.mark.parametrize(("lang", "text", "second", "_", "distractor"), REPEATED)
def test_a_name_found_once_is_found_where_it_is_repeated(
    deidentifier: Deidentifier, lang: str, text: str, second: str, _: str, distractor: str
) -> None:
    name = second.split()[0]
    position = text.index(second)
    alone = text[position:]
    assert not any(s.start == 0 for s in deidentifier.detect(alone, lang))  # opening a sentence, bare: no cue
    spans = deidentifier.detect(text, lang)
    assert any(s.start == position and text[s.start : s.end] == name and str(s.label) == "PERSON" for s in spans)
    _check(deidentifier, lang, text, "", "", distractor)


def test_a_role_word_of_a_found_name_is_not_repeated(deidentifier: Deidentifier) -> None:
    text = "Hammaslääkäri Eeva Sirviö tarkasti. Hammaslääkäri suositteli kontrollia."
    spans = deidentifier.detect(text, "fi")
    second = text.rindex("Hammaslääkäri")
    assert not any(s.start <= second < s.end for s in spans)


INITIALS: list[Case] = [
    ("nb", "Kontroll hos fastlege om 2 uker.\n/RKS", "RKS", "PERSON", "2 uker"),
    ("da", "Ny tid om 3 mdr. Kontrol af INR.\n/ MBJ, sygeplejerske", "MBJ", "PERSON", "INR"),
    ("fi", "Soitettu omaisille.\nsh P.K.", "P.K.", "PERSON", ""),
    ("en", "Review in 2/52 or sooner if worse. AKM", "AKM", "PERSON", ""),
    ("sv", "Åter om 4 v.\n/spl. HN", "HN", "PERSON", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), INITIALS)
def test_a_signers_initials_at_the_end_of_a_line(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "kept"),
    [
        ("sv", "Planerad kontroll med EKG\nBedömning: KOL", "EKG"),
        ("sv", "Planerad kontroll med EKG\nBedömning: KOL", "KOL"),
        ("fi", "LL Aino Mäkelä\nOT Laura Hakala", "LL"),
        ("fi", "LL Aino Mäkelä\nOT Laura Hakala", "OT"),
        ("en", "Plan: repeat CT\nECG: sinus rhythm", "CT"),
        ("en", "CT CHEST/ABDOMEN WITH CONTRAST", "WITH"),
        ("nb", "Diagnose: astma og KOLS", "KOLS"),
    ],
)
def test_capitals_that_are_no_signers_initials_stay(
    deidentifier: Deidentifier, lang: str, text: str, kept: str
) -> None:
    _check(deidentifier, lang, text, "", "", kept)


DATES_AND_PHONES: list[Case] = [
    ("nb", "Rtg 36 150824 viser apikal oppklaring.", "150824", "DATE", ""),
    ("fi", "Tehtävä 412, 030224 klo 14.10 kotiin.", "030224", "DATE", "412"),
    ("da", "Tetanus sidst 2019-03. Hb 8,2.", "2019-03", "DATE", "8,2"),
    ("et", "Võrreldes KT 2022-11-30-ga muutusteta.", "2022-11-30-ga", "DATE", ""),
    ("en", "Review in Sept with bloods, Hb 101.", "Sept", "DATE", "Hb 101"),
    ("sv", "Börjar på förskola i januari, CRP 4.", "januari", "DATE", "CRP 4"),
    ("fi", "Ablaatio tehtiin kesäkuussa, CRP 3.", "kesäkuussa", "DATE", "CRP 3"),
    ("et", "Kaal oli jaanuaris 101 kg.", "jaanuaris", "DATE", "101 kg"),
    ("fi", "Takaisinsoittonumero 0401234567.", "0401234567", "PHONE", ""),
    ("sv", "Återuppringningsnr 0701234567.", "0701234567", "PHONE", ""),
    ("en", "Wife rang (01603 612345) this morning.", "01603 612345", "PHONE", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), DATES_AND_PHONES)
def test_compact_and_partial_dates_and_call_back_numbers(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "kept"),
    [
        ("sv", "Hälsade god jul till alla.", "jul"),
        ("en", "It may be viral; Mar 2 hours later.", "may"),
        ("en", "Jan Olsen's wife phoned.", "Olsen"),  # a name, not a month: caught as a person, never a date
        ("et", "Saatsin e-mail perearstile.", "mail"),
    ],
)
def test_month_words_that_are_no_month_stay_no_date(
    deidentifier: Deidentifier, lang: str, text: str, kept: str
) -> None:
    start, end = text.index(kept), text.index(kept) + len(kept)
    dates = [s for s in deidentifier.detect(text, lang) if str(s.label) == "DATE"]
    assert not any(s.start < end and start < s.end for s in dates)


@pytest.mark.parametrize("text", ["Ordrenr 0701234567 sendt.", "Lot 12 240315 og Hb 8,1."])
def test_a_number_after_a_reference_cue_is_no_phone_or_date(deidentifier: Deidentifier, text: str) -> None:
    labels = {str(s.label) for s in deidentifier.detect(text, "nb")}
    assert not labels & {"PHONE", "DATE"}


def test_day_first_compact_dates_render_back_day_first() -> None:
    found = [f for f in find_dates("Rtg 36 150824.") if f.fmt == "compact_dmy"]
    assert found and (found[0].day, found[0].month, found[0].year) == (15, 8, 2024)


NAMES_AND_TOWNS: list[Case] = [
    ("en", "Pupil: Kacper Nowicki S2, DOB 11/01/2011.", "Kacper Nowicki", "PERSON", ""),
    ("nb", "Samtale med Jakub Wiśniewski i dag, Hb 13.", "Jakub Wiśniewski", "PERSON", "Hb 13"),
    ("en", "Seen by Aoife Ní Bhriain G2P1 at booking.", "Aoife Ní Bhriain", "PERSON", ""),
    ("sv", "Kontakt med Dino Muratović, CRP 8.", "Dino Muratović", "PERSON", "CRP 8"),
    ("da", "Ansat hos Grundfos i Bjerringbro, CRP 4.", "Bjerringbro", "LOCATION", "CRP 4"),
    ("sv", "Arbetar på Knowit i Jönköping sedan 2019.", "Jönköping", "LOCATION", "2019"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), NAMES_AND_TOWNS)
def test_given_names_of_further_countries_and_towns_after_an_organisation(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


def test_a_foreign_given_name_alone_or_before_a_common_word_is_no_person(deidentifier: Deidentifier) -> None:
    text = "Trip to the Eden Project last week. Ravi: Olansapiin 15 mg."
    persons = [text[s.start : s.end] for s in deidentifier.detect(text, "en") if str(s.label) == "PERSON"]
    assert "Eden Project" not in persons and "Eden" not in persons


MORE_FORMS: list[Case] = [
    ("en", "DOB 17-Aug-1958, NHS number pending.", "17-Aug-1958", "DATE", ""),
    ("da", "CT thorax 02-03-2025 kl 10.", "02-03-2025", "DATE", ""),
    ("sv", "HbA1c 71 (förra 23-11-20: 64).", "23-11-20", "DATE", "71"),
    ("da", "Prøve-ID 7700412983, udtaget i dag.", "7700412983", "ID", ""),
    ("et", "Retsepti nr 4417203391 väljastatud.", "4417203391", "ID", ""),
    ("fi", "Silmäasema Seinäjoki\nAsiakas tuli tarkastukseen.", "Silmäasema Seinäjoki", "ORGANIZATION", ""),
    ("nb", "Ortopediteknikk Nordlys Harstad\nPasienten møtte.", "Ortopediteknikk Nordlys Harstad", "ORGANIZATION", ""),
    ("da", "Mormor Inger Ribe bor alene.", "Inger Ribe", "PERSON", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), MORE_FORMS)
def test_dashed_dates_long_references_and_letterheads(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "kept"),
    [
        ("sv", "Apgar 9-10-10, vikt 3480 g.", "9-10-10"),
        ("en", "Number 12345678901 is invalid.", "12345678901"),
        ("nb", "Fnr 27016521899 er ugyldig.", "27016521899"),
    ],
)
def test_scores_and_invalid_identifiers_of_a_national_length_stay(
    deidentifier: Deidentifier, lang: str, text: str, kept: str
) -> None:
    _check(deidentifier, lang, text, "", "", kept)


WELSH_AND_TOWNS: list[Case] = [
    ("en", "Registered with Meddygfa Tywi, Llandeilo. Hb 121.", "Meddygfa Tywi", "ORGANIZATION", "Hb 121"),
    ("en", "Attends Ysgol Penrhyn, Bangor since Sept.", "Ysgol Penrhyn", "ORGANIZATION", ""),
    ("sv", "Bor ensam Tallbacksvägen 14, lgh 1203, Sollefteå.\nCRP 12.", "Sollefteå", "ADDRESS", "CRP 12"),
    ("nb", "Bor i Fjellveien 3, 2. etg, Vinstra. Hb 11.", "Vinstra", "ADDRESS", "Hb 11"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), WELSH_AND_TOWNS)
def test_welsh_facility_nouns_and_the_town_closing_an_address(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


def test_a_name_closing_an_address_sentence_is_no_town(deidentifier: Deidentifier) -> None:
    text = "Bor i Fjellveien 3, Ingrid.\nHb 11."
    spans = {text[s.start : s.end]: str(s.label) for s in deidentifier.detect(text, "nb")}
    assert spans.get("Fjellveien 3") == "ADDRESS"


AFTER_Q: list[Case] = [
    ("sv", "Bekräftelse skickas per sms.\n/NB", "NB", "PERSON", ""),
    ("sv", "Permission planerad.\nSsk TB", "TB", "PERSON", ""),
    ("da", "Ring tilbage i morgen.\nCb. til 28 66 10 54. HKL/lægesekr.", "HKL", "PERSON", ""),
    ("en", "Safety netting re quinsy. RV prn. JMcC", "JMcC", "PERSON", ""),
    ("fi", "Tieto kouluttajalle ylil. Pesonen, CRP 4.", "Pesonen", "PERSON", "CRP 4"),
    ("da", "Fundet af hjemmehjælper Zeynep i morges.", "Zeynep", "PERSON", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), AFTER_Q)
def test_initials_after_a_slash_or_role_and_names_after_short_titles(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "kept"),
    [
        ("da", "Besøg aflagt.\n/Mette, SSA", "SSA"),
        ("en", "Seen by Dr A. Mensah ST4 / CN Hollis", "CN"),
        ("nb", "Ny adresse Bakkevegen 21, 5200 Os. Astma, bruker Ventoline.", "Astma"),
    ],
)
def test_roles_in_capitals_and_words_after_a_town_stay(
    deidentifier: Deidentifier, lang: str, text: str, kept: str
) -> None:
    _check(deidentifier, lang, text, "", "", kept)
