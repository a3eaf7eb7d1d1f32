"""A date range's first part joined to the date found after it: ``7.–14.3.2024``, ``02.–03.09``, ``sep.–nov. 2023``.

The date recognizers find the complete date at a range's end; the first part alone (a day with its full stop, or a
month's name) is no date by itself, so without this step the day would survive a redaction next to its month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import regex

from deid.dates import is_month_name
from deid.labels import Label
from deid.spans import PhiSpan

_RANGE_START = regex.compile(r"(?<![\w.\-/])(?P<first>(?:0?[1-9]|[12]\d|3[01])\.?|\p{L}{3,9}\.?)[ ]?[–\-][ ]?$")
"""The first part of a range and its dash, right before the date that ends it."""


def widen_date_ranges(spans: Sequence[PhiSpan], text: str) -> list[PhiSpan]:
    """``spans`` with every DATE grown leftwards over a range's first part (a day or a month's name and a dash)."""
    out: list[PhiSpan] = []
    for span in spans:
        if span.label is Label.DATE:
            m = _RANGE_START.search(text, max(0, span.start - 14), span.start)
            first = m.group("first").rstrip(".") if m else ""
            if m and (first.isdigit() or is_month_name(first)) and not (out and out[-1].end > m.start()):
                span = replace(span, start=m.start())
        out.append(span)
    return out
