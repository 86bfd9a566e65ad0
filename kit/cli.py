"""``python -m kit``: list, run, matrix.  Bad input gets one line and exit status 2."""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from kit import render, results
from kit.catalogue import EXAMPLES
from kit.matrix import ALL_METHODS, host_methods
from kit.results import RunResult
from kit.runner import DEFAULT_SCALE, DEFAULT_TIMEOUT, Target, example_target, run, script_target
from kit.targets import TargetError, run_targets


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m kit", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the examples, one line each")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--scale", type=_positive, default=DEFAULT_SCALE,
                        help=f"time factor for the article's sleeps (default {DEFAULT_SCALE}; 1 = article timings)")
        sp.add_argument("--timeout", type=_positive, default=DEFAULT_TIMEOUT,
                        help=f"seconds before a run's whole tree is killed (default {DEFAULT_TIMEOUT:g})")
        sp.add_argument("--json", metavar="FILE", help="write the results as a JSON array (- for stdout)")

    r = sub.add_parser("run", help="run one example or your own script")
    r.add_argument("target", metavar="EXAMPLE|SCRIPT.py")
    r.add_argument("--method", default="all", choices=[*ALL_METHODS, "all"])
    r.add_argument("--targets", default="host", metavar="T[,T...]",
                   help="host (default), docker, docker:X.Y, auto; containers run examples only")
    common(r)

    m = sub.add_parser("matrix", help="every example under every start method, as a table")
    m.add_argument("--examples", nargs="+", metavar="EXAMPLE", default=list(EXAMPLES))
    m.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=host_methods())
    m.add_argument("--targets", default="auto", metavar="T[,T...]",
                   help="host, docker (every Python), docker:X.Y, or auto (default: the host, plus "
                        "the containers when a Docker daemon answers and the images are built)")
    m.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    common(m)

    i = sub.add_parser("images", help="build the Linux container images, one per Python version")
    i.add_argument("--python", nargs="+", metavar="X.Y", default=None,
                   help="Python versions (default: 3.11 3.13 3.14 3.15)")
    i.add_argument("--base", choices=["auto", "pull", "debian"], default="auto",
                   help="pull python:X.Y-slim, or build the base from Debian packages with mmdebstrap; "
                        "auto: whichever base is here, else pull, falling back to debian")

    rep = sub.add_parser("report", help="merge result files from many runs into one table")
    rep.add_argument("files", nargs="+", metavar="FILE", help="JSON files written by --json")
    rep.add_argument("--markdown", metavar="FILE", help="also write the merged table as Markdown")
    rep.add_argument("--json", metavar="FILE", help="write the merged results as one JSON array (- for stdout)")
    return p


def _target(text: str) -> Target:
    if text in EXAMPLES:
        return example_target(text)
    if not text.endswith(".py"):
        raise UsageError(f"unknown example {text!r}; known: {', '.join(EXAMPLES)} (or give a path to a .py script)")
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"no such script: {text}")
    try:
        ast.parse(path.read_bytes(), filename=text)
    except SyntaxError as exc:
        raise UsageError(f"{text} does not parse: {exc.msg} (line {exc.lineno})") from None
    except ValueError as exc:
        raise UsageError(f"{text} cannot be read as Python: {exc}") from None
    return script_target(text)


def _write(path: str | None, text: str) -> None:
    if path == "-":
        sys.stdout.write(text + "\n")
    elif path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n", encoding="utf-8")


def _exit_status(rs: list[RunResult]) -> int:
    return 0 if all(r.status in ("pass", "skipped") for r in rs) else 1


def cmd_list(_: argparse.Namespace) -> int:
    width = max(map(len, EXAMPLES))
    for example in EXAMPLES.values():
        print(f"{example.name.ljust(width)}  {example.summary}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    methods = list(ALL_METHODS) if args.method == "all" else [args.method]
    human = sys.stderr if args.json == "-" else sys.stdout
    if args.targets != "host":
        if args.target not in EXAMPLES:
            raise UsageError("--targets other than host run the examples only, not scripts")
        rs = _on_targets(args, [args.target], methods)
        for r in rs:
            print(f"[{r.platform.target if r.platform else '?'}] " + render.run_summary(r), file=human)
    else:
        target = _target(args.target)
        rs = []
        for method in methods:
            r = run(target, method, scale=args.scale, timeout=args.timeout)
            rs.append(r)
            print(render.run_summary(r), file=human, flush=True)
    _write(args.json, results.dump(rs))
    return _exit_status(rs)


def _on_targets(args: argparse.Namespace, examples: list[str], methods: list[str]) -> list[RunResult]:
    def progress(i: int, n: int, r: RunResult) -> None:
        print(f"[{i:>2}/{n}] {r.example:<18} {r.method:<10} {render.cell(r)}", file=sys.stderr, flush=True)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        return run_targets(args.targets, examples, methods, args.scale, args.timeout, progress, say)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except TargetError as exc:
        raise UsageError(f"cannot run on {args.targets}: {exc}") from None


def cmd_matrix(args: argparse.Namespace) -> int:
    for name in args.examples:
        if name not in EXAMPLES:
            raise UsageError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
    rs = _on_targets(args, args.examples, args.methods)
    print(render.text_table(rs), file=sys.stderr if args.json == "-" else sys.stdout)
    _write(args.json, results.dump(rs))
    if args.markdown:
        _write(args.markdown, render.markdown_table(rs))
    return _exit_status(rs)


def cmd_images(args: argparse.Namespace) -> int:
    from kit.container.engine import EngineUnavailable, connect
    from kit.container.images import PYTHONS, ImageError, build_images

    pythons = args.python or list(PYTHONS)
    unknown = [p for p in pythons if p not in PYTHONS]
    if unknown:
        raise UsageError(f"no image for Python {', '.join(unknown)}; known: {', '.join(PYTHONS)}")
    try:
        built = build_images(connect(), pythons, base=args.base, progress=lambda m: print(m, flush=True))
    except EngineUnavailable as exc:
        raise UsageError(exc.reason) from None
    except ImageError as exc:
        print(f"kit: images: {exc}", file=sys.stderr)
        return 1
    for b in built:
        state = "up to date" if b.reused else f"built in {b.seconds:.1f} s"
        print(f"docker:{b.python}  {b.tag}  base {b.base_image} ({b.base_kind})  {state}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from kit import report

    try:
        merged = report.merge(report.load_files(args.files))
    except report.ReportError as exc:
        raise UsageError(str(exc)) from None
    if not merged.rows:
        raise UsageError("the files hold no results")
    print(report.text(merged), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.markdown:
        _write(args.markdown, report.markdown(merged))
    _write(args.json, results.dump(merged.results))
    return _exit_status(merged.results)


COMMANDS = {"list": cmd_list, "run": cmd_run, "matrix": cmd_matrix, "images": cmd_images, "report": cmd_report}


def _never_crash_on_print() -> None:
    """A Windows console (cp1252...) cannot show the article's Chinese: escape, don't crash."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _never_crash_on_print()
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"kit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kit: interrupted", file=sys.stderr)
        return 130
