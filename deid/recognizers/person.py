"""Person names without a trained model: name lists, title and role cues, and capitalisation.

A run of capitalised words is a name when (in order of strength) it follows a title or role cue (``dr.``,
``overlege``, ``sjuksköterska``, ``lääkäri``, ``pasient``, ``Navn:``), it starts with a known given name and has
more than one word, or it is one known given or family name that does not start a sentence. Disease eponyms
(``Parkinson``, ``Huntington disease``, ``Alzheimers sykdom``) never count.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.labels import Label
from deid.lexicon import (
    DISEASE_HEADS,
    DISEASE_ONLY_EPONYMS,
    KINSHIP_CUES,
    MEDICAL_SUFFIXES,
    NATIONALITIES,
    NOT_NAMES,
    PATIENT_CUES,
    SIGNATURE_CUES,
    SIGNATURE_VERBS,
    TITLE_CUES,
    cities,
    first_names,
    foreign_given_names,
    kinship_words,
    last_names,
    stop_words,
)
from deid.recognizers._base import DOSE_AFTER, RESULT_AFTER, make_result
from deid.recognizers._tokens import GIVEN_NAME_ABBREVIATIONS, Token, adjacent, sentence_initial, tokens
from deid.wordlists import LANGUAGE_ENDINGS, SPECIALTY_ENDINGS, facility_at, lower_set, role_regex, role_words, word_set
from deid.wordlists import words as word_list

_CUES = (
    frozenset(TITLE_CUES)
    | frozenset(KINSHIP_CUES)
    | frozenset(SIGNATURE_CUES)
    | (frozenset(PATIENT_CUES) - {"re", "ang", "name", "gjelder", "vedr", "vedrørende", "angående"})
    | {"navn", "namn", "name", "nimi"}
)
_CUES = _CUES | kinship_words()
_KIN_WORDS = frozenset(
    w for w in kinship_words() - frozenset(TITLE_CUES) - frozenset(SIGNATURE_CUES) if f"{w}." not in kinship_words()
)
"""Relatives and companions written out (not abbreviations such as ``sekr.``, ``ylil.``), which end a sentence as
often as they come before a name."""
_NORDIC_VERB_FORM = regex.compile(r"\p{Ll}(?:et|ede|te|de|ade)$")
"""A Scandinavian past tense (``Klaget``, ``Ringde``, ``Sovnet``): a sentence's verb, not a name."""
_TITLES = frozenset(TITLE_CUES)
_COLON_CUES = frozenset({"tolk", "tõlk", "tulkki", "interpreter", "tolkur"})
"""Cues that end a sentence as often as they come before a name: with a colon (``Tolk: Wassim Chahine``), or
right before a word that is no language (``tolk Kanya``, not ``tolk Arabiska``)."""

_PAREN_THEN_NAME = regex.compile(
    r"[ ]?\([^()\n]{1,24}\)[ ](?:og|och|ja|and|ning|sekä|&)[ ](?P<name>\p{Lu}\p{Ll}[\p{L}\-'’]*)(?![\w])"
)


def _a_plain_name(word: str) -> bool:
    """A capitalised word that no list reads as a common word, a place, a facility or an eponym."""
    return not (
        role_not_name(word)
        or word in stop_words()
        or word.lower() in stop_words()
        or word in NOT_NAMES
        or word in cities()
        or _hospitalish(word)
        or _is_eponym(word)
    )


