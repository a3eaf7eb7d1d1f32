"""Run every benchmark in turn: ``python -m bench [--quick] [--only etl,deid]``."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCHES = ["etl", "deid", "policy", "scan", "sandbox", "audit", "fl", "ner", "federation"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, minutes instead of hours")
    parser.add_argument("--only", default="", help="comma-separated subset of: " + ", ".join(BENCHES))
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b in args.only.split(",")]
    root = Path(__file__).resolve().parent
    failures = []
    for name in chosen:
        if not (root / name / "__main__.py").is_file():
            print(f"bench.{name}: not present, skipped", flush=True)
            continue
        started = time.monotonic()
        cmd = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if args.quick else [])
        print(f"bench.{name}: running {' '.join(cmd[1:])}", flush=True)
        code = subprocess.call(cmd, cwd=root.parent)
        print(f"bench.{name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failures.append(name)
    if failures:
        print("failed: " + ", ".join(failures), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
