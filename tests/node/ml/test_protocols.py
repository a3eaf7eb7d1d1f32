"""The two evaluation protocols: standard (official split, word-level) and flare-example (re-split, sub-word)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from fednode.errors import ConfigError
from node.ml.experiments import ExperimentConfig, ExperimentContext, clients_configurations, run_experiment
from node.ml.experiments.protocol import encode_all_subwords, load_splits, resplit
from node.ml.ner import IGNORE_INDEX, LABEL2ID, NerExample, encode, load_ner_model, read_conll
from node.ml.ner.evaluate import labelled_positions, token_accuracy
from tests.node.ner_support import MINI


def _sentences(n: int) -> list[NerExample]:
    return [NerExample((f"w{i}", "."), ("O", "O")) for i in range(n)]


def test_resplit_is_seeded_80_10_10_and_disjoint() -> None:
    pooled = _sentences(100)
    a, b = resplit(pooled), resplit(pooled)
    assert (len(a.train), len(a.devel), len(a.test)) == (80, 10, 10)
    assert a == b  # fixed seed: the same split every time
    seen = [ex.tokens[0] for ex in (*a.train, *a.devel, *a.test)]
    assert sorted(seen) == sorted(ex.tokens[0] for ex in pooled)
    assert [ex.tokens[0] for ex in a.train[:10]] != [f"w{i}" for i in range(10)]  # shuffled, not cut in order


def test_flare_split_pools_all_three_files_and_standard_keeps_the_official_one() -> None:
    standard = load_splits("standard", MINI)
    flare = load_splits("flare-example", MINI)
    total = sum(len(read_conll(MINI / f)) for f in ("train.tsv", "devel.tsv", "test.tsv"))
    assert standard.test == read_conll(MINI / "test.tsv")
    assert len(flare.train) + len(flare.devel) + len(flare.test) == total
    assert len(flare.test) == round(0.1 * total) or len(flare.test) == total - len(flare.train) - len(flare.devel)
    official_train = set(read_conll(MINI / "train.tsv"))
    assert any(ex in official_train for ex in flare.test)  # official training sentences now in the test set


def test_all_subword_labelling_tags_every_piece_with_its_words_tag() -> None:
    tok = load_ner_model("tiny", seed=0).tokenizer
    ex = NerExample(("Duchenne", "muscular", "dystrophy", "."), ("B-Disease", "I-Disease", "I-Disease", "O"))
    first = encode([ex], tok).encoded[0]
    every = encode_all_subwords([ex], tok).encoded[0]
    assert first.input_ids == every.input_ids
    pieces = [w for w in every.word_ids if w is not None]
    assert len(pieces) > 4  # the tiny vocabulary splits these words
    for lab, w in zip(every.labels, every.word_ids, strict=True):
        assert lab == (IGNORE_INDEX if w is None else LABEL2ID[ex.tags[w]])
    assert sum(lab != IGNORE_INDEX for lab in first.labels) == 4


def test_subword_scoring_reads_only_labelled_positions() -> None:
    labels = [IGNORE_INDEX, 1, IGNORE_INDEX, 2, 0, IGNORE_INDEX]
    logits = torch.zeros(6, 3)
    for pos, cls in enumerate([0, 1, 0, 0, 0, 2]):
        logits[pos, cls] = 1.0
    gold, pred = labelled_positions(logits, labels)
    assert gold == ("B-Disease", "I-Disease", "O") and pred == ("B-Disease", "O", "O")
    assert token_accuracy([gold], [pred]) == pytest.approx(2 / 3)


def test_unknown_protocol_or_labelling_is_refused() -> None:
    with pytest.raises(ConfigError, match="--protocol"):
        ExperimentConfig(protocol="paper")
    with pytest.raises(ConfigError, match="--subword-labels"):
        ExperimentConfig(protocol="standard", subword_labels="all")


@pytest.mark.parametrize(
    ("protocol", "labels"), [("standard", "first"), ("flare-example", "first"), ("flare-example", "all")]
)
def test_both_protocols_run_end_to_end_on_the_mini_corpus(protocol: str, labels: str) -> None:
    cfg = ExperimentConfig(
        rounds=1,
        model="tiny",
        train_limit=32,
        test_limit=16,
        data_dir=MINI,
        progress=False,
        protocol=protocol,
        subword_labels=labels,
    )
    report = run_experiment("clients", clients_configurations([2]), ExperimentContext.load(cfg))
    for run in report.columns:
        assert set(run.final) == {"precision", "recall", "f1", "accuracy"}
        assert 0.0 <= run.final["accuracy"] <= 1.0
    assert report.as_dict()["config"]["protocol"] == protocol


def test_cli_takes_the_protocol(tmp_path: Path, fednode_home: Path) -> None:
    from node.cli import app

    out = tmp_path / "out"
    args = ["--json", "experiment", "clients", "--sites", "2", "--rounds", "1", "--model", "tiny"]
    args += ["--train-limit", "16", "--test-limit", "8", "--data-dir", str(MINI), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--protocol", "flare-example"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert "accuracy" in payload["table"]["Central"]
    assert "flare-example" in (out / "experiment_clients.md").read_text()
    bad = CliRunner().invoke(app, [*args, "--protocol", "paper"])
    assert bad.exit_code == 2 and "--protocol" in bad.output
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["standard", "flare-example"])
def test_quick_size_run_of_each_protocol(protocol: str) -> None:
    """The README's CPU quick size (tiny BERT, 600 training sentences), cut to 1 round and 2 sites here."""
    cfg = ExperimentConfig(rounds=1, model="tiny", train_limit=600, progress=False, protocol=protocol)
    ctx = ExperimentContext.load(cfg)
    assert len(ctx.train) == 600
    assert len(ctx.test) == (940 if protocol == "standard" else 728)
    report = run_experiment("clients", clients_configurations([2]), ctx)
    assert all(0.0 <= v <= 1.0 for run in report.columns for v in run.final.values())


def test_flare_example_needs_the_devel_file_too(tmp_path: Path, fednode_home: Path) -> None:
    from node.cli import app

    data = tmp_path / "data"
    data.mkdir()
    for name in ("train.tsv", "test.tsv"):
        (data / name).write_bytes((MINI / name).read_bytes())
    args = ["experiment", "clients", "--model", "tiny", "--data-dir", str(data), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--protocol", "flare-example"])
    assert result.exit_code == 4 and "missing devel.tsv" in result.stderr
    assert not (tmp_path / "out").exists()


def test_fltrust_root_set_comes_from_the_resplit_validation_sentences() -> None:
    from dataclasses import replace

    from node.ml.experiments import run_federation
    from node.ml.experiments.simulation import _root_set

    cfg = ExperimentConfig(rounds=1, model="tiny", train_limit=16, test_limit=8, data_dir=MINI, progress=False)
    cfg = replace(cfg, protocol="flare-example", aggregator="fltrust", extra={"root_size": 8})
    ctx = ExperimentContext.load(cfg)
    root = _root_set(cfg, ctx.model)
    assert list(root.examples) == load_splits("flare-example", MINI).devel[:8]
    run = run_federation(
        "fltrust", ctx.encode_shards([1.0, 1.0]), ctx.test, cfg, model=ctx.model, initial_state=ctx.initial_state
    )
    assert 0.0 <= run.final["f1"] <= 1.0
