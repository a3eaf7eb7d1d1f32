"""Hospital and clinic names: a hospital word (``sykehus``, ``sjukhuset``, ``Rigshospitalet``, ``keskussairaala``,
``Keskhaigla``, ``legesenter``, ``Hospital``) with the capitalised words before it (``Haukeland
universitetssjukehus``, ``Tartu Ülikooli Kliinikum``, ``Helsingin yliopistollinen keskussairaala``).
A bare generic word (``sykehuset``, ``the hospital``) is not a name and stays.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import cache, lru_cache
from typing import Any, ClassVar

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.dates import is_analyte
from deid.labels import Label
from deid.lexicon import (
    CHAIN_STEMS,
    COMPANY_SUFFIXES,
    EMPLOYER_CUES,
    HOSPITAL_SHORT_NAMES,
    KINSHIP_CUES,
    NAMED_HEALTH_TRUSTS,
    NOT_NAMES,
    ORG_CONNECTORS,
    REGION_WORDS,
    SIGNATURE_CUES,
    TITLE_CUES,
    cities,
    first_names,
    hospital_short_name_set,
    hospital_short_names,
    last_names,
    stop_words,
)
from deid.recognizers._base import DOSE_AFTER, Gate, any_literal, make_result, words_alternation
from deid.recognizers._tokens import Token, adjacent, sentence_initial, tokens
from deid.recognizers.location import is_country, place_forms
from deid.wordlists import facility_at, lower_set, trie_alternation, words

_FACILITY_START = regex.compile(r"(?i:" + words_alternation(words("facility_nouns")).replace("\\$", "") + ")")
"""A facility noun starting a word (``Folktandvården``, ``Jobcenter``, ``Hospice``): a name may follow it."""
_ACRONYMS = frozenset(words("facility_acronyms"))
_ACRONYM_RE = regex.compile(rf"(?<![\w]){words_alternation(words('facility_acronyms'))}(?![\w])")
_CONNECTED = regex.compile(
    r"(?P<phi>\b\p{L}+[ ](?:i|in|of|på|ved|vid)[ ]\p{Lu}[\p{L}\-]+(?:[ ]\p{Lu}[\p{L}\-]+)?)(?![\w])"
)
"""A facility or service noun, a preposition and a place (``Socialtjänsten i Botkyrka``, ``Lægerne i Farum``)."""
_SAINT = regex.compile(
    r"(?<![\w])(?P<phi>St\.?[ ]\p{Lu}\p{Ll}+(?:'s|’s|'|’)(?:[ ]\p{Lu}[\p{L}\-]*){0,2}"
    r"|\p{Lu}\p{Ll}+[ ](?:Women|Children)(?:'s|’s)(?:[ ]\p{Lu}[\p{L}\-]*){0,2})(?![\w])"
)
"""English institutions named by a saint or a possessive (``St Thomas'``, ``Liverpool Women's``)."""
_ROYAL = regex.compile(
    r"(?<![\w])(?P<phi>Royal[ ]\p{Lu}\p{Ll}[\p{L}\-]*(?:[ ]\p{Lu}\p{Ll}[\p{L}\-]*)?"
    r"|\p{Lu}\p{Ll}[\p{L}\-]*[ ](?:General|Royal)(?![\w]|[ ]\p{Lu}))"
)
"""English and Irish hospitals called by their town and "Royal" or "General" (``Royal Bournemouth``, ``Naas
General``, ``Sunderland Royal``)."""
_MAX_LEFT = 4
_PREFIX_NOUNS = (
    "äldreboende",
    "hälsocentral",
    "vårdcentral",
    "lægehus",
    "plejecent",
    "plejehjem",
    "lægerne",
    "lægeklinik",
    "omsorgsboende",
    "förskola",
    "børnehus",
    "børnehave",
    "päiväko",
    "bvc",
    "ppr",
    "sundhedspleje",
    "hudlege",
)
"""Facility nouns written before the name (``Vårdcentralen Gottsunda``): a name follows even at a line start."""
_PERSON_CUES = frozenset(TITLE_CUES) | frozenset(KINSHIP_CUES) | frozenset(SIGNATURE_CUES)
_CHAIN = regex.compile("(?i:" + "|".join(regex.escape(w) for w in CHAIN_STEMS) + ")")
_SHORT = regex.compile(
    rf"(?<![\w])(?:{trie_alternation(list(hospital_short_names()))})"
    r"(?::?(?:iin|issa|issä|ista|istä|ille|illa|illä|ilta|iltä|ssa|ssä|sta|stä|lla|llä|lle|in|n)"
    r"|-?(?:sse|st|s|i|il|ile|ilt|is|ist|isse|le|lt|l))?(?![\w])"
    r"(?:[ ]\p{Lu}\p{Ll}[\p{L}\-]+(?![\w]))?"
)
_PHRASE = regex.compile(
    r"(?P<phi>(?:\p{Lu}[\p{L}'’\-]*[ ]){1,3}(?i:care home|nursing home|residential home|rest home|health cent(?:re|er)"
    r"|medical cent(?:re|er)|GP practice|city council|county council|municipality|health board|"
    + words_alternation(words("facility_phrases"))
    + r"))(?![\w])"
)
"""English generic facility phrases after a capitalised name (``Kotikartano care home``)."""
_CAPS = r"\p{Lu}[\p{L}\-]*(?:[ ]\p{Lu}[\p{L}\-]*){0,3}"
_CAPS_PLAIN = r"\p{Lu}[\p{L}\-]*(?:[ ]\p{Lu}[\p{L}\-]*){0,2}"
_EMPLOYER = regex.compile(rf"\b{EMPLOYER_CUES}[ ](?P<phi>{_CAPS})(?![\w])")
_EMPLOYER_CASE = regex.compile(
    rf"\b(?i:työskentelee|työskenteli|työskennellyt|on[ ]töissä|töötab|töötas|töötanud|on[ ]tööl)"
    rf"(?:[ ]\p{{Ll}}+){{0,2}}?[ ](?P<phi>{_CAPS})(?![\w])"
)
"""Finnish and Estonian employers take a case ending, not a preposition (``työskentelee kuljettajana Nobinalla``,
``töötab bussijuhina Linnatranspordis``)."""
_COMPANY = regex.compile(
    rf"\b(?P<phi>{_CAPS}[ ](?:{'|'.join(regex.escape(c) for c in COMPANY_SUFFIXES)})(?::\p{{Ll}}+)?)(?![\w])"
)
"""An employer after an employment cue, or a company name ending in its legal form (``Meyer Turku Oy:ssä``)."""
_DOSE_AFTER = regex.compile(r"[ ]*\d+(?:[.,]\d+)?[ ]*(?:mg|g|µg|mcg|ml)\b")
_COMPOUND = regex.compile(
    r"(?P<phi>(?:\p{Lu}[\p{L}\-]*[ ])?\p{L}+-[ ](?:og|och)[ ]\p{L}+(?:[ ]\p{Lu}[\p{L}\-]*)?)(?![\w])"
)
"""Scandinavian paired compounds (``Ekeberg bo- og servicesenter``, ``Vård- och omsorgsboendet Furuhöjden``)."""
_PEOPLE = first_names() | last_names()
_PEOPLE_AND_PLACES = cities() | _PEOPLE
_COMPANY_NAMES = regex.compile(
    rf"(?<![\w&'’\-])(?P<name>{trie_alternation([w for w in words('companies') if w not in _PEOPLE_AND_PLACES])})"
    r"(?P<case>:?(?:ille|illa|illä|ilta|iltä|issa|issä|ista|istä|lla|llä|lle|lta|ltä|ssa|ssä|sta|stä|in|n|is|ist|ile"
    r"|il|iga|s|st|le|l|lt|i))?(?![\w&'’\-])"
)
"""A well-known employer, insurer or chain named without a generic noun (``Kiwi``, ``Aviva``, ``Valmetilla``); one
that is also a town or a person's name (``Nokia``, ``Ericsson``) is left to those recognizers."""
_FIRM_FORMS = regex.compile(
    r"(?<![\w&])(?P<phi>(?:\p{Lu}[\p{L}\-]*[ ]){0,2}\p{Lu}[\p{L}\-]*[ ]&[ ]\p{Lu}[\p{L}\-]*(?:[ ]\p{Lu}[\p{L}\-]*){0,2}"
    r"|(?:Brdr\.|Brødrene|Brødr\.|Bröderna|Veljekset|Vennad)[ ]\p{Lu}[\p{L}\-]*(?:[ ]\p{Lu}[\p{L}\-]*)?)(?![\w])"
)
"""Nordic and Baltic firms by their form: two names joined by ``&`` (``Friskis & Svettis``, ``Byg & Anlæg``, ``Lassila
& Tikanoja``) or brothers' firms (``Brdr. Sloth``, ``Bröderna Svensson``). Not in English, where title-case
specialties are joined so (``Child & Adolescent``)."""
_CLUB_CUE = regex.compile(
    r"\b(?i:plays|played|playing|spiller|spilte|spelar|spelade|spiller)(?:[ ]\p{Ll}+){0,2}?[ ](?:for|för)"
    rf"[ ](?:the[ ])?(?P<phi>{_CAPS_PLAIN})(?![\w])"
)
"""A team after "plays for" (``plays hurling for Craughwell``, ``spiller fotball for Strindheim``): a club, even when
it bears its town's name."""
_TEAM = regex.compile(
    r"(?<![\w])(?P<phi>(?P<first>\p{Lu}[\p{L}\-]*)(?:[ ]\p{Lu}[\p{L}\-]*)?[ ]"
    r"(?:Håndbold|Håndball|Handboll|Fodbold|Fotball|Fotboll|Ishockey|Hockey|Bandy|Innebandy|Basket|Volley|Rovers|Wanderers|Harriers|United|Athletic|Rangers|Albion"
    r"|Jalkapallo|Jalgpall|Korvpall))(?![\w])"
)
"""A team named by its town or a name and its sport or a team word (``Ringkøbing Håndbold``, ``Aarhus United``,
``Avondhu Rovers``); the sport written in lower case after a verb (``Spiller håndball``) is no team."""
_BUSINESS = regex.compile(
    r"(?<![\w])(?P<phi>(?P<first>\p{Lu}[\p{L}\-]*)(?:[ ]\p{Lu}[\p{L}\-]*)?[ ]"
    r"(?:Aviation|Airlines|Airways|Regional|Trader|Shipping|Lines|Biobank|Bistand|Camping|Rorbuer|Stål|Sveis|Bygg|Byg"
    r"|Transport|Logistikk|Logistik|Logistics|Consult|Konsult|Group|Gruppen|Eiendom|Fastigheter|Invest|Marine|Sjømat"
    r"|Seafood|Laks|Elektro|Maskin|Dental|Tannhelse|Vaksine|Reisemedisin|Fysio|Revision|Revisjon|Regnskap"
    r"|Entreprenør|Entreprise|Montage|Solutions|Systems|Foods|Bakeri|Bageri|Taxi))(?![\w])"
)
"""A firm named by a name and its trade, the trade word capitalised (``Havbris Laks``, ``Brunvoll Stål``, ``Lunds
Revision``, ``Braathens Regional``, ``Harbourview Dental``); a product before a dose (``Xylocain Dental 2 %``) is
none. 47 of 55 such pairs in the hand-written notes were organisations, the rest generic services and products."""
_FINNISH_HEALTH_CENTRE = regex.compile(
    r"(?<![\w])(?P<phi>\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?n[ ](?:tk|ttk|sote)(?::\p{Ll}{1,4})?)(?![\w])"
)
"""A Finnish municipality's health centre written short (``Lapuan tk``, ``Kangasalan tk:sta``, ``Pirkkalan ttk``)."""
_ACRONYM_TOWN = regex.compile(
    r"(?<![\w&'’/\-])(?:(?P<acr>\p{Lu}{2,5}|\p{Lu}\p{Ll}\p{Lu}{1,3}|\p{Lu}{1,3}\p{Ll}\p{Lu})"
    r"[ ](?P<town>\p{Lu}\p{Ll}[\p{L}\-]+)"
    r"|(?P<town2>\p{Lu}\p{Ll}[\p{L}\-]+)[ ](?P<acr2>\p{Lu}{2,5}|\p{Lu}\p{Ll}\p{Lu}{1,3}))(?![\w&'’/\-])"
)
"""An acronym with a town beside it (``SiT Skien``, ``ISLAB Kuopio``, ``ASIH Stockholm``, ``Aalborg UH``): an
institution's site (30 of 31 such pairs in the hand-written notes were; the other a postal district, ``Randers
NØ``)."""
_NOT_ACRONYMS = frozenset(
    {
        *("CT", "MR", "MRI", "PET", "EKG", "EKKO", "ECG", "EEG", "EMG", "UL", "RTG", "DEXA", "OP", "PCI", "ICD", "ATC"),
        *("NØ", "NV", "SØ", "SV", "NW", "NE", "SW", "SE", "NO", "SO", "ST", "TV", "TH", "MF"),
        *("DNR", "HLR", "AKS", "KOL", "KOLS", "COPD", "ADHD", "PTSD", "MS", "ALS", "HIV", "GP", "ED", "AE"),
    }
)
"""Capitals beside a town that name no institution: imaging, a postal district or floor side, a diagnosis."""
_EMPLOYER_NOUNS = regex.compile(
    r"\b(?i:arbeidsgiver|arbeidsgjevar|arbetsgivare|arbejdsgiver|työnantaja|tööandja|employer|arbeidsplass"
    r"|arbeidsstad|arbetsplats|arbejdsplads|työpaikka|työpaikkana|töökoht|töökohaks|workplace|place of work"
    r"|forsikringsselskap|försäkringsbolag|forsikringsselskab|vakuutusyhtiö|kindlustusselts|kindlustusandja|insurer"
    r"|insurance company|pensionsselskab|pensjonsselskap|pensionsbolag|eläkeyhtiö"
    r"|leverandør|leverantör|toimittaja|tarnija|supplier|courier|kurér|kurir|rederi|varustamo|laevafirma)"
    rf"(?:en|et|n|ks|s|a|e|na)?[ ]*[:\-–]?[ ]+(?P<phi>{_CAPS})(?![\w])"
)
"""An employer, insurer, supplier or shipping line after the noun that names it (``Arbeidsgiver: Kiwi Sandnes Øst``,
``työpaikka Valmet Rautpohja``, ``arbejdspladsen Danish Crown Horsens``, ``Leverandør Oxymed``, ``rederi
Gotlandsfrakt``)."""
_OCCUPATION_AT = regex.compile(
    rf"(?<=(?P<role>\p{{Ll}}+)[ ])(?:at|for|på|ved|hos|vid)[ ](?:the[ ])?(?P<phi>{_CAPS})(?![\w])"
)
_OCCUPATION = regex.compile(rf"(?:{words_alternation(words('occupations'))})(?:en|n|et|a|e)?$")
"""An employer after an occupation and a preposition (``welder at Aker Solutions Egersund``, ``kassadame på Kiwi``)."""
_OCCUPATION_CASE = regex.compile(
    r"\b\p{Ll}{3,}(?:jana|jänä|miehenä|naisena|ijana|öörinä|kkina|ja|jana|juhina|ina)"
    r"[ ](?P<phi>(?:\p{Lu}[\p{L}\-]*[ ]){0,2}\p{Lu}[\p{L}\-]*?(?:lla|llä|ssa|ssä|is|us|as|es|s))(?![\w])"
)
"""Finnish and Estonian: an occupation (an agent noun, maybe in the essive) and an employer in a case form
(``hitsaajana Valmetilla``, ``keevitaja BLRT Grupis``, ``bussijuhina Linnatranspordis``)."""
_HEADS = "service|services|unit|team|clinic|centre|center|department|ward|hub|care|network|partnership|trust"
_SERVICE = regex.compile(
    r"(?<![\w])(?P<phi>\p{Lu}[\p{L}'’\-]*(?:[ ](?:\p{Lu}[\p{L}'’\-]*|and|&|of|for)){0,3}"
    rf"(?:[ ]\p{{Ll}}[\p{{L}}'’\-]*){{0,3}}?[ ](?i:{_HEADS}))"
    r"(?:[ ](?:at|of)[ ](?:the[ ])?(?P<site>(?:St\.?[ ])?\p{Lu}[\p{L}'’\-]*(?:[ ]\p{Lu}[\p{L}'’\-]*){0,2}))?"
    r"(?![\w])"
)
"""English services and departments: ``Ashford Memory Service``, ``Oslo speech therapy service``, ``the Memory
Service at St Anne's``; generic words alone (``the Emergency Department``) are not a name."""
_SERVICE_HEAD_RE = regex.compile(rf"(?i:{_HEADS})")
_TRUSTS = regex.compile(rf"(?<![\w])(?:{'|'.join(regex.escape(n) for n in NAMED_HEALTH_TRUSTS)})(?![\w])")


