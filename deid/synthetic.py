"""Synthetic notes with gold PHI spans: the evaluation set for deid, and PHI headers for the demo.

Every identifier is made up: names and addresses come from Faker's locale providers (``no_NO``, ``sv_SE``,
``fi_FI``, ``et_EE``, ``da_DK``, ``en_US``); checksum-valid national IDs are built here from a seeded birth date
(never from today's: the same seed gives the same file on any day), the Danish ones by :class:`DanishCprProvider`.
Sentence templates are split into two disjoint groups: ``dev`` notes use
group A (tune on these), ``test`` notes use group B and another seed (held out: never looked at while tuning).
Each note also carries clinical text that must survive (ICD-10 and ATC codes, lab values, doses, lone years,
ages under 90, eponyms, checksum-failing numbers) and ``Disease`` annotations to exercise re-alignment.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from faker import Faker
from faker.providers import BaseProvider

from deid.dates import month_forms
from deid.labels import LANGUAGES, Label
from deid.lexicon import FINNISH_CITY_FORMS
from deid.recognizers import dk_cpr, ee_isikukood, fi_henkilotunnus, no_fodselsnummer, se_personnummer

Split = Literal["dev", "test"]
_LOCALE = {"nb": "no_NO", "sv": "sv_SE", "da": "da_DK", "fi": "fi_FI", "et": "et_EE", "en": "en_US"}
_CITIES: dict[str, tuple[str, ...]] = {
    "nb": ("Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Bodø", "Drammen", "Ålesund", "Hamar", "Molde"),
    "sv": ("Stockholm", "Göteborg", "Malmö", "Uppsala", "Umeå", "Linköping", "Örebro", "Luleå", "Lund", "Kalmar"),
    "da": ("København", "Aarhus", "Odense", "Aalborg", "Esbjerg", "Randers", "Kolding", "Vejle", "Herning", "Viborg"),
    "fi": ("Helsinki", "Espoo", "Tampere", "Oulu", "Turku", "Jyväskylä", "Kuopio", "Lahti", "Pori", "Joensuu"),
    "et": ("Tallinn", "Tartu", "Narva", "Pärnu", "Viljandi", "Rakvere", "Kuressaare", "Haapsalu", "Võru", "Paide"),
}
_CITIES["en"] = _CITIES["nb"] + _CITIES["sv"]
_HOSPITALS = {
    "nb": (
        "Oslo universitetssykehus",
        "Haukeland universitetssjukehus",
        "St. Olavs hospital",
        "Sørlandet sykehus",
        "Universitetssykehuset Nord-Norge",
        "Ullevål legesenter",
    ),
    "sv": (
        "Karolinska Universitetssjukhuset",
        "Sahlgrenska universitetssjukhuset",
        "Skånes universitetssjukhus",
        "Norrlands universitetssjukhus",
        "Akademiska sjukhuset",
        "Centrala vårdcentralen",
    ),
    "da": (
        "Rigshospitalet",
        "Aarhus Universitetshospital",
        "Odense Universitetshospital",
        "Herlev Hospital",
        "Bispebjerg Hospital",
        "Aalborg Universitetshospital",
    ),
    "fi": (
        "Helsingin yliopistollinen keskussairaala",
        "Tampereen yliopistollinen sairaala",
        "Oulun yliopistollinen sairaala",
        "Kuopion yliopistollinen sairaala",
        "Meilahden sairaala",
        "Kallion terveysasema",
    ),
    "et": (
        "Tartu Ülikooli Kliinikum",
        "Põhja-Eesti Regionaalhaigla",
        "Ida-Tallinna Keskhaigla",
        "Pärnu Haigla",
        "Lääne-Tallinna Keskhaigla",
        "Viljandi Haigla",
    ),
    "en": ("Massachusetts General Hospital", "St. Mary's Hospital", "Royal Free Hospital", "Mayo Clinic Hospital"),
}
_HOSPITAL_WORD = {"nb": "sykehus", "sv": "sjukhus", "da": "Sygehus", "fi": "sairaala", "et": "Haigla", "en": "Hospital"}
_EE_STREETS = (
    "Tartu mnt",
    "Pärnu mnt",
    "Narva mnt",
    "Vabaduse pst",
    "Riia tänav",
    "Lossi tänav",
    "Kalda tee",
    "Mere pst",
    "Rüütli tänav",
    "Jaama tänav",
    "Pikk tänav",
    "Aia tänav",
)
_DISEASES = {
    "nb": ("hjertesvikt", "diabetes mellitus type 2", "KOLS", "atrieflimmer", "Parkinsons sykdom", "Alzheimers sykdom"),
    "sv": (
        "hjärtsvikt",
        "diabetes mellitus typ 2",
        "KOL",
        "förmaksflimmer",
        "Parkinsons sjukdom",
        "Alzheimers sjukdom",
    ),
    "da": ("hjertesvigt", "type 2-diabetes", "KOL", "atrieflimren", "Parkinsons sygdom", "Alzheimers sygdom"),
    "fi": (
        "sydämen vajaatoiminta",
        "tyypin 2 diabetes",
        "keuhkoahtaumatauti",
        "eteisvärinä",
        "Parkinsonin tauti",
        "Alzheimerin tauti",
    ),
    "et": (
        "südamepuudulikkus",
        "II tüüpi diabeet",
        "krooniline obstruktiivne kopsuhaigus",
        "kodade virvendus",
        "Parkinsoni tõbi",
        "Alzheimeri tõbi",
    ),
    "en": (
        "heart failure",
        "type 2 diabetes",
        "COPD",
        "atrial fibrillation",
        "Parkinson disease",
        "Huntington disease",
        "Duchenne muscular dystrophy",
        "Alzheimer's disease",
        "Crohn disease",
    ),
}
_ICD = ("I50.9", "E11.9", "J44.1", "I48.0", "G20", "G30.1", "I21.4", "N18.3", "C50.9", "K50.0")
_ATC = (
    "C09AA05 ramipril 5 mg",
    "A10BA02 metformin 500 mg",
    "N04BA02 levodopa 100 mg",
    "B01AF01 rivaroksaban 20 mg",
    "C07AB02 metoprolol 50 mg",
    "N06DA02 donepezil 10 mg",
)

# {P}=PERSON {ID}=NATIONAL_ID {T}=PHONE {E}=EMAIL {U}=URL {IP}=IP {A}=ADDRESS {L}=LOCATION {D}=DATE {AGE}=AGE
# {R}=ID (record) {O}=ORGANIZATION; {DX} disease (annotated, must stay); {ICD} {ATC} {Y} {YOUNG} {LAB} {BAD} stay.
_HEADERS: dict[str, tuple[str, str]] = {
    "nb": (
        "Pasient: {P}\nFødselsnummer: {ID}\nAdresse: {A}\nTlf: {T}\nE-post: {E}\nJournalnr: {R}\n",
        "Navn: {P}, f.nr. {ID}\nBosted: {A}\nMobil {T}, e-post {E}\nSaksnr. {R}\n",
    ),
    "sv": (
        "Patient: {P}\nPersonnummer: {ID}\nAdress: {A}\nTel: {T}\nE-post: {E}\nJournalnr: {R}\n",
        "Namn: {P}, pnr {ID}\nBostadsadress: {A}\nMobil: {T}, mejl {E}\nDiarienr: {R}\n",
    ),
    "da": (
        "Patient: {P}\nCPR: {ID}\nAdresse: {A}\nTlf: {T}\nE-mail: {E}\nJournalnr: {R}\n",
        "Navn: {P}, CPR-nr. {ID}\nBopæl: {A}\nMobil {T}, mail {E}\nSagsnr. {R}\n",
    ),
    "fi": (
        "Potilas: {P}\nHenkilötunnus: {ID}\nOsoite: {A}\nPuh: {T}\nSähköposti: {E}\nPotilasnumero: {R}\n",
        "Nimi: {P}, hetu {ID}\nKotiosoite: {A}\nPuhelin {T}, email {E}\nLähetenumero: {R}\n",
    ),
    "et": (
        "Patsient: {P}\nIsikukood: {ID}\nAadress: {A}\nTel: {T}\nE-post: {E}\nHaigusloo nr: {R}\n",
        "Nimi: {P}, isikukood {ID}\nElukoht: {A}\nMobiil {T}, e-post {E}\nSaatekiri nr {R}\n",
    ),
    "en": (
        "Patient: {P}\nNational ID: {ID}\nAddress: {A}\nPhone: {T}\nEmail: {E}\nMRN: {R}\n",
        "Name: {P}, ID {ID}\nHome address: {A}\nMobile {T}, email {E}\nCase number: {R}\n",
    ),
}
_BODY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "nb": (
        (
            "Innlagt ved {O} {D} med forverring av {DX}.",
            "Vurdert av overlege {P} på medisinsk avdeling.",
            "Pasienten er {AGE} år og bor alene i {L}.",
            "{YOUNG} år gammel bror med {DX}, kjent siden {Y}.",
            "Diagnose {ICD}. Medisin: {ATC} x 2.",
            "Hb {LAB} g/dL, CRP {INT} mg/L, kreatinin {INT} µmol/L.",
            "Kontroll {D} hos fastlege {P}.",
            "Epikrise sendt til {O}, se {U}.",
            "Ref. {BAD} er ugyldig.",
            "Innlogging fra {IP} ble logget.",
        ),
        (
            "Pasienten kom til {O} den {D} grunnet {DX}.",
            "Tilsett av lege {P}, som ringte pårørende på {T}.",
            "Alder {AGE} år, opprinnelig fra {L}.",
            "Bruker {ATC} daglig mot {DX}. Diagnosekode {ICD}.",
            "Operert i {Y}; {YOUNG} år ved operasjonen.",
            "Natrium {INT} mmol/L, Hb {LAB} g/dL.",
            "Datter {P} følger opp; ny time {D}.",
            "Prøvesvar på {U} (maskin {IP}).",
            "Nummer {BAD} avvist.",
        ),
    ),
    "sv": (
        (
            "Inlagd på {O} {D} för {DX}.",
            "Bedömd av överläkare {P} på medicinkliniken.",
            "Patienten är {AGE} år och bor i {L}.",
            "Brodern, {YOUNG} år, har {DX} sedan {Y}.",
            "Diagnos {ICD}. Läkemedel: {ATC} x 2.",
            "Hb {LAB} g/dL, CRP {INT} mg/L.",
            "Återbesök {D} hos sjuksköterska {P}.",
            "Remiss skickad till {O}, se {U}.",
            "Nr {BAD} är ogiltigt.",
            "Inloggning från {IP}.",
        ),
        (
            "Patienten sökte {O} den {D} på grund av {DX}.",
            "Undersökt av läkare {P}; anhörig nås på {T}.",
            "Ålder {AGE} år, uppvuxen i {L}.",
            "Tar {ATC} mot {DX}. Diagnoskod {ICD}.",
            "Opererad {Y}, då {YOUNG} år gammal.",
            "Kreatinin {INT} µmol/L, Hb {LAB} g/dL.",
            "Dottern {P} följer med; ny tid {D}.",
            "Provsvar via {U} (dator {IP}).",
            "Referens {BAD} avvisad.",
        ),
    ),
    "da": (
        (
            "Indlagt på {O} {D} med {DX}.",
            "Vurderet af overlæge {P} på medicinsk afdeling.",
            "Patienten er {AGE} år og bor i {L}.",
            "Broderen på {YOUNG} år har {DX} siden {Y}.",
            "Diagnose {ICD}. Medicin: {ATC} x 2.",
            "Hb {LAB} mmol/L, CRP {INT} mg/L.",
            "Kontrol {D} hos sygeplejerske {P}.",
            "Epikrise sendt til {O}, se {U}.",
            "Nr. {BAD} er ugyldigt.",
            "Login fra {IP}.",
        ),
        (
            "Patienten kom til {O} den {D} pga. {DX}.",
            "Set af læge {P}; pårørende på {T}.",
            "Alder {AGE} år, opvokset i {L}.",
            "Får {ATC} mod {DX}. Diagnosekode {ICD}.",
            "Opereret i {Y}, {YOUNG} år gammel.",
            "Kreatinin {INT} µmol/L, Hb {LAB} mmol/L.",
            "Datteren {P} deltog; ny tid {D}.",
            "Prøvesvar på {U} (maskine {IP}).",
            "Reference {BAD} afvist.",
        ),
    ),
    "fi": (
        (
            "Potilas otettiin sisään {O} {D}, syynä {DX}.",
            "Potilaan tutki ylilääkäri {P}.",
            "Potilas on {AGE}-vuotias ja asuu paikkakunnalla {L}.",
            "Veli {YOUNG}-vuotias, sairastaa {DX} vuodesta {Y}.",
            "Diagnoosi {ICD}. Lääkitys: {ATC} x 2.",
            "Hb {LAB} g/dl, CRP {INT} mg/l.",
            "Kontrolli {D}, hoitaja {P}.",
            "Lähete lähetetty: {O}, katso {U}.",
            "Numero {BAD} on virheellinen.",
            "Kirjautuminen osoitteesta {IP}.",
        ),
        (
            "Potilas tuli {O} {D} syynä {DX}.",
            "Tutkinut lääkäri {P}; omainen tavoitettavissa {T}.",
            "Ikä {AGE} vuotta, kotoisin: {L}.",
            "Käyttää {ATC} sairauteen {DX}. Diagnoosikoodi {ICD}.",
            "Leikattu {Y}, silloin {YOUNG}-vuotias.",
            "Kreatiniini {INT} µmol/l, Hb {LAB} g/dl.",
            "Tytär {P} mukana; uusi aika {D}.",
            "Tulokset: {U} (kone {IP}).",
            "Viite {BAD} hylätty.",
        ),
    ),
    "et": (
        (
            "Hospitaliseeritud {O} {D}, põhjuseks {DX}.",
            "Patsienti vaatas üle arst {P}.",
            "Patsient on {AGE}-aastane ja elab linnas {L}.",
            "Vend, {YOUNG}-aastane, põeb {DX} alates {Y}.",
            "Diagnoos {ICD}. Ravim: {ATC} x 2.",
            "Hb {LAB} g/dl, CRP {INT} mg/l.",
            "Kontroll {D}, õde {P}.",
            "Saatekiri saadetud: {O}, vt {U}.",
            "Number {BAD} on vigane.",
            "Sisselogimine aadressilt {IP}.",
        ),
        (
            "Patsient pöördus {O} {D}, põhjus {DX}.",
            "Läbi vaadanud peaarst {P}; lähedane telefonil {T}.",
            "Vanus {AGE} aastat, pärit: {L}.",
            "Kasutab {ATC} haiguse {DX} raviks. Kood {ICD}.",
            "Opereeritud {Y}, siis {YOUNG}-aastane.",
            "Kreatiniin {INT} µmol/l, Hb {LAB} g/dl.",
            "Tütar {P} kaasas; uus aeg {D}.",
            "Tulemused: {U} (arvuti {IP}).",
            "Viide {BAD} tagasi lükatud.",
        ),
    ),
    "en": (
        (
            "Admitted to {O} on {D} with {DX}.",
            "Seen by Dr. {P} on the medical ward.",
            "The patient is {AGE} years old and lives in {L}.",
            "Brother, {YOUNG} years old, has had {DX} since {Y}.",
            "Diagnosis {ICD}. Medication: {ATC} twice daily.",
            "Hb {LAB} g/dL, CRP {INT} mg/L.",
            "Follow-up on {D} with nurse {P}.",
            "Discharge letter sent to {O}, see {U}.",
            "Number {BAD} is invalid.",
            "Login from {IP}.",
        ),
        (
            "The patient presented at {O} on {D} because of {DX}.",
            "Examined by physician {P}; relative reachable at {T}.",
            "Age {AGE}, originally from {L}.",
            "Takes {ATC} for {DX}. Diagnosis code {ICD}.",
            "Operated in {Y}, aged {YOUNG} at the time.",
            "Creatinine {INT} µmol/L, Hb {LAB} g/dL.",
            "Daughter {P} attended; next appointment {D}.",
            "Results at {U} (workstation {IP}).",
            "Reference {BAD} rejected.",
        ),
    ),
}
_SLOT_LABEL = {
    "P": Label.PERSON,
    "ID": Label.NATIONAL_ID,
    "T": Label.PHONE,
    "E": Label.EMAIL,
    "U": Label.URL,
    "IP": Label.IP,
    "A": Label.ADDRESS,
    "L": Label.LOCATION,
    "D": Label.DATE,
    "AGE": Label.AGE,
    "R": Label.ID,
    "O": Label.ORGANIZATION,
}


def _born(fake: Faker) -> dt.date:
    """A birth date (1930 to 2022) from the locale's own seeded stream, never from today's date: the gold set
    must be the same whatever day it is generated on (Faker's ``ssn()`` counts ages back from today)."""
    return dt.date(1930, 1, 1) + dt.timedelta(days=int(fake.random_int(0, 365 * 93)))


class DanishCprProvider(BaseProvider):
    """Faker provider for Danish CPR numbers (date-valid, century-consistent serial; no mod-11)."""

    def cpr(self, dashed: bool = True) -> str:
        born = dt.date(1930, 1, 1) + dt.timedelta(days=self.random_int(0, 365 * 93))
        year2 = born.year % 100
        seventh = self.random_element((0, 1, 2, 3)) if born.year < 2000 else self.random_element((4, 9))
        if born.year >= 2000 and year2 > 36:
            seventh = self.random_element((5, 6, 7, 8))
        serial = f"{seventh}{self.random_int(0, 999):03d}"
        number = f"{born.strftime('%d%m%y')}{'-' if dashed else ''}{serial}"
        if not dk_cpr.is_valid(number):  # pragma: no cover - the construction above always is
            raise AssertionError("invalid CPR generated")
        return number


@dataclass
class Patient:
    """The PHI of one synthetic patient, reused across the patient's notes."""

    pid: str
    lang: str
    values: dict[str, str] = field(default_factory=dict)


class NoteFactory:
    """Builds synthetic notes; deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311  # synthetic data, not security
        self.fakers: dict[str, Faker] = {}
        for lang, locale in _LOCALE.items():
            fake = Faker(locale)
            fake.seed_instance(seed * 7 + LANGUAGES.index(lang))
            fake.add_provider(DanishCprProvider)
            self.fakers[lang] = fake

    # -- PHI values -------------------------------------------------------------------------------------------
    def name(self, lang: str) -> str:
        fake = self.fakers[lang]
        if self.rng.random() < 0.15:
            return f"{fake.first_name()} {fake.first_name()} {fake.last_name()}"
        return f"{fake.first_name()} {fake.last_name()}"

    def national_id(self, lang: str) -> str:
        fake, rng = self.fakers[lang], self.rng
        if lang == "en":
            lang = rng.choice(("nb", "sv", "da", "fi", "et"))
            fake = self.fakers[lang]
        if lang == "da":
            return str(fake.cpr(dashed=rng.random() < 0.8))
        if lang == "sv":
            first9 = _born(fake).strftime("%y%m%d") + f"{fake.random_int(0, 999):03d}"
            digits = first9 + str(se_personnummer.luhn_digit(first9))
            form = rng.random()
            if form < 0.15:  # samordningsnummer: day + 60
                first9 = digits[:4] + f"{int(digits[4:6]) + 60:02d}" + digits[6:9]
                digits = first9 + str(se_personnummer.luhn_digit(first9))
            if form < 0.4:
                return digits[:6] + "-" + digits[6:]
            if form < 0.7:
                century = "19" if int(digits[:2]) > 25 else "20"
                return century + digits[:6] + rng.choice(("-", "")) + digits[6:]
            return digits
        if lang == "fi":
            born = _born(fake)
            date6, individual = born.strftime("%d%m%y"), f"{fake.random_int(2, 899):03d}"
            sign = "-" if born.year < 2000 else "A"
            code = date6 + sign + individual + fi_henkilotunnus.check_char(date6, individual)
            if rng.random() < 0.3:  # the 2023 century letters
                sign = rng.choice("YXWVU") if code[6] == "-" else rng.choice("BCDEF")
                code = code[:6] + sign + code[7:]
            if not fi_henkilotunnus.is_valid(code):  # pragma: no cover - the construction above always is
                raise AssertionError("invalid HETU generated")
            return code
        if lang == "et":
            born = _born(fake)
            first = (3 if born.year < 2000 else 5) + fake.random_int(0, 1)  # century and sex
            first10 = f"{first}{born.strftime('%y%m%d')}{fake.random_int(0, 999):03d}"
            return first10 + str(ee_isikukood.check_digit(first10))
        born = _born(fake)  # nb: fødselsnummer, individual number 000-499 before 2000, 500-999 after
        low = 0 if born.year < 2000 else 500
        while True:
            first9 = born.strftime("%d%m%y") + f"{fake.random_int(low, low + 499):03d}"
            check = no_fodselsnummer.check_digits(first9)
            if check is not None:
                return first9 + check

    def phone(self, lang: str) -> str:
        r = self.rng

        def d(n: int) -> str:
            return "".join(str(r.randint(0, 9)) for _ in range(n))

        forms = {
            "nb": (
                f"{r.randint(2, 9)}{d(1)} {d(2)} {d(2)} {d(2)}",
                f"+47 {r.randint(4, 9)}{d(2)} {d(2)} {d(3)}",
                f"{r.randint(4, 9)}{d(2)} {d(2)} {d(3)}",
                f"+47{r.randint(2, 9)}{d(7)}",
            ),
            "sv": (
                f"08-{d(3)} {d(3)} {d(2)}",
                f"070-{d(3)} {d(2)} {d(2)}",
                f"+46 70 {d(3)} {d(2)} {d(2)}",
                f"031-{d(2)} {d(2)} {d(2)}",
            ),
            "da": (
                f"{r.randint(2, 9)}{d(1)} {d(2)} {d(2)} {d(2)}",
                f"+45 {r.randint(2, 9)}{d(3)} {d(4)}",
                f"+45 {r.randint(2, 9)}{d(7)}",
            ),
            "fi": (f"040 {d(3)} {d(4)}", f"09 {d(4)} {d(3)}", f"+358 40 {d(3)} {d(4)}", f"(09) {d(3)} {d(4)}"),
            "et": (f"5{d(3)} {d(4)}", f"+372 5{d(3)} {d(4)}", f"6{d(2)} {d(4)}"),
        }
        forms["en"] = forms["nb"] + forms["sv"]
        return r.choice(forms[lang])

    def address(self, lang: str) -> str:
        r = self.rng
        city = r.choice(_CITIES[lang])
        if lang in ("et", "en"):
            street = (
                f"{r.choice(_EE_STREETS)} {r.randint(1, 120)}"
                if lang == "et"
                else str(self.fakers["nb"].street_address())
            )
            code = f"{r.randint(10000, 99999)}"
        else:
            street = str(self.fakers[lang].street_address())
            code = {"sv": f"{r.randint(100, 999)} {r.randint(10, 99)}", "fi": f"{r.randint(0, 99999):05d}"}.get(
                lang, f"{r.randint(0, 9999):04d}"
            )
        return f"{street}, {code} {city}" if r.random() < 0.7 else street

    def date(self, lang: str) -> str:
        r = self.rng
        day = dt.date(2015, 1, 1) + dt.timedelta(days=r.randint(0, 365 * 10))
        months = month_forms(lang)[0]
        forms = [
            day.isoformat(),
            day.strftime("%d.%m.%Y"),
            f"{day.day}.{day.month}.{day.year}",
            f"{day.day}. {months[day.month - 1]} {day.year}",
        ]
        if lang in ("da", "nb"):
            forms += [f"{day.day}/{day.month}-{day.strftime('%y')}"]
        if lang == "en":
            forms = [
                day.isoformat(),
                f"{months[day.month - 1]} {day.day}, {day.year}",
                f"{day.day} {months[day.month - 1]} {day.year}",
                day.strftime("%d.%m.%Y"),
            ]
        if lang == "sv":
            forms[3] = f"{day.day} {months[day.month - 1]} {day.year}"
        return r.choice(forms)

    def location(self, lang: str) -> str:
        return self.rng.choice(_CITIES[lang])

    def organization(self, lang: str) -> str:
        r = self.rng
        if r.random() < 0.6:
            return r.choice(_HOSPITALS[lang])
        city = r.choice(_CITIES[lang])
        return f"{city} {_HOSPITAL_WORD[lang]}"

    def record(self) -> str:
        r = self.rng
        return r.choice(
            (
                f"{r.randint(2015, 2025)}-{r.randint(0, 999999):06d}",
                f"J{r.randint(100000, 9999999)}",
                f"{r.randint(1000000, 99999999)}",
                f"KS-{r.randint(10000, 999999)}",
            )
        )

    def email(self, lang: str) -> str:
        return str(self.fakers[lang].email())

    def url(self, lang: str) -> str:
        r = self.rng
        tld = {"nb": "no", "sv": "se", "da": "dk", "fi": "fi", "et": "ee", "en": "org"}[lang]
        last = str(self.fakers[lang].last_name()).lower().replace("ø", "o").replace("ä", "a").replace("ö", "o")
        return r.choice(
            (
                f"https://journal.{last}-helse.{tld}/p/{r.randint(1000, 99999)}",
                f"www.{last}.{tld}",
                f"http://{last}.{tld}/pasient?id={r.randint(100, 9999)}",
            )
        )

    def ip(self) -> str:
        fake = self.fakers["en"]
        return str(fake.ipv6()) if self.rng.random() < 0.2 else str(fake.ipv4())

    def bad_number(self) -> str:
        """An 11-digit number that fails every checksum (must stay)."""
        from deid.recognizers import ee_isikukood, no_fodselsnummer

        while True:
            n = f"{self.rng.randint(10**10, 10**11 - 1)}"
            if not (no_fodselsnummer.is_valid(n) or ee_isikukood.is_valid(n)):
                return n

    # -- notes ------------------------------------------------------------------------------------------------
    def patient(self, pid: str, lang: str) -> Patient:
        p = Patient(pid, lang)
        p.values = {
            "P": self.name(lang),
            "ID": self.national_id(lang),
            "A": self.address(lang),
            "T": self.phone(lang),
            "E": self.email(lang),
            "R": self.record(),
        }
        return p

    def _slot(self, slot: str, lang: str, patient: Patient, first_header: bool) -> tuple[str, str | None]:
        r = self.rng
        if first_header and slot in patient.values:
            return patient.values[slot], str(_SLOT_LABEL[slot])
        makers: dict[str, Callable[[], str]] = {
            "P": lambda: self.name(lang) if r.random() < 0.5 else str(self.fakers[lang].last_name()),
            "ID": lambda: self.national_id(lang),
            "T": lambda: self.phone(lang),
            "E": lambda: self.email(lang),
            "U": lambda: self.url(lang),
            "IP": self.ip,
            "A": lambda: self.address(lang),
            "L": lambda: self.location(lang),
            "D": lambda: self.date(lang),
            "AGE": lambda: str(r.randint(90, 104)),
            "R": self.record,
            "O": lambda: self.organization(lang),
        }
        if slot in makers:
            return makers[slot](), str(_SLOT_LABEL[slot])
        fillers: dict[str, Callable[[], str]] = {
            "DX": lambda: r.choice(_DISEASES[lang]),
            "ICD": lambda: r.choice(_ICD),
            "ATC": lambda: r.choice(_ATC),
            "Y": lambda: str(r.randint(1960, 2024)),
            "YOUNG": lambda: str(r.randint(18, 89)),
            "LAB": lambda: f"{r.randint(80, 170) / 10:.1f}",
            "INT": lambda: str(r.randint(3, 250)),
            "BAD": self.bad_number,
        }
        return fillers[slot](), ("Disease" if slot == "DX" else None)

    def note(self, patient: Patient, index: int, split: Split) -> dict[str, object]:
        """One note of ``patient``: header + 4-7 body sentences from the split's template group."""
        lang, r = patient.lang, self.rng
        group = 0 if split == "dev" else 1
        header = _HEADERS[lang][group]
        sentences = list(_BODY[lang][group])
        r.shuffle(sentences)
        template = header + " ".join(sentences[: r.randint(5, len(sentences))]) + "\n"
        text_parts: list[str] = []
        phi: list[dict[str, object]] = []
        annotations: list[dict[str, object]] = []
        pos = 0
        for part, in_header in ((header, True), (template[len(header) :], False)):
            for literal, slot in _split_template(part):
                text_parts.append(literal)
                pos += len(literal)
                if slot is None:
                    continue
                value, label = self._slot(slot, lang, patient, in_header)
                text_parts.append(value)
                if label == "Disease":
                    annotations.append({"start": pos, "end": pos + len(value), "label": "Disease"})
                elif label is not None:
                    phi.append({"start": pos, "end": pos + len(value), "label": label})
                pos += len(value)
        when = dt.date(2024, 1, 1) + dt.timedelta(days=r.randint(0, 365))
        return {
            "note_id": f"{split}-{patient.pid}-{index}",
            "person_source_value": patient.pid,
            "note_date": when.isoformat(),
            "title": {"nb": "Epikrise", "sv": "Epikris", "da": "Epikrise", "fi": "Epikriisi", "et": "Epikriis"}.get(
                lang, "Discharge summary"
            ),
            "lang": lang,
            "text": "".join(text_parts),
            "phi": phi,
            "annotations": annotations,
        }


def _split_template(template: str) -> Iterator[tuple[str, str | None]]:
    """``("literal", "SLOT")`` pairs; the last pair's slot is None."""
    rest = template
    while True:
        open_at = rest.find("{")
        if open_at < 0:
            yield rest, None
            return
        close_at = rest.index("}", open_at)
        yield rest[:open_at], rest[open_at + 1 : close_at]
        rest = rest[close_at + 1 :]


def generate(split: Split, n_notes: int, seed: int, languages: tuple[str, ...] = LANGUAGES) -> list[dict[str, object]]:
    """``n_notes`` notes of ``split``, spread over the languages, 1-3 notes per patient."""
    factory = NoteFactory(seed)
    notes: list[dict[str, object]] = []
    p = 0
    while len(notes) < n_notes:
        lang = languages[p % len(languages)]
        patient = factory.patient(f"{split}-p{p:05d}", lang)
        for i in range(factory.rng.randint(1, 3)):
            if len(notes) < n_notes:
                notes.append(factory.note(patient, i, split))
        p += 1
    return notes


def make_phi_header(rng: random.Random, lang: str) -> tuple[str, list[tuple[int, int, str]]]:
    """A realistic synthetic PHI header (name, national ID, address, phone, e-mail, record number) in ``lang``,
    ending in a newline, with its gold PHI spans ``(start, end, label)``. For the demo's notes.
    """
    factory = NoteFactory(rng.randint(0, 2**31))
    lang = lang if lang in _HEADERS else "en"
    patient = factory.patient("demo", lang)
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for literal, slot in _split_template(_HEADERS[lang][rng.randint(0, 1)]):
        parts.append(literal)
        pos += len(literal)
        if slot is not None:
            value = patient.values[slot]
            parts.append(value)
            spans.append((pos, pos + len(value), str(_SLOT_LABEL[slot])))
            pos += len(value)
    return "".join(parts), spans


__all__ = ["DanishCprProvider", "NoteFactory", "generate", "make_phi_header"]
_UNUSED = FINNISH_CITY_FORMS  # the generator writes base forms; inflected forms are covered by the recognizer tests
