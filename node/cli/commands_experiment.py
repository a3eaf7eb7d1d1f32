"""`fednode experiment clients|imbalance`: the seed paper's experiments, in-process, against a central baseline."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

    from node.ml.experiments import ExperimentConfig


@dataclass(frozen=True)
class _Common:
    rounds: int
    local_epochs: int
    model: str | None
    train_limit: int | None
    test_limit: int | None
    out: Path
    device: str | None
    seed: int
    batch_size: int
    lr: float | None
    bf16: bool
    aggregator: str
    data_dir: Path | None
    protocol: str = "standard"
    subword_labels: str = "first"
    schedule: str = "constant"
    head_lr: float | None = None


def _model(cli: CliContext, common: _Common) -> str:
    return common.model or (str(cli.settings.fl.model_dir) if cli.settings.fl.model_dir else "minilm")


def _check_inputs(cli: CliContext, common: _Common) -> None:
    """The model and the data are there, before torch and transformers load (exit 4, nothing created)."""
    from node.local.inputs import check_data_dir, check_model_spec, check_out_dir
    from node.ml.algorithms import check_algorithm
    from node.ml.experiments.config import check_protocol
    from node.ml.fine_tuning import CLI_FLAGS, check_fine_tuning

    check_protocol(common.protocol, common.subword_labels)
    check_fine_tuning(schedule=common.schedule, head_lr=common.head_lr, names=CLI_FLAGS)
    check_algorithm(common.aggregator, "--aggregator")
    check_out_dir(common.out)
    check_model_spec(_model(cli, common), "--model" if common.model else "fl.model_dir")
    if common.data_dir is not None:  # flare-example re-splits all three files
        pooled = common.protocol == "flare-example"
        check_data_dir(common.data_dir, ("train.tsv", "devel.tsv", "test.tsv") if pooled else ("train.tsv", "test.tsv"))


def _config(cli: CliContext, common: _Common) -> ExperimentConfig:
    from node.ml.experiments import ExperimentConfig
    from node.ml.experiments.config import DATA_DIR

    model = _model(cli, common)
    return ExperimentConfig(
        rounds=common.rounds,
        local_epochs=common.local_epochs,
        model=model,
        train_limit=common.train_limit,
        test_limit=common.test_limit,
        device=common.device or cli.settings.fl.device,
        seed=common.seed,
        batch_size=common.batch_size,
        lr=common.lr,
        bf16=common.bf16,
        aggregator=common.aggregator,
        progress=not cli.json_output and sys.stderr.isatty(),
        data_dir=common.data_dir or DATA_DIR,
        protocol=common.protocol,
        subword_labels=common.subword_labels,
        schedule=common.schedule,
        head_lr=common.head_lr,
    )


def _run(cli: CliContext, kind: str, configurations: list[tuple[str, list[float]]], common: _Common) -> None:
    from rich.console import Console

    from node.local.logs import routed_logs, where_logs_went

    route = None
    try:  # transformers' and torch's own lines go to <out>/logs/experiment.log
        with routed_logs(common.out / "logs", "experiment", level=cli.settings.log_level, ml=True) as route:
            from node.ml.experiments import ExperimentContext, run_experiment, write_report

            config = _config(cli, common)
            ctx = ExperimentContext.load(config)
            report = run_experiment(kind, configurations, ctx)
            paths = write_report(report, common.out)
    finally:
        if route is not None:
            where_logs_went(route, Console(stderr=True))
    from node.ml.experiments import markdown_table

    payload: dict[str, Any] = {
        "ok": True,
        "experiment": kind,
        "table": {r.name: r.final for r in report.columns},
        "files": {k: str(v) for k, v in paths.items()},
        "overhead": report.overhead,
    }

    def render(console: Console) -> None:
        console.print(markdown_table(report), markup=False, highlight=False)
        for label, path in paths.items():
            console.print(f"{label}: {path}", markup=False, highlight=False)

    cli.emit(payload, render)


_Rounds = Annotated[
    int, typer.Option("--rounds", min=1, metavar="N", help="Federated rounds (central: the same epochs).")
]
_Epochs = Annotated[int, typer.Option("--local-epochs", min=1, metavar="N", help="Local epochs per round.")]
_Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="NAME|DIR",
        help="minilm, tiny or a local HF checkpoint folder, +crf for a CRF output layer (default: settings).",
    ),
]
_TrainLimit = Annotated[
    int | None, typer.Option("--train-limit", min=1, metavar="N", help="Use the first N training sentences.")
]
_TestLimit = Annotated[
    int | None,
    typer.Option("--test-limit", min=1, metavar="N", help="Score on the first N test sentences (quick runs)."),
]
_Out = Annotated[
    Path,
    typer.Option("--out", metavar="DIR", help="Folder for the JSON, Markdown table, F1 plot and logs/experiment.log."),
]
_Device = Annotated[
    str | None, typer.Option("--device", metavar="DEVICE", help="torch device, e.g. cpu or cuda (default: settings).")
]
_Seed = Annotated[int, typer.Option("--seed", metavar="N", help="Seed for shards, initial head and batches.")]
_Batch = Annotated[int, typer.Option("--batch-size", min=1, metavar="N", help="Training batch size.")]
_Lr = Annotated[
    float | None, typer.Option("--lr", metavar="RATE", help="Learning rate (default 5e-5; tiny model 3e-3).")
]
_Bf16 = Annotated[bool, typer.Option("--bf16", help="bfloat16 autocast for the forward pass.")]
_DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", metavar="DIR", help="Folder with train.tsv and test.tsv (default: bundled NCBI-disease)."
    ),
]
_Protocol = Annotated[
    str,
    typer.Option(
        "--protocol",
        metavar="NAME",
        help="standard (official split, word-level seqeval: the headline) or flare-example (NVIDIA FLARE's "
        "NER example: seeded 80/10/10 re-split, seqeval over labelled sub-words).",
    ),
]
_SubwordLabels = Annotated[
    str,
    typer.Option(
        "--subword-labels",
        metavar="first|all|continue",
        help="first: label the first sub-word of each word; all (flare-example only): every piece; continue: "
        "also train the later pieces as the word's continuation (scored on the first piece).",
    ),
]
_Schedule = Annotated[
    str,
    typer.Option(
        "--schedule",
        metavar="constant|linear",
        help="Learning rate within each local training call: constant, or linear (10 % warm-up, then decay to 0).",
    ),
]
_HeadLr = Annotated[
    float | None,
    typer.Option("--head-lr", metavar="RATE", help="Learning rate of the classifier and CRF (default: --lr)."),
]
_Agg = Annotated[
    str, typer.Option("--aggregator", metavar="NAME", help="fedavg, fedprox, scaffold, median, trimmed_mean, ...")
]


def register(app: typer.Typer) -> None:
    """Add the ``experiment`` group to the root app."""
    group = typer.Typer(help="The paper's experiments: federated vs central NER on NCBI-disease.", no_args_is_help=True)
    app.add_typer(group, name="experiment")

    @group.command("clients")
    def clients_cmd(
        ctx: typer.Context,
        sites: Annotated[
            str, typer.Option("--sites", metavar="N,N,...", help="Comma-separated site counts, even shares.")
        ] = "2,4,6",
        rounds: _Rounds = 20,
        local_epochs: _Epochs = 1,
        model: _Model = None,
        train_limit: _TrainLimit = None,
        test_limit: _TestLimit = None,
        out: _Out = Path("out/experiments"),
        device: _Device = None,
        seed: _Seed = 0,
        batch_size: _Batch = 16,
        lr: _Lr = None,
        bf16: _Bf16 = False,
        aggregator: _Agg = "fedavg",
        data_dir: _DataDir = None,
        protocol: _Protocol = "standard",
        subword_labels: _SubwordLabels = "first",
        schedule: _Schedule = "constant",
        head_lr: _HeadLr = None,
    ) -> None:
        """Federated NER with 2, 4, 6 ... sites holding even shares, against a central baseline."""
        cli = get_ctx(ctx)
        with handled_errors(cli):
            from node.ml.experiments.config import parse_sites

            counts = parse_sites(sites)

            common = _Common(
                rounds,
                local_epochs,
                model,
                train_limit,
                test_limit,
                out,
                device,
                seed,
                batch_size,
                lr,
                bf16,
                aggregator,
                data_dir,
                protocol,
                subword_labels,
                schedule,
                head_lr,
            )
            _check_inputs(cli, common)
            from node.ml.experiments import clients_configurations

            _run(cli, "clients", clients_configurations(counts), common)

    @group.command("imbalance")
    def imbalance_cmd(
        ctx: typer.Context,
        shares: Annotated[
            str,
            typer.Option("--shares", metavar="A/B,...", help="Comma-separated share groups, e.g. 50/50,75/25,90/10."),
        ] = "50/50,75/25,90/10",
        rounds: _Rounds = 20,
        local_epochs: _Epochs = 1,
        model: _Model = None,
        train_limit: _TrainLimit = None,
        test_limit: _TestLimit = None,
        out: _Out = Path("out/experiments"),
        device: _Device = None,
        seed: _Seed = 0,
        batch_size: _Batch = 16,
        lr: _Lr = None,
        bf16: _Bf16 = False,
        aggregator: _Agg = "fedavg",
        data_dir: _DataDir = None,
        protocol: _Protocol = "standard",
        subword_labels: _SubwordLabels = "first",
        schedule: _Schedule = "constant",
        head_lr: _HeadLr = None,
    ) -> None:
        """Federated NER with skewed data shares between sites, against a central baseline."""
        cli = get_ctx(ctx)
        with handled_errors(cli):
            from node.ml.experiments.config import parse_shares

            groups = parse_shares(shares)

            common = _Common(
                rounds,
                local_epochs,
                model,
                train_limit,
                test_limit,
                out,
                device,
                seed,
                batch_size,
                lr,
                bf16,
                aggregator,
                data_dir,
                protocol,
                subword_labels,
                schedule,
                head_lr,
            )
            _check_inputs(cli, common)
            from node.ml.experiments import imbalance_configurations

            _run(cli, "imbalance", imbalance_configurations(groups), common)
