"""SCAFFOLD with the Client API: control variates from the server's meta, corrected local steps."""

import argparse
import copy
import os

import numpy as np
import nvflare.client as flare
import torch
from nvflare.app_common.abstract.fl_model import FLModel
from nvflare.app_common.app_constant import AlgorithmConstants
from nvflare.app_opt.pt.scaffold import PTScaffoldHelper, get_lr_values
from torch import nn


def load(data_dir):
    with open(os.path.join(data_dir, "train.tsv"), encoding="utf-8") as fh:
        pairs = [line.rstrip("\n").split("\t") for line in fh if "\t" in line]
    x = np.array([[len(t), t[:1].isupper(), t.isalpha()] for t, _ in pairs], dtype=np.float32)
    y = np.array([0 if tag == "O" else 1 for _, tag in pairs], dtype=np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    args = parser.parse_args()

    x, y = load(args.data_dir)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    helper = PTScaffoldHelper()
    helper.init(model=model)
    loss_fn = nn.CrossEntropyLoss()

    flare.init()
    while flare.is_running():
        incoming = flare.receive()
        model.load_state_dict(incoming.params)
        global_model = copy.deepcopy(model)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        helper.load_global_controls(weights=incoming.meta[AlgorithmConstants.SCAFFOLD_CTRL_GLOBAL])
        c_global_para, c_local_para = helper.get_params()
        steps = 0
        for _ in range(5):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            curr_lr = get_lr_values(optimizer)[0]
            helper.model_update(model=model, curr_lr=curr_lr, c_global_para=c_global_para, c_local_para=c_local_para)
            steps += 1
        helper.terms_update(
            model=model,
            curr_lr=curr_lr,
            c_global_para=c_global_para,
            c_local_para=c_local_para,
            model_global=global_model,
        )
        flare.send(
            FLModel(
                params=model.state_dict(),
                meta={
                    "NUM_STEPS_CURRENT_ROUND": steps,
                    AlgorithmConstants.SCAFFOLD_CTRL_DIFF: helper.get_delta_controls(),
                },
            )
        )


if __name__ == "__main__":
    main()