_HOUSE_NUMBER_BEFORE = regex.compile(r"(?<![\d.,/:\-])\d{1,4}[A-Za-z]?[ ]$")
_EN_STREET_WORDS = frozenset(
    {"Road", "Rd", "Street", "St", "Lane", "Avenue", "Ave", "Drive", "Close", "Crescent", "Terrace", "Way"}
    | {"Grove", "Gardens", "Place", "Square", "Mews", "Row", "Park", "Court", "Hill", "View", "Walk", "Green"}
)
"""English street words: a capitalised run ending in one right after a house number is a street, not a name."""
_DOTTED_ABBREVIATION = regex.compile(r"(?<![\w.])(?:\p{L}\.){2,3}$")
"""An abbreviation of single letters with full stops (``o.s.``), which the word tokens split."""
_CONJUNCTIONS = frozenset({"og", "och", "ja", "and", "ning", "sekä", "&"})
"""Words joining two names after one cue (``Døtrene Lone og Bente``)."""
_APPOSITION_CUES = frozenset({"pasienten", "patienten", "patient", "potilas", "patsient", "the patient"})
"""Cues a name may follow after a comma (``Pasienten, Aslaug Fjeld, kom ...``)."""
_SIGNATURE_PREPOSITIONS = frozenset({"av", "af", "by"})
_WORD = r"\p{Lu}[\p{L}'’]+(?:-\p{Lu}[\p{L}'’]+)?"
_SURNAME_GIVEN = regex.compile(
    rf"\b(?i:{'|'.join(sorted(PATIENT_CUES, key=len, reverse=True))})\.?[ ]*:?[ ]*\(?"
    rf"(?P<phi>{_WORD}(?:[ ]{_WORD})?,[ ]{_WORD}(?:[ ]{_WORD}){{0,2}})(?![\w])"
)
"""``Pasient: Solberg, Ingrid Marie``: family name, comma, given names after a patient cue."""
_DISEASE = frozenset(DISEASE_HEADS)
_MAX_WORDS = 4
_NAME_PART = r"(?:\p{Lu}['’])?\p{Lu}\p{Ll}+(?:\p{Lu}\p{Ll}+)?"
_NAME_WORD = rf"{_NAME_PART}(?:-{_NAME_PART})?"
"""A capitalised name, double-barrelled or not, with an inner capital (``McDonagh``, ``O'Leary-Mensah``)."""
_AGE_UNIT = r"(?:år|a|v|k|kk|mdr|mån|mnd|yrs?|years?|y/o|vuotias|aastane|-årig|-vuotias|-aastane|-åring)"
_FI_LOCATIVE = regex.compile(r"\p{Ll}{3}(?:ssa|ssä|sta|stä)$")
_BARE_NUMBER_AFTER = regex.compile(rf"[ ]\d{{1,3}}(?:,\d+)?(?![\d\-/]|[.,]\d|[ ]?{_AGE_UNIT}(?![\w]))")
"""A bare number after a capitalised pair (``Freestyle Libre 3``), not a date (``12.3.``) or an age (``45 år``)."""
_AGE_END = r"(?=[;)\n]|[.,](?!\d)|[ ]\(|$)"
_HEADER_NAME = regex.compile(
    rf"(?<![\w\-])(?P<phi>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{1,3}}"
    rf"|{_NAME_WORD},[ ]{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,2}})"
    r"(?=(?:,[ ]?|[ ]{1,3}|[ ]?\()"
    r"(?:\d{6,8}[\-+A-Y]?\d{3,4}[\dA-Z]?(?![\d])|\d{11}(?!\d)"
    rf"|\d{{1,3}}[ ]?{_AGE_UNIT}{_AGE_END}"
    r"|(?i:IK|ID|isikukood|personal[ ]ID|ID[ ]code|fnr|f\.|født|född|syntynyt|synt\.|sünd|DOB|CPR|hetu|pnr"
    r"|personnummer)(?![\w])|s\.(?=[ ]?\d)"
    r"|\d{1,3}[ ]?(?:M|F|yo|y\.o\.)(?![\w]))"
    rf"|(?:,[ ]|[ ]?\()\d{{1,3}}{_AGE_END})"
)
"""A name as a note's header or a letter's subject writes it: two to four capitalised words, or ``Surname, Given``,
right before an identifier, an age or a birth-date cue (``Danel Kruus, 34a, IK ...``, ``Nyman, Kai Petteri
170965-309Y``, ``Magnhild Storsveen, 83 år``, ``Cian McDonagh 19M``)."""
_FIELD_NAME = regex.compile(
    r"\b(?i:surname|family[ ]name|last[ ]name|forenames?|first[ ]names?|given[ ]names?|etternavn|efternavn|efternamn"
    r"|fornavn|förnamn|tilltalsnamn|sukunimi|etunimet|etunimi|perekonnanimi|eesnimi)[ ]*:[ ]*"
    r"(?P<phi>\p{Lu}[\p{L}'’\-]+(?:[ ]\p{Lu}[\p{L}'’\-]+){0,2})(?![\w])"
)
"""A name in a form's field (``Surname: KAUR   Forename: Harpreet``, ``Etternavn: Lie``), in capitals or not."""
_CAPITAL_SURNAME_GIVEN = regex.compile(
    r"(?<![\w\-])(?P<phi>(?P<family>\p{Lu}{2,}(?:[\-'’]\p{Lu}{2,})?),[ ](?P<given>\p{Lu}\p{Ll}+)(?:[ ]\p{Lu}\p{Ll}+)?)"
    r"(?![\w])"
)
"""A family name in capitals, a comma and a known given name (``ABDI, Hodan``, ``MACLEOD, Agnes``)."""
_QUOTES = ('"', "“", "«", "'")
_QUOTED_NICKNAME = regex.compile(
    rf"(?<=\p{{Lu}}[\p{{L}}\-]+[ ]\()[\"“«'](?P<phi>{_NAME_WORD})[\"”»']\)|(?i:prefers|called|known[ ]as)[ ]"
    rf"[\"“«'](?P<phi>{_NAME_WORD})[\"”»']"
)
"""A nickname in quotes, in brackets after a name or after "prefers" (``Siriporn Chaiyaphum ("Pim")``, ``prefers
"Páidí"``)."""
_NICKNAME = regex.compile(
    rf"(?<![\w\-])(?P<phi>(?P<given>{_NAME_WORD})[ ](?:\({_NAME_WORD}\)|[\"“«']{_NAME_WORD}[\"”»'])[ ]{_NAME_WORD}"
    rf"(?:[\-'’]{_NAME_WORD})?)(?![\w])"
)
"""A given name, the name the person goes by in brackets or quotes, the family name (``Ravindra (Ravi) Menon``,
``Claus "Mulle" Henningsen``)."""
_NICKNAME_AFTER = regex.compile(
    rf"(?<![\w\-])(?P<given>{_NAME_WORD})[ ]{_NAME_WORD}(?:[\-'’]{_NAME_WORD})?[ ]\("
    rf"(?P<cue>(?i:known[ ]as|aka|a\.k\.a\.|called|prefers|goes[ ]by|kaldet|kaldes|kallad|kallas|kalt|kalles|kutsuttu"
    rf"|kutsutaan|hüüdnimi)[ ])?(?P<phi>{_NAME_WORD})\)"
)
"""The name a person goes by, in brackets after the full name (``Seamus Brady (known as Shay)``, ``Rajesh Pillai
(Raj)``): read as one after a nickname's cue, when it is a known given name, or when it opens like the given name."""
_GIVEN_NAME_ALONE = regex.compile(
    rf"(?<![\w\-])(?P<phi>{_NAME_WORD})(?=[ ]?\(\d{{1,3}}(?:[ ]?{_AGE_UNIT})?\)"
    r"|[ ](?:født|fødd|född|föddes|syntyi|sündis|was[ ]born)(?![\w]))"
)
"""A known given name alone before an age in brackets or a birth (``Gudrun (94) urolig``, ``Alma født 14.5.2024``)."""
_BIRTH_WORD = regex.compile(r"født|fødd|född|föddes|syntyi|sündis|was[ ]born")
"""Looked for first: most notes have no birth and no bracket, and skip the scan of every capitalised word."""
_GIVEN_IN_BRACKETS = regex.compile(
    rf"(?<![\w])(?i:mrs|mr|ms|miss|mx|dr|fru|herr|hr|rouva|herra|proua|härra)\.?[ ]{_NAME_WORD}[ ]\("
    rf"(?P<phi>{_NAME_WORD})(?=[,;)])"
)
"""A given name in brackets after a title and a family name (``Mrs Braithwaite (Hyacinth, prefers ...)``)."""
_NAME_BEFORE_ROLE = regex.compile(rf"(?<![\w\-])(?P<phi>{_NAME_WORD})[ ]\((?P<role>\p{{Lu}}{{2,5}})\)")
"""A name and its bearer's role in capitals in brackets (``Olu (OT)``, ``Venkataraman (RC)``)."""
_SIGNER_ACRONYM_LINE = regex.compile(
    rf"(?m)^(?P<phi>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{1,2}})[ ](?P<role>\p{{Lu}}{{2,4}})(?=[ \t]*(?:[/,(]|$))"
)
"""A signature line: a full name and the signer's role in capitals (``Bex Lawal PT / JH TI``)."""
_TALKED_WITH = frozenset({"m.", "med", "with", "kanssa", "mit", "to", "til", "till"})
_TALK_WORDS = frozenset(
    {
        *("talt", "talte", "snakket", "snakka", "tlf.", "tlf", "telefon", "ringt", "ringte", "samtale", "pratat"),
        *("telefonisk", "telefoniskt"),
        *("talat", "pratade", "ringde", "spoke", "discussed", "phoned", "rang", "konfereret", "aftalt"),
    }
)
"""``talt m. sekr. Bodil``, ``tlf. m. Hussein``: a name right after "with" that follows a word of talking."""
_SIGNER_LINE = regex.compile(
    rf"(?m)^(?P<phi>{_NAME_WORD}(?:[ ](?:(?:af|av|von|van|de|da|di|du|le|la|ter|ten)[ ])?{_NAME_WORD}){{0,3}}"
    r"(?:[ ]\p{Lu}\.)?)"
    r"(?:,[ ]+|/)(?P<role>\p{L}[\p{L}. \-/]{1,40}?)[ \t]*$"
)
"""A signature line: a name, a comma and the signer's role, alone on its line (``Hilde, jordmor``, ``Hedvig af
Klercker, leg. läkare``)."""
_FAMILY = regex.compile(rf"(?<=(?<![\w])the[ ])(?P<phi>{_NAME_WORD}(?:[ ]{_NAME_WORD})?)(?=[ ]family(?![\w]))")
"""A household named by its family name (``au pair with the Holm-Andersen family``)."""
_CARE_OF = regex.compile(rf"(?<![\w])(?i:c/o)[ ]+(?P<phi>{_NAME_WORD}(?:[ ]{_NAME_WORD}){{0,2}})(?![\w])")
"""The person a letter goes through (``c/o Begović``)."""
_PARTICLES = frozenset(
    {
        *("la", "le", "de", "du", "da", "di", "af", "av", "von", "van", "der", "den", "ter", "ten", "á", "í"),
        *("dela", "del", "della", "des", "do", "dos", "das", "bin", "binti", "ibn", "y"),
    }
)
"""Lower-case particles inside a family name (``Ebbe la Cour``, ``Bárður á Steig``, ``Hedvig af Klercker``)."""
_UNIT_WORDS = frozenset(word_list("unit_words"))
_NUMBER_NEXT = regex.compile(r"[ ]\d")


