"""FedProx: the local loss gets the proximal term against the global model received this round."""

import argparse
import copy
from pathlib import Path

import nvflare.client as flare
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch idiom researchers write
from nvflare.app_common.abstract.fl_model import FLModel
from nvflare.app_opt.pt.fedproxloss import PTFedProxLoss
from torch import nn

LABELS = ("O", "B-Disease", "I-Disease")


def load_rows(data_dir: str):
    text = (Path(data_dir) / "train.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    return [(tok, LABELS.index(tag) if tag in LABELS else 0) for tok, tag in rows]


def encode(token: str) -> torch.Tensor:
    return torch.tensor(
        [len(token), sum(c.isupper() for c in token), sum(c.isdigit() for c in token)], dtype=torch.float32
    )


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 32)
        self.fc2 = nn.Linear(32, len(LABELS))

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    parser.add_argument("--mu", type=float, default=0.01)
    args = parser.parse_args()

    rows = load_rows(args.data_dir)
    x = torch.stack([encode(t) for t, _ in rows])
    y = torch.tensor([label for _, label in rows])
    net = Net()
    criterion = nn.CrossEntropyLoss()
    prox = PTFedProxLoss(mu=args.mu)

    flare.init()
    while flare.is_running():
        received = flare.receive()
        net.load_state_dict(received.params)
        global_model = copy.deepcopy(net)
        for p in global_model.parameters():
            p.requires_grad = False
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(3):
            opt.zero_grad()
            loss = criterion(net(x), y) + prox(net, global_model)
            loss.backward()
            opt.step()
        flare.send(FLModel(params=net.state_dict(), metrics={"loss": float(loss)}, meta={"NUM_STEPS_CURRENT_ROUND": 3}))


if __name__ == "__main__":
    main()
