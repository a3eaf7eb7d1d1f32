"""Checks of the inputs ``fednode demo`` and ``fednode experiment`` take, done before torch, transformers or NVFlare
load: a wrong path fails in a moment with one line naming the option, and nothing is created."""

from __future__ import annotations

from pathlib import Path

from fednode.errors import BadInputError

MODEL_NAMES = ("minilm", "tiny")
"""The model specs that need no folder (the bundled all-MiniLM-L6-v2, and the tiny random BERT for tests)."""


def check_model_spec(spec: str, option: str = "--model") -> None:
    """``minilm``, ``tiny`` or a Hugging Face checkpoint folder (one with a ``config.json``), each optionally
    ending in ``+crf`` (a CRF output layer, :mod:`node.ml.ner.crf`)."""
    base = spec.removesuffix("+crf")
    if base in MODEL_NAMES:
        return
    folder = Path(base)
    if not folder.is_dir():
        raise BadInputError(f"{option} {spec}: not a folder; use minilm, tiny or a local checkpoint folder")
    if not (folder / "config.json").is_file():
        raise BadInputError(f"{option} {spec}: no config.json in it, so not a Hugging Face checkpoint folder")


def check_data_dir(
    folder: Path, files: tuple[str, ...] = ("train.tsv", "test.tsv"), option: str = "--data-dir"
) -> None:
    """A folder holding the named CoNLL files."""
    if not folder.is_dir():
        raise BadInputError(f"{option} {folder}: not a folder (it must hold {', '.join(files)})")
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise BadInputError(f"{option} {folder}: missing {', '.join(missing)}")


def check_out_dir(folder: Path, option: str = "--out") -> None:
    """An output folder that is one, or can be made: not a file, and under a folder, not a file."""
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"{option} {folder}: a file is there; name a folder")
    parent = next((p for p in folder.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise BadInputError(f"{option} {folder}: {parent} is a file, so the folder cannot be made")