@lru_cache(maxsize=1 << 16)
def _is_eponym(word: str) -> bool:
    """A disease-only eponym, also in the genitive (``Parkinsons``, ``Alzheimer's``, ``Parkinsonin``)."""
    stem = word.rstrip(".").removesuffix("'s").removesuffix("’s")
    candidates = (stem, stem.removesuffix("s"), stem.removesuffix("in"), stem.removesuffix("i"))
    return any(c in DISEASE_ONLY_EPONYMS for c in candidates)


@lru_cache(maxsize=1 << 16)
def _is_role(word: str) -> bool:
    """A role or agent noun by its ending (``Biståndshandläggare``, ``jordemoder``, ``Edunvalvoja``)."""
    bare = word.rstrip(":.")
    return len(bare) >= 5 and role_regex().search(bare) is not None and not _hospitalish(bare)


@lru_cache(maxsize=1 << 16)
def _place_case_form(word: str, lang: str) -> bool:
    """A town in a Finnish or Estonian case form (``Tartus``, ``Lappeenrannassa``: known, or a Finnish inessive or
    elative), not a name."""
    if _known_place_in_case(word, lang):
        return True
    if lang not in _CASE_ENDINGS or word in first_names() or word in last_names():
        return False
    return lang == "fi" and _FI_LOCATIVE.search(word) is not None and not _inflected_name(word, lang)


def _known_place_in_case(word: str, lang: str) -> bool:
    """A known town in a Finnish or Estonian case form that is no listed name (``Inarista``, ``Tartus``)."""
    from deid.recognizers.location import place_forms

    if lang not in _CASE_ENDINGS or word in first_names() or word in last_names():
        return False
    base = place_forms().get(word)
    return base is not None and base != word


_DRUG_STEMS = (
    *("farin", "parin", "cillin", "mab", "pril", "sartan", "olol", "statin", "azole", "azol", "mycin", "cycline"),
    *("oxacin", "xaban", "gatran", "zepam", "zolam", "oxetine", "triptan", "profen", "dipine", "semide", "formin"),
    *("gliptin", "flozin", "glutide", "ovir", "avir", "prazol", "prazole", "tidine", "lukast", "dronat", "caine"),
    *("kain", "tiapin", "apine", "peridol", "oxon", "codon", "morfin", "morphine", "fentanyl"),
)
"""Stems of drugs' international names (WHO's INN stems: ``-zepam``, ``-olol``, ``-sartan``), long enough that no
name ends so."""


