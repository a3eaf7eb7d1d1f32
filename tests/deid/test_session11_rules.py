"""Session 11's rules, on sentences written by hand for these tests (none copied from the hand-written set):
British and Irish addresses written as comma-separated parts with no house number, and spaCy's English NER
switched off by default."""

from __future__ import annotations

import pytest

from deid.engine import Deidentifier
from deid.recognizers import SpacyNerRecognizer
from deid.recognizers.address_segments import segment_addresses
from tests.deid.test_handwritten_kinds import _check

ADDRESSES: list[tuple[str, str, str]] = [
    # (lang, text, the address)
    (
        "en",
        "Lives at Ballinrobe Road, Claremorris, Co. Mayo F12 X4K2 with her husband.",
        "Ballinrobe Road, Claremorris, Co. Mayo F12 X4K2",
    ),
    (
        "en",
        "Home: Bryn Awel, Heol y Castell, Crickhowell NP8 1AB. Hb 131.",
        "Bryn Awel, Heol y Castell, Crickhowell NP8 1AB",
    ),
    ("en", "Address: Church Lane, Kilkenny", "Church Lane, Kilkenny"),
    ("en", "Mrs Aoife Brennan, Rathmore, Co. Kerry. BP 142/88.", "Rathmore, Co. Kerry"),
    (
        "en",
        "Seen at home (Carrowmore, Lower Main Street, Dublin 15), INR 2.4.",
        "Carrowmore, Lower Main Street, Dublin 15",
    ),
    ("en", "Resides at Flat 3, Orchard Mews, Ludlow SY8 1DW.", "Flat 3, Orchard Mews, Ludlow SY8 1DW"),
    ("en", "Kieran Walsh, Tullyvin, Cootehill, Co. Cavan H16 PX73 (son)", "Tullyvin, Cootehill, Co. Cavan H16 PX73"),
    ("et", "Elab aadressil Kopli 25, Tallinn, koos tütrega.", "Kopli 25, Tallinn"),
]


@pytest.mark.parametrize(("lang", "text", "address"), ADDRESSES)
def test_an_address_of_parts_is_found_whole(deidentifier: Deidentifier, lang: str, text: str, address: str) -> None:
    start = text.index(address)
    spans = [s for s in deidentifier.detect(text, lang) if s.start <= start and s.end >= start + len(address)]
    assert spans, f"{address!r} not caught whole"
    assert str(spans[0].label) == "ADDRESS"


NOT_ADDRESSES: list[tuple[str, str]] = [
    # (text, a stretch no address may cover)
    ("Discharged from Ward 7, Galway. Hb 101 g/L.", "Ward 7"),
    ("CRP 5, Leukocytes normal, Ferritin 40.", "Leukocytes"),
    ("Meds: 2 Paracetamol, Ibuprofen prn.", "Paracetamol"),
    ("Reported to Store Street Garda Station, PULSE ref pending.", "PULSE"),
    ("Re: Teresa Quinlan, 98, St Joseph's, Room 12, Ballymote, Co. Sligo", "98"),
    ("Jordan's, 42 Hindley Road, Ince", "Jordan's"),
    ("Mihaela Popescu, Apt 12, Block C, Merlin Woods, Doughiska, Galway", "Mihaela Popescu"),
    ("Meridian Life & Pensions Claims Dept, PO Box 520, Norwich NR1 3NG", "Pensions"),
    ("Ravim N06DA02, Donepezil 5 mg.", "N06DA02"),
]


@pytest.mark.parametrize(("text", "outside"), NOT_ADDRESSES)
def test_what_an_address_of_parts_never_takes(text: str, outside: str) -> None:
    start = text.index(outside)
    for a, b in segment_addresses(text, english=True):
        assert not (a <= start < b), f"{text[a:b]!r} takes {outside!r}"


def test_the_parts_before_a_town_alone_are_read_only_in_english_notes() -> None:
    text = "Bor på Storgården, Kirkeby, sammen med sin kone."
    assert segment_addresses(text, english=False) == []
    assert segment_addresses("Main Street, Castlebar", english=False) == []
    assert segment_addresses("Main Street, Castlebar", english=True) == [(0, 22)]


