"""Session 12's rules, on sentences written by hand for these tests (none copied from the hand-written set): what
identifies no one (countries, national agencies, portals, products, codes, scores), signatures and names in the
forms part T showed, references with a department's capitals, date ranges' first parts."""

from __future__ import annotations

import pytest

from deid.engine import Deidentifier
from deid.public import is_public_domain, is_public_name
from deid.recognizers.location import is_country
from tests.deid.test_handwritten_kinds import _check

KINDS: list[tuple[str, str, str, str, str]] = [
    # (lang, text, phi, its label, a distractor that must survive)
    ("nb", "Neste time om 3 uker.\nSigrun, helsesykepleier\n", "Sigrun", "PERSON", ""),
    ("sv", "Intyg utfärdat kl 09.40.\nGustaf von Rosen, leg. läkare\n", "Gustaf von Rosen", "PERSON", ""),
    ("da", "Oplyst af bagvagt (Frydenlund) kl. 03, INR 2,4.", "Frydenlund", "PERSON", "2,4"),
    ("fi", "Lähete: lääk. Peltonen, TSH 3,1.", "Peltonen", "PERSON", "TSH 3,1"),
    ("nb", "Drøftet med nevrolog Skjelbred i dag. CRP 8.", "Skjelbred", "PERSON", "CRP 8"),
    ("da", "Tolk: Ahmad Nazari, bestilt til kl. 10. Hb 7,9.", "Ahmad Nazari", "PERSON", "7,9"),
    ("sv", "Besök med väninna (Mirela), BT 132/80.", "Mirela", "PERSON", "132/80"),
    ("da", "Beboer Jens de Place, Hb 8,2.", "Jens de Place", "PERSON", "8,2"),
    ("fi", "Soitto Phamille klo 14, CRP 21.", "Phamille", "PERSON", "CRP 21"),
    ("nb", "Brev til Amal Yusuf\nc/o Warsame\nKirkegata 4, 0153 Oslo", "Warsame", "PERSON", ""),
    ("sv", "Ordinerat Atarax 25 mg.\nAnna Holm/jk\n", "jk", "PERSON", "25 mg"),
    ("nb", "Pas. sover nå. Fått Sobril 10 mg.\nrh\n", "rh", "PERSON", "10 mg"),
    ("da", "Kommer igen 12.6. Hb 7,1.\nKB\n", "KB", "PERSON", "Hb 7,1"),
    ("fi", "Hoitojakso 3.–9.4.2024, CRP 55.", "3.–9.4.2024", "DATE", "CRP 55"),
    ("da", "Fysioterapi okt.–dec. 2023, VAS 4.", "okt.–dec. 2023", "DATE", ""),
    ("sv", "Nås på 070 – 418 22 93 efter kl 15, Hb 121.", "070 – 418 22 93", "PHONE", "Hb 121"),
    ("en", "Callback no. 07812 441 906 for results, Na 138.", "07812 441 906", "PHONE", "Na 138"),
    ("en", "Accession UHW-MR-25-004417 reported, eGFR 61.", "UHW-MR-25-004417", "ID", "eGFR 61"),
    ("sv", "Remiss PAT-HIS-2291044 besvarad, Hb 130.", "PAT-HIS-2291044", "ID", "Hb 130"),
    ("et", "Retsepti nr 2204718836 väljastatud, CRP 9.", "2204718836", "ID", "CRP 9"),
    ("en", "Prison no. B4471KT, BMI 27.", "B4471KT", "ID", "BMI 27"),
    ("en", "The number he gave was 943 476 5919 and it checks. Hb 120.", "943 476 5919", "NATIONAL_ID", "Hb 120"),
    ("fi", "Tavoite: kesällä mökille Saimaan rannalle, PEF 420.", "Saimaan", "LOCATION", "PEF 420"),
    ("da", "Bor i bygden Ikerasak hos sin søster, Hb 7,0.", "Ikerasak", "LOCATION", "7,0"),
    ("da", "Hjem fra Kabul 3.9. med feber, CRP 180.", "Kabul", "LOCATION", "CRP 180"),
    ("da", "Forventes overflyttet til RH i morgen. K 3,9.", "RH", "ORGANIZATION", "K 3,9"),
    ("sv", "Prover skickade till Kemlabbet, svar om en vecka.", "Kemlabbet", "ORGANIZATION", ""),
    # after part U's blind run
    ("da", "Ellen Holm, kaldet Lillemor, 93 år, Hb 6,8.", "Lillemor", "PERSON", "6,8"),
    ("en", 'Nguyen Thi Lan ("Lana"), student, CRP 40.', "Lana", "PERSON", "CRP 40"),
    ("en", "Seen with the Okonkwo-Brady family, BP 118/70.", "Okonkwo-Brady", "PERSON", "118/70"),
    ("nb", "Ifølge Ingers notat er hun bedre. CRP 12.", "Ingers", "PERSON", "CRP 12"),
    ("nb", "Pasient: Marieke van der Berg Aasen, Hb 12,1.", "Marieke van der Berg Aasen", "PERSON", "12,1"),
    ("fi", "Yhteys (09) 471 22 830 arkisin, CRP 15.", "(09) 471 22 830", "PHONE", "CRP 15"),
    ("en", "Daughter in Cork on 00353 21 490 1234, Na 139.", "00353 21 490 1234", "PHONE", "Na 139"),
    ("fi", "Osoite Haapaniemenlenkki 4 B 12, 70100 Kuopio. Hb 119.", "Haapaniemenlenkki 4 B 12", "ADDRESS", "Hb 119"),
    ("da", "Bopæl: Imaneq 22, lejl. 5, 3900 Nuuk. INR 2,0.", "Imaneq 22, lejl. 5, 3900 Nuuk", "ADDRESS", "2,0"),
    ("et", "Pass 21KC44017 esitatud, CRP 3.", "21KC44017", "ID", "CRP 3"),
    ("da", "Ring til datter Lone.\nBHJ/kes\n", "kes", "PERSON", ""),
    ("fi", "Uusi arvio tammikuussa.\nTK\n", "TK", "PERSON", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), KINDS)
