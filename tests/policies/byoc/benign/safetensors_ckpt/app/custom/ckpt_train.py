"""Settings from a JSON file shipped in custom/, local checkpoints in safetensors (no pickle anywhere)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import nvflare.client as flare
import torch
from safetensors.torch import load_file, save_file
from torch import nn


@dataclass(frozen=True)
class Settings:
    hidden: int
    lr: float
    local_steps: int
    checkpoint: str


def read_settings(path: str) -> Settings:
    with open(path, encoding="utf-8") as fh:
        return Settings(**json.load(fh))


def read_data(data_dir: str) -> tuple[torch.Tensor, torch.Tensor]:
    lines = (Path(data_dir) / "train.tsv").read_text(encoding="utf-8").splitlines()
    pairs = [ln.split("\t") for ln in lines if "\t" in ln]
    x = torch.tensor([[len(w), w.istitle(), w.isalpha()] for w, _ in pairs], dtype=torch.float32)
    y = torch.tensor([int(t != "O") for _, t in pairs])
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--config", default="custom/settings.json")
    args = parser.parse_args()
    settings = read_settings(args.config)
    x, y = read_data(args.data_dir)
    model = nn.Sequential(nn.Linear(3, settings.hidden), nn.GELU(), nn.Linear(settings.hidden, 2))
    ckpt = Path(settings.checkpoint)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    if ckpt.exists():
        model.load_state_dict(load_file(str(ckpt)))

    flare.init()
    while flare.is_running():
        received = flare.receive()
        model.load_state_dict(received.params)
        opt = torch.optim.SGD(model.parameters(), lr=settings.lr)
        for _ in range(settings.local_steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
        flare.send(flare.FLModel(params=model.state_dict(), meta={"NUM_STEPS_CURRENT_ROUND": settings.local_steps}))


if __name__ == "__main__":
    main()
