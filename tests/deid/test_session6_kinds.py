"""Issue 15, session 6: kinds the blind part I showed missing, covered by kind: employers and insurers named without
a generic noun, English services and departments, hospitals known by a short name or an acronym, month/year dates,
letter-prefixed reference numbers and kinship words not listed before. Each case is written by hand (names,
places and numbers not in the hand-written set) and carries a distractor that must stay.
"""

from __future__ import annotations

import pytest

from deid.dates import find_dates
from deid.engine import Deidentifier
from deid.recognizers.record_number import RecordNumberRecognizer
from tests.deid.test_handwritten_kinds import Case, _check

EMPLOYERS: list[Case] = [
    ("nb", "Arbeidsgiver: Rema 1000 Kvadraturen, HbA1c 52.", "Rema 1000 Kvadraturen", "ORGANIZATION", "HbA1c 52"),
    ("nb", "Han er sveiser på Kværner Verdal, CRP 14.", "Kværner Verdal", "ORGANIZATION", "CRP 14"),
    ("sv", "Arbetsgivare: Skanska Sverige. Hb 131.", "Skanska Sverige", "ORGANIZATION", "Hb 131"),
    ("sv", "Hon är undersköterska på Volvo Torslanda, BT 140/85.", "Volvo Torslanda", "ORGANIZATION", "140/85"),
    ("da", "Faldt på arbejdspladsen Grundfos Bjerringbro. INR 2,1.", "Grundfos Bjerringbro", "ORGANIZATION", "2,1"),
    ("da", "Erklæring til Topdanmark vedr. fald, Hb 7,9.", "Topdanmark", "ORGANIZATION", "7,9"),
    ("fi", "Työnantaja: Kesko Vantaa. Hb 128.", "Kesko Vantaa", "ORGANIZATION", "Hb 128"),
    ("fi", "Hän on hitsaajana Ponssella ja CRP 8.", "Ponssella", "ORGANIZATION", "CRP 8"),
    ("et", "Tööandja: Eesti Energia Narva, Hb 140.", "Eesti Energia Narva", "ORGANIZATION", "Hb 140"),
    ("et", "Ta on keevitaja Laevatehases Paljassaares. CRP 5.", "Laevatehases Paljassaares", "ORGANIZATION", "CRP 5"),
    ("en", "Report for Bupa on the claim. Hb 104.", "Bupa", "ORGANIZATION", "Hb 104"),
    ("en", "He is a scaffolder at Balfour Beatty Rosyth, CRP 30.", "Balfour Beatty Rosyth", "ORGANIZATION", "CRP 30"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), EMPLOYERS)
def test_employers_and_insurers_without_a_generic_noun(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


SERVICES_AND_SHORT_NAMES: list[Case] = [
    ("en", "Reviewed at the Maidstone Falls Service, BP 150/90.", "Maidstone Falls Service", "ORGANIZATION", "150/90"),
    ("en", "Referred to Bergen hand therapy service. Hb 121.", "Bergen hand therapy service", "ORGANIZATION", "Hb 121"),
    (
        "en",
        "Seen by the Hartlepool Wound Care Team, MMSE 22/30.",
        "Hartlepool Wound Care Team",
        "ORGANIZATION",
        "22/30",
    ),
    ("en", "Transferred from Derriford overnight, lactate 3.1.", "Derriford", "ORGANIZATION", "3.1"),
    ("sv", "Jämfört med DT på SÖS, CRP 40.", "SÖS", "ORGANIZATION", "CRP 40"),
    ("da", "Kontrol på AUH om 3 uger, HbA1c 61.", "AUH", "ORGANIZATION", "HbA1c 61"),
    ("nb", "Overflyttet til Ullevål, Hb 9,8.", "Ullevål", "ORGANIZATION", "9,8"),
    ("fi", "Lähete Meilahden sydänyksikköön, Hb 111.", "Meilahden", "ORGANIZATION", "Hb 111"),
    ("et", "Saadetud LTKH-sse, CRP 9.", "LTKH-sse", "ORGANIZATION", "CRP 9"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), SERVICES_AND_SHORT_NAMES)
def test_services_and_hospital_short_names(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    "text",
    [
        "Seen by the Stroke Unit; the Memory Service will write.",
        "Discharged from the ward after review.",
        "Follow-up in the Diabetes Clinic. HbA1c 58.",
    ],
)
def test_generic_services_are_not_names(deidentifier: Deidentifier, text: str) -> None:
    spans = deidentifier.detect(text, "en")
    assert [text[s.start : s.end] for s in spans if str(s.label) == "ORGANIZATION"] == []


def test_a_company_that_is_also_a_town_or_a_surname_is_left_to_those_recognizers(
    deidentifier: Deidentifier,
) -> None:
    text = "Hän muutti Nokialle viime vuonna."
    spans = deidentifier.detect(text, "fi")
    assert [(text[s.start : s.end], str(s.label)) for s in spans] == [("Nokialle", "LOCATION")]


MONTH_YEAR: list[Case] = [
    ("fi", "Leikattu Taysissa 4/2021, Hb 120.", "4/2021", "DATE", "Hb 120"),
    ("nb", "Operert 09/2019 for brudd. Krea 88.", "09/2019", "DATE", "88"),
    ("sv", "Insjuknade 11.2022, CRP 33.", "11.2022", "DATE", "CRP 33"),
    ("da", "Sidst set 03-2024, HbA1c 49.", "03-2024", "DATE", "HbA1c 49"),
    ("en", "Diagnosed 6/2018, ANA titre 1/2000.", "6/2018", "DATE", "1/2000"),
    ("et", "Opereeritud 12/2020, Hb 131.", "12/2020", "DATE", "Hb 131"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), MONTH_YEAR)
def test_month_year_dates(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize("text", ["Fortynning 1/2000.", "dilution 1/1999 positive", "Hb 12/2021 g/l"])
def test_fractions_and_values_are_not_month_year_dates(text: str) -> None:
    assert [text[f.start : f.end] for f in find_dates(text)] == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Clinic ref ORT/55102 enclosed.", "ORT/55102"),
        ("Policy BX-55021873 covers it.", "BX-55021873"),
        ("Vår referens KS-7712093.", "KS-7712093"),
        ("Vakuutus LT-4410982 voimassa.", "LT-4410982"),
    ],
)
def test_letter_prefixed_references(text: str, number: str) -> None:
    results = RecordNumberRecognizer().analyze(text, [])
    assert [text[r.start : r.end] for r in results] == [number]


