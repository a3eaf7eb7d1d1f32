"""``python -m bench.etl [--quick]``: ETL rows/s into SQLite and PostgreSQL, and ETL time / raw bulk insert time.

The raw baseline inserts exactly the rows the ETL wrote (read back from its database) into the same tables of
a fresh database, through the same batched insert, in one transaction: what loading would cost with no parsing,
mapping, id keeping, quarantine or diffing. Vocabulary load is done before timing in both cases. Results go to
``bench/results/etl.json`` and ``bench/results/etl.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text

from bench.etl.scale import scale
from fednode.bundled import bundled
from omop_etl.cdm import create_cdm
from omop_etl.cdm import table as cdm_table
from omop_etl.db import make_engine
from omop_etl.synthea.run import LOAD_ORDER, run_etl
from omop_etl.synthea.writer import bulk_insert
from omop_etl.vocab import load_vocabulary

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
BATCH = 5000


def _prepare(engine: Engine) -> None:
    create_cdm(engine)
    with engine.begin() as conn:
        load_vocabulary(conn, bundled("omop-vocab"), batch_size=BATCH)


def _measure(engine_etl: Engine, engine_raw: Engine, source: Path) -> dict[str, Any]:
    _prepare(engine_etl)
    _prepare(engine_raw)
    started, cpu = time.perf_counter(), time.process_time()
    report = run_etl(engine_etl, source, batch_size=BATCH)
    etl_s, etl_cpu = time.perf_counter() - started, time.process_time() - cpu
    rows = dict.fromkeys(LOAD_ORDER, 0)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine_etl.connect() as conn:
        for name in LOAD_ORDER:
            tables[name] = [tuple(r) for r in conn.execute(select(cdm_table(name)))]
            rows[name] = len(tables[name])
    started, cpu = time.perf_counter(), time.process_time()
    with engine_raw.begin() as conn:
        for name in LOAD_ORDER:
            target = cdm_table(name)
            bulk_insert(conn, target, [c.name for c in target.columns], tables[name], BATCH)
    raw_s, raw_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    rerun = run_etl(engine_etl, source, batch_size=BATCH)
    rerun_s = time.perf_counter() - started
    total = sum(rows.values())
    return {
        "cdm_rows": total,
        "rows": rows,
        "quarantined": report.quarantined_total,
        "etl_seconds": round(etl_s, 2),
        "raw_insert_seconds": round(raw_s, 2),
        "etl_rows_per_s": round(total / etl_s),
        "raw_rows_per_s": round(total / raw_s),
        "ratio_etl_to_raw": round(etl_s / raw_s, 2),
        "etl_client_cpu_seconds": round(etl_cpu, 2),
        "raw_client_cpu_seconds": round(raw_cpu, 2),
        "ratio_client_cpu": round(etl_cpu / raw_cpu, 2),
        "rerun_seconds": round(rerun_s, 2),
        "rerun_changed_rows": rerun.changed_total,
    }


def _postgres(source: Path) -> dict[str, Any] | str:
    from fednode.errors import NotFoundError
    from node.local.postgres import postgres_server

    try:
        with postgres_server() as url:
            etl, raw = make_engine(url), make_engine(url.rsplit("/", 1)[0] + "/raw")
            with make_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("CREATE DATABASE raw"))
            try:
                return _measure(etl, raw, source)
            finally:
                etl.dispose()
                raw.dispose()
    except NotFoundError as exc:
        return f"skipped: {exc}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 patients instead of 10,000")
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    patients = args.patients or (500 if args.quick else 10_000)
    with tempfile.TemporaryDirectory(prefix="fednode-bench-etl-") as tmp:
        work = Path(tmp)
        source_rows = scale(bundled("synthea-sample"), work / "src", patients)
        sqlite = _measure(
            make_engine(f"sqlite:///{work / 'etl.db'}"), make_engine(f"sqlite:///{work / 'raw.db'}"), work / "src"
        )
        postgres = "skipped: --no-postgres" if args.no_postgres else _postgres(work / "src")
    result = {
        "bench": "etl",
        "quick": args.quick,
        "patients": patients,
        "source_rows": source_rows,
        "sqlite": sqlite,
        "postgres": postgres,
        "target_ratio": 2.0,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": _cpus()},
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "etl.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "etl.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def _markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# ETL benchmark ({r['patients']:,} patients, {r['source_rows']:,} source rows)",
        "",
        "| target | CDM rows | ETL s | ETL rows/s | raw insert s | raw rows/s | ETL / raw (wall) "
        "| ETL / raw (client CPU) | rerun s (changed) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("sqlite", "postgres"):
        m = r[name]
        if isinstance(m, str):
            lines.append(f"| {name} | {m} | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {m['cdm_rows']:,} | {m['etl_seconds']} | {m['etl_rows_per_s']:,} | {m['raw_insert_seconds']} "
            f"| {m['raw_rows_per_s']:,} | {m['ratio_etl_to_raw']} | {m['ratio_client_cpu']} "
            f"| {m['rerun_seconds']} ({m['rerun_changed_rows']}) |"
        )
    lines += [
        "",
        f"Target: ETL / raw <= {r['target_ratio']}. Machine: {r['machine']['cpus']} CPUs, Python "
        f"{r['machine']['python']}; measured {r['at']}. Client CPU is this process's CPU time: on a shared "
        "machine it is steadier than wall time (for SQLite it covers the whole load; for PostgreSQL the server's "
        "work is outside it).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