def _a_drug(word: str) -> bool:
    """A word of six letters or more with a drug's stem (``Oxazepam``, ``Metoprolol``) that no name list knows."""
    return (
        len(word) >= 6
        and word.lower().endswith(_DRUG_STEMS)
        and word not in first_names()
        and word not in last_names()
        and word not in foreign_given_names()
    )


def _function_word(word: str) -> bool:
    """A stop word that is not also a given name (``Kai``, ``Inga`` are both)."""
    return word in stop_words() and word not in first_names()


@lru_cache(maxsize=1 << 16)
def role_not_name(word: str) -> bool:
    """A role word (``Registrar``, ``Haematologist``) that no name list knows (``Lindqvist`` ends like a role)."""
    if word in first_names() or word in last_names():
        return False
    return word.lower() in lower_set("role_words") or _is_role(word)


def _hospitalish(word: str) -> bool:
    return facility_at(word) >= 0


_CASE_ENDINGS = {
    "fi": (
        "sella",
        "sellä",
        "selle",
        "selta",
        "seltä",
        "sesta",
        "sestä",
        "seen",
        "sen",
        "lla",
        "llä",
        "lle",
        "lta",
        "ltä",
        "ssa",
        "ssä",
        "sta",
        "stä",
        "ta",
        "tä",
        "a",
        "ä",
        "n",
    ),
    "et": ("ele", "elt", "ega", "el", "le", "lt", "ga", "l", "e"),
}
"""Finnish and Estonian case endings a name takes (``Virtasen``, ``Kalevin``, ``Tammele``, ``Veraga``)."""


_GENITIVE_S = frozenset({"nb", "sv", "da"})
"""Languages whose names take a genitive -s (``Grethes``, ``Olas``)."""


def _genitive_of_given_name(word: str) -> bool:
    """A known given name with a genitive -s that is no name itself (``Grethes``, not ``Hans``, ``Lars``)."""
    return (
        len(word) > 4
        and word.endswith("s")
        and word[:-1] in first_names()
        and word not in first_names()
        and word not in last_names()
    )


def _family_name_in_case(word: str) -> bool:
    """A Finnish family name in ``-nen`` written in a case that only a name takes (``Virtasen``, ``Korhoselle``):
    a name even at a sentence's start."""
    return any(word.endswith(e) and word[: -len(e)] + "nen" in last_names() for e in ("sen", "selle", "sella", "selta"))


def _inflected_name(word: str, lang: str) -> bool:
    """Whether ``word`` is a known given or family name with a Finnish or Estonian case ending."""
    names = (first_names(), last_names())
    for ending in _CASE_ENDINGS.get(lang, ()):
        stem = word[: -len(ending)]
        if not word.endswith(ending) or len(stem) < 3:
            continue
        candidates = [stem]
        if lang == "fi" and ending.startswith("se"):
            candidates.append(stem + "nen")  # Virtasen -> Virtanen
        if stem[-2] in "ktp" and stem[-1] in "aeiouyäö":
            candidates.append(stem[:-1] + stem[-2] + stem[-1])  # consonant gradation: Riitan -> Riitta
        if lang == "fi" and len(ending) >= 2 and stem.endswith("i") and stem[-2] not in "aeiouyäö":
            candidates.append(stem[:-1])  # a name ending in a consonant takes a linking i: Nguyenille (not the
            # genitive alone: "Barrettin ruokatorvi" is an eponym's)
        if any(c in group for c in candidates for group in names):
            return True
        if len(ending) >= 2 and any(c in foreign_given_names() for c in candidates):
            return True  # "Marisolille", "Adebayon": a given name the five countries' lists lack, in a case
    return False


