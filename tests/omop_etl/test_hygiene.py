"""omop_etl is headless and FLARE-free: importing all of it pulls in none of node, tui, nvflare, textual, torch."""

from __future__ import annotations

import subprocess
import sys


def test_omop_etl_imports_nothing_it_must_not() -> None:
    code = (
        "import sys, omop_etl, omop_etl.cdm._codegen, omop_etl.dq.accept, omop_etl.vocab\n"
        "bad = [m for m in ('node', 'tui', 'nvflare', 'textual', 'torch') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
