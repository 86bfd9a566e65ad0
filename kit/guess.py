"""One line for a name or path a command cannot take: what it is instead (a directory, a file that is
not Python), or what was probably meant.

A typo costs a person a re-read of a long list; a directory given to ``kit run`` was meant for
``kit pytest``.  The guesses come from ``difflib.get_close_matches`` at its usual cutoff (0.6): a
name far from every candidate gets the list of what exists, never a wrong suggestion.  Nothing here
runs anything or reads more than a file's first line.
"""
from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from pathlib import Path

CUTOFF = 0.6
"""difflib's own default: "helo" -> "hello" (0.89), "nope" -> nothing."""
MAX_LISTED = 2000
"""The most entries of a folder compared against a typo (a huge folder is not read whole)."""
PYTHON_SUFFIXES = (".py", ".pyw")


def close(word: str, candidates: Collection[str], n: int = 3) -> list[str]:
    """The candidates nearest ``word``, best first; none when nothing is near."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=CUTOFF)


def did_you_mean(word: str, candidates: Collection[str]) -> str:
    """``did you mean 'hello'?``, ``did you mean 'a' or 'b'?``, or "" when nothing is near."""
    found = close(word, candidates)
    return f"did you mean {' or '.join(repr(c) for c in found)}?" if found else ""


def _entries(folder: Path, want_dirs: bool) -> list[str]:
    """The Python files (or the folders) of ``folder``, by name; none when it cannot be read."""
    out: list[str] = []
    try:
        for i, entry in enumerate(folder.iterdir()):
            if i >= MAX_LISTED:
                break
            try:
                wanted = (entry.is_dir() and not entry.name.startswith(".") if want_dirs
                          else entry.suffix in PYTHON_SUFFIXES and entry.is_file())
            except OSError:
                continue
            if wanted:
                out.append(entry.name)
    except OSError:
        return []
    return sorted(out)


def _joined(folder: Path, name: str) -> str:
    """How a person would type ``name`` in ``folder``: no ``./`` for the current folder."""
    return name if str(folder) in ("", ".") else str(folder / name)


def looks_like_python(path: Path) -> bool:
    """A ``.py``/``.pyw`` file, or a file whose first line is a Python ``#!`` line."""
    if path.suffix in PYTHON_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            first = fh.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def script_problem(text: str, examples: Sequence[str]) -> str | None:
    """Why ``text``, given to ``kit run`` and not an example's name, cannot be run as a script, in
    one line; None when it is a file that looks like Python (parsing it is the caller's check)."""
    path = Path(text)
    if path.is_dir():
        return (f"{text} is a directory (kit pytest {text} runs a project's tests; kit run takes a script "
                "or an example name)")
    if path.is_file():
        return None if looks_like_python(path) else (
            f"{text} is not a Python script (kit run takes a .py file or an example name)")
    if path.exists():
        return f"{text} is not a regular file (kit run takes a .py file or an example name)"
    folder = path.parent
    scripts = [_joined(folder, name) for name in _entries(folder, want_dirs=False)]
    if path.suffix in PYTHON_SUFFIXES:
        guess = did_you_mean(text, scripts)
        if not guess and path.stem in examples:
            guess = f"did you mean the example '{path.stem}' (kit run {path.stem})?"
        return f"no such script: {text}" + (f"; {guess}" if guess else "")
    return unknown_example(text, [*examples, *scripts], f"{', '.join(examples)} (or give a path to a .py script)")


def unknown_example(name: str, candidates: Collection[str], known: str) -> str:
    """``unknown example 'helo': did you mean 'hello'?`` when a candidate is near, else the list of
    what is ``known``: the one wording of ``kit run``'s and ``--examples``'s refusal."""
    guess = did_you_mean(name, candidates)
    return f"unknown example {name!r}: {guess}" if guess else f"unknown example {name!r}; known: {known}"


def folder_problem(text: str) -> str | None:
    """Why ``text`` cannot be the project folder of ``kit pytest``, in one line; None when it is a folder."""
    path = Path(text)
    if path.is_dir():
        return None
    if path.is_file():
        said = f"{text} is a file, not a folder: kit pytest runs pytest in a project's folder"
        if path.name.startswith("test") or path.stem.endswith("_test"):
            return f"{said} (for that one file: kit pytest . -- {text})"
        return f"{said} (kit run {text} runs a script)" if looks_like_python(path) else said
    if path.exists():
        return f"{text} is not a folder: kit pytest runs pytest in a project's folder"
    folder = path.parent
    guess = did_you_mean(text, [_joined(folder, name) for name in _entries(folder, want_dirs=True)])
    return f"no such folder: {text}" + (f"; {guess}" if guess else " (kit pytest runs pytest in a project's folder)")
