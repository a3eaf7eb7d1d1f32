"""The data contract: what a bring-your-own-code job may read, staged in its working directory.

At job start the site writes, for an approved job only and only from the CDM columns both the site policy's
``data_access`` and the job's approved declaration allow (:data:`NER_SPLIT_COLUMNS`):

``data/train.tsv``, ``data/dev.tsv``
    The de-identified NER split from NOTE + NOTE_NLP: ``TOKEN<TAB>TAG`` lines, BIO tags, a blank line after each
    sentence (the layout of the bundled NCBI-disease files). Only annotated notes (at least one gold span) are
    staged, split by note so no note straddles train and dev; their number is the record count the policy's
    ``min_local_records`` uses (:func:`omop_etl.stats.annotated_note_count`).
``model/``
    The site's base checkpoint's tokenizer and ``config.json`` (a 3-label token classifier), never weights: the
    coordinator sends the initial weights, built from the same checkpoint, in the first task.

A job reads them by relative paths (``--data_dir data --model_dir model``). Each folder appears whole or not at all
(built in a temporary folder beside it, then renamed); files are read-only (0o444), folders 0o555.
:func:`remove_staged` takes them away when the job ends.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fednode.errors import StagingRefusedError
from node.ml.ner.cdm import NER_SPLIT_COLUMNS, GoldNote
from policies.contracts import JobRecord, JobState

if TYPE_CHECKING:
    from fednode.settings import Settings
    from node.ml.ner.data import NerExample
    from policies.policy_model import SitePolicy

log = logging.getLogger("fednode.node.site.staging")

DATA_DIR = "data"
MODEL_DIR = "model"
TRAIN_FILE = "train.tsv"
DEV_FILE = "dev.tsv"
_TEMP_PREFIX = ".fednode-staging-"
_FILE_MODE = 0o444
_DIR_MODE = 0o555


_RUNNABLE = (JobState.APPROVED, JobState.RUNNING)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx")

__all__ = ["NER_SPLIT_COLUMNS", "StagedData", "base_model_spec", "check_stageable", "remove_staged", "stage_job_data"]


@dataclass(frozen=True)
class StagedData:
    """What was staged for one job: where, how much, and from which columns."""

    job_id: str
    workdir: Path
    data_dir: Path
    model_dir: Path
    files: tuple[Path, ...]
    records: int
    """Distinct annotated notes staged: the count ``min_local_records`` is checked against."""
    train_sentences: int
    dev_sentences: int
    model_spec: str
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: NER_SPLIT_COLUMNS)

    def read_only_paths(self) -> tuple[Path, ...]:
        """The staged folders, for a sandbox's read-only rules."""
        return (self.data_dir, self.model_dir)

    def to_json(self) -> dict[str, object]:
        """Numbers, names and paths only (for the audit log and the review)."""
        return {
            "job_id": self.job_id,
            "workdir": str(self.workdir),
            "files": [str(p.relative_to(self.workdir)) for p in self.files],
            "records": self.records,
            "train_sentences": self.train_sentences,
            "dev_sentences": self.dev_sentences,
            "model_spec": self.model_spec,
            "columns": {t: list(c) for t, c in self.columns.items()},
        }


def base_model_spec(settings: Settings) -> str:
    """The site's configured base checkpoint: ``fl.base_model``, else ``fl.model_dir``, else the bundled MiniLM."""
    if settings.fl.base_model:
        return settings.fl.base_model
    return str(settings.fl.model_dir) if settings.fl.model_dir is not None else "minilm"


def missing_columns(allowed: Mapping[str, Iterable[str]]) -> list[str]:
    """The ``table.column`` names of :data:`NER_SPLIT_COLUMNS` that ``allowed`` (table -> columns) lacks."""
    missing: list[str] = []
    for table, columns in NER_SPLIT_COLUMNS.items():
        have = set(allowed.get(table, ()))
        missing.extend(f"{table}.{c}" for c in columns if c not in have)
    return missing


def check_stageable(record: JobRecord, policy: SitePolicy, *, digest: str | None = None) -> None:
    """Refuse (:class:`StagingRefusedError`) unless the job is approved for its digest and may read the split."""
    job = record.job_id
    if record.state not in _RUNNABLE:
        raise StagingRefusedError(f"job {job} is {record.state.value}, not approved: no data is staged")
    approved = record.manifest.digest
    if digest is not None and digest != approved:
        raise StagingRefusedError(f"job {job}: the bytes to run differ from the approved digest")
    approvers = {a.approver for a in record.approvals if a.decision == "approve" and a.digest == approved}
    if len(approvers) < record.required_approvals:
        raise StagingRefusedError(
            f"job {job} has {len(approvers)} approvals bound to its digest; {record.required_approvals} are required"
        )
    by_policy = missing_columns(policy.data_access)
    if by_policy:
        raise StagingRefusedError(
            f"the site policy's data_access does not allow {', '.join(by_policy)}, which the NER split needs"
        )
    by_job = missing_columns(record.manifest.data_access)
    if by_job:
        raise StagingRefusedError(
            f"job {job} was approved without access to {', '.join(by_job)}, which the NER split needs"
        )


