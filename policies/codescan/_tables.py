"""What the scan looks for: dotted names (after alias resolution) and the capability each one reaches.

A rule matches a resolved name when the name equals it or starts with it followed by a dot
(``socket`` matches ``socket.create_connection``). Prefix rules end in ``*`` (``os.exec*``).
"""

from __future__ import annotations

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

# Modules whose object must not be passed around as a value (it would hide which attribute is used).
SENSITIVE_MODULES = frozenset(
    {"os", "sys", "builtins", "io", "codecs", "posix", "nt", "types", "inspect", "operator", "asyncio"}
    | {m for m in MODULES if "." not in m}
)

# Dunder attributes used to climb out of any sandbox.
ESCAPE_DUNDERS = frozenset(
    {
        "__builtins__",
        "__globals__",
        "__code__",
        "__subclasses__",
        "__bases__",
        "__base__",
        "__mro__",
        "__loader__",
        "__spec__",
        "__getattribute__",
        "__closure__",
        "__reduce__",
        "__reduce_ex__",
        "__import__",
    }
)

# Builtin names the scan resolves to ``builtins.<name>`` unless the module rebinds them.
BUILTIN_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "__import__",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "__builtins__",
        "input",
        "memoryview",
    }
)

# Method names that write to or delete from the file system when called on a pathlib.Path.
PATH_WRITE_METHODS = frozenset(
    {
        "write_text",
        "write_bytes",
        "unlink",
        "rmdir",
        "symlink_to",
        "hardlink_to",
        "touch",
        "chmod",
        "lchmod",
        "mkdir",
        "rename",
        "expanduser",
    }
)

# File suffixes that hold code nobody can review.
COMPILED_SUFFIXES = frozenset(
    {".pyc", ".pyo", ".pyd", ".so", ".dll", ".dylib", ".o", ".a", ".whl", ".egg", ".zip", ".jar", ".exe", ".bin"}
)


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
