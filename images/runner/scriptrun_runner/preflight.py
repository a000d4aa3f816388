"""Checks a request without running anything: its fields, its syntax (CPython's own parser and
compiler), the entrypoint in function mode, and the import policy. The controller and the API ask
this through `runner.py --preflight-server`; a full run asks it first, outside the sandbox."""
import ast
import difflib
import traceback
from typing import Any, Optional

from .envelope import error
from .imports import first_refused
from .request import Request, RequestError, parse_request

SCRIPT_FILENAME = "<script>"
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match,
           getattr(ast, "TryStar", ast.Try))


def syntax_error(exc: BaseException) -> dict:
    line = getattr(exc, "lineno", None)
    name = type(exc).__name__ if isinstance(exc, SyntaxError) else "SyntaxError"
    text = getattr(exc, "msg", None) or str(exc)
    where = f" (line {line})" if line else ""
    detail = "".join(traceback.format_exception_only(exc)) if isinstance(exc, SyntaxError) else None
    return error("syntax_error", f"{name}: {text}{where}", line=line, traceback=detail)


def parse_script(source: str) -> tuple:
    """(tree, None) or (None, syntax_error): ast.parse finds grammar errors, compile() finds the rest
    ('return' outside a function, misplaced nonlocal, ...)."""
    try:
        tree = ast.parse(source, filename=SCRIPT_FILENAME)
        compile(tree, SCRIPT_FILENAME, "exec", dont_inherit=True)
        return tree, None
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
        return None, syntax_error(exc)
    except (RecursionError, MemoryError):
        return None, error("syntax_error", "SyntaxError: the script is nested too deeply to compile")


def _module_statements(body: list):
    """Statements that run in the module's namespace, including those inside if/for/try/with blocks."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, _BLOCKS):
            for field in ("body", "orelse", "finalbody"):
                yield from _module_statements(getattr(stmt, field, None) or [])
            for handler in getattr(stmt, "handlers", None) or []:
                yield from _module_statements(handler.body)
            for case in getattr(stmt, "cases", None) or []:
                yield from _module_statements(case.body)


def _target_names(node) -> list:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [name for element in node.elts for name in _target_names(element)]
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    return []


def module_bindings(tree: ast.Module) -> tuple:
    """(names bound at module level, top-level functions in definition order, has `import *`)."""
    names, functions, star = set(), [], False
    for stmt in _module_statements(tree.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(stmt.name)
            if stmt.name not in functions:
                functions.append(stmt.name)
        elif isinstance(stmt, ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names.update(n for target in stmt.targets for n in _target_names(target))
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and getattr(stmt, "value", None) is not None:
            names.update(_target_names(stmt.target))
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            names.update(_target_names(stmt.target))
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            names.update(n for item in stmt.items if item.optional_vars for n in _target_names(item.optional_vars))
        elif isinstance(stmt, ast.Import):
            names.update(alias.asname or alias.name.partition(".")[0] for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            star = star or any(alias.name == "*" for alias in stmt.names)
            names.update(alias.asname or alias.name for alias in stmt.names if alias.name != "*")
    return names, functions, star


def missing_entrypoint(entrypoint: str, functions: list, what: Optional[str] = None) -> dict:
    """The script has no callable `entrypoint`; `what` says what the name is when it is bound to something else."""
    if what:
        message = f"'{entrypoint}' is {what}, not a function"
    else:
        defined = ", ".join(f"{name}()" for name in functions) if functions else "no functions"
        message = f"The script has no function '{entrypoint}'; it defines {defined}"
    suggestions = [f"Did you mean '{match}'?" for match in difflib.get_close_matches(entrypoint, functions, n=1)]
    suggestions.append(f"Define def {entrypoint}(): ... at the top level of the script")
    if not functions:
        suggestions.append("Or run it top to bottom with mode: script")
    elif len(suggestions) == 1:
        suggestions.append(f"Or set entrypoint to one of: {', '.join(functions)}")
    return error("missing_entrypoint", message, suggestions=suggestions, available_functions=functions)


def check(request: Request) -> Optional[dict]:
    """The error that stops this request before it runs, or None."""
    tree, problem = parse_script(request.script)
    if problem:
        return problem
    if request.imports is not None:
        refused = first_refused(request.imports, tree)
        if refused:
            module, line = refused
            return error("disallowed_import", request.imports.refusal(module), line=line,
                         suggestions=request.imports.suggestions())
    if request.mode == "function":
        names, functions, star = module_bindings(tree)
        if request.entrypoint not in names and not star:
            return missing_entrypoint(request.entrypoint, functions)
    return None


def answer(obj: Any) -> dict:
    """The preflight answer for a decoded request: {"ok": true} or {"ok": false, "error": {...}}."""
    try:
        problem = check(parse_request(obj))
    except RequestError as exc:
        problem = error("invalid_input", str(exc))
    return {"ok": True} if problem is None else {"ok": False, "error": problem}
