"""Metrics streamed through NVFlare (SummaryWriter of nvflare.client.tracking), a log file in the working folder."""

import argparse
import json
import logging
import os
import time

import nvflare.client as flare
import torch
from nvflare.client.tracking import SummaryWriter
from torch import nn

OUT_DIR = "outputs"


def setup_logging():
    os.makedirs(OUT_DIR, exist_ok=True)
    handler = logging.FileHandler(os.path.join(OUT_DIR, "train.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def load_xy(data_dir):
    xs, ys = [], []
    with open(os.path.join(data_dir, "train.tsv"), encoding="utf-8") as fh:
        for line in fh:
            cells = line.rstrip("\n").split("\t")
            if len(cells) == 2:
                xs.append([len(cells[0]), cells[0].isupper()])
                ys.append(int(cells[1] != "O"))
    return torch.tensor(xs, dtype=torch.float32), torch.tensor(ys)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    args = parser.parse_args()
    setup_logging()
    x, y = load_xy(args.data_dir)
    model = nn.Linear(2, 2)
    writer = SummaryWriter()

    flare.init()
    history = []
    while flare.is_running():
        received = flare.receive()
        model.load_state_dict(received.params)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        started = time.monotonic()
        for step in range(10):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            writer.add_scalar("train_loss", loss.item(), global_step=received.current_round * 10 + step)
        history.append({"round": received.current_round, "loss": loss.item(), "seconds": time.monotonic() - started})
        with open(os.path.join(OUT_DIR, "history.json"), "w", encoding="utf-8") as fh:
            json.dump(history, fh, indent=2)
        logging.info("round %s loss %.4f", received.current_round, loss.item())
        flare.send(flare.FLModel(params=model.state_dict(), meta={"NUM_STEPS_CURRENT_ROUND": 10}))


if __name__ == "__main__":
    main()