@pytest.mark.parametrize(
    "text",
    ["Haigekassa kood K-12345.", "Standard ISO-151891 applies.", "Device IEC-606011 used.", "Pris NOK-1200000."],
)
def test_codes_and_standards_are_not_prefixed_references(text: str) -> None:
    assert RecordNumberRecognizer().analyze(text, []) == []


KIN: list[Case] = [
    ("nb", "Pårørende: svigerinnen Oddveig, Hb 11,2.", "Oddveig", "PERSON", "11,2"),
    ("sv", "Bor med svågern Ingvor sedan 2019, CRP 4.", "Ingvor", "PERSON", "CRP 4"),
    ("da", "Fætteren Bjarke ringede. INR 2,3.", "Bjarke", "PERSON", "2,3"),
    ("fi", "Omainen: lanko Sulo (040 111 2233), Hb 125.", "Sulo", "PERSON", "Hb 125"),
    ("et", "Kontaktisik: tädi Helgi, Hb 119.", "Helgi", "PERSON", "Hb 119"),
    ("en", "Brought in by his godson Piran; Hb 99.", "Piran", "PERSON", "Hb 99"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), KIN)
def test_first_names_after_more_kinship_words(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


SHORT_DATES: list[Case] = [
    ("da", "Opereret 14.3.. Må belaste fuldt, Hb 6,1.", "14.3.", "DATE", "6,1"),
    ("et", "Gastroskoopia 14.11: gastriit. CRP 12.", "14.11", "DATE", "CRP 12"),
    ("nb", "Ekko 03.04 viste EF 45 %, Hb 13,1.", "03.04", "DATE", "EF 45 %"),
    ("en", "XR 14/11: no fracture. Hb 131.", "14/11", "DATE", "Hb 131"),
    ("en", "F/u 4/23 in clinic, BP 130/80.", "4/23", "DATE", "130/80"),
    ("en", "Biopsy booked for Oct 12. CRP 8.", "Oct 12", "DATE", "CRP 8"),
    ("en", "Rash since spring 2022, IgE 300.", "spring 2022", "DATE", "IgE 300"),
    ("sv", "Debuterade hösten 2021, CRP 4.", "hösten 2021", "DATE", "CRP 4"),
    ("fi", "Oireillut huhtikuusta 2022 alkaen, Hb 118.", "huhtikuusta 2022", "DATE", "Hb 118"),
    ("et", "Ravi alates veebr 2023, Hb 120.", "veebr 2023", "DATE", "Hb 120"),
    ("sv", "Sår sedan mars -23, HbA1c 60.", "mars -23", "DATE", "HbA1c 60"),
    ("sv", "DT buk 20230914 utan anmärkning, Krea 88.", "20230914", "DATE", "88"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), SHORT_DATES)
def test_short_dates_after_examinations_seasons_and_month_forms(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    "text", ["Visus 6/9 both eyes.", "Hb 10.02 today.", "Temp 38.05 in the evening.", "GCS 3/15.", "you may 5 mg"]
)
def test_values_and_scores_are_not_short_dates(text: str) -> None:
    assert [text[f.start : f.end] for f in find_dates(text) if f.fmt != "slash_short"] == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Biopsier sendt, patologinr. B23-55810.", "B23-55810"),
        ("Histoloogia nr X24-20931 saadetud.", "X24-20931"),
        ("Ilmoitus tehty, viite KL-2023-7710.", "KL-2023-7710"),
        ("CHI no. 0101425566 on the letter.", "0101425566"),
        ("Sent (req. 6610247) today.", "6610247"),
        ("Henv. nr. 558031 mottatt.", "558031"),
        ("Sagen, j.nr. 202311-55012, er lukket.", "202311-55012"),
    ],
)
def test_references_with_a_year_prefix_or_an_abbreviated_cue(text: str, number: str) -> None:
    results = RecordNumberRecognizer().analyze(text, [])
    assert [text[r.start : r.end] for r in results] == [number]