_EMPLOYER_NOUN_WORDS = (
    *("arbeidsgiver", "arbeidsgjevar", "arbetsgivare", "arbejdsgiver", "työnantaja", "tööandja", "employer"),
    *("arbeidsplass", "arbeidsstad", "arbetsplats", "arbejdsplads", "työpaikka", "töökoh", "workplace"),
    *("place of work", "forsikringsselskap", "försäkringsbolag", "forsikringsselskab", "vakuutusyhtiö"),
    *("kindlustusselts", "kindlustusandja", "insurer", "insurance company", "pensionsselskab", "pensjonsselskap"),
    *("pensionsbolag", "eläkeyhtiö", "leverandør", "leverantör", "toimittaja", "tarnija", "supplier", "courier"),
    *("kurér", "kurir", "rederi", "varustamo", "laevafirma"),
)
_CAPITALS_RUN = regex.compile(r"\p{Lu}[\p{Lu}\p{Ll}]?\p{Lu}")
_GATES: dict[regex.Pattern[str], Gate] = {
    _EMPLOYER_NOUNS: any_literal(*_EMPLOYER_NOUN_WORDS, ignore_case=True),
    _EMPLOYER: any_literal(
        *("ansat", "anställd", "anstalld", "arbe", "jobb", "employed", "work", "työskentelee", "töötab"),
        *("drive", "drove", "kjør", "kør", "kör"),
        ignore_case=True,
    ),
    _EMPLOYER_CASE: any_literal(
        *("työskentelee", "työskenteli", "työskennellyt", "on töissä", "töötab", "töötas", "töötanud", "on tööl"),
        ignore_case=True,
    ),
    _COMPANY: any_literal(*(f" {c}" for c in COMPANY_SUFFIXES)),
    _FIRM_FORMS: any_literal(" & ", "Brdr.", "Brødr", "Bröderna", "Veljekset", "Vennad"),
    _CLUB_CUE: any_literal("play", "spill", "spel", ignore_case=True),
    _BUSINESS: any_literal(
        *("Aviation", "Air", "Regional", "Trader", "Shipping", "Lines", "Biobank", "Bistand", "Camping", "Rorbuer"),
        *("Stål", "Sveis", "Byg", "Transport", "Logisti", "Consult", "Konsult", "Group", "Gruppen", "Eiendom"),
        *("Fastigheter", "Invest", "Marine", "Sjømat", "Seafood", "Laks", "Elektro", "Maskin", "Dental", "Tannhelse"),
        *("Vaksine", "Reisemedisin", "Fysio", "Revision", "Revisjon", "Regnskap", "Entrepr", "Montage", "Solutions"),
        *("Systems", "Foods", "Bakeri", "Bageri", "Taxi"),
    ),
    _FINNISH_HEALTH_CENTRE: any_literal("n tk", "n ttk", "n sote"),
    _TEAM: any_literal(
        *("Håndb", "Håndba", "Handb", "Fodb", "Fotb", "hockey", "Bandy", "Basket", "Volley", "Rovers", "Wanderers"),
        *("Harriers", "United", "Athletic", "Rangers", "Albion", "Jalkapallo", "Jalgpall", "Korvpall"),
    ),
    _COMPOUND: any_literal("- og ", "- och "),
    _SAINT: any_literal("St ", "St. ", " Women", " Children"),
    _ROYAL: any_literal("Royal", " General"),
    _TRUSTS: any_literal(*NAMED_HEALTH_TRUSTS),
}
"""Per pattern, words one of which every match contains: a text without any of them skips the pattern's pass."""


