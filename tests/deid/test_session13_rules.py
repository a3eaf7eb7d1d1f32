"""Session 13's rules, on sentences written by hand for these tests (none copied from the hand-written set): the
kinds parts V and W showed (nicknames in brackets, cues of talking and clerks, role acronyms on a signature line,
places next to places and after a journey, graded eponyms), and what identifies no one."""

from __future__ import annotations

import pytest

from deid.engine import Deidentifier
from deid.recognizers.location import is_country
from deid.recognizers.se_personnummer import is_valid as se_valid
from deid.wordlists import role_regex
from tests.deid.test_handwritten_kinds import _check

KINDS: list[tuple[str, str, str, str, str]] = [
    # (lang, text, phi, its label, a distractor that must survive)
    ("en", "Re: Bartholomew Quigley (known as Barty), Hb 131.", "Barty", "PERSON", "Hb 131"),
    ("en", "Client: Anuradha Menon (Anu), BMI 22.", "Anu", "PERSON", "BMI 22"),
    ("da", "Aftalt tlf. m. Gitte fra hjemmeplejen, BT 128/76.", "Gitte", "PERSON", "128/76"),
    ("nb", "Snakket med sekr. Randi om ny time, CRP 4.", "Randi", "PERSON", "CRP 4"),
    ("en", "Plan agreed with family.\nTunde Bakare OT / RS PT\n", "Tunde Bakare", "PERSON", ""),
    ("en", "Reviewed at MDT: Dr Okafor (RC), Precious (OT). Na 137.", "Precious", "PERSON", "Na 137"),
    ("en", "Settled overnight, obs stable.\nKO'D SN\n", "KO'D", "PERSON", ""),
    ("fi", "Kotiutus huomenna.\n-RK, sairaanhoitaja\n", "RK", "PERSON", ""),
    ("et", "Kontroll kuu aja pärast.\nõde MK\n", "MK", "PERSON", ""),
    ("fi", "Lahtisen poika soitti illalla, CRP 12.", "Lahtisen", "PERSON", "CRP 12"),
    ("et", "Kehalise kasvatuse õpetaja hr Tõnisson andis teada.", "Tõnisson", "PERSON", ""),
    ("en", "Works on a fish farm at Hamnavoe, Burra. Hb 140.", "Burra", "LOCATION", "Hb 140"),
    ("nb", "Bor på Fossbergom i Lom sammen med kona, Hb 13,2.", "Fossbergom", "LOCATION", "13,2"),
    ("en", "Flies back home to Gdansk on Friday, CRP 9.", "Gdansk", "LOCATION", "CRP 9"),
    ("en", "Grew up in Stratford-upon-Avon, BMI 31.", "Stratford-upon-Avon", "LOCATION", "BMI 31"),
    ("sv", "Bor kvar på gården Norra Lyckan, Hb 118.", "Norra Lyckan", "LOCATION", "Hb 118"),
    ("en", "Says the youths on the Meadowvale estate threaten him.", "Meadowvale estate", "LOCATION", ""),
    ("fi", "Lähtee tyttären luo Tukholmaan, INR 2,5.", "Tukholmaan", "LOCATION", "2,5"),
    ("en", "Reported by Thames Valley Police, Hb 101.", "Thames Valley Police", "ORGANIZATION", "Hb 101"),
    ("et", "Treenib klubis JK Tammeka Noored, CRP 2.", "JK Tammeka", "ORGANIZATION", "CRP 2"),
    ("nb", "Henvist til Vadsø helsesenter, Hb 12,0.", "Vadsø helsesenter", "ORGANIZATION", "12,0"),
    ("fi", "Työskentelee Kiteen Sahalla trukinkuljettajana.", "Kiteen Sahalla", "ORGANIZATION", ""),
    ("da", "Næste dosis 14/12, Hb 7,4.", "14/12", "DATE", "7,4"),
    ("fi", "Tapaturma sattui syyskuun 12. päivänä 2023 kotona.", "syyskuun 12. päivänä 2023", "DATE", ""),
    ("sv", "Auktoriserad tolk, tolknr 6120, bokad kl 10.", "6120", "ID", ""),
    ("en", "Call son on 07700 900 318 after six, Na 140.", "07700 900 318", "PHONE", "Na 140"),
    # after part X's blind run
    ("da", "Svar givet til sygepl. Birthe kl. 14, K 3,6.", "Birthe", "PERSON", "3,6"),
    ("da", "Vil gerne kaldes Bitten. Hb 7,9.", "Bitten", "PERSON", "7,9"),
    ("nb", "Ring ved spørsmål.\nTorunn/legevaktlege\n", "Torunn", "PERSON", ""),
    ("da", "Pt sover.\n/mlj, nattesygeplejerske\n", "mlj", "PERSON", ""),
    ("en", "Discussed with TVN Marta Kowalczyk today, Hb 98.", "Marta Kowalczyk", "PERSON", "Hb 98"),
    ("en", "Results given to the practice on 01632 960 905, Na 133.", "01632 960 905", "PHONE", "Na 133"),
    ("da", "Forsikringen, police nr. 47 118 902, er anmeldt.", "47 118 902", "ID", ""),
    ("sv", "Hittad liggande vid Stortorget i natt, Hb 121.", "Stortorget", "LOCATION", "Hb 121"),
    ("fi", "Seuraava aika on varattu tammikuulle 2025.", "tammikuulle 2025", "DATE", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), KINDS)
