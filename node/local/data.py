"""The demo's hospital data: each site's share of the bundled NCBI-disease train sentences as clinical notes with a
synthetic PHI header, and each site's share of the bundled Synthea patients as a source extract.

A note is ``PHI header + sentence``; its ``annotations`` are the sentence's Disease mentions as character spans in
the full text (so they survive de-identification's offset re-mapping). Every note belongs to one of the site's
Synthea patients (``person_source_value`` = the patient's Synthea ``Id``), so the CDM links NOTE to PERSON.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from fednode.bundled import bundled
from fednode.errors import ConfigError
from node.ml.ner.data import NerExample, read_conll, shard

NCBI_DIR = bundled("ncbi-disease")
SYNTHEA_DIR = bundled("synthea-sample")
PATIENT_KEYS = ("PATIENT", "Id")
"""Columns that name the patient in a Synthea CSV (``patients.csv`` uses ``Id``, the rest ``PATIENT``)."""


@dataclass(frozen=True)
class SiteData:
    """What one demo site receives."""

    site: str
    notes: Path
    synthea: Path
    notes_count: int
    mentions: int
    patients: int


def sentence_text(example: NerExample) -> tuple[str, list[tuple[int, int]]]:
    """The sentence as text (words joined by single spaces) and its Disease mentions as character spans."""
    text_parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    start: int | None = None
    end = 0
    for i, (token, tag) in enumerate(zip(example.tokens, example.tags, strict=True)):
        if i:
            text_parts.append(" ")
            pos += 1
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            if start is not None:
                spans.append((start, end))
            start = pos
        elif tag == "O" and start is not None:
            spans.append((start, end))
            start = None
        text_parts.append(token)
        pos += len(token)
        if tag != "O":
            end = pos
    if start is not None:
        spans.append((start, end))
    return "".join(text_parts), spans


def split_synthea(source: Path, out: Path, shares: int, *, seed: int = 0) -> list[Path]:
    """Split a Synthea CSV export by patient into ``shares`` folders; rows without a patient go everywhere."""
    with (source / "patients.csv").open(encoding="utf-8", newline="") as fh:
        ids = [row["Id"] for row in csv.DictReader(fh)]
    if len(ids) < shares:
        raise ConfigError(f"{source}: {len(ids)} patients cannot be split among {shares} sites")
    order = sorted(ids)
    random.Random(seed).shuffle(order)  # noqa: S311  # a reproducible split, not a secret
    owner = {pid: i % shares for i, pid in enumerate(order)}
    folders = [out / f"part-{i + 1}" for i in range(shares)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = list(reader)
        key = next((k for k in PATIENT_KEYS if k in header and (k != "Id" or path.name == "patients.csv")), None)
        writers = []
        handles = []
        for folder in folders:
            handle = (folder / path.name).open("w", encoding="utf-8", newline="")
            handles.append(handle)
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writers.append(writer)
        try:
            for row in rows:
                if key is None or row.get(key) not in owner:
                    for writer in writers:
                        writer.writerow(row)
                else:
                    writers[owner[row[key]]].writerow(row)
        finally:
            for handle in handles:
                handle.close()
    return folders


@dataclass(frozen=True)
class Patient:
    """A Synthea patient a note can belong to: its id and the days a note may be dated (alive, adult records)."""

    id: str
    first: date
    last: date


LATEST_NOTE = date(2025, 12, 31)


def site_patients(folder: Path) -> list[Patient]:
    """The site's patients with the span a note date must fall in (after birth, before death or the cut-off)."""
    out = []
    with (folder / "patients.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            born = date.fromisoformat(row["BIRTHDATE"][:10])
            died = date.fromisoformat(row["DEATHDATE"][:10]) if row.get("DEATHDATE") else None
            last = min(died - timedelta(days=1), LATEST_NOTE) if died else LATEST_NOTE
            first = max(born + timedelta(days=1), last - timedelta(days=730))
            if first <= last:
                out.append(Patient(row["Id"], first, last))
    return out


def write_notes(
    examples: Sequence[NerExample], patients: Sequence[Patient], path: Path, *, site: str, seed: int = 0
) -> tuple[int, int]:
    """Write one site's notes JSONL (PHI header + sentence, Disease spans); return (notes, mentions)."""
    from deid.synthetic import make_phi_header

    if not patients:
        raise ConfigError(f"site {site}: no patients to attach notes to")
    rng = random.Random(f"{seed}-{site}")  # noqa: S311  # synthetic data, not a secret
    mentions = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i, example in enumerate(examples):
            header, _phi = make_phi_header(rng, "en")
            sentence, spans = sentence_text(example)
            offset = len(header)
            patient = patients[i % len(patients)]
            day = patient.first + timedelta(days=rng.randint(0, (patient.last - patient.first).days))
            note = {
                "note_id": f"{site}-n{i:06d}",
                "person_source_value": patient.id,
                "note_date": day.isoformat(),
                "title": "Clinical note",
                "text": header + sentence,
                "lang": "en",
                "annotations": [{"start": offset + s, "end": offset + e, "label": "Disease"} for s, e in spans],
            }
            mentions += len(spans)
            fh.write(json.dumps(note, ensure_ascii=False) + "\n")
    return len(examples), mentions


def prepare_sites(
    sites: Sequence[str],
    out: Path,
    *,
    sentences: int,
    shares: Sequence[float] | None = None,
    seed: int = 0,
    ncbi_dir: Path = NCBI_DIR,
    synthea_dir: Path = SYNTHEA_DIR,
) -> list[SiteData]:
    """Give each site its notes (a disjoint share of the first ``sentences`` train sentences) and patients."""
    train = read_conll(ncbi_dir / "train.tsv", limit=sentences)
    if len(train) < len(sites):
        raise ConfigError(f"{len(train)} sentences cannot be shared among {len(sites)} sites")
    parts = shard(train, list(shares) if shares else [1.0] * len(sites), seed=seed)
    folders = split_synthea(synthea_dir, out / "synthea", len(sites), seed=seed)
    result = []
    for site, examples, folder in zip(sites, parts, folders, strict=True):
        patients = site_patients(folder)
        notes_path = out / "notes" / f"{site}.jsonl"
        count, mentions = write_notes(examples, patients, notes_path, site=site, seed=seed)
        result.append(SiteData(site, notes_path, folder, count, mentions, len(patients)))
    return result
