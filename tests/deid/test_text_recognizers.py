"""Table-driven tests: addresses, postal codes, dates, ages, record numbers, names, hospitals, places."""

from __future__ import annotations

import pytest

from deid.recognizers import (
    AgeOver89Recognizer,
    GazetteerLocationRecognizer,
    HospitalRecognizer,
    NameListPersonRecognizer,
    NordicDateRecognizer,
    PostalCodeRecognizer,
    RecordNumberRecognizer,
    StreetAddressRecognizer,
)
from tests.deid.conftest import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Adresse: Storgata 12, 0155 Oslo\n", ["Storgata 12, 0155 Oslo"]),
        ("bor i Karl Johans gate 3B.", ["Karl Johans gate 3B"]),
        ("Skolvägen 669, 274 39 Göteborg", ["Skolvägen 669, 274 39 Göteborg"]),
        ("Asters Allé 16, 2439 Blokhus", ["Asters Allé 16, 2439 Blokhus"]),
        ("Niitynperäntie 69", ["Niitynperäntie 69"]),
        ("Tartu mnt 12, 10115 Tallinn", ["Tartu mnt 12, 10115 Tallinn"]),
        ("6907 Griffith Street, Boston", ["6907 Griffith Street, Boston"]),  # a town of places_gb_ie.txt
        ("på veien 3 ganger", []),  # a lower-case street word in running text
    ],
)
def test_street_address(text: str, expected: list[str]) -> None:
    assert found(StreetAddressRecognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Postadresse 0155 Oslo", ["0155 Oslo"]),
        ("114 55 Stockholm", ["114 55 Stockholm"]),
        ("DK-8000 Aarhus C", ["DK-8000 Aarhus C"]),
        ("siden 2019 Pasienten", []),  # a year before a capitalised word
        ("i 2024 Oslo", ["2024 Oslo"]),  # a known town after a 4-digit code still counts
    ],
)
def test_postal_code(text: str, expected: list[str]) -> None:
    assert found(PostalCodeRecognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-12", ["2024-03-12"]),
        ("den 12.03.2024.", ["12.03.2024"]),
        ("12.3.2024", ["12.3.2024"]),
        ("12/3-24", ["12/3-24"]),
        ("12. mars 2024", ["12. mars 2024"]),
        ("12 mars 2024", ["12 mars 2024"]),
        ("12. maaliskuuta 2024", ["12. maaliskuuta 2024"]),
        ("12. märtsil 2024", ["12. märtsil 2024"]),
        ("March 12, 2024", ["March 12, 2024"]),
        ("12 March 2024", ["12 March 2024"]),
        ("i mai 2023", ["mai 2023"]),
        ("kontroll 12.03.", ["12.03."]),
        ("Hb 12.3 g/dL, 1.5 mg, i 2019, 30.02.2024", []),  # lab value, dose, lone year, impossible date
    ],
)
def test_dates(text: str, expected: list[str]) -> None:
    assert found(NordicDateRecognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pasienten er 92 år", ["92"]),
        ("95-vuotias mies", ["95"]),
        ("101-aastane", ["101"]),
        ("Ålder: 93", ["93"]),
        ("a 90-year-old woman", ["90"]),
        ("45 år gammel, 89 år, 90 mg", []),  # under 90 stays; a dose is not an age
    ],
)
def test_age_over_89(text: str, expected: list[str]) -> None:
    assert found(AgeOver89Recognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Journalnr: 2024-000123", ["2024-000123"]),
        ("MRN 4471823", ["4471823"]),
        ("Sagsnr. KS-51038", ["KS-51038"]),
        ("Potilasnumero: J5938160", ["J5938160"]),
        ("Haigusloo nr: 96676585", ["96676585"]),
        ("ICD-10 I21.4, ATC N04BA02, journal 12", []),
    ],
)
def test_record_numbers(text: str, expected: list[str]) -> None:
    assert found(RecordNumberRecognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("nb", "Vurdert av overlege Kari Hansen i dag.", ["Kari Hansen"]),
        ("sv", "Sjuksköterska Lisa Berg. Karolinska", ["Lisa Berg"]),
        ("fi", "Lääkäri Virtanen soitti.", ["Virtanen"]),
        ("et", "Arst Tamm vaatas üle.", ["Tamm"]),
        ("en", "Seen by Dr. Rachel Davis today.", ["Rachel Davis"]),
        ("nb", "Pasient: Ola Nordmann\n", ["Ola Nordmann"]),
        ("da", "kontakt med Steen Henriksen", ["Steen Henriksen"]),
        ("nb", "Kjent Parkinsons sykdom og Alzheimers sykdom.", []),  # eponyms stay
        ("en", "Huntington disease and Duchenne muscular dystrophy.", []),
        ("en", "Parkinson and Alzheimer are common.", []),
    ],
)
def test_person(lang: str, text: str, expected: list[str]) -> None:
    assert found(NameListPersonRecognizer(lang), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("innlagt ved Haukeland universitetssjukehus i går", ["Haukeland universitetssjukehus"]),
        ("på Rigshospitalet.", ["Rigshospitalet"]),
        ("Tartu Ülikooli Kliinikum", ["Tartu Ülikooli Kliinikum"]),
        ("hoidettu Helsingin yliopistollinen keskussairaala", ["Helsingin yliopistollinen keskussairaala"]),
        ("til Universitetssykehuset Nord-Norge", ["Universitetssykehuset Nord-Norge"]),
        ("Massachusetts General Hospital", ["Massachusetts General Hospital"]),
        ("Han ble lagt inn på sykehuset.", []),  # the generic word is not a name
    ],
)
def test_hospital(text: str, expected: list[str]) -> None:
    assert found(HospitalRecognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bor i Bergen", ["Bergen"]),
        ("asuu Tampereella ja Oulussa", ["Tampereella", "Oulussa"]),
        ("elab Tartus", ["Tartus"]),
        ("flyttet fra Norge til Sverige", []),  # countries are not PHI
        ("Bergen sykehus", []),  # the hospital recognizer owns it
    ],
)
def test_location(text: str, expected: list[str]) -> None:
    assert found(GazetteerLocationRecognizer("nb"), text) == expected
