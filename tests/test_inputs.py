"""Reading a file a person named (`fednode.inputs`): a binary file is bad input naming the file, even when its
bytes happen to decode as UTF-8 (a NUL byte)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fednode.errors import BadInputError
from fednode.inputs import read_input_text


@pytest.mark.parametrize(
    "data", [b"\x00\x01", b"limits\x00", b"\x89PNG\r\n\x1a\n\xff"], ids=["nul", "trailing-nul", "png"]
)
def test_a_binary_file_is_not_text(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "limits.md"
    path.write_bytes(data)
    with pytest.raises(BadInputError, match="not a text file"):
        read_input_text(path, where="--limitations", not_text="not a text file")


def test_text_reads_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "limits.md"
    path.write_text("Engelske sammendrag, ikke norske notater.\n", encoding="utf-8")
    assert read_input_text(path, where="--limitations", not_text="x") == "Engelske sammendrag, ikke norske notater.\n"
