"""The rows one CDM table will receive: built by the transform, extended by the eras, written by the writer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from omop_etl.cdm import table as cdm_table


class RowSet:
    """Rows for one CDM table, in the table's column order, each with its source key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: tuple[str, ...] = tuple(c.name for c in cdm_table(name).columns)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._limits: dict[str, int] = {}
        for c in cdm_table(name).columns:
            length = getattr(c.type, "length", None)
            if length is not None:
                self._limits[c.name] = int(length)
        self._limited = tuple((self._index[c], c, n) for c, n in self._limits.items())
        self.keys: list[str] = []
        self.rows: list[list[Any]] = []
        self.truncated: Counter[str] = Counter()

    def add(self, key: str, values: dict[str, Any]) -> list[Any]:
        get = values.get
        row = [get(c) for c in self.columns]
        for i, column, limit in self._limited:
            value = row[i]
            if value.__class__ is str and len(value) > limit:
                self.truncated[column] += 1
                row[i] = value[:limit]
        self.keys.append(key)
        self.rows.append(row)
        return row

    def set_column(self, column: str, values: list[Any]) -> None:
        i = self._index[column]
        for row, value in zip(self.rows, values, strict=True):
            row[i] = value

    def column(self, column: str) -> Iterator[Any]:
        i = self._index[column]
        return (row[i] for row in self.rows)

    def pos(self, column: str) -> int:
        return self._index[column]
