"""DP-SGD with Opacus: per-sample clipping and noise, one privacy engine kept across rounds."""

import argparse
import os

import nvflare.client as flare
import torch
from opacus import PrivacyEngine
from opacus.validators import ModuleValidator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def dataset(data_dir):
    xs, ys = [], []
    with open(os.path.join(data_dir, "train.tsv"), encoding="utf-8") as fh:
        for line in fh:
            if "\t" not in line:
                continue
            token, tag = line.rstrip("\n").split("\t")
            xs.append([len(token) / 10, token.isupper(), token.istitle()])
            ys.append(0 if tag == "O" else 1)
    return TensorDataset(torch.tensor(xs, dtype=torch.float32), torch.tensor(ys))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--noise_multiplier", type=float, default=1.0)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-5)
    args = parser.parse_args()

    model = ModuleValidator.fix(nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(dataset(args.data_dir), batch_size=32, shuffle=True)
    engine = PrivacyEngine(accountant="prv")
    model, optimizer, loader = engine.make_private(
        module=model,
        optimizer=optimizer,
        data_loader=loader,
        noise_multiplier=args.noise_multiplier,
        max_grad_norm=args.max_grad_norm,
    )

    flare.init()
    while flare.is_running():
        received = flare.receive()
        model._module.load_state_dict(received.params)
        steps = 0
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            steps += 1
        epsilon = engine.get_epsilon(delta=args.delta)
        flare.send(
            flare.FLModel(
                params=model._module.state_dict(),
                metrics={"epsilon": epsilon},
                meta={"NUM_STEPS_CURRENT_ROUND": steps},
            )
        )


if __name__ == "__main__":
    main()