@pytest.mark.parametrize(
    "text", ["Next visit 11/2024 at the GP.", "Trial NCT04455123 arm B.", "Henkilötunnus 010190-123A (invalid)."]
)
def test_dates_trial_numbers_and_national_shapes_are_not_references(text: str) -> None:
    assert RecordNumberRecognizer().analyze(text, []) == []


ORGANISATIONS_BY_NOUN: list[Case] = [
    ("nb", "Elev ved Hamar katedralskole, Hb 12,9.", "Hamar katedralskole", "ORGANIZATION", "12,9"),
    (
        "nb",
        "Sykmeldt fra Steinkjer videregående skole, CRP 3.",
        "Steinkjer videregående skole",
        "ORGANIZATION",
        "CRP 3",
    ),
    ("sv", "Studerar vid Umeå universitet, CRP 7.", "Umeå universitet", "ORGANIZATION", "CRP 7"),
    ("da", "Går på Viborg Katedralskole. Hb 8,1.", "Viborg Katedralskole", "ORGANIZATION", "8,1"),
    ("fi", "Opiskelee Lapin yliopistossa, Hb 131.", "Lapin yliopistossa", "ORGANIZATION", "Hb 131"),
    ("fi", "Palvelukoti Koivurinne\nAsukas kaatui, Hb 109.", "Palvelukoti Koivurinne", "ORGANIZATION", "Hb 109"),
    ("et", "Hooldekodu Männimetsa\nKlient kukkus, Hb 110.", "Hooldekodu Männimetsa", "ORGANIZATION", "Hb 110"),
    ("sv", "Spelar fotboll i IFK Östersund, CRP 2.", "IFK Östersund", "ORGANIZATION", "CRP 2"),
    ("en", "Transferred from Royal Lancaster overnight, Hb 99.", "Royal Lancaster", "ORGANIZATION", "Hb 99"),
    ("en", "Seen at Tralee General last year, CRP 12.", "Tralee General", "ORGANIZATION", "CRP 12"),
    ("nb", "Skaden dekkes av Frende Forsikring, Hb 13.", "Frende Forsikring", "ORGANIZATION", "Hb 13"),
    ("fi", "Ilmoitettu Keusote kotihoitoon, Hb 120.", "Keusote", "ORGANIZATION", "Hb 120"),
    ("et", "Ravim tellitud Benu Apteek kaudu, Hb 117.", "Benu Apteek", "ORGANIZATION", "Hb 117"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), ORGANISATIONS_BY_NOUN)
def test_schools_services_clubs_and_chains(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("sv", "Lungröntgen utan anmärkning."),
        ("sv", "Tar taxi hem efter besöket."),
        ("sv", "Privat sjukvårdsförsäkring finns."),
        ("fi", "Tieto välitetty omaiselle."),
        ("en", "Travel clinic advice given."),
    ],
)
def test_exams_transport_and_generic_cover_are_not_organisations(
    deidentifier: Deidentifier, lang: str, text: str
) -> None:
    spans = deidentifier.detect(text, lang)
    assert [text[s.start : s.end] for s in spans if str(s.label) == "ORGANIZATION"] == []