class NameListPersonRecognizer(LocalRecognizer):
    """Names from lists and cues; works in every language, no model needed."""

    ENTITY: ClassVar[Label] = Label.PERSON

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[str(self.ENTITY)],
            supported_language=supported_language,
            name=f"NameListPersonRecognizer_{supported_language}",
        )

    def load(self) -> None:
        """Read the name lists once (cached per process)."""
        first_names()
        last_names()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Every name run found."""
        toks = tokens(text)
        out: list[RecognizerResult] = []
        i = 0
        while i < len(toks):
            tok = toks[i]
            if not tok.is_cap or (tok.bare in NOT_NAMES and not self._cue_before(text, toks, i)):
                i += 1
                continue
            run = [tok]
            j = i + 1
            lead_cue = self._is_cue_word(tok.text)
            while j < len(toks) and sum(t.is_cap for t in run) < _MAX_WORDS and adjacent(text, run[-1], toks[j]):
                if not toks[j].is_cap:
                    if not self._particle_then_name(text, toks, j) or (
                        toks[j].text in _SIGNATURE_PREPOSITIONS and run[-1].bare not in first_names()
                    ):
                        break  # "Undersökt av Anna Berg": "av" joins a name only after a given name
                    run.append(toks[j])  # "Ebbe la Cour", "Bárður á Steig", "Johan af Hällström"
                    j += 1
                    continue
                if toks[j].bare in NOT_NAMES and not (lead_cue and j == i + 1):
                    break
                run.append(toks[j])
                j += 1
            after = j
            if (
                len(run) > 1
                and after < len(toks)
                and adjacent(text, run[-1], toks[after])
                and _hospitalish(toks[after].text)
            ):
                # "Omalääkäri Erkki Lindroos Runosmäen terveysasemalla": the last word names the facility
                run = run[:-1]
                after -= 1
            if len(run) > 1 and _place_case_form(run[-1].bare, self.supported_language):
                # "tytär Maija-Leena Lappeenrannassa", "Soomes Turus": a town in a case form ends the name
                run = run[:-1]
                after -= 1
            while len(run) > 1 and (
                _code_after_name(run[-1].bare, run[0].bare) or text[run[-1].bare_end : run[-1].bare_end + 1].isdigit()
            ):
                # "Kacper Nowicki S2", "Aoife Ní Bhriain G2P1", "Ioan Protheroe BDS": a class, a code or a
                # degree after the name is no part of it
                run = run[:-1]
                after -= 1
            if len(run) > 1 and (lead_cue or self._initial_non_name(text, run)):
                # "Datteren Tim Kristensen", "Biståndshandläggare Elin Nyqvist": a capitalised role word (or a
                # word that is no name) starts the sentence; the name follows it
                i += 1
                run = run[1:]
            if self._opener_then_inflected_name(text, run):
                i += 1  # "Soitto Phamille", "Ohjeet Virtaselle": a sentence's first word, then a name in a case
                run = run[1:]
            score = self._score(text, toks, i, run, after)
            if score is not None:
                out.append(self._result(run[0].start, run[-1].bare_end, score))
                if score >= 0.85:
                    out.extend(self._coordinated(text, toks, i, after))
            i = j
        out.extend(self._header_names(text))
        out.extend(self._written_forms(text))
        for m in _SURNAME_GIVEN.finditer(text, timeout=5.0):
            words = regex.findall(r"[\p{L}'’\-]+", m.group("phi"))
            if not any(w in NOT_NAMES or _hospitalish(w) for w in words):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.9))
        return out

    def _written_forms(self, text: str) -> list[RecognizerResult]:
        """Names in a form's field, a family name in capitals before a given name, a nickname in brackets."""
        out: list[RecognizerResult] = []
        for m in _FIELD_NAME.finditer(text, timeout=5.0):
            value = m.group("phi")
            if not any(w in NOT_NAMES or w.lower() in stop_words() or _hospitalish(w) for w in value.split(" ")):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.9))
        for m in _CAPITAL_SURNAME_GIVEN.finditer(text, timeout=5.0):
            given = m.group("given")
            if (given in first_names() or given in foreign_given_names()) and m.group("family") not in word_set(
                "clinical_acronyms"
            ):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _GIVEN_NAME_ALONE.finditer(text, timeout=5.0) if "(" in text or _BIRTH_WORD.search(text) else ():
            given = m.group("phi")
            known = given in first_names() or given in foreign_given_names()
            if known and _a_plain_name(given) and not self._is_cue_word(given):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))  # but "Ema (45)": a mother
        for m in _GIVEN_IN_BRACKETS.finditer(text, timeout=5.0) if "(" in text else ():
            given = m.group("phi")
            if _a_plain_name(given) and not given.lower().endswith(SPECIALTY_ENDINGS):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _NICKNAME.finditer(text, timeout=5.0):
            given = m.group("given")
            if given in first_names() or given in foreign_given_names():
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _SIGNER_LINE.finditer(text, timeout=5.0):
            names = [w for w in m.group("phi").split(" ") if w[:1].isupper() and not w.endswith(".")]
            role = m.group("role").split(" ")[-1].strip(".")
            if (role_regex().search(role) or role.lower() in role_words()) and all(map(_a_plain_name, names)):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _SIGNER_ACRONYM_LINE.finditer(text, timeout=5.0):
            names = m.group("phi").split(" ")
            if m.group("role") in word_set("role_acronyms") and all(map(_a_plain_name, names)):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _NAME_BEFORE_ROLE.finditer(text, timeout=5.0) if "(" in text else ():
            name = m.group("phi")
            if (
                m.group("role") in word_set("role_acronyms")
                and _a_plain_name(name)
                and not name.lower().endswith(SPECIALTY_ENDINGS)
                and name.lower() not in lower_set("service_words")
            ):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _NICKNAME_AFTER.finditer(text, timeout=5.0, overlapped=True) if "(" in text else ():
            nickname, given = m.group("phi"), m.group("given")
            known = nickname in first_names() or nickname in foreign_given_names()
            if _a_plain_name(nickname) and (m.group("cue") or known or nickname[:2] == given[:2]):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        quoted = any(q in text for q in _QUOTES)
        for m in _QUOTED_NICKNAME.finditer(text, timeout=5.0) if quoted else ():
            if _a_plain_name(m.group("phi")):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _FAMILY.finditer(text, timeout=5.0) if " family" in text else ():
            if all(map(_a_plain_name, m.group("phi").split(" "))):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        for m in _CARE_OF.finditer(text, timeout=5.0) if "/o" in text or "/O" in text else ():
            if all(map(_a_plain_name, m.group("phi").split(" "))):
                out.append(self._result(m.start("phi"), m.end("phi"), 0.85))
        return out

    def _header_names(self, text: str) -> list[RecognizerResult]:
        """Names right before an identifier, an age or a birth cue, after any leading cue or function word."""
        out: list[RecognizerResult] = []
        for m in _HEADER_NAME.finditer(text, timeout=5.0):
            start = m.start("phi")
            words = m.group("phi").replace(",", "").split(" ")
            while words and (self._is_cue_word(words[0]) or _function_word(words[0]) or words[0] in NOT_NAMES):
                start += len(words[0]) + (2 if text[start + len(words[0])] == "," else 1)
                words = words[1:]
            comma = "," in text[start : m.end("phi")]
            if not words or (len(words) < 2 and not comma):
                continue
            if any(
                w in NOT_NAMES
                or _function_word(w)
                or w in _UNIT_WORDS
                or _hospitalish(w)
                or role_not_name(w)
                or _is_eponym(w)
                or (w not in first_names() and (len(w) < 3 or w.lower().endswith(MEDICAL_SUFFIXES)))
                or (w in cities() and w not in first_names() and w not in last_names())
                for w in words
            ):
                continue
            if DOSE_AFTER.match(text, m.end("phi"), min(len(text), m.end("phi") + 30)):
                continue
            out.append(self._result(start, m.end("phi"), 0.8))
        return out

    @staticmethod
    def _disease_follows(text: str, toks: tuple[Token, ...], run: list[Token], after: int) -> bool:
        """A disease word within the next two words (``Becker muscular dystrophy``, ``Wilsons sykdom``)."""
        prev = run[-1]
        for nxt in toks[after : after + 2]:
            if not adjacent(text, prev, nxt):
                return False
            if nxt.text.lower().rstrip(".,") in _DISEASE:
                return True
            if nxt.text.lower() in stop_words():
                return False  # "Ektefellen Bjørg har demens": a verb or function word ends the name's phrase
            prev = nxt
        return False

    def _opener_then_inflected_name(self, text: str, run: list[Token]) -> bool:
        """Two capitalised words opening a sentence: a word no list knows as a name, then a known name in a
        Finnish or Estonian case form or a Scandinavian genitive (``Soitto Phamille``, ``Ifølge Grethes``)."""
        if len(run) != 2 or not sentence_initial(text, run[0]):
            return False
        if run[0].bare in first_names() or run[0].bare in last_names():
            return False
        lang = self.supported_language
        return (lang in _CASE_ENDINGS and _inflected_name(run[1].bare, lang)) or (
            lang in _GENITIVE_S and _genitive_of_given_name(run[1].bare)
        )

    @staticmethod
    def _particle_then_name(text: str, toks: tuple[Token, ...], j: int) -> bool:
        """A family name's particle (``la``, ``af``, ``á``, ``von``) between two capitalised words of a name."""
        k = j + 1 if j + 1 < len(toks) and toks[j + 1].text in _PARTICLES else j  # "van der Meer", "de la Cruz"
        return (
            toks[j].text in _PARTICLES
            and k + 1 < len(toks)
            and toks[k + 1].is_cap
            and adjacent(text, toks[j], toks[k + 1] if k == j else toks[k])
            and toks[k + 1].bare not in NOT_NAMES
            and toks[k + 1].bare not in stop_words()
        )

    @staticmethod
    def _cue_before(text: str, toks: tuple[Token, ...], i: int) -> bool:
        """A title, role, kinship or signature word right before (``sønnen Eirik``, ``Signerat av E. Sjöberg``)."""
        if i == 0:
            return False
        prev = toks[i - 1]
        gap = text[prev.end : toks[i].start]
        word = prev.text.lower().rstrip(":")
        if gap == ", " and word in _APPOSITION_CUES:
            return True
        if word in _COLON_CUES and (
            (gap == " " and not toks[i].text.lower().endswith(LANGUAGE_ENDINGS))
            or ((prev.text + gap).endswith(": ") and gap.strip(" :") == "")
        ):
            return True  # "Tolk: Wassim Chahine", "tolk Kanya nr TF-66021" (but "... og tolk. Bruker" ends a sentence)
        if gap.strip(" :/(") != "" or "\n" in gap or gap.count("(") > 1:
            return False  # "bagvagt (Bjerregaard)", "venninne (Linh)": a name in brackets after its cue counts
        if (
            word.endswith(".")
            and not (word in _TITLES and len(word) > 3)  # "lääk.", "prof.", but "ms." may be a unit
            and i >= 2
            and toks[i - 2].text.replace(",", "").isdigit()
            and text[toks[i - 2].end : prev.start] == " "
        ):
            return False  # "405 ms. Ehhokardiograafia", "3 barn. Arbetslös": a unit or a count ends a sentence
        if word.endswith(".") and len(word) > 4 and word.rstrip(".") in _KIN_WORDS:
            return False  # "med fru och 3 barn. Blodprøve": a relative ends the sentence
        if word.endswith(".") and toks[i].text.lower() in stop_words() and toks[i].text not in first_names():
            return False  # "via egen læge. Ingen aftaler": a sentence's first word is a function word
        if (
            (prev.text + gap).rstrip().endswith(":")
            and word not in _CUES
            and _NORDIC_VERB_FORM.search(toks[i].text)
            and toks[i].text not in first_names()
            and toks[i].text not in last_names()
        ):
            return False  # "Aftenvakt: Klaget over trykk": a shift's header, then a sentence's verb
        if word in _CUES or (len(word) <= 5 and word.rstrip(".") in _CUES):  # "Ssk.", "Pas.", not "overlege."
            return True
        if word.endswith(("fys.", "sekr.")) and gap == " ":
            return True  # "klubfys. Morten", "tannhelsesekr. Liv": a physiotherapist or a secretary of a kind
        if (
            len(prev.text) >= 2
            and prev.text in word_set("role_acronyms")
            and prev.text not in word_set("facility_acronyms")
            and gap == " "
        ):
            return True  # "D/w TVN Gosia Wróbel", "OT Laura Hakala": a role in capitals before its bearer
        if prev.text in ("hr", "hr.", "hra"):
            return True  # "õpetaja hr Kübarsepp", "hr. Jensen": a man's title, written in lower case ("HR" is a
            # department)
        if word in _TALKED_WITH and i >= 2 and toks[i - 2].text.lower() in _TALK_WORDS:
            return True  # "talt m. Bodil", "tlf. m. Hussein"
        if len(prev.bare) == 1 and prev.text.endswith("."):
            dotted = _DOTTED_ABBREVIATION.search(text, max(0, prev.start - 6), prev.end)
            if dotted is not None and dotted.group(0).lower() in _CUES:
                return True  # "(o.s. Hänninen)": a maiden name's cue written with two full stops
        if _is_role(word) and not word.endswith("."):
            return True
        if word in _SIGNATURE_PREPOSITIONS and i >= 2:
            return toks[i - 2].text.lower() in SIGNATURE_VERBS or (
                i >= 3 and toks[i - 3].text.lower() in SIGNATURE_VERBS
            )
        return False

    @staticmethod
    def _is_cue_word(word: str) -> bool:
        """A title, role, kinship or patient cue, or a role noun by its ending."""
        lower = word.lower().rstrip(":")
        return lower in _CUES or _is_role(lower)

    @staticmethod
    def _initial_non_name(text: str, run: list[Token]) -> bool:
        """A sentence-initial word that is no known name, before a known given name (``Föderska Amira ...``)."""
        if len(run) < 3 or not sentence_initial(text, run[0]):
            return False
        first = run[0].bare
        if first in first_names() or first in last_names():
            return False
        # "Föderska Amira Haddad", "Signed R. Okonjo": a given name or initials follow
        return run[1].bare in first_names() or NameListPersonRecognizer._initials_surname(run[1:])

    def _coordinated(self, text: str, toks: tuple[Token, ...], first: int, after: int) -> list[RecognizerResult]:
        """A name joined to a found one, after it or before it (``Lone og Bente``, ``Eldbjørg og Kåre Lien``)."""
        out: list[RecognizerResult] = []
        for conj, other in ((after, after + 1), (first - 1, first - 2)):
            if other < 0 or other >= len(toks) or toks[conj].text.lower() not in _CONJUNCTIONS:
                continue
            left, right = (toks[conj - 1], toks[conj + 1]) if other > conj else (toks[other], toks[first])
            tok = toks[other]
            if not (adjacent(text, left, toks[conj]) and adjacent(text, toks[conj], right) and tok.is_cap):
                continue
            if tok.bare in stop_words() or tok.bare in NOT_NAMES or _hospitalish(tok.bare) or _is_eponym(tok.bare):
                continue
            if tok.bare in cities() or (other < conj and sentence_initial(text, tok)):
                continue
            out.append(self._result(tok.start, tok.bare_end, 0.8))
        m = _PAREN_THEN_NAME.match(text, toks[after - 1].end)
        if (
            m is not None
            and _a_plain_name(m.group("name"))
            and (self.supported_language != "en" or m.group("name") in first_names())
        ):
            # "lastega Maksym (7 a) ja Sofiia (4 a)": an age or a role in brackets between two joined names
            out.append(self._result(m.start("name"), m.end("name"), 0.8))
        return out

    @staticmethod
    def _initials_surname(run: list[Token]) -> bool:
        """``K. Nygaard-Lie``, ``A. K. Rustad``: initials with full stops, then a capitalised family name."""
        if len(run) < 2 or len(run[-1].bare) < 2 or run[-1].bare in NOT_NAMES or run[-1].bare in stop_words():
            return False
        if len(run[-1].bare) == 2 and run[-1].bare not in last_names():
            return False  # "2,6 L. Kt/V": a unit and an abbreviation, not an initial and a family name
        if any(t.initials for t in run[:-1]) and run[-1].bare not in last_names():
            return False  # "S-L. Ojala" signs, but "glas A-F. Rekv." is a range of glasses
        return all(
            (len(t.bare) == 1 and t.text.endswith("."))
            or t.initials
            or (t.bare in GIVEN_NAME_ABBREVIATIONS and t.text.endswith("."))
            for t in run[:-1]
        )

    def _score(self, text: str, toks: tuple[Token, ...], i: int, run: list[Token], after: int) -> float | None:
        nxt = toks[after] if after < len(toks) else None
        words = [t.bare for t in run]
        if any(_is_eponym(w) for w in words) and not self._cue_before(text, toks, i):
            return None
        if self._disease_follows(text, toks, run, after):
            return None
        if any(_hospitalish(w) for w in words):
            return None
        if len(words) == 1 and words[0].lower().endswith(SPECIALTY_ENDINGS):
            return None  # "Seen by Cardiology", "taken by Phlebotomy": a department, whatever cue came before
        if nxt is not None and adjacent(text, run[-1], nxt) and _hospitalish(nxt.text):
            return None
        if any(not w.isalpha() and any(c.isdigit() for c in w) for w in words):
            return None
        if all(role_not_name(w) for w in words):
            return None  # "Consultant Haematologist", "Specialist Registrar": a role after a title, no name
        if len(words) > 1 and role_not_name(words[-1]) and not any(w in first_names() for w in words):
            return None  # "Consultant General Surgeon": a name does not end in a role
        if (
            len(words) == 1
            and words[0] in _UNIT_WORDS
            and _NUMBER_NEXT.match(text, run[-1].end)
            and not self._cue_before(text, toks, i)
        ):
            return None  # "Ward 4", "Bay 2": a part of the hospital (but "Dr Ward 3 times")
        if words[-1].lower().endswith(("nr", "nummer", "number")):
            return None  # "Henvisningsnr": a reference number's cue
        if _HOUSE_NUMBER_BEFORE.search(text, max(0, run[0].start - 8), run[0].start) and words[-1] in _EN_STREET_WORDS:
            return None  # "22 Lawrence Road", "14 Cleaboy Park": a street after its house number
        firsts, lasts = first_names(), last_names()
        if len(words) == 1 and _known_place_in_case(words[0], self.supported_language):
            return None  # "poronhoitaja Inarista": a role, then where from (a known town in a case form)
        if RESULT_AFTER.match(text, run[-1].end) and not self._cue_before(text, toks, i):
            return None  # "Hoffmann neg., Babinski neg.": a clinical sign and its result
        if any(_a_drug(w) for w in words):
            return None  # "Givet T. Oxazepam": a drug by its stem, after the tablet's abbreviation
        if len(words) == 1 and (len(words[0]) == 1 and not run[0].text.endswith(".")):
            return None  # "twist L knee": a side, not an initial
        if (
            len(words) == 1
            and words[0] in NATIONALITIES
            and not (
                words[0] in firsts and i and toks[i - 1].text.lower() in _KIN_WORDS and self._cue_before(text, toks, i)
            )
        ):
            return None  # "interpreter (Polish)": a language (but "Kompisen Sami": a friend's given name)
        if all(w.lower() in lower_set("service_words") for w in words):
            return None  # "CNS Palliative Care": a service, whatever cue came before
        if len(words) == 1 and words[0].lower() in _CUES and words[0] not in firsts:
            return None  # "Dear Colleague": a cue word itself, no name (but "Bror")
        if self._cue_before(text, toks, i):
            return 0.9
        if run[0].initials and not self._initials_surname(run):
            return None  # "glas A-F. Rekv.nr.": joined capitals with a dot are initials only before a family name
        if self._initials_surname(run) and text[run[0].start - 1 : run[0].start] in ("", " ", "\n", "\t", "("):
            return 0.8
        if any(w in NATIONALITIES for w in words) and not (
            len(words) == 2 and words[0] in firsts and words[1] in lasts and words[1] not in NATIONALITIES
        ):
            return None  # "Finnish Lapland" (but "Sami Honkanen": a given name that is also a people's)
        lone = words[0] if len(words) == 1 else ""
        if lone and lone.lower().endswith(MEDICAL_SUFFIXES) and lone not in firsts and lone not in lasts:
            return None
        known_first = words[0] in firsts
        known_any = any(w in firsts or w in lasts for w in words)
        if len(words) >= 2 and known_first:
            return 0.85
        if 2 <= len(words) <= 4 and words[0] in foreign_given_names() and surname_shaped(words[1:], lasts):
            return 0.8  # "Kacper Nowicki", "Aoife Ní Bhriain", "Dino Muratović": a given name the lists of the
            # five lack, then a family name by its form
        if len(words) >= 2 and known_any and not sentence_initial(text, run[0]):
            return 0.7
        if len(words) >= 2 and words[-1] in lasts and words[0] not in cities():
            return 0.65
        if len(words) == 1 and known_any and not sentence_initial(text, run[0]) and words[0] not in cities():
            return 0.6
        if (
            len(words) == 1
            and self.supported_language in _CASE_ENDINGS
            and (
                not sentence_initial(text, run[0])
                or _family_name_in_case(words[0])
                or (nxt is not None and adjacent(text, run[-1], nxt) and nxt.text.lower() in _CUES)
            )
            and _inflected_name(words[0], self.supported_language)
        ):
            return 0.6  # "Virtasen", and at a sentence's start before a relative ("Kivistön tytär Pia")
        if len(words) == 1 and self.supported_language in _GENITIVE_S and _genitive_of_given_name(words[0]):
            return 0.6  # "Ifølge Grethes oplysninger": a given name in the genitive
        if self._unknown_proper_pair(text, run, words):
            return 0.5
        return None

    def _unknown_proper_pair(self, text: str, run: list[Token], words: list[str]) -> bool:
        """Two or three capitalised words inside a sentence of a Nordic or Baltic note, none a function word,
        place, eponym or drug: these languages write common nouns in lower case, so such a run is a proper name
        even when no list knows it (``Samtale med Zainab Okafor``). English capitalises too much for this."""
        if self.supported_language == "en" or not 2 <= len(words) <= 3 or sentence_initial(text, run[0]):
            return False
        if any(len(w) < 3 or w in stop_words() or w in NOT_NAMES or w in cities() or _is_eponym(w) for w in words):
            return False  # "Aquacel Ag": a product's short suffix is no name
        if DOSE_AFTER.match(text, run[-1].end, min(len(text), run[-1].end + 30)):
            return False  # "Xylocain Dental adrenalin 1,8 ml": a drug's name before its dose
        if _BARE_NUMBER_AFTER.match(text, run[-1].end):
            return False  # "Freestyle Libre 3", "Spiolto Respimat 2 inh": a product or a score, not a person
        return not any(w.lower().endswith(MEDICAL_SUFFIXES) or w.lower() in _CUES for w in words)

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return make_result(self, str(self.ENTITY), start, end, score)