def stage_job_data(
    record: JobRecord,
    workdir: Path,
    *,
    policy: SitePolicy,
    cdm_url: str,
    model_spec: str | Path,
    digest: str | None = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
) -> StagedData:
    """Stage ``data/`` and ``model/`` for the approved job ``record`` in ``workdir`` (see the module docstring).

    ``digest``, when given, is the digest of the bytes about to run and must equal the approved one. Raises
    :class:`StagingRefusedError` when the job may not have the data or ``workdir`` already holds ``data/`` or
    ``model/``; nothing stays behind on any error.
    """
    check_stageable(record, policy, digest=digest)
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir, model_dir = workdir / DATA_DIR, workdir / MODEL_DIR
    taken = [p.name for p in (data_dir, model_dir) if os.path.lexists(p)]
    if taken:
        raise StagingRefusedError(
            f"job {record.job_id}: its working directory already holds {', '.join(taken)}/; "
            "the site stages those folders itself (rename the job's own)"
        )
    notes = _annotated_notes(cdm_url)
    train_notes, dev_notes = _split_notes(notes, dev_fraction=dev_fraction, seed=seed)
    temp = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=workdir))
    placed: list[Path] = []
    try:
        sentences = _write_split(temp / DATA_DIR, train_notes, dev_notes)
        _write_model(temp / MODEL_DIR, str(model_spec))
        for name, target in ((DATA_DIR, data_dir), (MODEL_DIR, model_dir)):
            _freeze_files(temp / name)
            os.rename(temp / name, target)  # noqa: PTH104  # one rename: the folder appears whole
            placed.append(target)
            target.chmod(_DIR_MODE)
        temp.rmdir()
    except BaseException:
        for path in (*placed, temp):
            _remove_tree(path)
        raise
    files = tuple(sorted(p for d in (data_dir, model_dir) for p in d.iterdir()))
    staged = StagedData(
        job_id=record.job_id,
        workdir=workdir,
        data_dir=data_dir,
        model_dir=model_dir,
        files=files,
        records=len(notes),
        train_sentences=sentences[0],
        dev_sentences=sentences[1],
        model_spec=str(model_spec),
    )
    log.info(
        "staging.staged job=%s records=%d train=%d dev=%d model=%s",
        record.job_id,
        staged.records,
        staged.train_sentences,
        staged.dev_sentences,
        Path(staged.model_spec).name,
    )
    return staged


def remove_staged(staged: StagedData | Path) -> None:
    """Remove what :func:`stage_job_data` put in a job's working directory (idempotent).

    Takes the :class:`StagedData` or just the working directory; leftover temporary folders go too.
    """
    workdir = staged.workdir if isinstance(staged, StagedData) else Path(staged)
    if not workdir.is_dir():
        return
    leftovers = [p for p in workdir.iterdir() if p.name.startswith(_TEMP_PREFIX)]
    for path in (workdir / DATA_DIR, workdir / MODEL_DIR, *leftovers):
        _remove_tree(path)
    log.info("staging.removed workdir=%s", workdir.name)


# -- reading and writing -------------------------------------------------------------------------------------


def _annotated_notes(cdm_url: str) -> list[GoldNote]:
    """Every note with at least one gold span, in note_id order: exactly the site's record count
    (:func:`omop_etl.stats.annotated_note_count`), or the staging is refused."""
    from omop_etl.db import make_engine
    from omop_etl.notes import read_gold_notes
    from omop_etl.stats import annotated_note_count

    engine = make_engine(cdm_url)
    try:
        notes: list[GoldNote] = [note for note in read_gold_notes(engine) if note[2]]
        counted = annotated_note_count(engine)
    finally:
        engine.dispose()
    if counted != len(notes):
        raise StagingRefusedError(
            f"the CDM counts {counted} annotated notes but {len(notes)} were read (it changed while staging, or "
            "NOTE_NLP holds spans of notes NOTE lacks): nothing is staged"
        )
    return notes


def _split_notes(notes: Sequence[GoldNote], *, dev_fraction: float, seed: int) -> tuple[list[GoldNote], list[GoldNote]]:
    """A reproducible split by note: about ``dev_fraction`` of the notes (at least one when two or more) for dev."""
    order = list(range(len(notes)))
    random.Random(seed).shuffle(order)  # noqa: S311  # a reproducible split, not a secret
    n_dev = round(len(notes) * dev_fraction)
    if dev_fraction > 0 and len(notes) >= 2:
        n_dev = max(1, n_dev)
    dev = set(order[:n_dev])
    return [n for i, n in enumerate(notes) if i not in dev], [n for i, n in enumerate(notes) if i in dev]


def _write_split(folder: Path, train: Sequence[GoldNote], dev: Sequence[GoldNote]) -> tuple[int, int]:
    """Write train.tsv and dev.tsv; return their sentence counts."""
    from node.ml.ner.cdm import notes_to_examples

    folder.mkdir()
    counts = []
    for name, notes in ((TRAIN_FILE, train), (DEV_FILE, dev)):
        examples = notes_to_examples(notes)
        write_conll(folder / name, examples)
        counts.append(len(examples))
    return counts[0], counts[1]


def write_conll(path: Path, examples: Iterable[NerExample]) -> None:
    """``TOKEN<TAB>TAG`` lines with a blank line after each sentence (the NCBI-disease TSV layout)."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for example in examples:
            fh.writelines(f"{token}\t{tag}\n" for token, tag in zip(example.tokens, example.tags, strict=True))
            fh.write("\n")


def _write_model(folder: Path, model_spec: str) -> None:
    """The base checkpoint's tokenizer and token-classification config, exactly as the coordinator builds it."""
    from node.ml.ner.model import load_ner_model

    built = load_ner_model(model_spec)
    folder.mkdir()
    built.model.config.save_pretrained(str(folder))
    built.tokenizer.save_pretrained(str(folder))
    weights = [p.name for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES]
    if weights:  # pragma: no cover - a transformers change; never ship weights the coordinator did not send
        raise StagingRefusedError(f"staging the model folder wrote weight files: {', '.join(weights)}")


def _freeze_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(_FILE_MODE)


def _remove_tree(path: Path) -> None:
    """Delete ``path`` even where staging made it read-only; a missing path is fine."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for folder in (path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())):
        folder.chmod(folder.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
    shutil.rmtree(path)
