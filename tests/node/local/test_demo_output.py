"""The demo's result at 80 columns (site names and the model path are never cut), and its sites' environment."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from node.local.demo import DemoResult

MODEL = "/tmp/fednode-demo-abc/results/18c82196-4d40-4ee0-9368-54a4e0c16793/workspace/global_model.safetensors"


def test_the_result_table_wraps_site_names_and_keeps_the_model_path_whole() -> None:
    sites = ["site-1", "site-2", "site-3"]
    result = DemoResult(
        workdir="/tmp/fednode-demo-abc",
        job_id="18c82196-4d40-4ee0-9368-54a4e0c16793",
        sites=sites,
        rounds=[{"round": 0, "sites": sites, "metrics": {}, "global": {"f1": 0.5}, "seconds": 8.0}],
        model=MODEL,
        signed_by="1c4247d2b99552bf",
    )
    out = io.StringIO()
    result.render(Console(file=out, width=80, color_system=None))
    text = out.getvalue()
    assert "…" not in text
    for site in sites:
        assert site in text
    assert MODEL in text


def test_the_demo_sites_get_a_deid_secret_that_stays_out_of_the_nvflare_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site refuses to load surrogates into its CDM without a secret: the demo's `fednode etl` runs get one."""
    from node.local.demo import _FLARE_ENV, DemoConfig, demo_environment

    monkeypatch.delenv("FEDNODE_DEID__SECRET", raising=False)
    env = demo_environment(DemoConfig(sites=2), tmp_path)
    assert len(env["FEDNODE_DEID__SECRET"]) >= 32
    assert env["HOME"] == str(tmp_path / "nvflare-home")
    assert "FEDNODE_DEID__SECRET" not in _FLARE_ENV  # the coordinator and site processes do not need it