def test_session12_kinds(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


NOT_PHI: list[tuple[str, str]] = [
    # (lang, text): nothing in it is PHI
    ("sv", "Anmälan skickad till Försäkringskassan och Migrationsverket."),
    ("nb", "Informert om at Statens vegvesen og Helsedirektoratet får melding."),
    ("fi", "B-lausunto Kelalle ja ilmoitus Traficomille."),
    ("et", "Koopia saadetud Sotsiaalkindlustusametile."),
    ("da", "Anmeldt til Arbejdsmarkedets Erhvervssikring, registreret i Det Danske Vaccinationsregister."),
    ("en", "Letter copied to the DVLA and the Irish Prison Service."),
    ("fi", "Saapunut Afganistanista Iranin ja Turkin kautta."),
    ("nb", "Opprinnelig fra Filippinene, kom via Tyrkia."),
    ("et", "Reisib Keeniasse ja Hiinasse."),
    ("nb", "Gitt ASA 300 mg po og Ticagrelor 180 mg."),
    ("da", "Givet T. Oxazepam 7,5 mg kl. 02.30."),
    ("sv", "Omläggning med Mepilex Border, ny hörapparat Phonak Audéo."),
    ("et", "Gripivaktsiin Vaxigrip Tetra, partii X3B411V."),
    ("fi", "Hoffmann neg., Babinski neg. molemmin puolin."),
    ("da", "SNOMED: T67000 M81403"),
    ("fi", "P-Kalium 6,4 mmol/l (LOINC 2823-3)."),
    ("nb", "Gi beskjed via helsenorge.no eller ring legekontoret."),
    ("da", "Syn 6/6 bilat., ESAS-smerte 6/10."),
    ("en", "Pain 7/10, review in 4/12, monofilament 6/10 sites."),
    ("sv", "Batch AHBVC512AB given i vä deltoideus."),
    ("da", "Blodtype O, RH neg."),
    ("fi", "Laajat Binswangerin tyyppiset muutokset, ei Lymen borrelioosia."),
    ("en", "Callback no. 0000000000 on the form."),
    ("fi", "Kystinen leesio, Bosniak III, ei muutosta."),
    ("sv", "Invasivt duktalt ca, Nottingham grad 2, 18 mm."),
    ("nb", "Resistens: Mecillinam S, Nitrofurantoin S, Trimetoprim R."),
    ("nb", "Fentanyl 50 mikrog i.n. ga effekt."),
    ("da", "Erklæringen sendes til Anklagemyndigheden."),
    ("sv", "Hustrun bor kvar i Bosnien och Hercegovina."),
]


@pytest.mark.parametrize(("lang", "text"), NOT_PHI)
def test_session12_public_and_look_alikes_stay(deidentifier: Deidentifier, lang: str, text: str) -> None:
    assert [(text[s.start : s.end], str(s.label)) for s in deidentifier.detect(text, lang)] == []


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Afganistanista", True),
        ("Turkin", True),
        ("Filippinene", True),
        ("Keeniasse", True),
        ("Malin", False),  # a given name that looks like Mali's case form
        ("Elin", False),
        ("Lahti", False),
    ],
)
def test_countries_in_their_cases(word: str, expected: bool) -> None:
    assert is_country(word) is expected


def test_a_public_body_alone_but_not_its_regional_office() -> None:
    assert is_public_name("Försäkringskassan")
    assert is_public_name("Kelalle")
    assert is_public_name("Tervisekassasse")
    assert not is_public_name("NAV Grorud")
    assert not is_public_name("Tusla Mid West")
    assert not is_public_name("Jordan", place=False)  # a given name as much as a country


def test_only_a_portal_itself_is_public() -> None:
    assert is_public_domain("helsenorge.no")
    assert is_public_domain("https://www.1177.se/")
    assert not is_public_domain("bristolschoolnursing.nhs.uk")  # a local service's subdomain names a place
    assert not is_public_domain("https://ers.nhs.uk/ref/84471203")


def test_a_country_after_a_name_is_cut_off(deidentifier: Deidentifier) -> None:
    text = "Reisib koos abikaasa Rainoga Keeniasse."
    found = [(text[s.start : s.end], str(s.label)) for s in deidentifier.detect(text, "et")]
    assert ("Keeniasse", "PERSON") not in found
    assert all("Keeniasse" not in piece for piece, _ in found)


def test_lower_case_after_a_slash_is_a_unit_unless_a_name_precedes(deidentifier: Deidentifier) -> None:
    assert [text for text in ("Oxynorm mikstur 1 mg/ml\n",) if deidentifier.detect(text, "nb")] == []
    text = "Karin Lund/ml\n"
    assert "ml" in [text[s.start : s.end] for s in deidentifier.detect(text, "sv")]