def _finditer(pattern: regex.Pattern[str], text: str) -> list[regex.Match[str]]:
    """``pattern``'s matches in ``text``, skipping the pass when the text fails the pattern's gate."""
    gate = _GATES.get(pattern)
    return [] if gate is not None and not gate(text) else list(pattern.finditer(text))


@lru_cache(maxsize=1 << 16)
def _is_chain(word: str) -> bool:
    """Whether ``word`` starts with a chain's name stem (cached per word: asked for every capitalised token)."""
    return _CHAIN.match(word) is not None


def _unlisted_opener(text: str, tok: Token) -> bool:
    """A sentence's first word that no list holds as a name, place, company or hospital."""
    word = tok.bare
    if not sentence_initial(text, tok) or word in _PEOPLE_AND_PLACES or _is_chain(word):
        return False
    return word not in HOSPITAL_SHORT_NAMES and facility_at(word) < 0


_FIELD_LABEL_AFTER = regex.compile(r"[ \t]*:")
_SLASH_LETTER_BEFORE = regex.compile(r"(?<![\w])\p{L}/$")


@cache
def _national_agencies() -> frozenset[str]:
    return frozenset(words("national_agencies"))


def _names_an_organisation(text: str, start: int, end: int) -> bool:
    """Whether a found name can be one: not a form's field label (``Tolkebureau: Sprogbro Tolkeservice``), not the
    ``O`` of ``C/O`` (complains of), not a test written like a Swedish firm (``Hep C Ab``), not generic words alone
    (``Surgery Clinic``: a service, no one's)."""
    words = text[start:end].split()
    if not words:
        return False
    at_line_start = text[text.rfind("\n", 0, start) + 1 : start].strip() == ""
    if len(words) == 1 and at_line_start and _FIELD_LABEL_AFTER.match(text, end):
        return False
    if (
        len(words) > 1
        and len(words[0]) == 1
        and words[1].islower()
        and _SLASH_LETTER_BEFORE.search(text, start - 2, start)
    ):
        return False
    if words[-1] == "Ab" and not any(w == "Oy" for w in words):
        return False
    if len(words) > 1 and words[-1] in COMPANY_SUFFIXES and all(w.lower() in stop_words() for w in words[:-1]):
        return False  # "Ingen AB": no antibiotics, no firm
    if " ".join(words) in _national_agencies() or (len(words) > 1 and " ".join(words[1:]) in _national_agencies()):
        return False  # "Police Scotland", "Advised Police Scotland": a national body (and a sentence's first word)
    if len(words) == 1 and words[0].lower().endswith(_DEPARTMENT_NOUNS) and not any(c.isupper() for c in words[0][1:]):
        return False  # "Medicinkliniken", "Ortopedmottagningen": a department alone names no one's hospital
    return not all(w.lower().strip(",.") in lower_set("service_words") for w in words)


