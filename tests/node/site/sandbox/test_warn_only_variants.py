"""The harmful BYOC variants the static scan can only warn about are stopped by the sandbox at run time.

Each ``WARN_ONLY`` variant of ``tests/policies/byoc/harmful.py`` is run as its code would run at a site: the
variant's lines after the imports the base training script has, as ``job_code/ner_client.py`` of an app folder laid
out as NVFlare lays out a job (``$FEDNODE_HOME/nvflare/<job>/app``, the app folder as working directory), with the
arguments or input it computes its target from pointing at the site's secrets, another job, a loopback listener the
test owns. Twice: with the reporting audit hook, and with the hook off (Landlock and seccomp alone).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.site.sandbox import SandboxSpec, read_denials, run_confined
from tests.node.site.sandbox.conftest import needs_landlock
from tests.policies.byoc.harmful import WARN_ONLY_VARIANTS, Variant

pytestmark = needs_landlock

PREAMBLE = (
    'import os\nimport numpy as np\nfrom transformers import AutoTokenizer\nLABELS = ["O", "B-Disease", "I-Disease"]\n'
)
"""What the base job's script has bound before the variant's lines run (the names the variants use)."""
CANARY = "CANARY-7f3a"
NATIVE_ACCESS = frozenset({"computed_safetensors_path"})
"""Variants whose access happens in native code (safetensors' Rust opens the file): the kernel stops them, the
Python audit hook never sees them, so no denial is reported (docs/site-client.md says so)."""


@dataclass
class Layout:
    home: Path
    app: Path
    script: Path
    other_job_file: Path
    listener: socket.socket

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Layout]:
    home = tmp_path / "fednode-home"
    (home / "keys").mkdir(parents=True)
    (home / "state.db").write_text(CANARY)
    (home / "nvflare").mkdir()
    (home / "nvflare" / "state.db").write_text(CANARY)  # where the variant's four levels up from its script lead
    (home / "keys" / "site.key").write_text(CANARY)
    app = home / "nvflare" / "job-1" / "app"
    (app / "job_code").mkdir(parents=True)
    other = app.parent / "other-job" / "data"
    other.mkdir(parents=True)
    (other / "train.tsv").write_text(f"{CANARY}\tO\n")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.setblocking(False)
    try:
        yield Layout(home, app, app / "job_code" / "ner_client.py", other / "train.tsv", srv)
    finally:
        srv.close()


def _argument_and_input(variant: Variant, at: Layout) -> tuple[str, str]:
    """The last argument and the standard input the variant computes its target from."""
    if variant.name == "computed_hub_id":
        return "bert-base-cased", ""
    if variant.name == "computed_url_loadtxt":
        return "", f"{at.url}/weights.txt\n"
    if variant.name == "computed_safetensors_path":
        return str(at.home / "keys" / "site.key"), ""
    if variant.name == "computed_format_string":
        return "{0.__class__.__init__}", ""
    return "", ""


def _run(variant: Variant, at: Layout, *, hook: bool) -> tuple[int, str, bool]:
    at.script.write_text(PREAMBLE + variant.append, encoding="utf-8")
    last, stdin = _argument_and_input(variant, at)
    spec = SandboxSpec.for_job(
        at.app,
        read_only=[at.app / "job_code"],
        python=sys.executable,
        env={"HF_ENDPOINT": at.url, "HOME": str(at.app), "PATH": "/usr/bin:/bin"},
        report_path=at.home / "denials.jsonl",
        audit_hook=hook,
        wall_seconds=180,
    )
    argv = [sys.executable, "-u", str(at.script), "--data_dir", "data", *([last] if last else [])]
    run = run_confined(spec, argv, input=stdin.encode())
    try:
        at.listener.accept()
        reached = True
    except BlockingIOError:
        reached = False
    output = run.stdout + run.stderr
    text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    return run.returncode, text, reached


def test_the_corpus_has_warn_only_variants_to_run() -> None:
    assert len(WARN_ONLY_VARIANTS) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("hook", [True, False], ids=["hook", "kernel-only"])
@pytest.mark.parametrize("variant", WARN_ONLY_VARIANTS, ids=lambda v: v.name)
def test_a_warn_only_variant_is_stopped_by_the_sandbox(layout: Layout, variant: Variant, hook: bool) -> None:
    code, output, reached = _run(variant, layout, hook=hook)
    assert not reached, f"{variant.name}: the job reached the network"
    assert CANARY not in output, f"{variant.name}: a site secret or another job's data was read"
    assert not (layout.app.parent / "planted.py").exists() and not (layout.home / "planted.py").exists()
    if variant.name == "computed_format_string":
        # Nothing of the site's lives in the job's process: the format string can only reach the job's own objects.
        assert code == 0, output[-2000:]
        return
    # The variant's target exists and is reachable without the sandbox, so a failed run means it was stopped.
    assert code != 0, f"{variant.name} ran to the end unconfined:\n{output[-2000:]}"
    if hook and variant.name not in NATIVE_ACCESS:
        assert read_denials(layout.home / "denials.jsonl"), f"{variant.name}: stopped but not reported"
