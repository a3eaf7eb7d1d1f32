"""FedAvg with the Client API: a small tagger over token features, trained on the staged data/train.tsv."""

import argparse
import os

import nvflare.client as flare
import torch
from torch import nn

TAGS = ["O", "B-Disease", "I-Disease"]


def read_tsv(path):
    """TOKEN<TAB>TAG lines, a blank line between sentences."""
    sentences, current = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                if current:
                    sentences.append(current)
                current = []
                continue
            token, tag = line.split("\t")
            current.append((token, tag))
    if current:
        sentences.append(current)
    return sentences


def features(token):
    return torch.tensor([len(token) / 20.0, float(token[:1].isupper()), float(token.isdigit()), float("-" in token)])


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, len(TAGS)))

    def forward(self, x):
        return self.net(x)


def batches(sentences):
    xs = [features(t) for s in sentences for t, _ in s]
    ys = [TAGS.index(tag) if tag in TAGS else 0 for s in sentences for _, tag in s]
    return torch.stack(xs), torch.tensor(ys)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    x, y = batches(read_tsv(os.path.join(args.data_dir, "train.tsv")))
    model = Tagger()
    loss_fn = nn.CrossEntropyLoss()

    flare.init()
    print(f"site {flare.get_site_name()} starts")
    while flare.is_running():
        input_model = flare.receive()
        model.load_state_dict(input_model.params)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        steps = 0
        for _ in range(args.epochs):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            steps += 1
        with torch.no_grad():
            accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
        output = flare.FLModel(
            params=model.cpu().state_dict(),
            metrics={"accuracy": accuracy},
            meta={"NUM_STEPS_CURRENT_ROUND": steps},
        )
        flare.send(output)


if __name__ == "__main__":
    main()
