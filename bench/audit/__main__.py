"""``python -m bench.audit [--quick] [--records N] [--out bench/results]``.

Measures, on a fresh SQLite state.db in WAL mode (the site default): the audit append rate (one transaction per
record, as the services append; every ``--decision-every``-th record is a decision, which is signed at once), the
bulk append rate (many records in one transaction), the verify rate over the whole chain with its signed
checkpoints, the JSONL export rate, the append rate of two processes writing at once, the time of one budget
reservation with each Opacus accountant, and what the checkpoint after every decision costs a review (recording
a job for review and approving it, with and without those checkpoints). Writes ``audit.json`` and ``audit.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from bench.audit._approvals import approval_latency
from bench.audit._worker import DETAILS, concurrent_worker
from policies.audit import AuditEvent, AuditLog, export_jsonl
from policies.contracts import DpParams
from policies.keys import SiteKey
from policies.ledger import PrivacyLedger
from policies.state import StateStore

STEM = "audit"


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="10,000 records instead of 100,000")
    p.add_argument("--records", type=int, default=None)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--decision-every", type=int, default=5, help="every K-th record is a decision (signed)")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    return p.parse_args()


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main() -> int:
    args = _args()
    n = args.records or (10_000 if args.quick else 100_000)
    every = args.checkpoint_every
    decision_every = args.decision_every
    decisions = (AuditEvent.JOB_PENDING, AuditEvent.JOB_APPROVED, AuditEvent.DIGEST_VERIFIED, AuditEvent.EGRESS_BLOCKED)
    results: dict[str, Any] = {
        "records": n,
        "checkpoint_every": every,
        "decision_every": decision_every,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
    }
    with tempfile.TemporaryDirectory(prefix="fednode-bench-audit-") as tmp:
        key = SiteKey.generate()
        store = StateStore.for_path(Path(tmp) / "state.db")
        audit = AuditLog(store, key, checkpoint_every=every)

        t = time.perf_counter()
        for i in range(n):
            event = decisions[(i // decision_every) % 4] if i % decision_every == 0 else AuditEvent.JOB_ROUND
            audit.append(event, actor="trainer", job_id="job-bench", details={**DETAILS, "i": i})
        dt = time.perf_counter() - t
        results["append_per_transaction"] = {
            "seconds": dt,
            "records_per_s": _rate(n, dt),
            "ms_per_record": 1e3 * dt / n,
        }
        print(f"append (1 tx each): {n} records in {dt:.1f} s = {_rate(n, dt):,.0f}/s", flush=True)

        t = time.perf_counter()
        report = audit.verify()
        dt = time.perf_counter() - t
        assert report.records == n
        results["verify"] = {"seconds": dt, "records_per_s": _rate(n, dt), "checkpoints": report.checkpoints}
        print(
            f"verify: {n} records, {report.checkpoints} checkpoints in {dt:.2f} s = {_rate(n, dt):,.0f}/s", flush=True
        )

        t = time.perf_counter()
        buf = io.StringIO()
        export_jsonl(audit, buf)
        dt = time.perf_counter() - t
        results["export_jsonl"] = {"seconds": dt, "records_per_s": _rate(n, dt), "bytes": len(buf.getvalue().encode())}
        print(f"export: {dt:.2f} s, {len(buf.getvalue()) / 1e6:.1f} MB", flush=True)

        bulk = n // 10
        t = time.perf_counter()
        with store.write() as s:
            for i in range(bulk):
                audit.append(AuditEvent.JOB_ROUND, actor="trainer", details={**DETAILS, "i": i}, session=s)
        dt = time.perf_counter() - t
        results["append_bulk_one_transaction"] = {"records": bulk, "seconds": dt, "records_per_s": _rate(bulk, dt)}
        print(f"append (bulk, 1 tx): {bulk} records = {_rate(bulk, dt):,.0f}/s", flush=True)

        per_proc = max(n // 50, 200)
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(3)
        procs = [
            ctx.Process(target=concurrent_worker, args=(str(Path(tmp) / "state.db"), pem, per_proc, every, barrier))
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        barrier.wait()  # both writers connected
        t = time.perf_counter()
        barrier.wait()  # both writers done
        dt = time.perf_counter() - t
        for p in procs:
            p.join()
        total = audit.verify().records
        assert total == n + bulk + 2 * per_proc
        results["append_two_processes"] = {
            "records": 2 * per_proc,
            "seconds": dt,
            "records_per_s": _rate(2 * per_proc, dt),
            "chain_verified": True,
        }
        print(
            f"append (2 processes): {2 * per_proc} records = {_rate(2 * per_proc, dt):,.0f}/s, chain intact", flush=True
        )

        dp = DpParams(
            noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=2.0, delta=1e-5, sample_rate=0.01, steps=1000
        )
        import opacus.accountants  # noqa: F401  # import torch before the clock starts

        for accountant in ("rdp", "prv"):
            ledger = PrivacyLedger(store, audit, budgets={f"ds_{accountant}": 100.0}, delta=1e-5, accountant=accountant)
            # a dataset with history from 3 earlier jobs of different noise levels, then one more reservation
            for j, noise in enumerate((0.9, 1.1, 1.3)):
                ledger.record_steps(f"old-{accountant}-{j}", f"ds_{accountant}", noise, 0.01, 500, actor="bench")
            t = time.perf_counter()
            ledger.reserve(f"new-{accountant}", f"ds_{accountant}", dp, actor="bench")
            dt = time.perf_counter() - t
            results[f"reserve_{accountant}_s"] = dt
            print(f"reserve with {accountant}: {dt:.2f} s", flush=True)

        lat = approval_latency(Path(tmp), jobs=100 if args.quick else 300)
        results["approval_latency"] = lat
        sig, base = lat["signed"], lat["baseline"]
        print(
            "review, median ms with / without decision checkpoints: "
            f"pending {sig['pending']['median_ms']:.2f} / {base['pending']['median_ms']:.2f} "
            f"({lat['pending_ratio']:.2f}x), approve {sig['approve']['median_ms']:.2f} / "
            f"{base['approve']['median_ms']:.2f} ({lat['approve_ratio']:.2f}x)",
            flush=True,
        )

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{STEM}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{STEM}.md").write_text(_markdown(results), encoding="utf-8")
    print(f"wrote {args.out / (STEM + '.json')} and .md")
    return 0


def _markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lat = r["approval_latency"]
    rows = [
        ("append, one transaction per record", r["append_per_transaction"]["records_per_s"], r["records"]),
        (
            "append, 2 processes at once (chain verified)",
            r["append_two_processes"]["records_per_s"],
            r["append_two_processes"]["records"],
        ),
        (
            "append, bulk in one transaction",
            r["append_bulk_one_transaction"]["records_per_s"],
            r["append_bulk_one_transaction"]["records"],
        ),
        ("verify chain + signed checkpoints", r["verify"]["records_per_s"], r["records"]),
        ("export JSONL (verified while written)", r["export_jsonl"]["records_per_s"], r["records"]),
    ]
    lines = [
        "# Audit log and ledger benchmark",
        "",
        f"SQLite WAL state.db; a signed checkpoint after every decision record (every {r['decision_every']}th "
        f"record here), and at least every {r['checkpoint_every']} records; {m['platform']}, {m['cpus']} CPUs, "
        f"Python {m['python']}.",
        "",
        "| operation | records | records/s |",
        "|---|---:|---:|",
        *[f"| {name} | {n:,} | {rate:,.0f} |" for name, rate, n in rows],
        "",
        f"Full verify of {r['records']:,} records: {r['verify']['seconds']:.2f} s "
        f"({r['verify']['checkpoints']} checkpoint signatures).",
        "",
        "| budget reservation (3 prior jobs + 1) | seconds |",
        "|---|---:|",
        f"| RDP accountant | {r['reserve_rdp_s']:.2f} |",
        f"| PRV accountant | {r['reserve_prv_s']:.2f} |",
        "",
        f"A review with and without the signed checkpoint after each decision ({lat['jobs']} jobs each, "
        "interleaved in blocks; median / p90 ms):",
        "",
        "| step | with decision checkpoints | without (before issue 14) | ratio of medians |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {lat['signed'][step]['median_ms']:.2f} / {lat['signed'][step]['p90_ms']:.2f} | "
            f"{lat['baseline'][step]['median_ms']:.2f} / {lat['baseline'][step]['p90_ms']:.2f} | "
            f"{lat[step + '_ratio']:.2f} |"
            for name, step in (("record for review (job:pending)", "pending"), ("approve (job:approved)", "approve"))
        ],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
