"""Checks a request without running it: field types, CPython's own parser,
the entrypoint, and the import policy. Shared by the run itself, the
`--preflight` command and the `--preflight-server` the controller and API use."""
import ast
import re

from outcome import MAX_DEPTH, SURROGATE, error, nested_past

MAX_SCRIPT_BYTES = 1024 * 1024
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Refused(Exception):
    """A request that must not run; carries the envelope error."""

    def __init__(self, type_, message, line=None, suggestions=None, available=None):
        super().__init__(message)
        self.error = error(type_, message, line, suggestions=suggestions or (), available=available or ())


def _expect(request, key, kind, label):
    value = request.get(key)
    if value is not None and not isinstance(value, kind):
        raise Refused("invalid_input", f"{key} must be {label}")
    return value


def validate(request):
    """Returns the request with defaults filled in, or raises Refused(invalid_input)."""
    if not isinstance(request, dict):
        raise Refused("invalid_input", "the request must be a JSON object")
    for key in ("args", "kwargs", "resources", "limits", "imports"):
        # Each argument, like a result, may nest MAX_DEPTH deep (args and kwargs themselves are a level):
        # the request is written to the sandbox and read there a level or two deeper, under the same
        # recursion limit.
        if nested_past(request.get(key), MAX_DEPTH + 1):
            raise Refused("invalid_input", f"{key} holds a value nested more than {MAX_DEPTH} levels deep (lists "
                                           "and objects inside one another), the most an argument or a result may be")
    script = _expect(request, "script", str, "a string")
    if not script or not script.strip():
        raise Refused("invalid_input", "script is required and must not be empty")
    if len(script.encode("utf-8", "surrogatepass")) > MAX_SCRIPT_BYTES:
        raise Refused("invalid_input", f"script is larger than {MAX_SCRIPT_BYTES} bytes")
    # JSON can carry half of a UTF-16 pair (JavaScript strings hold them); Python source cannot, being
    # Unicode text. The apiserver makes one U+FFFD, so a ScriptRun never holds one; a direct request can.
    lone = SURROGATE.search(script)
    if lone:
        line = script.count("\n", 0, lone.start()) + 1
        raise Refused("invalid_input", f"script holds a lone UTF-16 surrogate (U+{ord(lone.group()):04X}) on line "
                                       f"{line}, which is not Unicode text; to mean that code point, write its "
                                       f"escape in a string (\"\\u{ord(lone.group()):04x}\")", line=line)
    mode = _expect(request, "mode", str, "a string") or "function"
    if mode not in ("function", "script"):
        raise Refused("invalid_input", "mode must be 'function' or 'script'")
    entrypoint = _expect(request, "entrypoint", str, "a string") or "main"
    if not IDENTIFIER.match(entrypoint):
        raise Refused("invalid_input", "entrypoint must be a Python identifier")
    timeout = request.get("timeoutSeconds", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise Refused("invalid_input", "timeoutSeconds must be a number of seconds from 1 to 3600")
    policy = _expect(request, "imports", dict, "an object") or {}
    return {
        "script": script, "mode": mode, "entrypoint": entrypoint,
        "args": _expect(request, "args", list, "an array") or [],
        "kwargs": _expect(request, "kwargs", dict, "an object") or {},
        "stdin": _expect(request, "stdin", str, "a string") or "",
        "timeoutSeconds": timeout,
        "resources": _expect(request, "resources", dict, "an object") or {},
        "limits": _expect(request, "limits", dict, "an object") or {},
        "imports": {"allow": policy.get("allow"), "deny": policy.get("deny") or []},
    }


def import_allowed(module, policy):
    top = module.split(".")[0]
    if top in policy["deny"]:
        return False
    return policy["allow"] is None or top in policy["allow"]


def _check_imports(tree, policy):
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if not import_allowed(name, policy):
                raise Refused("disallowed_import", f"import of '{name}' is not allowed by the import policy",
                              line=node.lineno)


def _may_bind(tree, name):
    """Whether running the script might bind `name` though no top-level statement does: a def inside an
    if, a try or a with, a global statement, a star import, or the name in a string (exec, globals()).
    Run time tells; preflight refuses only what certainly misses its entrypoint."""
    word = re.compile(rf"\b{re.escape(name)}\b")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler)) and node.name == name:
            return True
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return True
        if isinstance(node, ast.alias) and (node.name == "*" or (node.asname or node.name).split(".")[0] == name):
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and word.search(node.value):
            return True
    return False


def _check_entrypoint(tree, entrypoint):
    functions = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    bound = set(functions)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    if entrypoint in bound or _may_bind(tree, entrypoint):
        return
    import difflib  # here, not at the top: only a script that misses its entrypoint needs it, at every pod's start

    suggestions = [f"Did you mean '{m}'?" for m in difflib.get_close_matches(entrypoint, functions, n=1)]
    if functions:
        suggestions.append(f"Set entrypoint to one of: {', '.join(functions)}.")
    suggestions.append(f"Define def {entrypoint}(): ... or use mode 'script' to run the code as a plain script.")
    raise Refused("missing_entrypoint", f"the script defines no function '{entrypoint}'",
                  suggestions=suggestions, available=functions)


def preflight(request):
    """Returns the validated request, or raises Refused with the error that stops it."""
    request = validate(request)
    try:
        tree = ast.parse(request["script"], filename="<script>")
        # compile() also finds what the parser lets through ('return' outside a function).
        compile(tree, "<script>", "exec")
    except SyntaxError as err:
        where = "" if err.lineno is None else f" (line {err.lineno})"  # a NUL byte's error has none
        raise Refused("syntax_error", f"{err.msg}{where}", line=err.lineno) from None
    except ValueError as err:  # e.g. a NUL byte in the source
        raise Refused("syntax_error", str(err)) from None
    except (RecursionError, MemoryError):  # CPython's parser and compiler recurse; hostile source goes deep
        raise Refused("syntax_error", "the script is nested too deeply for Python to compile it "
                                      "(brackets, operators or calls inside one another)") from None
    _check_imports(tree, request["imports"])
    if request["mode"] == "function":
        _check_entrypoint(tree, request["entrypoint"])
    return request
