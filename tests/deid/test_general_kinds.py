"""Issue 15, session 5: rules that cover a KIND of PHI rather than the instances a note showed (facility nouns in
either order, role nouns before a name, reference numbers after any number word, scores that look like dates, ages
after a verb, coordinated names after a kinship word). Each case is written by hand with names, places and numbers
that are not in the hand-written set, and carries a distractor that must stay.
"""

from __future__ import annotations

import pytest

from deid.dates import find_dates
from deid.engine import Deidentifier
from deid.recognizers.record_number import RecordNumberRecognizer
from deid.wordlists import facility_regex, role_regex, words
from tests.deid.test_handwritten_kinds import Case, _check

FACILITIES: list[Case] = [
    ("nb", "Time hos Tannklinikken Sandviken. Hb 12,1.", "Tannklinikken Sandviken", "ORGANIZATION", "12,1"),
    ("nb", "Kontakt med NAV Lambertseter om AAP.", "NAV Lambertseter", "ORGANIZATION", ""),
    ("sv", "Remiss till Socialkontoret i Huddinge, CRP 12.", "Socialkontoret", "ORGANIZATION", "CRP 12"),
    ("sv", "Hon sjungar i Högalids församling varje söndag.", "Högalids församling", "ORGANIZATION", ""),
    ("da", "Tilmeldt Jobcentret Horsens, HbA1c 49.", "Jobcentret Horsens", "ORGANIZATION", "HbA1c 49"),
    ("da", "Overflyttet til Hospice Limfjord i går. INR 2,4.", "Hospice Limfjord", "ORGANIZATION", "2,4"),
    ("fi", "Käynti Hervannan hammashoitolassa, Hb 131.", "Hervannan hammashoitolassa", "ORGANIZATION", "Hb 131"),
    ("fi", "Asia siirretty Lapin edunvalvontatoimistoon.", "Lapin edunvalvontatoimistoon", "ORGANIZATION", ""),
    ("et", "Saabus Tartu Sünnitusmajja, Hb 118.", "Tartu Sünnitusmajja", "ORGANIZATION", "Hb 118"),
    ("en", "Seen at Mill Lane Surgery, BP 142/88.", "Mill Lane Surgery", "ORGANIZATION", "142/88"),
    ("en", "Transferred from St Bartholomew's on Monday.", "St Bartholomew's", "ORGANIZATION", ""),
    ("en", "Referred by Camden Adult Social Care. Hb 104.", "Camden Adult Social Care", "ORGANIZATION", "Hb 104"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), FACILITIES)