_SURNAME_ENDINGS = (
    *("ski", "cki", "dzki", "ska", "cka", "wicz", "czyk", "ović", "ović", "ević", "vić", "ić", "oğlu", "escu", "eanu"),
    *("enko", "chuk", "czuk", "shvili", "dze", "yan", "ian", "ov", "ova", "ev", "eva", "ovich", "ovna", "ienė", "aitė"),
    *("ytė", "auskas", "ius", "ulis", "ovs", "ins", "poulos", "akis", "idis", "opoulou", "ez", "es", "ssen", "sson"),
    *("son", "sen", "nen", "dóttir", "dottir", "ová", "ek", "ák", "ik", "uk", "oglu", "zadeh", "pour", "ullah"),
)
"""Endings of family names of the countries :func:`deid.lexicon.foreign_given_names` come from."""
_GAELIC_PARTICLES = frozenset({"Ní", "Ó", "O'", "Nic", "Mac", "Mhic", "Uí", "Bean", "Van", "van", "de", "da", "di"})


def surname_shaped(rest: list[str], lasts: frozenset[str]) -> bool:
    """Whether ``rest`` (the words after a given name) reads as a family name: a listed one, one with a family
    name's ending (``Nowicki``, ``Muratović``, ``Yılmaz`` is listed), or a particle and a name (``Ní Bhriain``)."""
    last = rest[-1]
    if last in lasts or last.lower().endswith(_SURNAME_ENDINGS):
        return True
    return len(rest) >= 2 and rest[-2] in _GAELIC_PARTICLES


def _code_after_name(word: str, first: str) -> bool:
    """A word with a digit, or in capitals after a name that is not (``S2``, ``G2P1``, ``BDS``, ``MCSP``)."""
    return any(c.isdigit() for c in word) or (len(word) >= 2 and word.isupper() and not first.isupper())
