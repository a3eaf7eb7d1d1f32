"""Train and evaluate: answers both the train task and the server's validation task (local evaluation)."""

import argparse
import logging
import math
import os
from collections import Counter

import nvflare.client as flare
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

logger = logging.getLogger(__name__)


def tokens_and_tags(path):
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split("\t")
            if len(parts) == 2:
                out.append((parts[0], parts[1]))
    return out


def to_tensors(pairs, vocab):
    ids = torch.tensor([vocab.get(t.lower(), 0) for t, _ in pairs])
    tags = torch.tensor([0 if tag == "O" else 1 for _, tag in pairs])
    return TensorDataset(ids, tags)


def evaluate(model, loader):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for ids, tags in loader:
            right += (model(ids).argmax(-1) == tags).sum().item()
            total += len(tags)
    return right / max(total, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--eval_only", action="store_true")
    args = parser.parse_args()

    train_pairs = tokens_and_tags(os.path.join(args.data_dir, "train.tsv"))
    dev_pairs = tokens_and_tags(os.path.join(args.data_dir, "dev.tsv"))
    counts = Counter(t.lower() for t, _ in train_pairs)
    vocab = {w: i + 1 for i, (w, _) in enumerate(counts.most_common(4999))}
    train_loader = DataLoader(to_tensors(train_pairs, vocab), batch_size=64, shuffle=True)
    dev_loader = DataLoader(to_tensors(dev_pairs, vocab), batch_size=256)
    model = nn.Sequential(nn.Embedding(5000, 32), nn.Linear(32, 2))

    flare.init()
    while flare.is_running():
        input_model = flare.receive()
        model.load_state_dict(input_model.params)
        score = evaluate(model, dev_loader)
        if flare.is_evaluate() or args.eval_only:
            flare.send(flare.FLModel(metrics={"accuracy": score}))
            continue
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
        model.train()
        steps = 0
        for ids, tags in train_loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(ids), tags)
            loss.backward()
            optimizer.step()
            steps += 1
        logger.info("round done, loss %.3f, perplexity %.2f", loss.item(), math.exp(min(loss.item(), 20)))
        flare.send(
            flare.FLModel(
                params=model.state_dict(), metrics={"accuracy": score}, meta={"NUM_STEPS_CURRENT_ROUND": steps}
            )
        )


if __name__ == "__main__":
    main()
