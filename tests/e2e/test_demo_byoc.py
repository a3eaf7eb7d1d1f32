"""`fednode demo --job examples/byoc-ner`: a researcher's own NVFlare job through the whole local federation.

Two hospitals and a coordinator as real processes on loopback (gRPC, mutual TLS): the job folder is submitted as
the researcher wrote it, HELD until each site approves it, each site stages its NER split and the base
checkpoint's tokenizer and config for it, the job's own Client API script trains, the coordinator signs the
global model, and the model is scored on the NCBI-disease test set. Afterwards no staged data is left behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from node.local.demo import DemoConfig, run_demo

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]  # ~2.5 min on 2 loaded cores

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "byoc-ner"


def test_a_byoc_job_runs_held_approved_trained_signed_and_scored(tmp_path: Path) -> None:
    config = DemoConfig(
        sites=2,
        auto_approve=True,
        rounds=2,
        sentences=60,
        test_sentences=60,
        dev_sentences=0,
        model_spec="tiny",
        job=EXAMPLE,
        workdir=tmp_path / "demo",
        approval_timeout_s=300,
        training_timeout_s=900,
    )
    result = run_demo(config, console=Console(stderr=True), progress=True)

    assert result.job_id and len(result.digest) == 64
    assert result.approval_to_run_s is not None  # it was held, then scheduled after the approvals
    assert [r["round"] for r in result.rounds] == [0, 1]
    assert all(sorted(r["sites"]) == ["site-1", "site-2"] for r in result.rounds)
    # the job's own script reported its metrics: the loss and seqeval on the staged dev split
    for metrics in result.rounds[-1]["metrics"].values():
        assert {"train_loss", "dev_f1"} <= set(metrics)
    assert Path(result.model).is_file() and result.signed_by
    # each site's egress step attached its signed approval receipt; each verifies with that site's own key
    assert sorted(result.receipts) == ["site-1", "site-2"]
    assert 0.0 <= result.test["f1"] <= 1.0 and result.test["support"] > 0
    # the job's code ran confined at each site (the launcher wrote a sandbox spec for it)
    specs = list((tmp_path / "demo").rglob(f"{result.job_id}/fednode-sandbox/spec.json"))
    assert len(specs) == 2
    # staged data is removed when the job ends
    leftovers = [p for p in (tmp_path / "demo").rglob("data/train.tsv") if "app" in p.parent.parent.name]
    assert leftovers == []