MORE_SERVICES: list[Case] = [
    ("en", "Referrer: Kinsale Urgent Care, Dr Lynch. Hb 120.", "Kinsale Urgent Care", "ORGANIZATION", "Hb 120"),
    ("en", "Dr Shah, Airedale Primary Care Network. CRP 4.", "Airedale Primary Care Network", "ORGANIZATION", "CRP 4"),
    ("fi", "Synnytys 2.7. Oysissä, Hb 118.", "Oysissä", "ORGANIZATION", "Hb 118"),
    (
        "fi",
        "Rollaattori lainattu Pohjois-Savon apuvälinekeskuksesta.",
        "Pohjois-Savon apuvälinekeskuksesta",
        "ORGANIZATION",
        "",
    ),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), MORE_SERVICES)
def test_care_networks_and_inflected_short_names(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize("text", ["Blood Bank informed of the transfusion.", "Palliative care team visited."])
def test_generic_care_words_are_not_organisations(deidentifier: Deidentifier, text: str) -> None:
    spans = deidentifier.detect(text, "en")
    assert [text[s.start : s.end] for s in spans if str(s.label) == "ORGANIZATION"] == []


CONTACTS: list[Case] = [
    ("da", "Forældre: Ejnar og Gry. Hb 7,9.", "Ejnar", "PERSON", "7,9"),
    ("sv", "Modern Ingeborg ringde, CRP 3.", "Ingeborg", "PERSON", "CRP 3"),
    ("nb", "Dattersønn Sindre henter, Hb 12,0.", "Sindre", "PERSON", "12,0"),
    ("fi", "Esikoinen Ronja on päiväkodissa, Hb 115.", "Ronja", "PERSON", "Hb 115"),
    ("et", "Teavitada ka poega Aivarit, Hb 130.", "Aivarit", "PERSON", "Hb 130"),
    ("en", "Caller: Oonagh (wife), Hb 112.", "Oonagh", "PERSON", "Hb 112"),
    ("sv", "Tolken Senait bokad via telefon. CRP 8.", "Senait", "PERSON", "CRP 8"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), CONTACTS)
def test_parents_newborns_interpreters_and_callers(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


INFLECTED_FACILITIES: list[Case] = [
    ("et", "Õpib Narva Kreenholmi Koolis, Hb 126.", "Narva Kreenholmi Koolis", "ORGANIZATION", "Hb 126"),
    ("fi", "Lääkkeet haettu Porin Itätullin apteekista, Hb 119.", "Itätullin apteekista", "ORGANIZATION", "Hb 119"),
    ("fi", "Ohjattu Porin yhteispäivystykseen, CRP 40.", "Porin yhteispäivystykseen", "ORGANIZATION", "CRP 40"),
    ("nb", "Helsetjenesten i Ila fengsel melder, Hb 14.", "Ila fengsel", "ORGANIZATION", "Hb 14"),
    ("fi", "Työpaikka Tokmanni Kerava, Hb 141.", "Tokmanni Kerava", "ORGANIZATION", "Hb 141"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), INFLECTED_FACILITIES)
def test_facilities_in_case_forms_prisons_and_known_employers_before_a_site(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize("text", ["Palun perearstilt kontrolli.", "Suunatud perearst dr Kask."])
def test_a_family_doctor_is_no_facility(deidentifier: Deidentifier, text: str) -> None:
    spans = deidentifier.detect(text, "et")
    assert [text[s.start : s.end] for s in spans if str(s.label) == "ORGANIZATION"] == []


@pytest.mark.parametrize(
    ("lang", "text", "phi", "label", "distractor"),
    [
        ("da", "Bor på Bostedet Lindely, Hb 8,0.", "Bostedet Lindely", "ORGANIZATION", "8,0"),
        ("en", "Volunteers at Sacred Heart Parish, Hb 131.", "Sacred Heart Parish", "ORGANIZATION", "Hb 131"),
    ],
)
def test_residential_homes_and_parishes(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    ("lang", "text", "phi", "label", "distractor"),
    [
        ("en", "Dear Siobhan and Ciarán,\nHb 120 today.", "Siobhan", "PERSON", "Hb 120"),
        ("sv", "Hej Tindra! Idag tog vi en promenad, CRP 3.", "Tindra", "PERSON", "CRP 3"),
        ("fi", "Asiakas Onni Räsänen kotona. Hb 123.", "Onni Räsänen", "PERSON", "Hb 123"),
        ("fi", "Todistus: liikunnanopettaja Raimo Kärkkäinen.", "Raimo Kärkkäinen", "PERSON", ""),
    ],
)
def test_greetings_clients_and_teachers(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


def test_a_short_adjective_ending_a_sentence_is_no_cue(deidentifier: Deidentifier) -> None:
    text = "Fisteli toimii, suhina hyvä. Dialyysi 4 h."
    assert [text[s.start : s.end] for s in deidentifier.detect(text, "fi")] == []
