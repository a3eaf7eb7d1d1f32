"""The static scan: each capability is found, no evasion passes clean, and honest code passes (warnings at most)."""

from __future__ import annotations

import textwrap

import pytest

from policies.codescan import COMPILED_CODE, UNREVIEWABLE, is_compiled_path, scan_files, scan_source


def caps(source: str) -> set[str]:
    return {f.capability for f in scan_source(textwrap.dedent(source), "custom/job.py") if f.severity == "deny"}


def found(source: str) -> list[tuple[int, str, str]]:
    return [(f.line, f.severity, f.capability) for f in scan_source(textwrap.dedent(source), "custom/job.py")]


CLEAN = """
    import json
    import math
    import os.path
    from pathlib import Path

    import numpy as np
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.fc(x))


    def train(model: Net, cfg: dict) -> float:
        name = os.path.join("out", "model.pt")
        with open("metrics.json", "w") as fh:
            json.dump({"loss": math.log(2)}, fh)
        torch.save(model.state_dict(), "model.pt")
        state = torch.load("model.pt", weights_only=True)
        arr = np.load("x.npy")
        layer = getattr(model, "fc")
        _ = Path("relative/file.txt")
        Path("out").mkdir(exist_ok=True)
        (Path("out") / "done.txt").write_text("ok")
        dtype = np.float32
        dtype = np.float64  # rebinding used to loop the scanner forever
        return float(len(state)) + float(arr.sum()) + float(layer is None) + len(name) + np.zeros(1, dtype).size
"""


def test_ordinary_training_code_is_clean() -> None:
    assert scan_source(textwrap.dedent(CLEAN), "custom/train.py") == []


HONEST_PATHS = """
    import argparse
    import os
    from pathlib import Path

    import numpy as np
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--model_dir", default="model")
    args = parser.parse_args()
    train = os.path.join(args.data_dir, "train.tsv")
    with open(train, encoding="utf-8") as fh:
        rows = fh.read().split("\\n\\n")
    dev = Path(args.data_dir) / "dev.tsv"
    text = dev.read_text()
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForTokenClassification.from_pretrained("./model", num_labels=3)
    local = AutoTokenizer.from_pretrained("model")
    os.makedirs("outputs", exist_ok=True)
    torch.save(model.state_dict(), os.path.join("outputs", "last.pt"))
    np.save("outputs/x.npy", np.zeros(2))
"""


def test_setting_an_environment_variable_to_a_literal_only_warns() -> None:
    assert found("import os\nos.environ['TOKENIZERS_PARALLELISM'] = 'false'\n") == [(2, "warn", "environment")]
    assert found("import os\nos.environ['A'] = os.environ['B']\n") == [(2, "deny", "environment")]


def test_honest_paths_pass_with_warnings_at_most() -> None:
    results = found(HONEST_PATHS)
    assert results, "computed paths are shown to the reviewer"
    assert {sev for _, sev, _ in results} == {"warn"}
    assert {line for line, _, _ in results} == {15, 17, 19}  # open(train), Path(args.data_dir), from_pretrained(args)


@pytest.mark.parametrize(
    ("capability", "source"),
    [
        # network
        ("network", "import socket"),
        ("network", "from urllib.request import urlopen"),
        ("network", "import requests as rq\nrq.post('https://x.example')"),
        ("network", "import http.client"),
        ("network", "from ftplib import FTP"),
        ("network", "import smtplib"),
        ("network", "import aiohttp"),
        ("network", "import grpc"),
        ("network", "import asyncio\nasyncio.open_connection('h', 1)"),
        ("network", "import torch.distributed as dist"),
        # processes
        ("subprocess", "import subprocess"),
        ("subprocess", "import os\nos.system('ls')"),
        ("subprocess", "import os\nos.popen('ls')"),
        ("subprocess", "import os\nos.execv('/bin/sh', [])"),
        ("subprocess", "import os\nos.spawnl(0, 'x')"),
        ("subprocess", "import pty"),
        ("subprocess", "from multiprocessing import Pool"),
        ("subprocess", "from concurrent.futures import ProcessPoolExecutor"),
        # file system outside the workspace
        ("filesystem", "open('/etc/passwd')"),
        ("filesystem", "open('../../secret')"),
        ("filesystem", "open('~/x')"),
        ("filesystem", "open(f'/tmp/{1}')"),
        ("filesystem", "import shutil\nshutil.rmtree('/var/lib/fednode')"),
        ("filesystem", "from pathlib import Path\nPath('/srv/x').write_text('y')"),
        ("filesystem", "from pathlib import Path\nPath('/var/lib/fednode/state.db')"),
        ("filesystem", "import pathlib\npathlib.Path.home()"),
        ("filesystem", "import os\nos.remove('../x')"),
        ("filesystem", "import io\nio.open('/etc/shadow')"),
        ("filesystem", "import tempfile"),
        # dynamic code
        ("dynamic_code", "eval('1')"),
        ("dynamic_code", "exec('x = 1')"),
        ("dynamic_code", "compile('1', 'f', 'eval')"),
        ("dynamic_code", "__import__('os')"),
        ("dynamic_code", "import importlib\nimportlib.import_module('os')"),
        ("dynamic_code", "from importlib import import_module"),
        ("dynamic_code", "import sys\nsys.modules['os']"),
        ("dynamic_code", "import runpy"),
        ("dynamic_code", "globals()['__builtins__']"),
        ("dynamic_code", "().__class__.__bases__[0].__subclasses__()"),
        ("dynamic_code", "def f():\n    pass\nf.__globals__"),
        ("dynamic_code", "import sys\nsys.path.insert(0, 'x.zip')"),
        # deserialisation
        ("deserialisation", "import pickle"),
        ("deserialisation", "import marshal"),
        ("deserialisation", "import shelve"),
        ("deserialisation", "import dill"),
        ("deserialisation", "import torch\ntorch.load('m.pt')"),
        ("deserialisation", "import torch\ntorch.load('m.pt', weights_only=False)"),
        ("deserialisation", "import numpy as np\nnp.load('x.npy', allow_pickle=True)"),
        ("deserialisation", "import yaml\nyaml.load(open('c.yaml'))"),
        ("deserialisation", "import joblib\njoblib.load('m.joblib')"),
        # environment
        ("environment", "import os\nos.environ['HOME']"),
        ("environment", "import os\nos.getenv('TOKEN')"),
        ("environment", "from os import environ"),
        # native code
        ("native_code", "import ctypes"),
        ("native_code", "from cffi import FFI"),
        ("native_code", "import torch\ntorch.ops.load_library('x.so')"),
    ],
)
def test_each_capability_is_found(capability: str, source: str) -> None:
    assert capability in caps(source)


