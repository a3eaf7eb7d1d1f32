"""Federated disease NER with NVFlare's Client API: fine-tune a token classifier on this site's notes.

Each round: receive the global weights, score them on the local dev split (seqeval, entity level), train for
``--local_epochs`` on the local train split, send the new weights back with the number of steps taken.
The site stages the data and the model's tokenizer and config (``--data_dir data --model_dir model``); the weights
come from the server.
"""

import argparse
from pathlib import Path

import nvflare.client as flare
import torch
from ner_data import batches, encode, predicted_tags, read_tsv
from seqeval.metrics import f1_score, precision_score, recall_score
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--local_epochs", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def evaluate(model, sentences, tokenizer, config, batch_size):
    """Entity-level precision, recall and F1 on ``sentences``."""
    if not sentences:
        return {}
    model.eval()
    gold, pred = [], []
    with torch.no_grad():
        for chunk in batches(sentences, batch_size):
            batch = encode(chunk, tokenizer, config.label2id)
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            for (_, tags), tagged in zip(chunk, predicted_tags(batch, logits, config.id2label), strict=True):
                gold.append(tags[: len(tagged)])
                pred.append(tagged)
    return {
        "dev_precision": float(precision_score(gold, pred, zero_division=0)),
        "dev_recall": float(recall_score(gold, pred, zero_division=0)),
        "dev_f1": float(f1_score(gold, pred, zero_division=0)),
    }


def train(model, sentences, tokenizer, config, args, round_number):
    """Local AdamW epochs; returns the steps taken and the mean loss."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    steps, total = 0, 0.0
    for epoch in range(args.local_epochs):
        for chunk in batches(sentences, args.batch_size, seed=args.seed + 1000 * round_number + epoch):
            loss = model(**encode(chunk, tokenizer, config.label2id)).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            total += loss.item()
    return steps, total / max(steps, 1)


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    config = AutoConfig.from_pretrained(args.model_dir, local_files_only=True)
    model = AutoModelForTokenClassification.from_config(config)
    train_set = read_tsv(Path(args.data_dir) / "train.tsv")
    dev_set = read_tsv(Path(args.data_dir) / "dev.tsv")

    flare.init()
    site = flare.get_site_name()
    print(f"{site}: {len(train_set)} training and {len(dev_set)} dev sentences")
    while flare.is_running():
        input_model = flare.receive()
        if input_model is None:
            break
        if input_model.params:
            model.load_state_dict({k: torch.as_tensor(v) for k, v in input_model.params.items()})
        metrics = evaluate(model, dev_set, tokenizer, config, args.batch_size)
        steps, loss = train(model, train_set, tokenizer, config, args, input_model.current_round or 0)
        metrics["train_loss"] = loss
        print(f"{site}: round {input_model.current_round}: {metrics}")
        flare.send(
            flare.FLModel(
                params={k: v.detach().cpu() for k, v in model.state_dict().items()},
                metrics=metrics,
                meta={"NUM_STEPS_CURRENT_ROUND": steps},
            )
        )


if __name__ == "__main__":
    main()
