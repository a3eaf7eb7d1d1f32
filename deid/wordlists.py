"""Word lists kept as package data (``deid/data/*.txt``): facility nouns, role-noun endings, kinship words,
reference-number cues, clinical score names and age verbs. Read once per process.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources

import regex

CASE_ENDINGS = (
    r"n|en|et|a|ä|s|st|sse|l|le|lt|ssa|ssä|sta|stä|lla|llä|lle|lta|ltä|an|än|aan|ään|een|un|uun|yyn|oon|iin"
    r"|i|is|ist|isse|il|ile|ilt|ga|iga|est|es|ele|el|elt|esse"
)
"""The case endings and definite forms a Nordic, Finnish or Estonian name or noun may take, as a regex alternation
(``kirken``, ``toimistossa``, the Finnish illative ``kouluun``, Estonian ``Koolis``, ``Põhikoolile``,
``kogudusest``)."""
_CASE_TAIL = rf"(?:{CASE_ENDINGS})?"
"""Endings an end-anchored facility noun may still take."""
REGISTRY_ENDINGS = (
    *("register", "registret", "registeret", "rekisteri", "rekisterin", "register's"),
    *("database", "databasen", "databas", "tietokanta", "andmebaas"),
)
"""A national registry by its head noun (``Nasjonalt tolkeregister``, ``Det Danske Vaccinationsregister``)."""
LAW_OR_REGISTRY_ENDINGS = ("lov", "loven", "lag", "lagen", "laki", "seadus", "act", *REGISTRY_ENDINGS)
"""A word ending a law's or a registry's name (``Barnets lov``, ``tolkeregister``): the capitalised word before
it is no place and no name."""
SPECIALTY_ENDINGS = (
    *("ology", "ologi", "ologia", "oloogia", "iatry", "iatri", "iatria", "aedics", "opedics", "opedi"),
    *("otomy", "graphy", "grafi", "ics", "apy", "apia", "terapi"),
)
"""A medical specialty or a procedure by its ending (``Kardiologi``, ``Orthopaedics``, ``Fysioterapi``): a run
that is only such a word is no name."""


@cache
def words(name: str) -> tuple[str, ...]:
    """The entries of ``deid/data/<name>.txt`` in file order (blank lines and ``#`` comments skipped)."""
    text = resources.files("deid.data").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    out = [line.strip() for line in text.splitlines()]
    return tuple(dict.fromkeys(w for w in out if w and not w.startswith("#")))


def trie_alternation(entries: list[str] | tuple[str, ...]) -> str:
    """A regex alternation of ``entries`` factored by common prefixes (``Kesko|Keskus`` as ``Kesk(?:o|us)``), so a
    long word list costs one branch per first character at each position instead of one per entry. Longer
    entries are tried first where one is a prefix of another."""
    heads: dict[str, list[str]] = {}
    for entry in entries:
        if entry:
            heads.setdefault(entry[0], []).append(entry[1:])
    branches = []
    for head, tails in sorted(heads.items()):
        rest = [t for t in tails if t]
        if not rest:
            branches.append(regex.escape(head))
        elif len(rest) < len(tails):
            branches.append(regex.escape(head) + "(?:" + trie_alternation(rest) + ")?")
        else:
            branches.append(regex.escape(head) + trie_alternation(rest))
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


LANGUAGE_ENDINGS = ("ska", "isk", "nsk", "esk")
"""How the Scandinavian names of languages end (``arabiska``, ``somalisk``, ``tigrinsk``): the word after an
interpreter's cue that is no name."""


def phrase_trie(phrases: str) -> str:
    """:func:`trie_alternation` of literal phrases written ``a|b c|d`` (no regex syntax in them), in a group."""
    return "(?:" + trie_alternation(phrases.split("|")) + ")"


def _alternation(entries: tuple[str, ...]) -> str:
    return "|".join(regex.escape(w) for w in sorted(set(entries), key=len, reverse=True))


@cache
def facility_regex(base: tuple[str, ...]) -> regex.Pattern[str]:
    """A case-insensitive pattern finding a facility noun inside a word: ``base`` (matched anywhere, but an acronym
    of three letters only whole: ``BVC``, not the ``ppr`` of ``Opprinnelig``) plus the ``facility_nouns`` list,
    whose ``$`` entries must end the word (after at most a case ending)."""
    free = [*base, *(w for w in words("facility_nouns") if not w.endswith("$"))]
    short = tuple(w for w in free if len(w) <= 3)  # "bvc", "ppr", "dps": whole acronyms, never inside a word
    long = tuple(w for w in free if len(w) > 3)
    anchored = [w.removesuffix("$") for w in words("facility_nouns") if w.endswith("$")]
    return regex.compile(
        rf"(?i:{_alternation(long)}|(?<!\p{{L}})(?:{_alternation(short)})(?!\p{{L}})"
        rf"|(?:{_alternation(tuple(anchored))})(?={_CASE_TAIL}\.?$))"
    )


@cache
def role_regex() -> regex.Pattern[str]:
    """A role or agent noun by its ending (``Biståndshandläggare``, ``Jordemoder``, ``Edunvalvoja``)."""
    suffixes = _alternation(words("role_suffixes"))
    # the ending first (a look-ahead), so the stem's look-behind runs only where an ending starts
    return regex.compile(rf"(?i:(?=(?:{suffixes})[:.]?$){_A_STEM_OR_NONE}{_NOT_ROLE_STEMS}(?:{suffixes})[:.]?)$")


_A_STEM_OR_NONE = r"(?:(?<![\p{L}])|(?<=[aeiouyæøåäöõüéáíóú][\p{L}'\-]*))"
"""Before a role's ending, the word's start or a stem with a vowel: ``Terapeut``, ``Dentist``, but not the family
name ``Qvist``."""


_NOT_ROLE_STEMS = r"(?<!(?<![\p{L}])(?:påv|bev|avv|anv|tw|wr|ass|ex|pers|res|ins|cons|des|col|kol|privi|sacri))"
"""Word beginnings after which an agent noun's ending is none: the Norwegian participles ``påvist``, ``avvist``, the
English ``twist``, ``wrist``, ``assist``, ``college``, ``privilege``."""


@cache
def role_words() -> frozenset[str]:
    """Role and occupation words as listed (``overlege``, ``jordmor``, ``läkare``, ``nurse``), lower-cased."""
    return lower_set("role_words") | lower_set("occupations")


@cache
def word_set(name: str) -> frozenset[str]:
    """The entries of a list, as written (``clinical_acronyms``, ``role_acronyms``: capitals a name is not)."""
    return frozenset(words(name))


@cache
def lower_set(name: str) -> frozenset[str]:
    """The entries of a list, lower-cased."""
    return frozenset(w.lower() for w in words(name))


@lru_cache(maxsize=1 << 16)
def facility_at(word: str) -> int:
    """Where a facility noun (``deid.lexicon.HOSPITAL_WORDS`` or ``facility_nouns``) starts in ``word``, or -1.
    Cached per word: the hospital, name and place recognizers ask it for every token."""
    from deid.lexicon import HOSPITAL_WORDS

    found = facility_regex(HOSPITAL_WORDS).search(word)
    if found is None or _NOT_FACILITY.search(word) is not None:
        return -1
    return int(found.start())


_NOT_FACILITY = regex.compile(r"(?i:keskust)")
"""Words a facility noun is part of without naming one: Finnish ``keskusta`` is a town's centre
(``Rovaniemen keskustassa``), not a ``keskus``."""
