"""Logistic regression in plain numpy: parameters travel as numpy arrays."""

import argparse
import os

import numpy as np
import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType


def featurise(token):
    return [1.0, len(token) / 10.0, float(token[:1].isupper()), float(any(c.isdigit() for c in token))]


def load(data_dir):
    rows = []
    with open(os.path.join(data_dir, "train.tsv"), encoding="utf-8") as fh:
        for line in fh:
            if "\t" in line:
                token, tag = line.rstrip("\n").split("\t")
                rows.append((featurise(token), 0.0 if tag == "O" else 1.0))
    x = np.asarray([r[0] for r in rows], dtype=np.float64)
    y = np.asarray([r[1] for r in rows], dtype=np.float64)
    return x, y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    x, y = load(args.data_dir)
    rng = np.random.default_rng(0)

    flare.init()
    while flare.is_running():
        model = flare.receive()
        w = np.asarray(model.params.get("w", rng.normal(0, 0.01, x.shape[1])), dtype=np.float64)
        w0 = w.copy()
        for _ in range(args.steps):
            grad = x.T @ (sigmoid(x @ w) - y) / len(y)
            w -= args.lr * grad
        loss = float(-np.mean(y * np.log(sigmoid(x @ w) + 1e-9) + (1 - y) * np.log(1 - sigmoid(x @ w) + 1e-9)))
        flare.send(
            FLModel(
                params_type=ParamsType.DIFF,
                params={"w": w - w0},
                metrics={"loss": loss},
                meta={"NUM_STEPS_CURRENT_ROUND": args.steps},
            )
        )


if __name__ == "__main__":
    main()
