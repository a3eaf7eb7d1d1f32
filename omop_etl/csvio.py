"""Strict reading of delimited source files: a malformed file raises EtlInputError naming file, line and column.

Valid input includes a UTF-8 byte-order mark and CRLF line endings. Malformed means: invalid UTF-8, a missing
required column, a header that does not split on the expected delimiter, a row with more or fewer fields than
the header (a truncated line), or broken quoting.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from fednode.errors import EtlInputError

csv.field_size_limit(64 * 1024 * 1024)


@dataclass(frozen=True)
class Table:
    """A parsed file: its header (upper-cased for Synthea, as given otherwise) and rows with line numbers."""

    path: Path
    header: tuple[str, ...]
    rows: list[tuple[int, list[str]]]

    def index(self, column: str) -> int:
        return self.header.index(column)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise EtlInputError(
            f"invalid UTF-8 at character column {column} (byte offset {exc.start})", file=path.name, line=line
        ) from None


def detect_delimiter(path: Path, first_line: str, expected: Sequence[str]) -> str:
    """The delimiter (tab or comma) under which ``first_line`` holds the ``expected`` columns."""
    wanted = {c.lower() for c in expected}
    for delimiter in ("\t", ","):
        columns = {c.strip().strip('"').lower() for c in first_line.split(delimiter)}
        if wanted <= columns:
            return delimiter
    raise EtlInputError(
        "header does not list the expected columns separated by tab or comma "
        f"(wrong or unknown delimiter?); expected {', '.join(expected)}",
        file=path.name,
        line=1,
    )


def read_table(
    path: Path,
    required: Sequence[str],
    *,
    delimiter: str | None = None,
    upper_header: bool = True,
    quoted: bool = True,
) -> Table:
    """Read the whole of ``path`` strictly (see the module docstring) into memory."""
    header, rows = stream_table(path, required, delimiter=delimiter, upper_header=upper_header, quoted=quoted)
    return Table(path=path, header=header, rows=list(rows))


def stream_table(
    path: Path,
    required: Sequence[str],
    *,
    delimiter: str | None = None,
    upper_header: bool = True,
    quoted: bool = True,
) -> tuple[tuple[str, ...], Iterator[tuple[int, list[str]]]]:
    """The header now and the rows as they are read (for files too large to hold, such as Athena's).

    Raises EtlInputError for a bad header at once and for a bad row when iteration reaches it.
    ``quoted=False`` reads quote characters literally, as Athena's tab-separated files need.
    """
    with path.open("rb") as raw:
        first_bytes = raw.readline()
    try:
        first = first_bytes.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        _decode(path)  # raises with the exact line and column
        raise
    if not first.strip():
        raise EtlInputError("file is empty or has no header", file=path.name, line=1)
    delimiter = delimiter or detect_delimiter(path, first, required)
    handle = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(
        handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE, strict=True
    )
    try:
        header_row = next(reader)
    except UnicodeDecodeError:
        handle.close()
        _decode(path)  # the text layer decodes ahead in chunks: re-scan for the exact line and column
        raise
    except (csv.Error, StopIteration) as exc:
        handle.close()
        raise EtlInputError(f"malformed header: {exc}", file=path.name, line=1) from None
    header = tuple(h.strip().upper() if upper_header else h.strip() for h in header_row)
    have = {h.lower() for h in header}
    for column in required:
        if column.lower() not in have:
            handle.close()
            raise EtlInputError("required column is missing", file=path.name, line=1, field=column)
    return header, _rows(path, handle, reader, header)


def _rows(path: Path, handle: TextIO, reader: Any, header: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    width = len(header)
    with handle:
        try:
            for row in reader:
                if len(row) != width:
                    if not row:
                        continue  # a blank line
                    column = header[len(row)] if len(row) < width else f"#{width + 1}"
                    raise EtlInputError(
                        f"expected {width} fields, found {len(row)} (truncated or malformed line)",
                        file=path.name,
                        line=reader.line_num,
                        field=column,
                    )
                yield reader.line_num, row
        except csv.Error as exc:
            raise EtlInputError(f"malformed CSV: {exc}", file=path.name, line=reader.line_num) from None
        except UnicodeDecodeError:
            _decode(path)  # the text layer decodes ahead in chunks: re-scan for the exact line and column
            raise


def iter_records(table: Table) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as ``{COLUMN: value}`` with their line numbers (convenient; the ETL uses indexes for speed)."""
    for line, row in table.rows:
        yield line, dict(zip(table.header, row, strict=True))
