"""Scale the bundled Synthea sample to N patients: copies of its 27 patients with fresh identifiers.

Patient and encounter ids get a deterministic uuid5 per copy, so every copy is a distinct person with distinct
visits; organizations and providers are shared (as in a real region). The last copy is cut to reach exactly N.
"""

from __future__ import annotations

import csv
import shutil
import uuid
from pathlib import Path

PATIENT_FILES = ("conditions", "medications", "immunizations", "procedures", "observations", "devices", "allergies")
SHARED_FILES = ("organizations", "providers")
NAMESPACE = uuid.UUID("5b6c1f39-8f0e-4b8e-9f21-7a0a3c1e2d44")


def _fresh(copy: int, old: str) -> str:
    return old if copy == 0 else str(uuid.uuid5(NAMESPACE, f"{copy}:{old}"))


def scale(sample: Path, dest: Path, patients: int) -> int:
    """Write a ``patients``-patient extract to ``dest``; returns the number of source rows written."""
    dest.mkdir(parents=True, exist_ok=True)
    for stem in SHARED_FILES:
        shutil.copyfile(sample / f"{stem}.csv", dest / f"{stem}.csv")
    with (sample / "patients.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, base = rows[0], rows[1:]
    copies = -(-patients // len(base))
    chosen: list[set[str]] = []
    written = 0
    with (dest / "patients.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        left = patients
        for copy in range(copies):
            take = base[: min(left, len(base))]
            left -= len(take)
            chosen.append({r[0] for r in take})
            for r in take:
                writer.writerow([_fresh(copy, r[0]), *r[1:]])
                written += 1
    written += _scale_file(
        sample / "encounters.csv", dest / "encounters.csv", chosen, patient_col="PATIENT", id_col="Id"
    )
    for stem in PATIENT_FILES:
        path = sample / f"{stem}.csv"
        if path.is_file():
            written += _scale_file(path, dest / f"{stem}.csv", chosen, patient_col="PATIENT", id_col=None)
    return written


def _scale_file(src: Path, dst: Path, chosen: list[set[str]], *, patient_col: str, id_col: str | None) -> int:
    with src.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    ip = header.index(patient_col)
    ie = header.index("ENCOUNTER") if "ENCOUNTER" in header else None
    ii = header.index(id_col) if id_col else None
    count = 0
    with dst.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for copy, keep in enumerate(chosen):
            for r in body:
                if r[ip] not in keep:
                    continue
                row = list(r)
                row[ip] = _fresh(copy, r[ip])
                if ie is not None and r[ie]:
                    row[ie] = _fresh(copy, r[ie])
                if ii is not None:
                    row[ii] = _fresh(copy, r[ii])
                writer.writerow(row)
                count += 1
    return count
