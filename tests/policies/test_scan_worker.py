"""The bounded scan: a worker process per job, a time and a memory limit, failing closed for that job alone."""

from __future__ import annotations

import sys
import textwrap

from policies.codescan import SCAN_DID_NOT_FINISH, ScanLimits, scan_files
from policies.codescan.worker import scan_files_bounded

GOOD = {"custom/train.py": "import numpy as np\nx = np.zeros(3)\nopen('data/train.tsv')\n"}
HANGS = [sys.executable, "-c", "import time; time.sleep(120)"]

# The job from issue 12 that sent the old scanner into an endless loop (and stopped the gate's only worker).
ENDLESS_BEFORE = {
    "custom/train.py": textwrap.dedent(
        """
        import numpy as np
        dtype = np.float32
        dtype = np.float64
        for _ in range(3):
            dtype = np.float32 if dtype is np.float64 else np.float64
        x = np.zeros(3, dtype=dtype)
        """
    )
}


def test_the_worker_answers_what_the_scan_answers() -> None:
    bad = {"custom/a.py": "import posix\nposix.system('id')\n", **GOOD}
    assert scan_files_bounded(bad, byoc=False) == scan_files(bad)
    assert scan_files_bounded(GOOD, byoc=False) == ()


def test_the_job_that_looped_the_old_scanner_gets_a_verdict() -> None:
    assert scan_files_bounded(ENDLESS_BEFORE, byoc=False) == ()


def test_a_scan_that_never_ends_denies_that_job_and_the_next_job_is_judged() -> None:
    stuck = scan_files_bounded({"custom/x.py": "x = 1\n"}, byoc=False, limits=ScanLimits(timeout_s=1), argv=HANGS)
    assert [(f.capability, f.severity) for f in stuck] == [(SCAN_DID_NOT_FINISH, "deny")]
    assert "did not finish within 1 s" in stuck[0].message
    nxt = scan_files_bounded({"custom/y.py": "import socket\n"}, byoc=False)
    assert [f.capability for f in nxt] == ["network"]


def test_a_scan_over_its_memory_limit_fails_closed() -> None:
    files = {"custom/big.py": "x = [" + "1, " * 50_000 + "]\n"}
    [finding] = scan_files_bounded(files, byoc=False, limits=ScanLimits(memory_mib=1))
    assert finding.capability == SCAN_DID_NOT_FINISH and finding.severity == "deny"


def test_a_worker_that_answers_garbage_fails_closed() -> None:
    garbage = [sys.executable, "-c", "print('not json')"]
    [finding] = scan_files_bounded({"custom/z.py": "pass\n"}, byoc=False, argv=garbage)
    assert finding.capability == SCAN_DID_NOT_FINISH