EVASIONS = {
    "module alias": ("import os as o\no.system('id')", "subprocess"),
    "from-import alias": ("from subprocess import run as r\nr(['id'])", "subprocess"),
    "re-bound module": ("import os\nm = os\nm.system('id')", "subprocess"),
    "re-bound function": ("import os\nf = os.system\nf('id')", "subprocess"),
    "chained re-binding": ("import os\na = os\nb = a\nb.popen('id')", "subprocess"),
    "getattr constant": ("import os\ngetattr(os, 'system')('id')", "subprocess"),
    "getattr concatenated": ("import os\ngetattr(os, 'sys' + 'tem')('id')", "subprocess"),
    "getattr f-string": ("import os\ngetattr(os, f'{\"sys\"}tem')('id')", "subprocess"),
    "getattr joined": ("import os\ngetattr(os, ''.join(['sy', 'stem']))('id')", "subprocess"),
    "getattr computed on module": ("import os\nname = input()\ngetattr(os, name)('id')", "dynamic_code"),
    "getattr builtins eval": ("getattr(__builtins__, 'ev' + 'al')('1')", "dynamic_code"),
    "builtins module eval": ("import builtins\nbuiltins.exec('1')", "dynamic_code"),
    "builtins dict": ("__builtins__['eval']('1')", "dynamic_code"),
    "vars of module": ("import os\nvars(os)['system']('id')", "dynamic_code"),
    "module in a container": ("import os\nmods = [os]\nmods[0].system('id')", "dynamic_code"),
    "module passed to a function": ("import subprocess\ndef go(m):\n    m.run(['id'])\ngo(subprocess)", "subprocess"),
    "string-built import": ("__import__('o' + 's').system('id')", "dynamic_code"),
    "importlib string-built": ("import importlib\nimportlib.import_module('sub' + 'process')", "dynamic_code"),
    "star import": ("from os import *\nsystem('id')", "dynamic_code"),
    "eval aliased": ("e = eval\ne('1')", "dynamic_code"),
    "open aliased then abs": ("o = open\no('/etc/passwd')", "filesystem"),
    "torch.load aliased": ("from torch import load as ld\nld('m.pt')", "deserialisation"),
    "torch.load as a value": ("import torch\nlist(map(torch.load, ['m.pt']))", "deserialisation"),
    "import inside a function": ("def f():\n    import socket as s\n    s.socket()", "network"),
    "setattr on a module": ("import os\nsetattr(os, 'x', 1)", "dynamic_code"),
    "dunder dict of module": ("import os\nos.__dict__['system']('id')", "dynamic_code"),
    "walrus alias": ("import os\nif (m := os):\n    m.system('id')", "subprocess"),
}


@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_hidden_capabilities_never_pass_as_clean(name: str) -> None:
    source, capability = EVASIONS[name]
    found = caps(source)
    assert found, f"{name} passed as clean"
    assert capability in found


def test_findings_carry_file_line_and_message() -> None:
    findings = scan_source("import json\n\n\nimport os as o\no.system('id')\n", "custom/a.py")
    assert [(f.file, f.line, f.capability) for f in findings] == [("custom/a.py", 5, "subprocess")]
    assert "os.system" in findings[0].message


def test_unparseable_python_is_unreviewable() -> None:
    [finding] = scan_source("def broken(:\n", "custom/bad.py")
    assert finding.capability == UNREVIEWABLE and finding.line == 1


@pytest.mark.parametrize(
    ("path", "compiled"),
    [
        ("custom/__pycache__/m.cpython-311.pyc", True),
        ("custom/m.pyc", True),
        ("custom/ext.cpython-311-x86_64-linux-gnu.so", True),
        ("custom/lib.tar.gz.zip", True),
        ("custom/model.py", False),
        ("config/config_fed_client.json", False),
    ],
)
def test_compiled_paths(path: str, compiled: bool) -> None:
    assert is_compiled_path(path) is compiled


def test_scan_files_refuses_compiled_and_binary_and_skips_data() -> None:
    findings = scan_files(
        {
            "custom/__pycache__/helper.cpython-311.pyc": None,
            "custom/blob.bin": None,
            "custom/weights.dat": None,
            "custom/readme.md": "import socket is only text here",
            "custom/ok.py": "x = 1\n",
        }
    )
    assert {(f.file, f.capability) for f in findings} == {
        ("custom/__pycache__/helper.cpython-311.pyc", COMPILED_CODE),
        ("custom/blob.bin", COMPILED_CODE),
        ("custom/weights.dat", UNREVIEWABLE),
    }