def test_spacy_english_ner_is_off_unless_asked_for(deidentifier: Deidentifier) -> None:
    def has_ner(engine: Deidentifier) -> bool:
        return any(isinstance(r, SpacyNerRecognizer) for r in engine.analyzer.registry.recognizers)

    assert not has_ner(deidentifier)
    with_ner = Deidentifier(operator="tag", english_ner=True)
    assert has_ner(with_ner)
    text = "Seen with her neighbour Bartholomew Quigley-Ashdown today."
    assert any(text[s.start : s.end] == "Bartholomew Quigley-Ashdown" for s in with_ner.detect(text, "en"))


KINDS: list[tuple[str, str, str, str, str]] = [
    # (lang, text, phi, its label, a distractor that must survive)
    ("fi", "Yövuoro 12./13.3. sujui hyvin, CRP 14.", "12./13.3.", "DATE", "CRP 14"),
    ("sv", "Natten 30/31.1 orolig, fick Stesolid 5 mg.", "30/31.1", "DATE", "5 mg"),
    ("et", "Isik (o.s. Kuusk) teatas, Hb 118.", "Kuusk", "PERSON", "Hb 118"),
    ("fi", "Kirjoittanut kons. ort. Hakkarainen, TSH 2,1.", "Hakkarainen", "PERSON", "TSH 2,1"),
    ("et", "Vestlus toimus tõlgi Bohdani abil, RR 132/84.", "Bohdani", "PERSON", "132/84"),
    ("en", "Trainer Declan phoned, BP 128/76.", "Declan", "PERSON", "128/76"),
    ("nb", "Bor med barna Ayan (6 år) og Idris (3 år). Hb 11,2.", "Idris", "PERSON", "11,2"),
    ("et", "Ema telefon 56 204 118, CRP 7.", "56 204 118", "PHONE", "CRP 7"),
    ("da", "Sygesikring Danmark, medlemsnr. 5532810944. Hb 8,1.", "5532810944", "ID", "8,1"),
    ("sv", "Ambulansjournal, uppdragsnr. 2411050182736, Sat 94 %.", "2411050182736", "ID", "94 %"),
]


NOT_PHI: list[tuple[str, str]] = [
    # (lang, text): nothing in it is PHI
    ("fi", "Annos 3/12.5 mg illalla."),
    ("nb", "Samtale med pasient og tolk. Bruker Paracet 1 g x 4."),
    ("en", "Seen with mum (well) and Diabetes nurse."),
    ("nb", "Fnr 27078912345 oppgitt, men er feil."),
    ("nb", "Prøve nr-lt 58 120 334 sendt."),
]


@pytest.mark.parametrize(("lang", "text"), NOT_PHI)
def test_session11_look_alikes_stay(deidentifier: Deidentifier, lang: str, text: str) -> None:
    assert [text[s.start : s.end] for s in deidentifier.detect(text, lang)] == []


PLACES_AND_STREETS: list[tuple[str, str, str, str]] = [
    # (lang, text, span, its label)
    ("en", "Referred to Beacon Hospital, Sandyford - OPD in 6/52.", "Sandyford", "LOCATION"),
    ("sv", "Remiss till Rehabcentrum Sfären, Jönköping för bedömning.", "Jönköping", "LOCATION"),
    ("da", "Overflyttet til Hammel Neurocenter, Hammel i går.", "Hammel", "LOCATION"),
    (
        "en",
        "DOB 3 Mar 2019, 7 Sallymount Park, Ballina F26 K2P8. Hb 118.",
        "7 Sallymount Park, Ballina F26 K2P8",
        "ADDRESS",
    ),
    ("en", "Next of kin: Mr Peter Walsh, 9 Gordon Road, Leyton, E10 6AB", "9 Gordon Road, Leyton, E10 6AB", "ADDRESS"),
]


@pytest.mark.parametrize(("lang", "text", "span", "label"), PLACES_AND_STREETS)
def test_places_after_organisations_and_streets_after_dates(
    deidentifier: Deidentifier, lang: str, text: str, span: str, label: str
) -> None:
    found = {text[s.start : s.end]: str(s.label) for s in deidentifier.detect(text, lang)}
    assert found.get(span) == label, found