_DEPARTMENT_NOUNS = (
    *("kliniken", "mottagningen", "avdelningen", "avdelinga", "avdelingen", "afdelingen", "afsnittet", "enheten"),
    *("akuten", "mottakelsen", "modtagelsen"),
)
"""A hospital department's generic noun in the definite form (but ``FysioKliniken``, a firm, keeps its capital)."""


def _outermost(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """One result per name: a short name inside a longer one (``Haukeland`` in ``Haukeland universitetssjukehus``)
    or found twice by two rules is the same name."""
    out: list[RecognizerResult] = []
    for r in sorted(results, key=lambda r: (r.start, -r.end)):
        if not any(o.start <= r.start and r.end <= o.end for o in out):
            out.append(r)
    return out


def _a_known_place(phrase: str) -> bool:
    """``phrase`` is a town or village the gazetteer knows (in any case form), no hospital's short name and no
    listed firm's name."""
    return phrase in place_forms() and phrase not in hospital_short_name_set() and phrase not in _company_names()


@cache
def _company_names() -> frozenset[str]:
    """Listed firms whose name is also a town's (``Nokia``): after "works at", the firm."""
    return frozenset(w.strip() for w in words("companies"))


class HospitalRecognizer(LocalRecognizer):
    """Names of hospitals, clinics and health centres."""

    ENTITY: ClassVar[Label] = Label.ORGANIZATION

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[str(self.ENTITY)],
            supported_language=supported_language,
            name=f"HospitalRecognizer_{supported_language}",
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Every hospital name found."""
        toks = tokens(text)
        out: list[RecognizerResult] = []
        for found in (*_SHORT.finditer(text), *_finditer(_TRUSTS, text)):
            out.append(make_result(self, str(self.ENTITY), found.start(), found.end(), 0.8))
        for pattern in (_EMPLOYER, _COMPANY, _EMPLOYER_CASE):
            for found in _finditer(pattern, text):
                words = found.group("phi").split(" ")
                if pattern is _EMPLOYER and words[0] in first_names() and all(w in _PEOPLE for w in words):
                    continue  # "kör för Anna", "works for Ola Nordmann": a person
                if all(is_country(w) for w in words):
                    continue  # "arbejder på rotation i Norge": a country is no employer
                if pattern is not _COMPANY and _a_known_place(found.group("phi")):
                    continue  # "jobber turnus på Gardermoen", "töökoht Sillamäel": where one works, a place
                if pattern is _COMPANY and _DOSE_AFTER.match(text, found.end()):
                    continue  # "Gitt ASA 300 mg": acetylsalicylic acid and its dose, no firm
                if not all(w in stop_words() or w in NOT_NAMES for w in words):
                    # 0.9: "hos Vestas Lem" is an employer, not a person after the cue "hos"
                    out.append(make_result(self, str(self.ENTITY), found.start("phi"), found.end("phi"), 0.9))
        out.extend(self._employers(text, toks))
        out.extend(self._firms_and_clubs(text))
        out.extend(self._services(text))
        for found in _finditer(_COMPOUND, text):
            words = found.group("phi").split(" ")
            if any(facility_at(w) >= 0 for w in words) and any(w[:1].isupper() for w in words):
                out.append(make_result(self, str(self.ENTITY), found.start(), found.end(), 0.8))
        for found in _PHRASE.finditer(text):
            start = found.start()
            for word in found.group("phi").split(" ")[:-2]:
                if word not in NOT_NAMES and word not in stop_words():
                    break
                start += len(word) + 1
            if start < found.end() - len(" ".join(found.group("phi").split(" ")[-2:])):
                out.append(make_result(self, str(self.ENTITY), start, found.end(), 0.8))
        if self.supported_language == "en":
            for found in _finditer(_ROYAL, text):
                if found.group("phi").split(" ")[0] not in NOT_NAMES:
                    out.append(make_result(self, str(self.ENTITY), found.start("phi"), found.end("phi"), 0.8))
        for found in _finditer(_SAINT, text):
            out.append(make_result(self, str(self.ENTITY), found.start("phi"), found.end("phi"), 0.8))
        for found in _CONNECTED.finditer(text, overlapped=True):
            head = found.group("phi").split(" ")[0]
            # a lower-case head is a common noun, not a name: "kirken i Lunderskov" is a church and a town
            if head[:1].isupper() and facility_at(head) >= 0:
                place = found.group("phi").split(" ")[2:]
                if not any(w in NOT_NAMES or w in stop_words() for w in place):
                    out.append(make_result(self, str(self.ENTITY), found.start("phi"), found.end("phi"), 0.8))
        out.extend(self._acronym_names(text, toks))
        for k, tok in enumerate(toks):
            chain = tok.is_cap and _is_chain(tok.text)
            region = tok.bare in REGION_WORDS and k + 1 < len(toks) and toks[k + 1].is_cap
            at = facility_at(tok.text)
            if at < 0 and not chain and not region:
                continue
            if text[tok.bare_end : tok.bare_end + 1].isdigit() or (at > 0 and tok.bare.isupper()):
                continue  # "AHBVC512AB": a batch or a code in capitals that holds a facility's acronym
            own_prefix = chain or (at > 0 and tok.text[:1].isupper())
            if region and not adjacent(text, tok, toks[k + 1]):
                continue
            start_index = end_index = k
            named = own_prefix
            j = k - 1
            while j >= 0 and k - j <= _MAX_LEFT and adjacent(text, toks[j], toks[j + 1]):
                word = toks[j]
                if word.text.lower().rstrip(":.") in _PERSON_CUES:
                    break  # "Perearst Toomas Remmel Lasnamäe Perearstikeskusest": a role word ends the name
                if k - j >= 2 and word.is_cap and word.bare in first_names():
                    start_index = min(k, j + 2)  # a given name and the family name after it are a person
                    break
                if word.is_cap and (
                    word.bare in cities() or (word.bare not in NOT_NAMES and word.bare not in stop_words())
                ):  # a town that is another language's function word: "Alta helsesenter" (Finnish "alta")
                    start_index = j
                    named = True
                elif word.text.lower() in ORG_CONNECTORS:
                    pass
                else:
                    break
                j -= 1
            # a connector word ("of") on the left edge is not part of the name
            while start_index < k and not toks[start_index].is_cap:
                start_index += 1
            # Finnish and Estonian open a sentence with the verb, the place in a case after it: a sentence's first
            # word before another name word is no part of it ("Suri Pelgulinna hospiitsis": "died at Pelgulinna
            # hospice"); alone, it may be the name itself, and stays
            if (
                self.supported_language in ("fi", "et")
                and start_index < k - 1
                and _unlisted_opener(text, toks[start_index])
                and toks[start_index + 1].is_cap
            ):
                start_index += 1
            # "Universitetssykehuset Nord-Norge", "Sykehuset Innlandet": capitalised words after a named keyword
            prefix_noun = tok.text.lower().startswith(_PREFIX_NOUNS) or (
                tok.text[:1].isupper() and (at == 0 or _FACILITY_START.match(tok.text) is not None)
            )
            if (tok.text[:1].isupper() or prefix_noun) and (
                named or region or prefix_noun or not sentence_initial(text, tok)
            ):
                j = k + 1
                while j < len(toks) and j - k <= 2 and adjacent(text, toks[j - 1], toks[j]) and toks[j].is_cap:
                    if toks[j].bare in NOT_NAMES or toks[j].bare in stop_words():
                        break
                    end_index = j
                    named = True
                    j += 1
            if region and end_index == k:
                continue
            if not named:
                continue
            out.append(make_result(self, str(self.ENTITY), toks[start_index].start, toks[end_index].bare_end, 0.8))
        return [r for r in _outermost(out) if _names_an_organisation(text, r.start, r.end)]

    def _employers(self, text: str, toks: tuple[Token, ...]) -> list[RecognizerResult]:
        """Employers and insurers named without a generic noun: a known name (with its site after it), after an
        employer noun, or after an occupation and a preposition."""
        out: list[RecognizerResult] = []
        for found in _COMPANY_NAMES.finditer(text):
            end = found.end()
            if not found.group("case"):
                # the site or branch after it ("Kiwi Sandnes Øst", "Danish Crown Horsens")
                for tok in toks[bisect_left(toks, end, key=lambda t: t.start) :][:2]:
                    if text[end : tok.start] != " " or not tok.is_cap or tok.bare in NOT_NAMES:
                        break
                    if tok.bare in stop_words() or tok.bare in first_names() or tok.start - found.end() > 24:
                        break
                    end = tok.bare_end
            # 0.95: a known employer's name outranks the reading of two capitalised words as a person
            out.append(make_result(self, str(self.ENTITY), found.start(), end, 0.95))
        patterns: tuple[regex.Pattern[str], ...] = (_EMPLOYER_NOUNS, _OCCUPATION_AT)
        if self.supported_language in ("fi", "et"):
            patterns += (_OCCUPATION_CASE,)
        for pattern in patterns:
            for found in _finditer(pattern, text):
                if pattern is _OCCUPATION_AT and _OCCUPATION.search(found.group("role")) is None:
                    continue
                words = found.group("phi").split(" ")
                if words[0] in first_names() or words[0].lower().rstrip(".") in _PERSON_CUES:
                    continue  # "nurse at Mrs Hall's", "arbeidsgiver Ola Nordmann": a person
                if all(w in stop_words() or w in NOT_NAMES for w in words):
                    continue
                if len(words) == 1 and (words[0] in cities() or words[0] in NOT_NAMES or _a_known_place(words[0])):
                    continue  # "lærer i Bergen", "nurse at Leeds", "töökoht Sillamäel": the place recognizer's
                out.append(make_result(self, str(self.ENTITY), found.start("phi"), found.end("phi"), 0.85))
        return out

    def _firms_and_clubs(self, text: str) -> list[RecognizerResult]:
        """Firms by their form (:data:`_FIRM_FORMS`, not in English) or trade (:data:`_BUSINESS`), teams by their
        sport (:data:`_TEAM`) and after "plays for", and an acronym beside a town (:data:`_ACRONYM_TOWN`)."""
        out: list[RecognizerResult] = []
        for found in (*_finditer(_TEAM, text), *_finditer(_BUSINESS, text)):
            first = found.group("first")
            initial = sentence_initial(text, Token(first, found.start(), found.end("first")))
            if first in NOT_NAMES or first in first_names() or (initial and first not in cities()):
                continue
            if DOSE_AFTER.match(text, found.end("phi"), min(len(text), found.end("phi") + 30)):
                continue  # "Xylocain Dental adrenalin 1,8 ml": a product before its dose
            out.append(make_result(self, str(self.ENTITY), found.start("phi"), found.end("phi"), 0.9))
        if self.supported_language == "fi":
            for found in _finditer(_FINNISH_HEALTH_CENTRE, text):
                out.append(make_result(self, str(self.ENTITY), found.start("phi"), found.end("phi"), 0.85))
        acronym_pairs = _ACRONYM_TOWN.finditer(text, overlapped=True) if _CAPITALS_RUN.search(text) else ()
        for found in acronym_pairs:  # overlapped: "Näytteet ISLAB" must not hide "ISLAB Joensuu"
            acronym = found.group("acr") or found.group("acr2")
            town = found.group("town") or found.group("town2")
            if town in cities() and acronym not in _NOT_ACRONYMS and not is_analyte(acronym):
                out.append(make_result(self, str(self.ENTITY), found.start(), found.end(), 0.85))
        patterns = (_CLUB_CUE,) if self.supported_language == "en" else (_FIRM_FORMS, _CLUB_CUE)
        for pattern in patterns:
            for found in _finditer(pattern, text):
                words = found.group("phi").split(" ")
                start = found.start("phi")
                while (
                    len(words) > 1
                    and words[1] != "&"
                    and (
                        words[0].lower() in stop_words()
                        or words[0] in NOT_NAMES
                        or sentence_initial(text, Token(words[0], start, start + len(words[0])))
                    )
                ):
                    start += len(words.pop(0)) + 1  # "Hos Brink & Søn": the sentence's first word is no name
                names = [w for w in words if w != "&"]
                if len(names) < 2 and pattern is _FIRM_FORMS:
                    continue
                if pattern is _FIRM_FORMS and "&" in words:
                    amp = words.index("&")
                    if words[amp - 1] in first_names() and amp + 1 < len(words) and words[amp + 1] in first_names():
                        continue  # "Anna & Per", "Maria & Johan Lindberg": a couple
                if names and not (pattern is _CLUB_CUE and names[0] in first_names()):
                    # 0.9: a team named by its town ("plays for Craughwell") is the team, not the town
                    out.append(make_result(self, str(self.ENTITY), start, found.end("phi"), 0.9))
        return out

    def _services(self, text: str) -> list[RecognizerResult]:
        """English services and departments named by a place or a proper name (see :data:`_SERVICE`)."""
        out: list[RecognizerResult] = []
        if self.supported_language != "en" or _SERVICE_HEAD_RE.search(text) is None:
            return out
        generic = lower_set("service_words")
        for found in _SERVICE.finditer(text, overlapped=True):
            words = found.group("phi").split(" ")
            if any(w in stop_words() and w not in generic for w in words if w[:1].islower()):
                continue  # "Discharged from the ward": a sentence, not a name
            start = found.start("phi")
            proper = False
            capitals = sum(w[:1].isupper() for w in words)
            for word in words:
                if word[:1].isupper() and word.lower() not in generic and word not in stop_words():
                    # an acronym ("ADHD clinic") or one capitalised word at a sentence start before a lower-case
                    # head ("Travel clinic") is a kind of clinic; a place before one ("Bergen hand therapy service")
                    # or a run of capitals ("Ashford Memory Service") names one
                    proper = (word not in NOT_NAMES or word in cities()) and not word.isupper()
                    if proper and capitals == 1 and word not in cities():
                        proper = words[-1][:1].isupper() and not sentence_initial(text, Token(word, start, start))
                    break
                start += len(word) + 1
            site = found.group("site")
            if site is not None and (site.split(" ")[-1].lower() in generic or site in NOT_NAMES):
                site = None
            if proper:
                out.append(make_result(self, str(self.ENTITY), start, found.end("site" if site else "phi"), 0.8))
            elif site is not None:
                first = found.start("phi")
                out.append(make_result(self, str(self.ENTITY), first, found.end("site"), 0.8))
        return out

    def _acronym_names(self, text: str, toks: tuple[Token, ...]) -> list[RecognizerResult]:
        """A facility acronym with a capitalised name beside it (``NAV Grorud``, ``BB Sophia``, ``Pelgulinna EMO``)."""
        out: list[RecognizerResult] = []
        if _ACRONYM_RE.search(text) is None:
            return out
        for k, tok in enumerate(toks):
            if tok.bare not in _ACRONYMS:
                continue
            start, end = tok.start, tok.bare_end
            j = k + 1
            while j < len(toks) and j - k <= 2 and adjacent(text, toks[j - 1], toks[j]) and toks[j].is_cap:
                if toks[j].bare in NOT_NAMES or toks[j].bare in stop_words():
                    break
                end = toks[j].bare_end
                j += 1
            if end == tok.bare_end and k > 0 and adjacent(text, toks[k - 1], tok):
                left = toks[k - 1]
                named = left.is_cap and left.bare not in NOT_NAMES and left.bare not in stop_words()
                if named and not sentence_initial(text, left):
                    start = left.start
            if (start, end) != (tok.start, tok.bare_end):
                out.append(make_result(self, str(self.ENTITY), start, end, 0.8))
        return out