def test_facility_nouns_in_either_order(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


def test_end_anchored_facility_nouns_do_not_start_streets_or_towns() -> None:
    pattern = facility_regex(())
    assert pattern.search("kirken") and pattern.search("edunvalvontatoimistossa")
    assert not pattern.search("Kirkenes") and not pattern.search("Koulukatu") and not pattern.search("Skolegata")


PEOPLE: list[Case] = [
    ("sv", "Handläggare Greta Wiklander ringde. CRP 9.", "Greta Wiklander", "PERSON", "CRP 9"),
    ("da", "Jordemoder Signe Kragh tilkaldt, BT 120/70.", "Signe Kragh", "PERSON", "120/70"),
    ("fi", "Edunvalvoja Veikko Hiltunen paikalla. Hb 140.", "Veikko Hiltunen", "PERSON", "Hb 140"),
    ("et", "Hooldaja Maie käib iga päev. Hb 120.", "Maie", "PERSON", "Hb 120"),
    ("nb", "Farmor Solveig henter. Hb 12.", "Solveig", "PERSON", ""),
    ("da", "Sønnerne Anders og Mikkel kommer i aften.", "Mikkel", "PERSON", ""),
    ("fi", "Asiakas Jorma Kuopio kävi vastaanotolla.", "Jorma Kuopio", "PERSON", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), PEOPLE)
def test_names_after_role_and_kinship_words(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


def test_role_nouns_are_recognised_by_their_ending() -> None:
    pattern = role_regex()
    for word in ("Biståndshandläggare", "Barnmorska", "Kuntoutusohjaaja", "Sotsiaaltöötaja", "Physiotherapist"):
        assert pattern.search(word), word
    assert not pattern.search("Kontakt")


REFERENCES: list[tuple[str, str]] = [
    ("Lab.nr. 5530127 sendt.", "5530127"),
    ("Tilausnro 7781203 kuvantamiseen.", "7781203"),
    ("Sag 2023/55102 er lukket.", "2023/55102"),
    ("Uuringu number TK-884120.", "TK-884120"),
    ("Ärende IVO 31207/23.", "IVO 31207/23"),
]


@pytest.mark.parametrize(("text", "number"), REFERENCES)
def test_reference_numbers_after_any_number_word(text: str, number: str) -> None:
    results = RecordNumberRecognizer().analyze(text, [])
    assert [text[r.start : r.end] for r in results] == [number]


@pytest.mark.parametrize(
    "text",
    [
        "Ogiltigt personnummer 19450230-1234.",
        "Telefonnummer 4712345678.",
        "Lot nr 123456 av vaksinen.",
        "Ref. 12345678901 er ugyldig.",
        "Sak nr 1234 (four digits).",
        "Hb 124, CRP 12345 nr",
    ],
)
def test_number_words_that_are_not_reference_cues(text: str) -> None:
    assert RecordNumberRecognizer().analyze(text, []) == []


@pytest.mark.parametrize(
    ("text", "date"),
    [("Partus 14.06 kl 05.30.", "14.06"), ("Sünnitus 02.11 kell 7:15.", "02.11"), ("Born 3rd Sept.", "3rd Sept.")],
)
def test_dates_before_a_clock_time_and_ordinal_abbreviated_months(text: str, date: str) -> None:
    assert date in [text[f.start : f.end] for f in find_dates(text)]


@pytest.mark.parametrize("text", ["Apgar 8/9.", "GCS 13/15 ved ankomst.", "MMSE 21/30.", "NIHSS 4/42."])
def test_scores_written_as_fractions_are_not_dates(text: str) -> None:
    assert list(find_dates(text)) == []


AGES: list[Case] = [
    ("da", "Hun fyldte 94 i sidste uge, BT 130/80.", "94", "AGE", "130/80"),
    ("sv", "Han fyller 91 i maj.", "91", "AGE", ""),
    ("fi", "Täyttää 92 ensi kuussa.", "92", "AGE", ""),
    ("en", "She turns 96 on Friday; her son turns 70.", "96", "AGE", "70"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), AGES)
def test_ages_after_a_verb_of_turning(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


def test_word_lists_are_package_data() -> None:
    assert "hospice$" in words("facility_nouns") and "NAV" in words("facility_acronyms")
    assert not any(w.startswith("#") for w in words("reference_cues"))


PLACES: list[Case] = [
    ("fi", "Kuvat otettu Kivihaassa viime vuonna, Hb 128.", "Kivihaassa", "LOCATION", "Hb 128"),
    ("fi", "Veli asuu Ylivieskassa. Sairastaa Parkinsonin tautia.", "Ylivieskassa", "LOCATION", "Parkinsonin"),
    ("sv", "Hemgång till Bagarmossen planeras på fredag.", "Bagarmossen", "LOCATION", ""),
    ("nb", "Han har småbruket sitt i Åseral. Hb 13.", "Åseral", "LOCATION", "Hb 13"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), PLACES)
def test_places_after_inflected_cues_and_in_finnish_locative_case(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "country"),
    [("et", "Poeg elab Soomes, Hb 120.", "Soomes"), ("fi", "Tytär asuu Ruotsissa.", "Ruotsissa")],
)
def test_countries_in_a_case_form_stay(deidentifier: Deidentifier, lang: str, text: str, country: str) -> None:
    _check(deidentifier, lang, text, "", "", country)


MORE: list[Case] = [
    ("fi", "Työskentelee siivoojana Lassila & Tikanojalla. Hb 131.", "Lassila", "ORGANIZATION", "Hb 131"),
    ("et", "Töötab kokana Rimi Hüpermarketis, Hb 121.", "Rimi Hüpermarketis", "ORGANIZATION", "Hb 121"),
    ("nb", "Jobber som vekter hos Securitas Nordic. Hb 14.", "Securitas Nordic", "ORGANIZATION", "Hb 14"),
    ("sv", "Han kör buss i Rinkeby sedan 2019. CRP 5.", "Rinkeby", "LOCATION", "CRP 5"),
    ("da", "Datteren bor i Hvidovre, HbA1c 51.", "Hvidovre", "LOCATION", "HbA1c 51"),
    ("en", "Her brother lives nearby in Hounslow; started in January.", "Hounslow", "LOCATION", ""),
    ("nb", "Samboeren Gerd har demens.", "Gerd", "PERSON", "demens"),
    ("en", "NHS number 943 476 5919, Hb 110.", "943 476 5919", "NATIONAL_ID", "Hb 110"),
    ("et", "Opereeritud märtsis 2022, Hb 118.", "märtsis 2022", "DATE", "Hb 118"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), MORE)
def test_employers_places_after_in_names_before_a_verb_nhs_and_estonian_months(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "kept"),
    [
        ("nb", "Har hatt plager i Parkinsons sykdom i mange år.", "Parkinsons"),
        ("sv", "Hon bor i Sverige sedan barndomen.", "Sverige"),
        ("en", "It may be a fall. May was away.", "may be"),
        ("en", "NHS number 485 777 3456 is not valid.", "485 777 3456"),
    ],
)
def test_what_stays_after_in_and_nhs(deidentifier: Deidentifier, lang: str, text: str, kept: str) -> None:
    _check(deidentifier, lang, text, "", "", kept)


SIGNED: list[Case] = [
    ("en", "Ward round done. Signed P. Ashworth-Lee, SpR. Hb 98.", "P. Ashworth-Lee", "PERSON", "Hb 98"),
    ("nb", "Snakket med Ingebjørg og Tore Bakken i dag. Hb 11.", "Ingebjørg", "PERSON", "Hb 11"),
    ("sv", "Dos given på Vaccinationscentralen Solna. CRP 3.", "Vaccinationscentralen Solna", "ORGANIZATION", "CRP 3"),
    ("en", "Lives at 7b Mill Road, Ely CB7 4HY. Hb 120.", "7b Mill Road, Ely CB7 4HY", "ADDRESS", "Hb 120"),
    ("en", "Address: Flat 3, Beech Court, 9 Hill Street, Leeds LS6 2QR.", "Flat 3, Beech Court", "ADDRESS", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), SIGNED)
def test_signatures_coordinated_names_centrals_and_british_addresses(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


UNLISTED: list[Case] = [
    ("nb", "Samtale med Nkechi Adebayo og tolk. Bruker Paracet 1 g x 4.", "Nkechi Adebayo", "PERSON", "Paracet"),
    ("sv", "Besök av Mirela Kovačević idag. Tar Alvedon Forte 665 mg.", "Mirela Kovačević", "PERSON", "Alvedon Forte"),
    ("nb", "Flyttet fra Romsås til Skedsmokorset i fjor.", "Skedsmokorset", "LOCATION", ""),
    ("en", "She moved from Leyton to Dagenham last year.", "Dagenham", "LOCATION", ""),
    ("et", "Kontroll 21.08 kell 9, Hb 120.", "21.08", "DATE", "Hb 120"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), UNLISTED)
def test_unlisted_names_inside_a_sentence_places_of_a_move_and_dates_before_an_hour(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


FORMS: list[Case] = [
    ("sv", "Operation planerad den 7:e maj, Hb 120.", "7:e maj", "DATE", "Hb 120"),
    ("nb", "Prøve tatt 2024.04.17, Hb 12.", "2024.04.17", "DATE", "Hb 12"),
    ("en", "Mrs Dale, aged ninety-four, lives alone; her son is seventy.", "ninety-four", "AGE", "seventy"),
    ("da", "Hun er halvfemsindstyve år gammel.", "", "", ""),
    ("en", "Hospital number KX2 331 8810 on the label.", "KX2 331 8810", "ID", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), FORMS)
def test_ordinal_and_dotted_iso_dates_ages_in_words_grouped_references(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize("text", ["72 år. Nr. 320199-1234 ugyldigt.", "Referens 19450230-1234 ogiltig."])
def test_national_identifier_shapes_are_never_reference_numbers(text: str) -> None:
    assert RecordNumberRecognizer().analyze(text, []) == []
