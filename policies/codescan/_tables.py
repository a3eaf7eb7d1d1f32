"""What job code may reach: an allow-list of dotted names, and the capability labels of known dangers.

The scan resolves every name to a dotted path (``np.loadtxt`` -> ``numpy.loadtxt``) and judges it with
:func:`judge`: the longest matching entry of ``ALLOWED`` / ``DENIED`` / ``WARNED`` / ``PATH_CALLS`` decides;
anything no entry covers is not on the allow-list. ``MODULES`` and ``NAMES`` (the former deny-list) only
label what an unlisted name reaches (``socket`` -> network), so a policy can tell capabilities apart.
A rule matches a resolved name when the name equals it or starts with it followed by a dot
(``socket`` matches ``socket.create_connection``). Prefix rules of ``NAMES`` end in ``*`` (``os.exec*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from policies.policy_model import Capability

NET = Capability.NETWORK
PROC = Capability.SUBPROCESS
FS = Capability.FILESYSTEM
DYN = Capability.DYNAMIC_CODE
DESER = Capability.DESERIALISATION
ENV = Capability.ENVIRONMENT
NATIVE = Capability.NATIVE_CODE


def _words(names: str) -> list[str]:
    return names.split()


def _group(capability: Capability, why: str, names: str) -> dict[str, tuple[Capability, str]]:
    return dict.fromkeys(_words(names), (capability, why))


# Whole modules: importing them (or anything inside them) reaches the capability.
MODULES: dict[str, tuple[Capability, str]] = {
    **_group(
        NET,
        "network access",
        "socket socketserver ssl urllib urllib2 urllib3 requests http httpx ftplib smtplib poplib imaplib nntplib "
        "telnetlib xmlrpc aiohttp grpc websocket websockets paramiko pycurl zmq asyncssh boto3 botocore wandb "
        "mlflow webbrowser torch.distributed torch.hub huggingface_hub selectors",
    ),
    **_group(
        PROC,
        "starts processes",
        "subprocess pty multiprocessing torch.multiprocessing sh pexpect plumbum popen2 commands "
        "concurrent.futures.process",
    ),
    **_group(FS, "file-system access outside the workspace", "shutil tempfile fileinput"),
    **_group(DYN, "loads or runs code chosen at run time", "importlib imp runpy code codeop zipimport pydoc pkgutil"),
    **_group(
        DESER,
        "deserialises objects that can run code",
        "pickle cPickle _pickle marshal shelve dill cloudpickle jsonpickle copyreg",
    ),
    **_group(ENV, "reads the environment", "dotenv"),
    **_group(NATIVE, "loads native code", "ctypes _ctypes cffi pyximport numba torch.utils.cpp_extension cython"),
}

# Single names inside otherwise harmless modules.
NAMES: dict[str, tuple[Capability, str]] = {
    "os.system": (PROC, "runs a shell command"),
    "os.popen": (PROC, "runs a shell command"),
    "os.exec*": (PROC, "replaces the process with another program"),
    "os.spawn*": (PROC, "starts a process"),
    "os.posix_spawn*": (PROC, "starts a process"),
    "os.fork*": (PROC, "forks the process"),
    "os.kill*": (PROC, "signals another process"),
    "asyncio.create_subprocess_exec": (PROC, "starts a process"),
    "asyncio.create_subprocess_shell": (PROC, "runs a shell command"),
    "asyncio.subprocess": (PROC, "starts processes"),
    "concurrent.futures.ProcessPoolExecutor": (PROC, "starts worker processes"),
    "asyncio.open_connection": (NET, "opens a network connection"),
    "asyncio.start_server": (NET, "listens on the network"),
    "asyncio.open_unix_connection": (NET, "opens a socket connection"),
    "os.environ": (ENV, "reads or changes environment variables"),
    "os.environb": (ENV, "reads or changes environment variables"),
    "os.getenv": (ENV, "reads an environment variable"),
    "os.getenvb": (ENV, "reads an environment variable"),
    "os.putenv": (ENV, "changes an environment variable"),
    "os.unsetenv": (ENV, "changes an environment variable"),
    **_group(
        FS,
        "changes or reads the file system directly",
        " ".join(
            f"os.{n}"
            for n in _words(
                "remove unlink rmdir removedirs rename renames replace mkdir makedirs chmod chown lchown link "
                "symlink open chdir chroot truncate mkfifo mknod listdir scandir walk fwalk utime"
            )
        ),
    ),
    "io.open": (FS, "opens a file"),
    "codecs.open": (FS, "opens a file"),
    "pathlib.Path.home": (FS, "reaches the home folder"),
    "pathlib.Path.cwd": (FS, "reaches the current folder"),
    "glob": (FS, "lists the file system"),
    "builtins.eval": (DYN, "evaluates a string as code"),
    "builtins.exec": (DYN, "executes a string as code"),
    "builtins.compile": (DYN, "compiles a string into code"),
    "builtins.__import__": (DYN, "imports a module chosen at run time"),
    "builtins.globals": (DYN, "reaches the module namespace dynamically"),
    "builtins.breakpoint": (DYN, "opens a debugger"),
    "builtins.__builtins__": (DYN, "reaches the builtins namespace"),
    "sys.modules": (DYN, "reaches loaded modules dynamically"),
    "sys.path": (DYN, "changes where modules are imported from"),
    "sys.meta_path": (DYN, "changes how modules are imported"),
    "sys.path_hooks": (DYN, "changes how modules are imported"),
    "sys.settrace": (DYN, "installs a tracing hook"),
    "sys.setprofile": (DYN, "installs a profiling hook"),
    "sys._getframe": (DYN, "reaches caller frames"),
    "inspect.currentframe": (DYN, "reaches caller frames"),
    "types.FunctionType": (DYN, "builds a function from a code object"),
    "types.CodeType": (DYN, "builds a code object"),
    "types.ModuleType": (DYN, "builds a module at run time"),
    "operator.attrgetter": (DYN, "looks attributes up by name"),
    "operator.methodcaller": (DYN, "calls methods by name"),
    "joblib.load": (DESER, "unpickles a file"),
    "pandas.read_pickle": (DESER, "unpickles a file"),
    "numpy.load": (DESER, "may unpickle a file"),
    "yaml.unsafe_load": (DESER, "constructs arbitrary Python objects"),
    "yaml.full_load": (DESER, "constructs Python objects"),
    "yaml.load": (DESER, "constructs arbitrary Python objects unless a safe loader is given"),
    "torch.load": (DESER, "unpickles a file unless weights_only=True"),
    "torch.ops.load_library": (NATIVE, "loads a native library"),
    "torch.classes.load_library": (NATIVE, "loads a native library"),
}


_PREFIX_RULES = tuple((rule[:-1], hit) for rule, hit in NAMES.items() if rule.endswith("*"))
_EXACT_RULES = {rule: hit for rule, hit in NAMES.items() if not rule.endswith("*")}


@lru_cache(maxsize=8192)
def classify(name: str) -> tuple[Capability, str] | None:
    """The capability a resolved dotted name reaches, or None."""
    for prefix, hit in _PREFIX_RULES:
        if name.startswith(prefix):
            return hit
    parts = name.split(".")
    dotted = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]  # longest first
    for table in (_EXACT_RULES, MODULES):
        for candidate in dotted:
            found = table.get(candidate)
            if found is not None:
                return found
    return None


# -- the allow-list ----------------------------------------------------------------------------------

# Names (and everything under them) job code may use freely.
ALLOWED = frozenset(
    _words(
        # the harmless standard library
        "math cmath random statistics dataclasses typing typing_extensions collections itertools functools json re "
        "time datetime calendar copy enum abc numbers decimal fractions heapq bisect string textwrap contextlib "
        "warnings argparse hashlib base64 binascii struct array pprint uuid weakref queue secrets zlib csv "
        "unicodedata difflib logging operator types.SimpleNamespace pathlib __future__ transformers.utils.logging "
        "os.path os.sep os.linesep os.curdir os.pardir os.extsep os.cpu_count os.getpid os.getcwd os.fspath "
        "os.PathLike os.name io.StringIO io.BytesIO io.SEEK_SET io.SEEK_CUR io.SEEK_END "
        "sys.argv sys.exit sys.stdout sys.stderr sys.version_info sys.version sys.platform sys.maxsize "
        "sys.float_info sys.byteorder traceback.format_exc traceback.print_exc traceback.format_exception "
        "traceback.print_exception "
        # numerical and ML libraries
        "numpy torch transformers tokenizers seqeval opacus safetensors tqdm "
        # NVFlare's Client API and the helpers its examples import
        "nvflare.client nvflare.app_common.abstract.fl_model nvflare.app_common.app_constant "
        "nvflare.apis.fl_constant nvflare.app_opt.pt.fedproxloss nvflare.app_opt.pt.scaffold nvflare.app_opt.pt.utils "
        # builtins without side effects outside the process
        + " ".join(
            f"builtins.{n}"
            for n in _words(
                "abs all any ascii bin bool bytearray bytes callable chr classmethod complex dict dir divmod "
                "enumerate filter float format frozenset hash hex id int isinstance issubclass iter len list map "
                "max min next object oct ord pow print property range repr reversed round set slice sorted "
                "staticmethod str sum super tuple type zip input hasattr getattr setattr delattr aiter anext "
                "NotImplemented Ellipsis None True False __name__ __doc__ __file__ __debug__ exit quit "
                "BaseException Exception ArithmeticError AssertionError AttributeError EOFError FileExistsError "
                "FileNotFoundError FloatingPointError ImportError IndexError KeyError KeyboardInterrupt LookupError "
                "MemoryError ModuleNotFoundError NameError NotImplementedError OSError IOError OverflowError "
                "RecursionError RuntimeError StopIteration StopAsyncIteration SyntaxError SystemExit TypeError "
                "ValueError ZeroDivisionError UnicodeError UnicodeDecodeError UnicodeEncodeError Warning "
                "UserWarning DeprecationWarning RuntimeWarning FutureWarning PermissionError TimeoutError "
                "IsADirectoryError NotADirectoryError InterruptedError ConnectionError"
            )
        )
    )
)

# Entries inside allowed names that job code may not use: (capability, why). The longest match wins.
DENIED: dict[str, tuple[Capability, str]] = {
    **_group(NET, "network access", "torch.hub torch.distributed torch.utils.model_zoo logging.handlers tqdm.contrib"),
    **_group(
        NET,
        "downloads models or data from the network",
        "transformers.pipeline transformers.pipelines transformers.utils transformers.file_utils "
        "transformers.hf_api transformers.agents transformers.tools transformers.commands transformers.integrations "
        "transformers.Trainer transformers.trainer transformers.Seq2SeqTrainer transformers.TrainingArguments "
        "numpy.DataSource numpy.lib.DataSource numpy.lib.npyio numpy.lib._npyio_impl numpy.lib._datasource",
    ),
    **_group(
        PROC,
        "starts processes",
        "torch.multiprocessing torch.utils.collect_env numpy.f2py numpy.distutils numpy.testing "
        "transformers.testing_utils",
    ),
    **_group(
        NATIVE,
        "compiles or loads native code",
        "torch.utils.cpp_extension torch.ops torch.classes torch.library torch.compile torch._dynamo torch._inductor "
        "torch.jit torch.onnx torch._C numpy.ctypeslib transformers.onnx transformers.convert_graph_to_onnx",
    ),
    **_group(
        DESER,
        "deserialises objects that can run code",
        "torch.package torch.serialization numpy.lib.format transformers.dynamic_module_utils",
    ),
    **_group(DYN, "reads or rewrites interpreter state", "operator.attrgetter operator.methodcaller string.Formatter"),
    **_group(
        DYN,
        "evaluates annotation strings as code",
        "typing.get_type_hints typing_extensions.get_type_hints functools.singledispatch "
        "functools.singledispatchmethod transformers.HfArgumentParser transformers.hf_argparser",
    ),
    **_group(DYN, "configures logging from data (builds arbitrary objects, may listen)", "logging.config"),
    **_group(FS, "changes the working folder of the process", "contextlib.chdir"),
    **_group(FS, "reaches the home folder", "pathlib.Path.home pathlib.Path.expanduser os.path.expanduser"),
    **_group(FS, "writes files outside the job's view (use nvflare.client.tracking)", "torch.utils.tensorboard"),
    **_group(
        DYN,
        "interpreter internals",
        "nvflare.client.ipc nvflare.client.cell nvflare.client.in_process nvflare.client.config",
    ),
    **_group(
        DYN,
        "evaluates, compiles or imports code chosen at run time",
        "builtins.eval builtins.exec builtins.compile builtins.__import__ builtins.breakpoint builtins.help "
        "builtins.globals builtins.locals builtins.vars builtins.__build_class__ builtins.__loader__ "
        "builtins.__spec__ builtins.__builtins__",
    ),
}

# Entries the scan shows as warnings only: allowed, but the reviewer should look (the sandbox enforces).
WARNED: dict[str, tuple[Capability, str]] = {
    "argparse.FileType": (FS, "opens the files named on the command line"),
}


@dataclass(frozen=True)
class PathCall:
    """A call whose path arguments are checked: positions and keyword names that hold a path."""

    positions: tuple[int, ...] = (0,)
    keywords: tuple[str, ...] = ("file",)
    all_positional: bool = False  # every positional argument is a path segment (pathlib.Path(a, b))


_P0 = PathCall()


def _pc(*positions: int, kw: str = "file") -> PathCall:
    return PathCall(positions or (0,), tuple(kw.split()))


# Allowed only as calls, with their path arguments checked (a literal outside the workspace denies,
# a path computed at run time warns); used as a value they are findings (their arguments are unknown).
PATH_CALLS: dict[str, PathCall] = {
    "builtins.open": _pc(kw="file"),
    "io.open": _pc(kw="file"),
    "gzip.open": _pc(kw="filename"),
    "os.makedirs": _pc(kw="name"),
    "os.mkdir": _pc(kw="path"),
    "os.listdir": _pc(kw="path"),
    "os.scandir": _pc(kw="path"),
    "os.walk": _pc(kw="top"),
    "os.remove": _pc(kw="path"),
    "os.unlink": _pc(kw="path"),
    "os.rmdir": _pc(kw="path"),
    "os.stat": _pc(kw="path"),
    "os.rename": _pc(0, 1, kw="src dst"),
    "os.replace": _pc(0, 1, kw="src dst"),
    "shutil.copyfile": _pc(0, 1, kw="src dst"),
    "shutil.copy": _pc(0, 1, kw="src dst"),
    "shutil.copy2": _pc(0, 1, kw="src dst"),
    "shutil.copytree": _pc(0, 1, kw="src dst"),
    "shutil.move": _pc(0, 1, kw="src dst"),
    "shutil.rmtree": _pc(kw="path"),
    "glob.glob": _pc(kw="pathname root_dir"),
    "glob.iglob": _pc(kw="pathname root_dir"),
    "pathlib.Path": PathCall((), (), all_positional=True),
    "pathlib.PurePath": PathCall((), (), all_positional=True),
    "pathlib.PosixPath": PathCall((), (), all_positional=True),
    "pathlib.PurePosixPath": PathCall((), (), all_positional=True),
    "logging.FileHandler": _pc(kw="filename"),
    "logging.basicConfig": PathCall((), ("filename",)),
    "torch.save": _pc(1, kw="f"),
    "torch.load": _pc(kw="f"),
    "torch.from_file": _pc(kw="filename"),
    "numpy.load": _pc(kw="file"),
    "numpy.save": _pc(kw="file"),
    "numpy.savez": _pc(kw="file"),
    "numpy.savez_compressed": _pc(kw="file"),
    "numpy.savetxt": _pc(kw="fname"),
    "numpy.loadtxt": _pc(kw="fname"),
    "numpy.genfromtxt": _pc(kw="fname"),
    "numpy.fromfile": _pc(kw="file"),
    "numpy.fromregex": _pc(kw="file"),
    "numpy.memmap": _pc(kw="filename"),
    "safetensors.torch.load_file": _pc(kw="filename"),
    "safetensors.torch.save_file": _pc(1, kw="filename"),
    "safetensors.numpy.load_file": _pc(kw="filename"),
    "safetensors.numpy.save_file": _pc(1, kw="filename"),
    "safetensors.safe_open": _pc(kw="filename"),
    "tokenizers.Tokenizer.from_file": _pc(kw="path"),
}

# Method names whose receiver the scan cannot know, with the path argument checked wherever they are called.
PATH_METHODS: dict[str, PathCall] = {
    "tofile": _pc(kw="fid"),
    "save_pretrained": _pc(kw="save_directory"),
    "to_json_file": _pc(kw="json_file_path"),
    "from_file": _pc(kw="path"),
    "joinpath": PathCall((), (), all_positional=True),
}

# Method names that are findings wherever they are called: (capability, why).
DENIED_METHODS: dict[str, tuple[Capability, str]] = {
    "push_to_hub": (NET, "uploads to the Hugging Face hub"),
    "expanduser": (FS, "reaches the home folder"),
    "home": (FS, "reaches the home folder"),
}

# Attribute names that reach interpreter internals, builtins or frames from any object.
ESCAPE_ATTRIBUTES = frozenset(
    _words(
        "__builtins__ __globals__ __code__ __closure__ __subclasses__ __bases__ __base__ __mro__ __loader__ "
        "__spec__ __getattribute__ __reduce__ __reduce_ex__ __import__ __self__ __init_subclass__ __func__ "
        "__traceback__ __defaults__ __kwdefaults__ __objclass__ __class_getitem__ __set_name__ __getattr__ "
        "__setattr__ __delattr__ __dictoffset__ __weakref__ __subclasshook__ __prepare__ __instancecheck__ __path__ "
        "tb_frame tb_next tb_lasti f_back f_globals f_locals f_builtins f_code f_trace gi_frame gi_code "
        "gi_yieldfrom cr_frame cr_code cr_await ag_frame ag_code co_code co_consts cell_contents"
    )
)

# Names that must not appear inside an allowed module's attribute chain: modules that many libraries import
# (``logging.os``, ``torch.os``, ``dataclasses.sys``) and functions they re-export (``hf_hub_download``).
RISKY_COMPONENTS = frozenset(
    {m for m in MODULES if "." not in m}
    | set(
        _words(
            "os posix nt sys builtins inspect gc linecache sqlite3 io asyncio signal fsspec platform threading "
            "hub huggingface_hub hf_hub_download snapshot_download cached_file cached_files cached_path "
            "get_file_from_repo http_get urlopen urlretrieve download_url download_url_to_file "
            "load_state_dict_from_url load_url create_repo upload_file upload_folder HfApi Repository system popen "
            "Popen check_output check_call getoutput getstatusoutput execv execve execvp spawnv fork environ getenv "
            "get_type_hints "
            "npyio DataSource fromfile loadtxt genfromtxt fromregex memmap open_memmap tofile"
        )
    )
)

# Module names that are ``os`` under another name.
OS_ALIASES = {"posix": "os", "nt": "os"}


class Verdict(Enum):
    """How a resolved dotted name is judged."""

    ALLOW = "allow"
    NAMESPACE = "namespace"  # a parent of allowed names: fine as the base of an attribute, not as a value
    PATH_CALL = "path_call"
    WARN = "warn"
    DENY = "deny"
    UNLISTED = "unlisted"


_NAMESPACES = frozenset(
    ".".join(n.split(".")[:i]) for n in ALLOWED | set(PATH_CALLS) for i in range(1, n.count(".") + 1)
)


@lru_cache(maxsize=16384)
def judge(name: str) -> tuple[Verdict, Capability | None, str]:
    """The verdict on a resolved dotted name, with a capability and a reason for findings."""
    head, _, rest = name.partition(".")
    if head in OS_ALIASES:
        name = OS_ALIASES[head] + ("." + rest if rest else "")
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in PATH_CALLS:
            if i == len(parts):
                return Verdict.PATH_CALL, FS, "reads or writes files"
            return Verdict.DENY, DYN, f"reaches the internals of {candidate}"
        if candidate in DENIED:
            capability, why = DENIED[candidate]
            return Verdict.DENY, capability, why
        if candidate in WARNED:
            capability, why = WARNED[candidate]
            return Verdict.WARN, capability, why
        if candidate in ALLOWED:
            private = next((p for p in parts[i:] if p.startswith("_") and not p.startswith("__")), None)
            if private is not None:
                return Verdict.DENY, DYN, f"private internals ({private}) are not on the allow-list"
            risky = next((p for p in parts[i:] if p in RISKY_COMPONENTS), None)
            if risky is not None:
                hit = classify(risky)
                capability = hit[0] if hit else DYN
                return Verdict.DENY, capability, f"reaches {risky} through {candidate}"
            return Verdict.ALLOW, None, ""
    if name in _NAMESPACES:
        return Verdict.NAMESPACE, None, ""
    hit = classify(name)
    if hit is not None:
        return Verdict.DENY, hit[0], hit[1]
    return Verdict.UNLISTED, None, "not on the site's allow-list of what job code may use"


def may_pass_as_value(name: str) -> bool:
    """Whether a resolved name may be used as a value: nothing under it is denied or checked by call."""
    if judge(name)[0] is not Verdict.ALLOW:
        return False
    prefix = name + "."
    return not any(k.startswith(prefix) for k in (*DENIED, *PATH_CALLS, *WARNED))
