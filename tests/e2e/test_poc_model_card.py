"""The model card end to end: three hospitals and a coordinator as real processes (gRPC, mutual TLS); the third
hospital's held-back notes are in another script (ROT13: the same words and gold spans in letters the model never
trained on), so the consortium's model is weaker there.

Shows: after the last round every site evaluates the final model on its own held-back split and returns only
rounded figures; the card beside the signed model holds each site's figures, equal to what that site computes
locally for the same model, flags the skewed site in plain words, carries every site's approval receipt and its
DP charge (none here: the demo trains without DP-SGD, which the card says), the submitter's limitations, and fails
verification when one byte of it changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console
from safetensors.torch import load_file
from typer.testing import CliRunner

from fednode.errors import SignatureError
from fednode.settings import load_settings
from node.coordinator.launcher import LocalFederation
from node.coordinator.model_card import CARD_JSON, read_card
from node.coordinator.signing import MODEL_FILE, verify_signed_model
from node.coordinator.study import StudyClient, StudySpec, build_job
from node.local.demo import Consortium, DemoConfig, approve_as_demo, prepare_consortium
from node.local.harness import Steps
from node.ml.ner.model import load_ner_model
from node.site.validation import is_held_back, local_evaluation
from omop_etl.db import make_engine
from policies.state_db import open_state_db

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SKEWED = "site-3"
LIMITATIONS = "Trained on public NCBI-disease sentences posing as notes; not validated on clinical text."


@dataclass
class Running:
    consortium: Consortium
    federation: LocalFederation
    client: StudyClient

    @property
    def sites(self) -> list[str]:
        return list(self.consortium.homes)

    def public_key(self, site: str) -> str:
        db = open_state_db(load_settings(home=self.consortium.homes[site], site_name=site))
        try:
            return db.key.public_pem
        finally:
            db.close()


def encipher_held_back_notes(cdm_url: str, site: str) -> int:
    """Rewrite the site's held-back notes in another script (ROT13 of every letter): the same words, positions and
    gold spans, in a text the model never trained on; its training notes stay as they are. Returns the notes
    changed."""
    import codecs

    from sqlalchemy import select, update

    from omop_etl.cdm import Note, NoteNlp
    from omop_etl.notes import GOLD_SYSTEM
    from policies.policy_model import EvaluationSection

    fraction = EvaluationSection().holdout_fraction
    engine = make_engine(cdm_url)
    changed = 0
    try:
        with engine.begin() as conn:
            for note_id, text in conn.execute(select(Note.note_id, Note.note_text)).all():
                if not is_held_back(note_id, site=site, fraction=fraction):
                    continue
                conn.execute(update(Note).where(Note.note_id == note_id).values(note_text=codecs.encode(text, "rot13")))
                spans = conn.execute(
                    select(NoteNlp.note_nlp_id, NoteNlp.lexical_variant).where(
                        NoteNlp.note_id == note_id, NoteNlp.nlp_system == GOLD_SYSTEM
                    )
                ).all()
                for row_id, lexical in spans:
                    conn.execute(
                        update(NoteNlp)
                        .where(NoteNlp.note_nlp_id == row_id)
                        .values(lexical_variant=codecs.encode(lexical, "rot13"))
                    )
                changed += 1
    finally:
        engine.dispose()
    return changed


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    config = DemoConfig(sites=3, sentences=600, model_spec="tiny", rounds=3, workdir=tmp_path_factory.mktemp("card"))
    consortium = prepare_consortium(config, Steps(Console(stderr=True), False))
    home = consortium.homes[SKEWED]
    assert encipher_held_back_notes(load_settings(home=home, site_name=SKEWED).omop_db_url, SKEWED) > 10
    with LocalFederation(consortium.federation, site_homes=consortium.homes, env=consortium.env) as lf:
        lf.start(timeout_s=300)
        yield Running(consortium, lf, StudyClient(consortium.federation))


def _pending(run: Running, job_id: str) -> bool:
    for site, home in run.consortium.homes.items():
        db = open_state_db(load_settings(home=home, site_name=site))
        try:
            if not any(j.job_id == job_id for j in db.jobs.list_jobs()):
                return False
        finally:
            db.close()
    return True


def test_the_signed_card_holds_each_sites_own_figures_and_flags_the_skewed_site(
    running: Running, tmp_path: Path
) -> None:
    spec = StudySpec(
        name="card-poc",
        sites=tuple(running.sites),
        rounds=3,
        model_spec="tiny",
        local_epochs=3,
        batch_size=8,
        learning_rate=3e-3,
        wait_after_min_s=5,
        limitations=LIMITATIONS,
        spread_threshold=0.05,
    )
    job, digest = build_job(spec, tmp_path)
    job_id = running.client.submit(job)
    deadline = time.monotonic() + 120
    while not _pending(running, job_id):
        assert time.monotonic() < deadline, "every site to hold the job"
        time.sleep(1.0)
    for site, home in running.consortium.homes.items():
        approve_as_demo(home, site, job_id)
    final = running.client.wait(job_id, timeout_s=900)
    assert final.status == "FINISHED:COMPLETED", final

    folder = running.client.download(job_id, tmp_path / "out")
    keys = {site: running.public_key(site) for site in running.sites}
    verified = verify_signed_model(folder, [running.client.trusted_key()], expected_job_digest=digest, site_keys=keys)
    card = read_card(folder, verified.provenance.attachments)

    # each site's figures on the card are what that site computes for the same model on its held-back split
    model = load_ner_model("tiny", seed=0)
    state = load_file(str(folder / MODEL_FILE))
    overall = {}
    for site, home in running.consortium.homes.items():
        settings = load_settings(home=home, site_name=site)
        engine = make_engine(settings.omop_db_url)
        try:
            local = local_evaluation(engine, state, model=model, site=site, policy=_policy(home, site))
        finally:
            engine.dispose()
        rows = {g["scope"]: g for g in card["evaluation"]["groups"] if g["site"] == site}
        for scope, figures in local.groups.items():
            row = rows[scope]
            assert (row["precision"], row["recall"], row["f1"], row["support"], row["suppressed"]) == (
                figures.precision,
                figures.recall,
                figures.f1,
                figures.support,
                figures.suppressed,
            ), (site, scope)
        overall[site] = rows["all"]["f1"]
    print("card F1 per site:", overall)  # the figures, for the log

    spread = next(s for s in card["evaluation"]["spreads"] if s["dimension"] == "site")
    assert spread["flagged"] and spread["worst"]["group"] == SKEWED
    assert SKEWED in [w["group"] for w in spread["weaker"]]
    assert any(f.startswith(f"The model is weaker at {SKEWED}") for f in card["evaluation"]["findings"])

    rows = {s["site"]: s for s in card["sites"]}
    assert sorted(rows) == running.sites
    for row in rows.values():
        assert row["evaluated"] and row["records"] and row["records"] % 10 == 0
        assert row["approval"]["evidence"] == "signed_receipt" and row["approval"]["digest"] == digest
        assert row["approval"]["approvers"] and row["rounds_contributed"] == 3
        assert "epsilon" in row and row["epsilon"] is None and row["dp"] is None  # the demo trains without DP
    assert any(x.startswith("No differential-privacy charge reported by") for x in card["limitations"]["automatic"])
    assert card["limitations"]["submitter"] == LIMITATIONS
    assert card["training"]["rounds_run"] == 3 and card["decisions"]["coordinator_key_id"] == verified.key_id

    # the card's command prints it; one changed byte fails verification (exit 5)
    result = CliRunner().invoke(_app(), ["model", "card", str(folder)], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and f"weaker at {SKEWED}" in result.output
    path = folder / CARD_JSON
    data = bytearray(path.read_bytes())
    data[data.index(b'"f1"') + 7] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(SignatureError, match=CARD_JSON):
        verify_signed_model(folder, [running.client.trusted_key()])
    result = CliRunner().invoke(_app(), ["model", "card", str(folder)], env={"COLUMNS": "80"})
    assert result.exit_code == 5


def _policy(home: Path, site: str):  # type: ignore[no-untyped-def]
    db = open_state_db(load_settings(home=home, site_name=site), require_policy=True)
    try:
        return db.policy
    finally:
        db.close()


def _app():  # type: ignore[no-untyped-def]
    from node.cli.main import app

    return app
