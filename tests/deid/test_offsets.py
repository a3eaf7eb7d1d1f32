"""The offset map: a span that does not overlap PHI keeps its exact text after re-alignment (property test)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deid.engine import Deidentifier
from deid.labels import Label
from deid.offsets import OffsetMap, Replacement

_WORDS = st.sampled_from(
    [
        "Pasient",
        "Kari",
        "Hansen",
        "har",
        "Parkinsons",
        "sykdom",
        "12.03.2024",
        "tlf",
        "22 33 44 55",
        "G20",
        "Hb",
        "12.3",
        "g/dL",
        "overlege",
        "Ola",
        "Nordmann",
        "Bergen",
        "fnr",
        "12119616032",
        "og",
        ".",
        ",",
        "\n",
        "2019",
        "hetu",
        "131052-308T",
        "Tampereella",
        "ola@helse.no",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(_WORDS, min_size=1, max_size=40),
    data=st.data(),
    operator=st.sampled_from(["surrogate", "tag", "redact", "hmac"]),
)
def test_non_phi_span_keeps_its_text(
    deidentifier: Deidentifier, words: list[str], data: st.DataObject, operator: str
) -> None:
    text = " ".join(words)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    result = deidentifier.deidentify(text, "nb", "p1", operator)  # type: ignore[arg-type]
    moved = result.offsets.map_span(start, end)
    overlaps = any(p.start < end and start < p.end for p in result.phi)
    if overlaps:
        assert moved is None
    else:
        assert moved is not None
        assert result.text[moved[0] : moved[1]] == text[start:end]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 6), st.integers(0, 9)), max_size=8))
def test_map_positions_after_replacements(parts: list[tuple[int, int, int]]) -> None:
    # build replacements with gaps: gap, old length, new length
    replacements = []
    pos = new_pos = 0
    for gap, old_len, new_len in parts:
        pos += gap
        new_pos += gap
        replacements.append(Replacement(pos, pos + old_len, new_pos, new_pos + new_len, Label.DATE))
        pos += old_len
        new_pos += new_len
    omap = OffsetMap(replacements)
    for r in replacements:
        assert omap.map_span(r.start, r.end) is None
        if r.start > 0 and not omap.overlaps_phi(r.start - 1, r.start):
            assert omap.map_span(r.start - 1, r.start) == (r.new_start - 1, r.new_start)
    assert omap.map_span(pos, pos + 1) == (new_pos, new_pos + 1)
