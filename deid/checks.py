"""What a deid command checks before any model is loaded: the input file, the operator and the site secret.

This module imports neither Presidio nor spaCy, so a missing, binary or empty file, an unknown operator or a
missing secret fails in milliseconds, not after the seconds it takes to build the de-identifier.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fednode.errors import ConfigError, NoteInputError
from fednode.settings import DeidSettings

Operator = Literal["surrogate", "tag", "redact", "hmac"]
OPERATORS: tuple[Operator, ...] = ("surrogate", "tag", "redact", "hmac")

HOW_TO_SET_KEY = (
    "set it with FEDNODE_DEID__SECRET=<a long random string>, `secret = ...` under [deid] in fednode.toml, or "
    'with compose the fednode_deid secret file ./secrets/deid.json holding {"secret": ...} (docs/deid.md)'
)
"""How to provide the site secret (named in every message that asks for it)."""

HEAD_BYTES = 64 * 1024
"""How much of an input file :func:`check_input` reads to decide that it is text (binary files fail here)."""


def check_operator(settings: DeidSettings, operator: str | None = None, *, persistent: bool = False) -> Operator:
    """The operator to use (``operator`` or the settings' default), checked against the site secret: ``hmac``
    always needs it, and ``surrogate`` needs it when the result is ``persistent`` (loaded into the CDM: without a
    fixed key a rerun would rewrite every note with new names). Raises :class:`ConfigError` (exit 2)."""
    chosen = operator or settings.operator
    if chosen not in OPERATORS:
        raise ConfigError(f"--operator: {chosen!r} is not one of {', '.join(OPERATORS)}")
    op: Operator = chosen  # checked just above: a literal of the tuple
    if settings.secret is None and op == "hmac":
        raise ConfigError("deid.secret: not set, and the operator 'hmac' needs it; " + HOW_TO_SET_KEY)
    if settings.secret is None and persistent and op == "surrogate":
        raise ConfigError(
            "deid.secret: not set, and surrogates loaded into the CDM would then change on every run; " + HOW_TO_SET_KEY
        )
    return op


def check_input(path: Path, *, what: str = "notes") -> None:
    """Raise :class:`NoteInputError` when ``path`` is not a readable UTF-8 text file with at least one non-blank
    line: missing, a folder, binary (a NUL byte, or bytes that are not UTF-8, in the first 64 KiB: the line is
    named), or empty. Reads at most the head and the leading blank lines; no model is needed."""
    if not path.exists():
        raise NoteInputError(f"{what} file not found", file=str(path))
    if not path.is_file():
        raise NoteInputError(f"not a {what} file (a folder or special file)", file=str(path))
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
            bad = _first_non_text(head, complete=len(head) < HEAD_BYTES)
            if bad is not None:
                line = head[:bad].count(b"\n") + 1
                raise NoteInputError(
                    f"not a UTF-8 text file (binary?); expected {what} JSONL", file=str(path), line=line
                )
            if not head.strip():
                handle.seek(0)
                if not any(raw.strip() for raw in handle):
                    raise NoteInputError(f"no {what} in {path.name} (the file is empty)", file=str(path))
    except OSError as exc:
        raise NoteInputError(
            f"cannot read the {what} file ({exc.strerror or type(exc).__name__})", file=str(path)
        ) from None


def _first_non_text(head: bytes, *, complete: bool) -> int | None:
    """Offset of the first byte that makes ``head`` not UTF-8 text (a NUL, or an invalid sequence), else None.
    A multi-byte character cut by the end of an incomplete ``head`` is not an error."""
    nul = head.find(b"\0")
    if nul >= 0:
        return nul
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if complete or exc.end < len(head) or exc.reason != "unexpected end of data":
            return exc.start
    return None


def check_output(path: Path, *, option: str = "--output") -> None:
    """Raise :class:`NoteInputError` when ``path`` cannot be an output file: a folder, or under a file."""
    if path.is_dir():
        raise NoteInputError(f"is a folder; {option} needs a file path", file=str(path))
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NoteInputError(f"{parent} is a file, not a folder ({option})", file=str(path))
            break
