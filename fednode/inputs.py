"""Reading a file a person named on the command line: every failure is bad input naming the option and the file."""

from __future__ import annotations

from pathlib import Path

from fednode.errors import BadInputError


def read_input_bytes(path: Path, *, where: str) -> bytes:
    """The bytes of ``path``; a missing or unreadable file (a folder, no permission) is :class:`BadInputError`
    naming ``where`` (the option and the file, or just the file)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInputError("no such file", file=where) from None
    except OSError as exc:
        raise BadInputError(f"cannot read it ({type(exc).__name__})", file=where) from None


def read_input_text(path: Path, *, where: str, not_text: str) -> str:
    """:func:`read_input_bytes` as UTF-8 text; bytes that are not UTF-8 or hold a NUL (a binary file) are
    :class:`BadInputError` with the message ``not_text``."""
    data = read_input_bytes(path, where=where)
    if b"\x00" in data:  # valid UTF-8, but no text file holds a NUL byte
        raise BadInputError(not_text, file=where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(not_text, file=where) from None