def test_session13_kinds(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


NOT_PHI: list[tuple[str, str]] = [
    # (lang, text): nothing in it is PHI
    ("nb", "Melanom, Breslow 1,2 mm, Clark nivå IV."),
    ("fi", "Oikean nilkan Weber C -murtuma, kipsi."),
    ("da", "Diagnose: Morbus Crohn, i remission."),
    ("sv", "Positiv Lachman vänster knä."),
    ("et", "Hingamine Cheyne-Stokesi tüüpi öösel."),
    ("en", "Home help three times a week, Tue/Thu/Sat."),
    ("en", "Speaks Tigrinya and some English, interpreter booked."),
    ("en", "PCI to LAD with 2 DES, good result."),
    ("en", "C/O central chest pain since 06:00."),
    ("da", "Registreret i Dansk Patientsikkerhedsdatabase."),
    ("da", "Stabil, Ingen AB i dag."),
    ("en", "Completed 5/7 of co-amoxiclav, afebrile."),
    ("sv", "Systoliskt blåsljud 2/6 över apex."),
    ("en", "Visual acuity: vision 6/9 both eyes."),
    ("da", "Metastaser i 2/14 lymfeknuder."),
    ("sv", "Äter ca 1/2 portion till lunch."),
    ("en", "NHS number on the letter, 401 023 2138, fails its check."),
    ("nb", "Har to barn. Blodprøver tatt i dag."),
    ("nb", "Kveldsvakt: Klaget over hodepine, fikk Paracet."),
    ("en", "Outcome: Oxford knee score 41/48."),
    ("nb", "Dokumentert i Nexus og DIPS."),
    ("en", "Police Scotland informed, no further action."),
    ("sv", "Remiss till Ortopedmottagningen för bedömning."),
    ("en", "Telephone interpreter (Somali) used throughout."),
    ("en", "Review 6/12 with repeat bloods."),
    ("sv", "Övrigt: P-Krea 94, eGFR 71."),
    ("en", "Offshore on a 2/4 rotation."),
]


@pytest.mark.parametrize(("lang", "text"), NOT_PHI)
def test_session13_look_alikes_stay(deidentifier: Deidentifier, lang: str, text: str) -> None:
    assert [(text[s.start : s.end], str(s.label)) for s in deidentifier.detect(text, lang)] == []


def test_a_coordination_number_only_in_a_swedish_note(deidentifier: Deidentifier) -> None:
    """Day + 60 is a Swede's samordningsnummer; in a Danish note the same digits are an impossible CPR number."""
    assert se_valid("321085-3317")
    assert not se_valid("321085-3317", coordination=False)
    assert [str(s.label) for s in deidentifier.detect("Samordningsnr 321085-3317.", "sv")] == ["NATIONAL_ID"]
    assert deidentifier.detect("CPR i anmeldelsen (321085-3317) er forkert.", "da") == []


@pytest.mark.parametrize(("word", "expected"), [("Suomeen", True), ("Suomessa", True), ("Suomi", True)])
def test_finnish_case_forms_of_finland(word: str, expected: bool) -> None:
    assert is_country(word) is expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [("påvist", False), ("twist", False), ("wrist", False), ("assist", False), ("dentist", True), ("Nattevakt", True)],
)
def test_participles_are_no_roles(word: str, expected: bool) -> None:
    assert (role_regex().search(word) is not None) is expected
