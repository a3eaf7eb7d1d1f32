"""The built-in NER trainer: BERT-style token classification (O / B-Disease / I-Disease), framework-free.

Weights travel as plain ``dict[str, torch.Tensor]`` state dicts, so an NVFlare executor, the in-process
experiments and the tests all call the same functions::

    from node.ml.ner import TrainConfig, evaluate, load_ner_model, read_conll, train_local
    model = load_ner_model("minilm", device="cpu", seed=0)      # or "tiny", or a local HF checkpoint folder
    global_state = model.state()                                 # what the server sends in round 0
    train = read_conll(Path("fednode/data/ncbi-disease/train.tsv"))      # or examples_from_cdm(engine) at a site
    result = train_local(global_state, train, TrainConfig(epochs=1, seed=7), model=model)
    result.update          # local - global (float entries only): what the site sends
    result.num_examples    # the aggregation weight
    result.metrics         # {"train_loss", "steps", "seconds"[, "epsilon"]}: numbers only
    scores = evaluate(new_global_state, test, model=model).metrics()   # precision, recall, f1, support, loss

FedProx: ``TrainConfig(fedprox_mu=0.01)``. SCAFFOLD: pass ``scaffold=ScaffoldControls(global_c, local_c)``
(empty dicts in round 0); the result carries ``control_delta`` (send) and ``local_control`` (keep).
DP-SGD: pass ``dp=DpRun(params=DpParams(...), store=<policies ledger>, dataset="omop", job_id=...)``; the ledger
(:class:`AccountantStore`) holds the accountant's history across rounds and jobs, and a run that would pass the
policy's target ε raises :class:`fednode.errors.BudgetExceededError` before its first step.

Encode once with :func:`encode_for` and pass the :class:`EncodedDataset` to avoid re-tokenising every round.
"""

from __future__ import annotations

from node.ml.ner.cdm import examples_from_cdm, notes_to_examples
from node.ml.ner.data import CharSpan, NerExample, count_entities, read_conll, shard, spans_to_example, split_sentences
from node.ml.ner.dp import AccountantStore, DpRun, MemoryAccountantStore, epsilon_of
from node.ml.ner.encoding import MAX_LENGTH, Encoded, EncodedDataset, encode
from node.ml.ner.evaluate import EvalResult, evaluate
from node.ml.ner.labels import ID2LABEL, IGNORE_INDEX, LABEL2ID, LABELS
from node.ml.ner.metrics import EntityScores, entity_scores
from node.ml.ner.model import MINILM, TINY, NerModel, StateDict, default_model_dir, load_ner_model
from node.ml.ner.train import LocalResult, ScaffoldControls, TrainConfig, encode_for, train_local

__all__ = [
    "ID2LABEL",
    "IGNORE_INDEX",
    "LABEL2ID",
    "LABELS",
    "MAX_LENGTH",
    "MINILM",
    "TINY",
    "AccountantStore",
    "CharSpan",
    "DpRun",
    "Encoded",
    "EncodedDataset",
    "EntityScores",
    "EvalResult",
    "LocalResult",
    "MemoryAccountantStore",
    "NerExample",
    "NerModel",
    "ScaffoldControls",
    "StateDict",
    "TrainConfig",
    "count_entities",
    "default_model_dir",
    "encode",
    "encode_for",
    "entity_scores",
    "epsilon_of",
    "evaluate",
    "examples_from_cdm",
    "load_ner_model",
    "notes_to_examples",
    "read_conll",
    "shard",
    "spans_to_example",
    "split_sentences",
    "train_local",
]
