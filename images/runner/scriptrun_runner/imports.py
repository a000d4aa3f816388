"""The optional import policy (`imports: {allow?, deny?}` of top-level module names), checked twice:
statically over the script's syntax tree in preflight, and again at import time inside the sandbox,
where a hook also sees what the tree cannot (`__import__(name)` with a computed name).

The hook judges the script's own imports, not those that libraries make for themselves (pandas may
import what the script may not). It is a policy, not the security boundary: no network, the
read-only root and the limits hold whatever the script imports."""
import ast
import builtins
import sys
from typing import Callable, Iterator, Optional

# Code the script runs: its own source, and strings it compiles or execs.
USER_FILENAMES = frozenset({"<script>", "<string>"})
ALWAYS_ALLOWED = frozenset({"__future__"})


class DisallowedImport(ImportError):
    """Raised inside the sandbox when the script imports a module the policy refuses."""


class ImportPolicy:
    def __init__(self, allow: Optional[list], deny: Optional[list]):
        self.allow = None if allow is None else frozenset(allow)
        self.deny = frozenset(deny or ())

    @classmethod
    def from_request(cls, obj: object, error: Callable[[str], Exception]) -> "ImportPolicy":
        if not isinstance(obj, dict):
            raise error("imports must be an object with allow and/or deny lists of module names")
        lists = {}
        for key in ("allow", "deny"):
            names = obj.get(key)
            if names is not None and not (isinstance(names, list) and all(isinstance(n, str) and n for n in names)):
                raise error(f"imports.{key} must be a list of module names")
            lists[key] = names
        return cls(lists["allow"], lists["deny"])

    def to_json(self) -> dict:
        return {"allow": None if self.allow is None else sorted(self.allow), "deny": sorted(self.deny)}

    def permits(self, module: str) -> bool:
        top = module.partition(".")[0]
        if top in ALWAYS_ALLOWED:
            return True
        return (self.allow is None or top in self.allow) and top not in self.deny

    def refusal(self, module: str) -> str:
        return f"Importing '{module}' is not allowed by this run's import policy"

    def suggestions(self) -> list:
        if self.allow is None:
            return [f"Do not import {', '.join(sorted(self.deny))}"]
        allowed = ", ".join(sorted(self.allow)) or "nothing"
        return [f"The policy allows importing {allowed}" + (f" and not {', '.join(sorted(self.deny))}" if self.deny else "")]


def _dynamic_import_name(node) -> Optional[str]:
    """`__import__("x")` or `importlib.import_module("x")` with a literal name."""
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if called in ("__import__", "import_module") and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def imported_modules(tree) -> Iterator[tuple]:
    """(module, line) for every absolute import the tree shows, anywhere in the script."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
        elif isinstance(node, ast.Call):
            name = _dynamic_import_name(node)
            if name:
                yield name, node.lineno


def first_refused(policy: ImportPolicy, tree) -> Optional[tuple]:
    """The refused import on the lowest line, as (module, line), or None."""
    refused = [(line, module) for module, line in imported_modules(tree) if not policy.permits(module)]
    if not refused:
        return None
    line, module = min(refused)
    return module, line


def _is_user_frame(frame) -> bool:
    return frame is not None and frame.f_code.co_filename in USER_FILENAMES


def _importer_frame(frame):
    """The first frame outside the import machinery: whoever asked for the module."""
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith("<frozen importlib") or name.endswith("importlib/__init__.py")):
            return frame
        frame = frame.f_back
    return None


class _PolicyFinder:
    """Sees imports that bypass builtins.__import__, such as importlib.import_module."""

    def __init__(self, policy: ImportPolicy):
        self.policy = policy

    def find_spec(self, fullname, path=None, target=None):
        if not self.policy.permits(fullname) and _is_user_frame(_importer_frame(sys._getframe(1))):
            raise DisallowedImport(self.policy.refusal(fullname), name=fullname)
        return None


def install(policy: ImportPolicy) -> None:
    """Guards the script's imports from here on (inside the sandbox, before the script runs)."""
    original = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and not policy.permits(name) and _is_user_frame(sys._getframe(1)):
            raise DisallowedImport(policy.refusal(name), name=name)
        return original(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import
    sys.meta_path.insert(0, _PolicyFinder(policy))
