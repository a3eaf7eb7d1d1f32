"""``python -m bench.ner [--size quick|cpu|full] [--only baseline,crf,...] [--device cuda]``: NER model options.

Each option of the model and its training (:mod:`node.ml.ner.crf`, :mod:`node.ml.ner.schedule`,
:mod:`node.ml.ner.subwords`, :mod:`node.ml.ner.adapt`) is trained centrally alone, with the baseline's seed, data
and step budget, and scored with the standard protocol (official split, first sub-word, word-level entity
seqeval on the whole NCBI-disease test set). ``all`` combines every option, ``best`` the options that beat the
baseline alone; ``fed-*`` trains those federated (FedAvg, even shards, the same budget of passes over the data);
``fed-crf@4`` uses 4 even sites, ``fed-crf@90-10`` two sites holding 90 % and 10 %.
Writes ``ner_model.json``, ``ner_model.md`` and ``ner_model_f1.png`` (one section a size); ``ner_model.runs.json``
keeps finished runs of each size so ``--only`` runs add up (a changed size definition starts that size over).

``quick`` (default, sized for a 2-core CPU shared by several people): the first 500 training sentences, 90
steps of 16 (3 epochs), devel = the first 150 devel sentences, MLM adaptation 40 steps of 32 on the train+devel
words.
``cpu``: every training sentence, 4 epochs, the whole devel set, 300 adaptation steps; federated rounds of a
quarter of a local epoch (16 rounds), so sites average as often as a 2-core CPU affords.
``full`` (``--full``): every training sentence, 20 epochs, the whole devel set, 2,000 adaptation steps (a GPU).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("fednode.bench.ner")
STEM = "ner_model"
OPTIONS = ("baseline", "crf", "schedule", "subwords", "mlm")
COMBINED = ("all", "best")
FEDERATED = ("fed-baseline", "fed-all", "fed-best")


@dataclass(frozen=True)
class Size:
    """How big a run is (the same for every option)."""

    train_limit: int | None
    steps: int | None
    epochs: int
    devel_limit: int | None
    eval_every: int
    adapt_steps: int
    sites: int
    batch_size: int = 16
    seed: int = 0
    base_lr: float = 5e-5
    tuned_lr: float = 1e-4
    head_lr: float = 1e-3
    patience: int = 3
    rounds_per_epoch: int = 1


QUICK = Size(train_limit=500, steps=90, epochs=3, devel_limit=150, eval_every=30, adapt_steps=40, sites=2)
CPU = Size(
    train_limit=None,
    steps=None,
    epochs=4,
    devel_limit=None,
    eval_every=170,
    adapt_steps=300,
    sites=2,
    rounds_per_epoch=4,
)
FULL = Size(train_limit=None, steps=None, epochs=20, devel_limit=None, eval_every=340, adapt_steps=2000, sites=2)
SIZES = {"quick": QUICK, "cpu": CPU, "full": FULL}


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ner", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="quick", help="run size (see the module docstring)")
    p.add_argument("--full", action="store_true", help="the same as --size full (a GPU)")
    p.add_argument(
        "--only",
        default="",
        help="comma-separated subset of " + ",".join((*OPTIONS, *COMBINED, *FEDERATED)) + " or a combination such as "
        "crf+mlm (fed-crf+mlm: federated)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--cache", type=Path, default=Path(".cache/ner-adapted"), help="adapted checkpoints")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the runs file")
    return p.parse_args(argv)


def _sites(name: str, size: Size) -> tuple[str, list[float]]:
    """``fed-crf@4`` -> (``fed-crf``, four even shares); ``fed-crf@90-10`` -> (``fed-crf``, [90, 10])."""
    base, _, tail = name.partition("@")
    if not tail:
        return base, [1.0] * size.sites
    try:
        shares = [float(x) for x in tail.split("-")] if "-" in tail else [1.0] * int(tail)
    except ValueError:
        raise SystemExit(f"bench.ner: bad site split in {name!r}; use @N (even) or @90-10") from None
    if not base.startswith("fed-") or len(shares) < 2 or any(x <= 0 for x in shares):
        raise SystemExit(f"bench.ner: {name!r}: a site split needs a fed- run and at least two positive shares")
    return base, shares


def _options(name: str, best: tuple[str, ...]) -> tuple[str, ...]:
    if name in ("baseline", "fed-baseline"):
        return ()
    if name in ("best", "fed-best"):
        return best
    if name in ("all", "fed-all"):
        return OPTIONS[1:]
    if "+" in name:  # a named combination, e.g. crf+mlm or fed-crf+mlm
        opts = tuple(name.removeprefix("fed-").split("+"))
        if any(o not in OPTIONS[1:] for o in opts):
            raise SystemExit(f"bench.ner: unknown option in {name!r}; options: {', '.join(OPTIONS[1:])}")
        return opts
    single = name.removeprefix("fed-")  # fed-crf: the crf option, federated
    if single not in OPTIONS[1:]:
        raise SystemExit(f"bench.ner: unknown run {name!r}; options: {', '.join(OPTIONS[1:])}")
    return (single,)


def _train_config(opts: tuple[str, ...], size: Size, *, steps: int | None, epochs: int, lr_scale: float = 1.0) -> Any:
    from node.ml.ner import TrainConfig

    tuned = "schedule" in opts
    return TrainConfig(
        epochs=epochs,
        batch_size=size.batch_size,
        lr=(size.tuned_lr if tuned else size.base_lr) * lr_scale,
        head_lr=size.head_lr * lr_scale if tuned else None,
        schedule="linear" if tuned else "constant",
        subword_labels="continue" if "subwords" in opts else "first",
        seed=size.seed,
        max_steps=steps,
    )


def _model(opts: tuple[str, ...], size: Size, a: argparse.Namespace, data_dir: Path) -> tuple[Any, dict[str, Any]]:
    from node.ml.ner import default_model_dir, load_ner_model
    from node.ml.ner.adapt import AdaptConfig, adapt_encoder, adapt_facts

    facts: dict[str, Any] = {}
    spec: str | Path = "minilm"
    if "mlm" in opts:
        started = time.perf_counter()
        a.cache.mkdir(parents=True, exist_ok=True)
        with (a.cache / ".lock").open("w") as lock:  # one adaptation at a time; the others reuse its folder
            fcntl.flock(lock, fcntl.LOCK_EX)
            folder = adapt_encoder(
                default_model_dir(),
                data_dir,
                a.cache,
                AdaptConfig(steps=size.adapt_steps, seed=size.seed),
                device=a.device,
            )
        facts = {"adapt": adapt_facts(folder), "adapt_wall_seconds": time.perf_counter() - started}
        spec = folder
    return load_ner_model(spec, device=a.device, seed=size.seed, crf="crf" in opts), facts


def _run_central(name: str, opts: tuple[str, ...], size: Size, a: argparse.Namespace, data: Any) -> dict[str, Any]:
    from node.ml.ner import encode_for, evaluate
    from node.ml.ner.finetune import fine_tune

    started = time.perf_counter()
    model, facts = _model(opts, size, a, data["dir"])
    train, devel, test = (encode_for(data[k], model) for k in ("train", "devel", "test"))
    config = _train_config(opts, size, steps=size.steps, epochs=size.epochs)
    tuned = "schedule" in opts
    result = fine_tune(
        model,
        train,
        config,
        devel=devel if tuned else None,
        eval_every=size.eval_every,
        patience=size.patience if tuned else None,
    )
    scores = evaluate(None, test, model=model)
    return {
        "name": name,
        "options": list(opts),
        "federated": False,
        "test": scores.scores.as_dict() | {"loss": scores.loss},
        "steps": result.steps,
        "kept_step": result.best_step,
        "devel_history": result.history,
        "train_config": asdict(config),
        "crf": model.has_crf,
        "wall_seconds": time.perf_counter() - started,
        **facts,
    }


def _run_federated(
    name: str,
    opts: tuple[str, ...],
    size: Size,
    a: argparse.Namespace,
    data: Any,
    shares: list[float],
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """FedAvg over shards of the given relative sizes, ``1 / rounds_per_epoch`` of a local epoch a round, as many
    rounds as the central run has epochs' worth of steps; with ``schedule`` the round's learning rate decays
    linearly over the rounds and the server keeps the round with the best devel F1.

    With several rounds an epoch, ``on_epoch`` gets the run as it stands after each whole epoch but the last
    (test F1 of that round's model, ``partial`` true), so a run stopped early still leaves a figure, marked."""
    from node.ml.aggregation import ClientUpdate, apply_update, make_aggregator
    from node.ml.ner import encode_for, evaluate, shard, train_local
    from node.ml.ner.schedule import linear_factor

    started = time.perf_counter()
    model, facts = _model(opts, size, a, data["dir"])
    shards = [encode_for(part, model) for part in shard(data["train"], shares, seed=size.seed)]
    devel, test = encode_for(data["devel"], model), encode_for(data["test"], model)
    n = len(data["train"])
    rounds = (math.ceil(size.steps * size.batch_size / n) if size.steps else size.epochs) * size.rounds_per_epoch
    tuned = "schedule" in opts
    agg = make_aggregator("fedavg")
    per = size.rounds_per_epoch
    state = model.state()
    best: tuple[float, int, Any] | None = None
    history: list[tuple[int, float]] = []

    def result(kept_round: int, scores: Any, done: int) -> dict[str, Any]:
        return {
            "name": name,
            "options": list(opts),
            "federated": True,
            "sites": len(shares),
            "shares": shares,
            "rounds_per_epoch": size.rounds_per_epoch,
            "rounds": done,
            "planned_rounds": rounds,
            "partial": done < rounds,
            "kept_round": kept_round,
            "devel_history": history,
            "test": scores.scores.as_dict() | {"loss": scores.loss},
            "crf": model.has_crf,
            "wall_seconds": time.perf_counter() - started,
            **facts,
        }

    for rnd in range(1, rounds + 1):
        scale = linear_factor(rnd - 1, rounds, 0) if tuned else 1.0
        updates = []
        for i, part in enumerate(shards):
            cfg = replace(
                _train_config(opts, size, steps=None, epochs=1, lr_scale=scale),
                schedule="constant",
                seed=size.seed * 1_000_003 + rnd * 1_009 + i,
                max_steps=math.ceil(len(part) / size.batch_size / per) if per > 1 else None,
            )
            local = train_local(state, part, cfg, model=model)
            updates.append(ClientUpdate(f"site-{i + 1}", local.update, local.num_examples))
        state = apply_update(state, agg.aggregate(updates).update)
        if tuned:
            f1 = evaluate(state, devel, model=model).scores.f1
            history.append((rnd, f1))
            if best is None or f1 > best[0]:
                best = (f1, rnd, {k: v.clone() for k, v in state.items()})
        if on_epoch is not None and per > 1 and rnd % per == 0 and rnd < rounds:
            on_epoch(result(rnd, evaluate(state, test, model=model), rnd))
            log.info("bench.ner: %s saved after round %d of %d", name, rnd, rounds)
    kept_round = rounds
    if best is not None:
        _, kept_round, state = best
    return result(kept_round, evaluate(state, test, model=model), rounds)


def _best(runs: dict[str, Any]) -> tuple[str, ...]:
    base = runs.get("baseline")
    if base is None:
        return ()
    return tuple(o for o in OPTIONS[1:] if o in runs and runs[o]["test"]["f1"] > base["test"]["f1"])


def _load(size: Size, data_dir: Path) -> dict[str, Any]:
    from node.ml.ner import read_conll

    return {
        "dir": data_dir,
        "train": read_conll(data_dir / "train.tsv", limit=size.train_limit),
        "devel": read_conll(data_dir / "devel.tsv", limit=size.devel_limit),
        "test": read_conll(data_dir / "test.tsv"),
    }


def report(payload: dict[str, Any]) -> str:
    """The Markdown of a ``ner_model.json`` payload."""
    runs: dict[str, Any] = payload["runs"]
    size = payload["size"]
    hw = payload["hardware"]
    base = runs.get("baseline", {}).get("test", {}).get("f1")
    where = hw.get("gpu") or f"CPU ({hw.get('cpu_count')} cores shared, {payload['threads']} torch thread(s))"
    lines = [
        f"## NER model options vs the baseline ({_size_name(payload)} size)",
        "",
        "| Run | Options | Precision | Recall | F1 | F1 vs baseline | Steps kept/run | Wall (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in runs.items():
        t = r["test"]
        delta = f"{t['f1'] - base:+.3f}" if base is not None and not r["federated"] else ""
        kept = f"r{r['kept_round']}/{r['rounds']}" if r["federated"] else f"{r['kept_step']}/{r['steps']}"
        if r.get("partial"):
            kept += f" of {r['planned_rounds']} (stopped)"
        opts = ", ".join(r["options"]) or "-"
        lines.append(
            f"| {name} | {opts} | {t['precision']:.3f} | {t['recall']:.3f} | {t['f1']:.3f} | {delta} | {kept} | "
            f"{r['wall_seconds']:.0f} |"
        )
    train = size["train_limit"] or "all"
    per = int(size.get("rounds_per_epoch", 1))
    devel_part = f"first {size['devel_limit']}" if size["devel_limit"] else "all"
    local = "one local epoch" if per == 1 else f"1/{per} of a local epoch"
    budget = f"{size['steps']} steps" if size["steps"] else f"{size['epochs']} epochs"
    lines += [
        "",
        f"Standard protocol: official split, first sub-word decoding, entity-level seqeval on the whole NCBI-disease "
        f"test set ({payload['data']['test_sentences']} sentences). Training: {train} training sentences, {budget} "
        f"of {size['batch_size']}, seed {size['seed']}; all-MiniLM-L6-v2 on {where}, torch {hw['torch']}. "
        f"Baseline: AdamW lr {size['base_lr']:g}, constant, softmax head, the last weights. `crf`: BIO-constrained "
        f"CRF layer, Viterbi decoding. `schedule`: lr {size['tuned_lr']:g} (head {size['head_lr']:g}), 10 % "
        f"warm-up then linear decay, weights kept at the best devel F1 ({devel_part} devel sentences, every "
        f"{size['eval_every']} steps, patience {size['patience']}). `subwords`: later "
        f"sub-words trained as I- continuations. `mlm`: the encoder first adapted by masked-LM on the train+devel "
        f"words ({size['adapt_steps']} steps of 32). `all`: every option together; `best`: the options that beat "
        f"the baseline alone here ({', '.join(payload['best']) or 'none'}). `fed-*`: FedAvg, {size['sites']} even "
        f"sites (`@4`: 4 even sites, `@90-10`: 90 % / 10 %), {local} a round, the same passes over the data (with "
        "`schedule`: the round's learning rate decays over the rounds and the server keeps the round with the best "
        "devel F1).",
        "",
        _findings(payload),
        "",
        *(
            [
                "With `crf` and `subwords` together the CRF stays on the first pieces (where it decodes) and the "
                "later pieces train the emissions with cross-entropy (a first version ran the CRF over every "
                "sub-word and lost recall: F1 0.431 for crf+subwords+mlm)."
            ]
            if _size_name(payload) == "quick"
            else []
        ),
        "Wall times are on a machine shared with other jobs and do not compare between rows.",
        "",
        payload["verdict"],
        "",
    ]
    return "\n".join(lines)


def _size_name(payload: dict[str, Any]) -> str:
    return str(payload.get("size_name") or ("full" if payload["full"] else "quick"))


def _verdict(payload: dict[str, Any]) -> str:
    runs = payload["runs"]
    central = max((r["test"]["f1"] for r in runs.values() if not r["federated"]), default=float("nan"))
    goal = "Goal (issue 18.2): central and federated F1 >= 0.86 on the standard test set, federated within 0.01."
    size = {"full": "full size", "cpu": "CPU size (every training sentence)"}.get(_size_name(payload), "quick CPU size")
    text = f"{goal} Best central F1 here {central:.3f}"
    reached = False
    needed = ("", "@4", "@6", "@90-10")  # 2, 4 and 6 even sites and 90/10, as the goal names them
    for cen in (n for n in runs if not runs[n]["federated"]):
        c = runs[cen]["test"]["f1"]
        feds = [n for n in runs if runs[n]["federated"] and n.partition("@")[0] == f"fed-{cen}"]
        for fed in feds:
            f = runs[fed]["test"]["f1"]
            stopped = runs[fed].get("partial")
            if stopped:
                done, planned = runs[fed]["rounds"], runs[fed]["planned_rounds"]
                text += (
                    f"; `{fed}` {f:.3f} after {done} of {planned} rounds (stopped: not comparable with `{cen}` "
                    f"{c:.3f}, trained the whole budget)"
                )
            else:
                text += f"; `{fed}` {f:.3f} vs `{cen}` {c:.3f} central ({f - c:+.3f})"
        scores = {n: runs[n]["test"]["f1"] for n in feds if not runs[n].get("partial")}
        every = all(f"fed-{cen}{tail}" in scores for tail in needed)
        reached = reached or (every and c >= 0.86 and all(f >= 0.86 and abs(c - f) <= 0.01 for f in scores.values()))
    text += f". At the {size} the goal is {'reached' if reached else 'NOT reached'}"
    notes = [] if reached else ["it needs central and federated F1 >= 0.86 with 2, 4 and 6 even sites and 90/10"]
    if _size_name(payload) == "quick":
        notes.append(
            "the quick run trains on a tenth of the training sentences for a few epochs, so its absolute F1 says"
            " little about the full run"
        )
    if notes:
        text += f" ({'; '.join(notes)})"
    return text + "."


def _findings(payload: dict[str, Any]) -> str:
    """Which single option helped most, and whether combining them added up (computed from the runs)."""
    runs = payload["runs"]
    if "baseline" not in runs:
        return ""
    base = runs["baseline"]["test"]["f1"]
    singles = {o: runs[o]["test"]["f1"] - base for o in OPTIONS[1:] if o in runs}
    combos = {n: r for n, r in runs.items() if not r["federated"] and len(r["options"]) > 1}
    parts = [", ".join(f"`{o}` {d:+.3f}" for o, d in singles.items())]
    if singles and combos:
        top, gain = max(singles.items(), key=lambda kv: kv[1])
        best_combo = max(combos.items(), key=lambda kv: kv[1]["test"]["f1"])
        verdict = "beats" if best_combo[1]["test"]["f1"] - base > gain else "does not beat"
        parts.append(
            f"the best combination (`{best_combo[0]}`: {' + '.join(best_combo[1]['options'])}, "
            f"{best_combo[1]['test']['f1'] - base:+.3f}) {verdict} the best single option (`{top}`, {gain:+.3f})"
        )
    return "F1 against the baseline, one option at a time: " + "; ".join(parts) + "."


def _plot(payload: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = payload["runs"]
    names = list(runs)
    f1 = [runs[n]["test"]["f1"] for n in names]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 3.5))
    colors = ["#888888" if "baseline" in n else ("#4c72b0" if not runs[n]["federated"] else "#dd8452") for n in names]
    labels = [
        f"{n}\n(stopped r{runs[n]['rounds']}/{runs[n]['planned_rounds']})" if runs[n].get("partial") else n
        for n in names
    ]
    ax.bar(labels, f1, color=colors)
    for i, v in enumerate(f1):
        ax.text(i, v + 0.005, f"{v:.3f}", ha="center", fontsize=8)
    ax.axhline(0.86, color="red", linestyle="--", linewidth=1, label="goal 0.86")
    ax.set_ylabel("test F1 (entity, word level)")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.set_title(f"NER options, {_size_name(payload)} size")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _read_all(checkpoint: Path) -> dict[str, Any]:
    """``{size name: {"size": ..., "runs": ...}}`` (a file of one size, the earlier format, is the quick size)."""
    if not checkpoint.is_file():
        return {}
    saved = json.loads(checkpoint.read_text(encoding="utf-8"))
    return dict(saved["sizes"]) if "sizes" in saved else {"quick": saved}


def _same(stored: dict[str, Any], size: Size) -> bool:
    """A stored size matches when every field it has agrees (fields added later take their defaults)."""
    now = asdict(size)
    defaults = asdict(Size(**{k: now[k] for k in now if k in stored}))
    return all(stored.get(k, defaults[k]) == v for k, v in now.items())


def _read_runs(checkpoint: Path, size_name: str) -> dict[str, Any]:
    entry = _read_all(checkpoint).get(size_name)
    return dict(entry["runs"]) if entry and _same(entry["size"], SIZES[size_name]) else {}


def _save(checkpoint: Path, size_name: str, name: str, run: dict[str, Any]) -> None:
    """Add one finished run to the runs file (re-read first: two ``--only`` processes may share it); a changed
    size starts that size over and keeps the others."""
    from node.ml.experiments import write_json

    every = _read_all(checkpoint)
    runs = _read_runs(checkpoint, size_name)
    runs[name] = run
    every[size_name] = {"size": asdict(SIZES[size_name]), "runs": runs}
    write_json({"sizes": every}, checkpoint)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    a = _args(argv)
    import torch

    from node.ml.experiments import hardware_info, write_json
    from node.ml.experiments.config import DATA_DIR

    torch.set_num_threads(a.threads)
    size_name = "full" if a.full else a.size
    size = SIZES[size_name]
    a.out.mkdir(parents=True, exist_ok=True)
    checkpoint = a.out / f"{STEM}.runs.json"
    runs = _read_runs(checkpoint, size_name)
    chosen = [x.strip() for x in a.only.split(",") if x.strip()] or [*OPTIONS, *COMBINED, *FEDERATED]
    plan = [(name, *_sites(name, size)) for name in ([] if a.report_only else chosen)]  # bad names fail first
    data = _load(size, DATA_DIR)
    for name, base, shares in plan:
        opts = _options(base, _best(runs))
        if base.startswith("fed-"):
            runs[name] = _run_federated(name, opts, size, a, data, shares, partial(_save, checkpoint, size_name, name))
        else:
            runs[name] = _run_central(name, opts, size, a, data)
        print(
            f"bench.ner: {name} ({', '.join(opts) or '-'}) F1 {runs[name]['test']['f1']:.4f} "
            f"in {runs[name]['wall_seconds']:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        _save(checkpoint, size_name, name, runs[name])
    runs = _read_runs(checkpoint, size_name) | runs
    named = (*OPTIONS, *COMBINED)
    combos = sorted(n for n in runs if n not in named and not n.startswith("fed-"))
    central_order = [*[n for n in named if n in runs], *combos]
    fed = [f"fed-{n}" for n in central_order if f"fed-{n}" in runs]
    order = [*central_order, *fed, *sorted(n for n in runs if n.startswith("fed-") and n not in fed)]
    payload: dict[str, Any] = {
        "size_name": size_name,
        "full": size_name == "full",
        "size": asdict(size),
        "threads": a.threads,
        "hardware": hardware_info(a.device),
        "data": {k: len(data[k]) for k in ("train", "devel", "test")} | {"test_sentences": len(data["test"])},
        "best": list(_best(runs)),
        "runs": {n: runs[n] for n in order},
    }
    payload["verdict"] = _verdict(payload)
    every = _read_payloads(a.out / f"{STEM}.json")
    if runs or size_name not in every:
        every[size_name] = payload
    ordered = {n: every[n] for n in ("full", "cpu", "quick") if n in every}
    write_json({"benchmark": "ner_model", "sizes": ordered}, a.out / f"{STEM}.json")
    text = "\n".join(report(p) for p in ordered.values())
    (a.out / f"{STEM}.md").write_text(text, encoding="utf-8")
    top = next((p for p in ordered.values() if p["runs"]), None)
    if top is not None:
        _plot(top, a.out / f"{STEM}_f1.png")
    print(text)
    return 0


def _read_payloads(path: Path) -> dict[str, Any]:
    """The report's payload of each size (a file of one payload, the earlier format, is the quick size)."""
    if not path.is_file():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    if "sizes" in saved:
        return dict(saved["sizes"])
    return {"quick": saved | {"size_name": "quick"}}


if __name__ == "__main__":
    sys.exit(main())