def test_a_department_after_its_hospital_is_no_place(deidentifier: Deidentifier) -> None:
    text = "Seen at Cork University Hospital, Orthopaedics. Referral to Tallaght Hospital, Cardiology."
    assert [text[s.start : s.end] for s in deidentifier.detect(text, "en") if str(s.label) == "LOCATION"] == []


@pytest.mark.parametrize(
    ("lang", "text", "number"),
    [
        ("en", "Chart no. MUH-5521904, seen in ED.", "MUH-5521904"),
        ("sv", "Remiss-ID BVC-771204 bifogas.", "BVC-771204"),
    ],
)
def test_a_number_under_its_issuers_acronym_is_an_id(
    deidentifier: Deidentifier, lang: str, text: str, number: str
) -> None:
    start = text.index(number)
    covering = [s for s in deidentifier.detect(text, lang) if s.start <= start and s.end >= start + len(number)]
    assert covering and str(covering[0].label) == "ID"


NAME_FORMS: list[tuple[str, str, str, str, str]] = [
    # (lang, text, the name, its label, a distractor that must survive)
    ("en", "Surname: OKONKWO   Forename: Chinonso   Hb 131", "OKONKWO", "PERSON", "Hb 131"),
    ("en", "Surname: OKONKWO   Forename: Chinonso   Hb 131", "Chinonso", "PERSON", "Hb 131"),
    ("nb", "Etternavn: Haugli  Fornavn: Sigrid  CRP 12", "Haugli", "PERSON", "CRP 12"),
    ("en", "Bay 3: FARAH, Sagal 44F post-op D2, NEWS2 0.", "FARAH, Sagal", "PERSON", "NEWS2 0"),
    ("en", "Re: Gurdeep (Dee) Sandhu, seen with BP 150/90.", "Gurdeep (Dee) Sandhu", "PERSON", "150/90"),
    ("en", "Niamh MacSweeney 23F attended with wrist pain, Hb 120.", "Niamh MacSweeney", "PERSON", "Hb 120"),
    ("en", "Triaged by Kwabena Mensah RGN, GCS 15.", "Kwabena Mensah", "PERSON", "GCS 15"),
    ("en", "Handover to Sr Okafor at 14:10, SpO2 96%.", "Okafor", "PERSON", "96%"),
    ("en", "Partner contact +44 (0)7700 900 456, CRP 4.", "+44 (0)7700 900 456", "PHONE", "CRP 4"),
    ("en", "Signed: Ms Aine Doherty, NMC 12A3456E, Hb 101.", "Aine Doherty", "PERSON", "Hb 101"),
    ("en", "Dr Tomas Quirke, GMC 7012345, Consultant Anaesthetist.", "7012345", "ID", "Consultant"),
    ("et", "Bondarenko, Halyna, s. 02.03.1961, kaebab peavalu, RR 150/95.", "Bondarenko, Halyna", "PERSON", "150/95"),
    ("en", "NHS number was confirmed 943 476 5919 at booking, Hb 120.", "943 476 5919", "NATIONAL_ID", "Hb 120"),
    ("fi", "Sähköisen reseptin tunnus 2231 7740 0918 3, Marevan 3 mg.", "2231 7740 0918 3", "ID", "3 mg"),
    ("fi", "Soitti sairaanhoitaja Kuusamosta, Hb 132.", "Kuusamosta", "LOCATION", "Hb 132"),
    ("et", "Suunatud Männi Perearstipraksisesse, CRP 12.", "Männi Perearstipraksisesse", "ORGANIZATION", "CRP 12"),
    ("sv", "Anmält till Lokalpolisområde Västerort, Hb 128.", "Lokalpolisområde Västerort", "ORGANIZATION", "Hb 128"),
    ("da", "Bor på Rosen Vænge 14, Hb 7,9.", "Rosen Vænge 14", "ADDRESS", "7,9"),
]


@pytest.mark.parametrize(
    "text",
    ["Seen by Cardiology and Phlebotomy today.", "Consultant General Surgeon reviewed, plan agreed."],
)
def test_a_department_or_a_role_after_a_cue_is_no_name(deidentifier: Deidentifier, text: str) -> None:
    assert [text[s.start : s.end] for s in deidentifier.detect(text, "en") if str(s.label) == "PERSON"] == []


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), KINDS + NAME_FORMS)
def test_session11_kinds(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)
