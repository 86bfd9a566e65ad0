"""What a script's own text says, read once with ``ast`` (nothing is run): which top-level
statements have effects, whether the main block is guarded, which module globals the main
block changes.  Diagnoses use it to tell a harmless re-import under spawn (imports,
definitions, constants) from top-level code that really runs again in every child, and to
name the module state that spawn and forkserver children never see.  The file's name says two
more things: a script named like a standard-library module (``random.py``) is imported in its
place by whatever imports that module, once the script's folder leads ``sys.path``; and a
``test_*.py`` file of test functions defines tests that running it never calls.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Effect:
    line: int
    text: str  # the statement's first line, trimmed


@dataclass(frozen=True)
class SourceFacts:
    effects: tuple[Effect, ...] = ()  # top-level statements that do something when imported
    computed: tuple[Effect, ...] = ()  # top-level assignments computed by calls (slow if costly)
    guarded: bool = False  # has ``if __name__ == "__main__":``
    main_globals: tuple[str, ...] = field(default=())  # module globals (re)bound in the main block
    test_functions: bool = False  # defines ``test_*`` functions (at top level or in a class)
    shadows: str = ""  # the standard-library module the file's name hides ("random" for random.py)
    looks_like_tests: bool = False  # a pytest module: test_*.py or *_test.py with test functions


_STDLIB_FALLBACK = frozenset((
    "abc", "argparse", "array", "ast", "asynchat", "asyncio", "asyncore", "base64", "bdb", "binascii", "bisect",
    "builtins", "bz2", "calendar", "cmath", "cmd", "code", "codecs", "codeop", "collections", "colorsys",
    "compileall", "concurrent", "configparser", "contextlib", "contextvars", "copy", "copyreg", "cProfile", "csv",
    "ctypes", "curses", "dataclasses", "datetime", "dbm", "decimal", "difflib", "dis", "doctest", "email",
    "encodings", "enum", "errno", "faulthandler", "fcntl", "filecmp", "fileinput", "fnmatch", "fractions", "ftplib",
    "functools", "gc", "getopt", "getpass", "gettext", "glob", "graphlib", "grp", "gzip", "hashlib", "heapq", "hmac",
    "html", "http", "imaplib", "importlib", "inspect", "io", "ipaddress", "itertools", "json", "keyword",
    "linecache", "locale", "logging", "lzma", "mailbox", "marshal", "math", "mimetypes", "mmap", "msvcrt",
    "multiprocessing", "netrc", "numbers", "opcode", "operator", "optparse", "os", "pathlib", "pdb", "pickle",
    "pickletools", "pkgutil", "platform", "plistlib", "poplib", "posix", "pprint", "profile", "pstats", "pty", "pwd",
    "py_compile", "pyclbr", "pydoc", "queue", "quopri", "random", "re", "readline", "reprlib", "resource",
    "rlcompleter", "runpy", "sched", "secrets", "select", "selectors", "shelve", "shlex", "shutil", "signal", "site",
    "smtplib", "socket", "socketserver", "sqlite3", "ssl", "stat", "statistics", "string", "stringprep", "struct",
    "subprocess", "symtable", "sys", "sysconfig", "syslog", "tabnanny", "tarfile", "tempfile", "termios", "textwrap",
    "threading", "time", "timeit", "tkinter", "token", "tokenize", "trace", "traceback", "tracemalloc", "tty",
    "turtle", "types", "typing", "unicodedata", "unittest", "urllib", "uuid", "venv", "warnings", "wave", "weakref",
    "webbrowser", "winreg", "wsgiref", "xml", "xmlrpc", "zipapp", "zipfile", "zipimport", "zlib", "zoneinfo",
))
"""Python 3.9 has no ``sys.stdlib_module_names``: the modules a script is likely to be named after."""
STDLIB_MODULES: frozenset[str] = frozenset(getattr(sys, "stdlib_module_names", ())) or _STDLIB_FALLBACK
"""Names of the standard library's top-level modules."""
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    names = any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts)
    main = any(isinstance(p, ast.Constant) and p.value == "__main__" for p in parts)
    return names and main


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


_INERT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass,
          ast.Global, ast.Nonlocal)


def _has_call(node: ast.AST) -> bool:
    return any(isinstance(n, (ast.Call, ast.Await)) for n in ast.walk(node))


def _on_line(found: list[Effect], line: int) -> bool:
    return any(e.line == line for e in found)


def _classify(stmts: list[ast.stmt], lines: list[str], effects: list[Effect], computed: list[Effect]) -> None:
    for node in stmts:
        text = lines[node.lineno - 1].strip()[:80] if 0 < node.lineno <= len(lines) else ""
        if isinstance(node, _INERT) or _is_main_guard(node):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a bare constant
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            if node.value is not None and _has_call(node.value) and not _on_line(computed, node.lineno):
                computed.append(Effect(node.lineno, text))
            continue
        if isinstance(node, ast.If):
            if _is_type_checking(node):
                continue
            _classify([*node.body, *node.orelse], lines, effects, computed)  # a platform test around imports
            continue
        if isinstance(node, ast.Try):
            _classify([*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)],
                      lines, effects, computed)
            continue
        if not _on_line(effects, node.lineno):  # "p.start(); p.join()": one line, shown once
            effects.append(Effect(node.lineno, text))  # a call, a loop, a with, a raise, an assert...


def _bound_names(stmts: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in stmts:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
            elif isinstance(n, ast.Global):
                names.update(n.names)
    return names


def _defines_tests(tree: ast.Module) -> bool:
    """A ``test_*`` function at top level or in a class, as pytest collects them."""
    def is_test(node: ast.stmt) -> bool:
        return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")

    return any(is_test(n) or (isinstance(n, ast.ClassDef) and any(is_test(m) for m in n.body)) for n in tree.body)


def analyse(text: str) -> SourceFacts:
    """Facts about one script's source; an empty ``SourceFacts`` when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return SourceFacts()
    lines = text.splitlines()
    effects: list[Effect] = []
    computed: list[Effect] = []
    _classify(tree.body, lines, effects, computed)
    guards = [n for n in tree.body if _is_main_guard(n)]
    top = _bound_names([n for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))])
    in_main = _bound_names([s for g in guards if isinstance(g, ast.If) for s in g.body])
    in_functions = {name for n in ast.walk(tree) if isinstance(n, ast.Global) for name in n.names}
    return SourceFacts(
        effects=tuple(effects),
        computed=tuple(computed),
        guarded=bool(guards),
        main_globals=tuple(sorted((in_main & top) | (in_functions & top))),
        test_functions=_defines_tests(tree),
    )


def shadowed_module(path: str | Path) -> str:
    """The standard-library module a script at ``path`` hides from every import once its folder leads
    ``sys.path`` (as ``python script.py`` puts it), "" when its name is its own."""
    p = Path(path)
    return p.stem if p.suffix == ".py" and p.stem in STDLIB_MODULES else ""


def analyse_file(path: str | Path) -> SourceFacts:
    """``analyse`` of the file's text, with what its name says."""
    try:
        facts = analyse(Path(path).read_text("utf-8", "replace"))
    except OSError:
        facts = SourceFacts()
    tests = facts.test_functions and bool(_TEST_FILE.match(Path(path).name))
    return replace(facts, shadows=shadowed_module(path), looks_like_tests=tests)
