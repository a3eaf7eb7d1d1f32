"""`fednode sites`: each site's credit record at the coordinator, as a table at 80 columns and as JSON; read-only."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from node.cli import app
from node.cli.commands_sites import print_credit
from node.coordinator.credit import CREDIT_DB, LATE, MISSED, ON_TIME, REFUSED, CreditStore, SiteRound
from node.kit.layout import FEDERATION_FILE, Federation


def _federation(tmp_path: Path) -> tuple[Path, Path]:
    root, server = tmp_path / "federation", tmp_path / "server"
    root.mkdir()
    server.mkdir()
    fed = Federation("fednode", root, "localhost", server, "admin", tmp_path / "admin", {}, 8002, 8002)
    (root / FEDERATION_FILE).write_text(json.dumps(fed.to_json()), encoding="utf-8")
    return root, server


def _rows(job: str, at: str) -> list[SiteRound]:
    rows = []
    for rnd in range(4):
        stamp = f"{at}:0{rnd}"
        rows.append(SiteRound(job, "s", rnd, "site-1", ON_TIME, 1.0, 1.0, 0.0, loo=0.02, loo_score=1.0, at=stamp))
        rows.append(SiteRound(job, "s", rnd, "site-flaky", (ON_TIME, MISSED, LATE, REFUSED)[rnd], at=stamp))
        rows.append(SiteRound(job, "s", rnd, "site-evil", ON_TIME, 9.0, 10.0, 1.7, loo=-0.4, loo_score=0.0, at=stamp))
    rows[-1].action = "exclude"
    return rows


def _invoke(tmp_path: Path, *args: str, json_out: bool = True) -> tuple[int, str]:
    flags = ["--json"] if json_out else []
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), *flags, "sites", *args], env={"COLUMNS": "80"})
    return res.exit_code, res.stdout


def test_no_record_yet_is_not_success_and_creates_nothing(tmp_path: Path) -> None:
    root, server = _federation(tmp_path)
    code, out = _invoke(tmp_path, "--federation", str(root))
    assert code == 4 and "no credit record" in json.loads(out)["message"]
    assert not (server / CREDIT_DB).exists() and not (tmp_path / "home").exists()


def test_the_record_is_listed_per_site_and_per_job(tmp_path: Path) -> None:
    root, server = _federation(tmp_path)
    store = CreditStore(server / CREDIT_DB)
    store.add(_rows("job-1", "2026-12-05T10:00"))
    store.add(_rows("job-2", "2026-12-05T11:00"))
    before = (server / CREDIT_DB).stat().st_mtime_ns
    code, out = _invoke(tmp_path, "--federation", str(root))
    payload = json.loads(out)
    assert code == 0 and payload["window"] == 20
    sites = payload["sites"]
    assert sites["site-1"]["score"] == 1.0 and sites["site-1"]["studies"] == 2
    assert (sites["site-flaky"]["asked"], sites["site-flaky"]["missed"], sites["site-flaky"]["refused"]) == (8, 2, 2)
    assert sites["site-flaky"]["score"] == 0.375 and sites["site-evil"]["score"] == 0.0
    assert sites["site-evil"]["excluded"] == 2
    code, out = _invoke(tmp_path, "--federation", str(root), "--job", "job-2", "--window", "2")
    assert code == 0 and json.loads(out)["sites"]["site-flaky"]["asked"] == 4
    code, out = _invoke(tmp_path, "--federation", str(root), "--window", "2")
    assert json.loads(out)["sites"]["site-flaky"]["asked"] == 2  # only its last two rounds
    code, out = _invoke(tmp_path, "--federation", str(root), "--job", "job-9")
    assert code == 4 and "job-9" in json.loads(out)["message"]
    assert (server / CREDIT_DB).stat().st_mtime_ns == before


def test_the_table_fits_80_columns(tmp_path: Path) -> None:
    root, server = _federation(tmp_path)
    CreditStore(server / CREDIT_DB).add(_rows("job-1", "2026-12-05T10:00"))
    code, out = _invoke(tmp_path, "--federation", str(root), json_out=False)
    assert code == 0, out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    evil = next(line for line in lines if line.startswith("site-evil"))
    assert "0.00" in evil and "10.00" in evil and "1 excl" in evil


def test_print_credit_takes_the_json_figures(tmp_path: Path) -> None:
    from rich.console import Console

    console = Console(width=80, record=True)
    store = CreditStore(tmp_path / "c.db")
    store.add(_rows("job-1", "2026-12-05T10:00"))
    print_credit(console, store.credit())
    assert "site-flaky" in console.export_text()


def test_study_submit_refuses_a_credit_policy_the_rule_cannot_apply(tmp_path: Path) -> None:
    for extra, says in (
        (["--credit-action", "ban"], "credit.action"),
        (["--algorithm", "median", "--credit-action", "downweight"], "use exclude"),
    ):
        res = CliRunner().invoke(
            app,
            ["--home", str(tmp_path / "home"), "--json", "study", "submit", "--credit-min-score", "0.5", *extra],
        )
        assert res.exit_code == 2 and says in json.loads(res.stdout)["message"], res.stdout
    assert not (tmp_path / "home").exists()
