"""What the tagger sees of each word: its form, shape and affixes, which word lists hold it, and the same of
its neighbours. Word-level features are computed once per distinct word and cached."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import regex

from deid.lexicon import (
    COUNTRIES,
    EPONYMS,
    KINSHIP_CUES,
    NATIONALITIES,
    NOT_NAMES,
    TITLE_CUES,
    cities,
    first_names,
    last_names,
    stop_words,
)
from deid.tagger.tokens import Token
from deid.wordlists import facility_at, lower_set, role_regex, words

FEATURE_VERSION = 11
"""Bumped whenever what a word's features are changes: a model trained on another version is refused (3: the
session-9 facility nouns; 4: session 10's Welsh and Irish facility nouns and British and Irish towns; 5: session
11's practice, service, police-district, optician and parish nouns; 6: session 12's care-yard nouns, three-letter
facility acronyms only whole, two more eponyms; 7: session 12's nickname, companion and chaplain cues, Estonian
islands; 8: session 13's clerks' cues, eponyms, exonyms, clubs, police forces, insurers; 9: participles no roles,
languages, Finnish chemists and Estonian nurses; 10: nurses' and midwives' short titles, -lege doctors; 11: no
shape for a number or a punctuation mark, and two words away only form, shape and word lists: a fifth fewer
strings per word, the same recall on parts X and Y with a model trained without them; police ranks and ``lääk.``
as titles)."""

_WINDOW = (-2, -1, 1, 2)
_NOT_SEEN_FROM = {1: ("s2=", "p3="), 2: ("s2=", "p3=", "s3=", "s4=", "title", "digits=")}
"""Per distance, the features of a word its neighbours do not see (the two words away weigh little in them)."""
_SHAPE_RUNS = regex.compile(r"(.)\1+")


def _shape(word: str) -> str:
    """``Xx`` for ``Nygaard``, ``X.`` for ``K.``, ``d.d.d`` for ``14.9.2024``'s pieces; runs collapsed."""
    mapped = "".join("X" if c.isupper() else "x" if c.isalpha() else "d" if c.isdigit() else c for c in word)
    return str(_SHAPE_RUNS.sub(r"\1", mapped))


@lru_cache(maxsize=1)
def _lists() -> dict[str, frozenset[str]]:
    """The word lists a word's membership is a feature of (lower-cased where the list is)."""
    return {
        "first": first_names(),
        "last": last_names(),
        "city": cities(),
        "country": COUNTRIES | NATIONALITIES,
        "notname": NOT_NAMES | EPONYMS,
        "stop": stop_words(),
        "kin": frozenset(KINSHIP_CUES) | lower_set("kinship_extra"),
        "title": frozenset(TITLE_CUES),
        "company": frozenset(w.split()[0] for w in words("companies") if w.strip()),
        "occupation": lower_set("occupations"),
    }


@lru_cache(maxsize=1 << 17)
def word_features(word: str) -> tuple[str, ...]:
    """The features of ``word`` itself."""
    lower = word.lower()
    bare = word.rstrip(".")
    # a number's shape is its digit count's, a punctuation mark's shape is the mark: one string says it
    plain = word.isdigit() or (len(word) == 1 and not word.isalnum())
    out = [f"w={lower}"] if plain else [f"w={lower}", f"sh={_shape(word)}"]
    if bare.isalpha():
        out += [f"s2={lower[-2:]}", f"s3={lower[-3:]}", f"s4={lower[-4:]}", f"p3={lower[:3]}"]
        if bare[:1].isupper():
            out.append("upper" if bare.isupper() and len(bare) > 1 else "title")
        if len(bare) == 1:
            out.append("initial")
    elif word.isdigit():
        out.append(f"digits={min(len(word), 12)}")
    lists = _lists()
    for name in ("first", "last", "city", "country", "notname", "stop", "company"):
        if bare in lists[name]:
            out.append(name)
    for name in ("kin", "title", "occupation"):
        if lower.rstrip(".:") in lists[name]:
            out.append(name)
    if len(bare) > 3 and facility_at(bare) >= 0:
        out.append("facility")
    if len(bare) > 4 and role_regex().search(bare):
        out.append("role")
    return tuple(out)


@lru_cache(maxsize=1 << 17)
def _context_features(word: str, offset: int) -> tuple[str, ...]:
    """The features of ``word`` as seen from ``offset`` words away: its form, shape and list memberships, and next
    to it also its longer endings (a case or a business noun: ``-ssa``, ``-bygg``), capitals and digit count."""
    keep = [f for f in word_features(word) if not f.startswith(_NOT_SEEN_FROM[abs(offset)])]
    return tuple(f"{offset}:{f}" for f in keep)


@lru_cache(maxsize=1 << 17)
def _views(word: str) -> tuple[tuple[str, ...], ...]:
    """``word``'s own features, then as seen from each offset of the window (one cached call per token)."""
    return (word_features(word), *(_context_features(word, offset) for offset in _WINDOW))


@lru_cache(maxsize=1 << 17)
def _known_views(word: str, known: frozenset[str]) -> tuple[tuple[str, ...], ...]:
    """``_views(word)`` without the features a model gives no weight (they cannot change its output)."""
    return tuple(tuple(f for f in view if f in known) for view in _views(word))


_EDGES = {offset: (f"{offset}:edge",) for offset in _WINDOW}


def sentence_features(
    text: str, tokens: Sequence[Token], lang: str, known: frozenset[str] | None = None
) -> list[list[str]]:
    """One feature list per token of a text in ``lang`` (a CRF item is a set: the order does not matter).

    ``known``: the features a trained model weighs; the rest are left out (the model's output is the same, and
    handing CRFsuite fewer strings is most of the tagger's time)."""
    n = len(tokens)
    views = [_views(t.text) if known is None else _known_views(t.text, known) for t in tokens]
    lower = [t.text.lower() for t in tokens]
    starts = [i == 0 or "\n" in text[tokens[i - 1].end : tokens[i].start] for i in range(n)]

    def kept(feature: str) -> tuple[str, ...]:
        return (feature,) if known is None or feature in known else ()

    language, line_start, line_end = kept(f"lang={lang}"), kept("line_start"), kept("line_end")
    edges = {offset: kept(edge) for offset, (edge,) in _EDGES.items()}
    # each token's neighbours' views, the text's edges standing in where a neighbour is missing
    two_before = ([edges[-2]] * 2 + [v[1] for v in views])[:n]
    one_before = ([edges[-1]] + [v[2] for v in views])[:n]
    one_after = [v[3] for v in views[1:]] + [edges[1]] * min(1, n)
    two_after = [v[4] for v in views[2:]] + [edges[2]] * min(2, n)
    bigrams = ([()] + [kept(f"bigram={a}|{b}") for a, b in pairwise(lower)])[:n]
    ends = [*starts[1:], True][:n]
    out: list[list[str]] = []
    for view, before2, before1, after1, after2, bigram, start, end in zip(
        views, two_before, one_before, one_after, two_after, bigrams, starts, ends, strict=True
    ):
        feats = [*language, *view[0], *before2, *before1, *after1, *after2, *bigram]
        if start:
            feats.extend(line_start)
        if end:
            feats.extend(line_end)
        out.append(feats)
    return out
