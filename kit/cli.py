"""``kit`` (or ``python -m kit``): see what multiprocessing really does under fork, spawn and forkserver.

Commands: list, run, matrix, images, report.  Errors are caught once, in ``main``: bad input
gets one line and exit status 2; other ``KitError``s their own status; a bug in the kit a
pointer to its traceback (``--debug`` or ``KIT_DEBUG=1`` shows it) and status 3.  SIGINT,
SIGTERM and SIGHUP stop the run in progress, kill everything it started, write what
finished, and exit 130, 143 or 129.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn
from collections.abc import Callable, Sequence

import kit
from kit import diagnose, env, errors, guess, options, render, results
from kit.progress import Progress
from kit.catalogue import EXAMPLES, Subject, example_subject, script_subject, select
from kit.errors import KitError, UsageError
from kit._bench_measure import DEFAULT_REPEAT
from kit.matrix import default_jobs, host_methods
from kit.outcomes import ALL, Code, Method, Status, exit_status, size_text
from kit.result_files import ResultFiles
from kit.results import RunResult
from kit.stop import STOP, Interrupted, Stopped
from kit.settings import DEFAULT_SCALE, Settings

DEBUG_ENV = env.DEBUG


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default where it has one; none for an option that is off or unset unless given."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


GLOBAL_FLAGS = ("--debug", "--quiet", "--verbose")
"""Accepted before the command and after it (``kit -q run x.py`` and ``kit run x.py -q``)."""


def _global_flags(parser: argparse.ArgumentParser, after_command: bool) -> None:
    """After the command the flags default to nothing, so that ``kit -q run x.py`` keeps its ``-q``."""
    def default(value: object) -> object:
        return argparse.SUPPRESS if after_command else value

    parser.add_argument("--debug", action="store_true", default=default(False),
                        help=f"show tracebacks of the kit's own errors (or {DEBUG_ENV}=1)")
    parser.add_argument("-q", "--quiet", action="count", default=default(0),
                        help="less output: no progress, one line per run")
    parser.add_argument("-v", "--verbose", action="count", default=default(0),
                        help="more output: every check's verdict, a hung run's stacks")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kit", description="See what multiprocessing really does under fork, spawn and forkserver.",
                formatter_class=_Help)
    p.add_argument("--version", action="version", version=f"kit {kit.__version__}")
    _global_flags(p, after_command=False)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the examples, one line each")

    runtime = {"scale": DEFAULT_SCALE, "jobs": default_jobs(), "repeat": DEFAULT_REPEAT}
    fmt = _Help
    r = sub.add_parser("run", help="run one example or your own script under each start method", formatter_class=fmt)
    r.add_argument("subject", metavar="EXAMPLE|SCRIPT.py")
    r.add_argument("script_args", nargs="*", metavar="ARGS", help="after --: arguments for the script")
    options.add_options(r, "run", runtime)

    t = sub.add_parser("pytest", help="your project's test suite under each start method: which tests depend on it",
                       formatter_class=fmt)
    t.add_argument("folder", nargs="?", default=".", metavar="DIR", help="the project's folder (pytest runs there)")
    t.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARGS", help="after --: arguments for pytest")
    options.add_options(t, "pytest", runtime)

    m = sub.add_parser("matrix", help="every example under every start method, as a table", formatter_class=fmt)
    options.add_options(m, "matrix", runtime)

    i = sub.add_parser("images", help="build the Linux container images, one per Python version", formatter_class=fmt)
    i.add_argument("--python", nargs="+", metavar="X.Y", default=None,
                   help="Python versions (default: every known one)")
    i.add_argument("--base", choices=["auto", "pull", "debian"], default="auto",
                   help="pull python:X.Y-slim, or build the base from Debian packages with mmdebstrap; "
                        "auto: whichever base is here, else pull, falling back to debian")
    todo = i.add_mutually_exclusive_group()
    todo.add_argument("--list", action="store_true",
                      help="build nothing: list the kit images here (bases and the kit-deps images --requirements "
                           "builds), with size, age and what each derived image was built on")
    todo.add_argument("--prune", action="store_true",
                      help="build nothing: remove the kit-deps images built on an older kit:pyX.Y, and per Python "
                           "all but the --keep newest; bases are never removed, nor an image a container uses")
    i.add_argument("--keep", type=options.count(1000), default=None, metavar="N",
                   help="--prune keeps this many kit-deps images per Python, the newest (default: 3)")
    options.add_options(i, "images", runtime)

    rep = sub.add_parser("report", help="merge result files from many runs into one table", formatter_class=fmt)
    rep.add_argument("files", nargs="+", metavar="FILE", help="JSON files written by --json")
    options.add_options(rep, "report", runtime)

    b = sub.add_parser("bench", help="what each start method costs: start-up, pool, Queue/Pipe, CPU scaling",
                       formatter_class=fmt)
    options.add_options(b, "bench", runtime)
    for command in sub.choices.values():
        _global_flags(command, after_command=True)
    return p


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The parser's reading of ``argv``; what follows ``--`` is the script's (``kit run``), wherever
    the kit's own options are (argparse alone refuses ``run s.py --method fork -- -x``)."""
    argv = list(argv)
    rest: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, rest = argv[:at], argv[at + 1:]
    args = build_parser().parse_args(argv)
    if rest:
        if args.command not in ("run", "pytest"):
            raise UsageError(f"arguments after -- are for the script of kit run or for pytest, not kit {args.command}")
        if args.command == "run":
            args.script_args = [*args.script_args, *rest]
        else:
            args.pytest_args = [*args.pytest_args, *rest]
    return args


def _subject(text: str, args: Sequence[str]) -> Subject:
    if text in EXAMPLES:
        if args:
            raise UsageError(f"arguments are for scripts; {text!r} is an example", field="subject")
        return example_subject(text)
    problem = guess.script_problem(text, list(EXAMPLES))
    if problem:
        raise UsageError(problem, path=text)
    path = Path(text)
    try:
        ast.parse(path.read_bytes(), filename=text)
    except SyntaxError as exc:
        raise UsageError(f"{text} does not parse: {exc.msg} (line {exc.lineno})", path=text) from None
    except (ValueError, OSError) as exc:
        raise UsageError(f"{text} cannot be read as Python: {exc}", path=text) from None
    return script_subject(text, args=tuple(args))


def result_files(args: argparse.Namespace) -> ResultFiles:
    """The command's output paths, each tried for writing now, before anything runs (UsageError)."""
    return ResultFiles({"--json": args.json, "--markdown": getattr(args, "markdown", None),
                        "--junit-xml": getattr(args, "junit_xml", None)})


def _human(args: argparse.Namespace) -> Any:
    """Where people read: stderr when stdout carries the JSON."""
    return sys.stderr if getattr(args, "json", None) == "-" else sys.stdout


_SAY_WIDTH: list[int | None] = [None]
"""``--width`` as given (``main`` sets it): what ``_say`` writes fits it, like the tables; without it,
only a terminal's width is kept (a log keeps an error on one line)."""


def _say(line: str) -> None:
    if _SAY_WIDTH[0] is not None or render.colour_wanted(sys.stderr) or render.is_terminal(sys.stderr):
        # --width, a terminal (TERM=dumb too: it has a width) or FORCE_COLOR: fit it
        line = render.fit(line, render.terminal_width(_SAY_WIDTH[0], sys.stderr))
    sys.stderr.write(line + "\n")  # one write: lines from overlapping cells never interleave
    sys.stderr.flush()


def _methods(asked: list[str] | None) -> list[str]:
    out: list[str] = []
    for m in asked or [ALL]:
        out += host_methods() if m == ALL else [m]
    return list(dict.fromkeys(out))


def cmd_list(_: argparse.Namespace) -> int:
    width = max(map(len, EXAMPLES))
    for example in EXAMPLES.values():
        print(f"{example.name.ljust(width)}  {example.summary}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from kit.places import run_subject

    subject = _subject(args.subject, args.script_args)
    methods = _methods(args.method)
    files = result_files(args)
    human = _human(args)
    rs: list[RunResult] = []

    colour, verbosity = render.colour_wanted(human), args.verbose - args.quiet
    width = render.terminal_width(args.width, human)

    gone: list[BrokenPipeError] = []  # the reader went away (``| head``): the runs and the files go on

    def show(r: RunResult) -> None:
        rs.append(r)
        if not gone:
            try:
                print(render.run_summary(r, colour, verbosity, width), file=human, flush=True)
            except BrokenPipeError as exc:
                gone.append(exc)

    settings = _users_interpreter(args, subject, Settings.from_args(args))
    try:
        run_subject(args.targets, subject, methods, settings, show, _say)
    except KeyboardInterrupt as exc:  # Interrupted (a run cut short) or Stopped between runs
        if isinstance(exc, Interrupted):
            show(exc.result)
        _outputs(args, rs, files)
        files.tell(_say)
        raise
    diagnose.compare(rs, subject.facts, ignore=(*settings.ignore_output, *subject.ignore_output))
    changed = [(r, d) for r in rs for d in r.diagnoses if d.code is Code.OUTPUT_DIFFERS]
    hint = _interpreter_hint(rs, subject, settings)

    def last_lines() -> None:
        if gone:
            raise gone[0]
        for r, d in changed:
            print(render.fit(f"{render.safe(r.subject)} under {r.method} ({r.place}): "
                             f"output_differs: {render.safe(d.message)}\n    fix: {d.fix}", width), file=human)
        if hint:
            print(render.fit(hint, width), file=human)
        print(render.fit(diagnose.summary_line(rs, subject.facts), width), file=human, flush=True)

    _show_then_write(last_lines, lambda: _outputs(args, rs, files), files)
    return exit_status([r.status for r in rs], differs=bool(changed))


def _users_interpreter(args: argparse.Namespace, subject: Subject, settings: Settings) -> Settings:
    """A script runs on the host in ``--python``, else the active virtual environment's interpreter,
    else the kit's own (an example always in the kit's)."""
    from kit import interpreter
    from kit.catalogue import SCRIPT
    from kit.places import parse

    if subject.kind != SCRIPT or not parse(args.targets).host:
        return settings
    if args.python or os.environ.get("VIRTUAL_ENV"):
        return settings.but(interpreter=interpreter.find(args.python, cwd=str(Path(subject.path).parent)))
    return settings


def _interpreter_hint(rs: Sequence[RunResult], subject: Subject, settings: Settings) -> str:
    """When the kit's own interpreter ran a script that could not import a module python3 on PATH
    can (a kit installed with pipx: its own environment), say which and how to choose."""
    from kit import interpreter

    if settings.interpreter is not None:
        return ""
    missing = next((m for r in rs if r.place == "host" for m in [interpreter.missing_module(r.error)] if m), None)
    if missing is None:
        return ""
    try:
        path, _ = interpreter.choose()
    except KitError:
        return ""
    if not interpreter.can_import(path, missing, cwd=str(Path(subject.path).parent)):
        return ""
    return (f"kit: the script ran in the kit's own interpreter ({sys.executable}), which cannot import {missing!r}; "
            f"{path} can: run with --python {path}, or activate the project's virtual environment")


def cmd_pytest(args: argparse.Namespace) -> int:
    from kit import interpreter, suite, suite_render
    from kit.places import parse, run_suite

    problem = guess.folder_problem(args.folder)
    if problem:
        raise UsageError(problem, path=args.folder)
    folder = Path(args.folder)
    files = result_files(args)
    methods = _methods(args.method)
    settings = Settings.from_args(args)
    if parse(args.targets).host:
        found = interpreter.find(args.python, cwd=str(folder))
        if found.pytest_version is None:
            raise UsageError(f"pytest cannot be imported by {found.describe()} ({found.pytest_error}): install it "
                             "in the project's environment, or choose another interpreter with --python PATH")
        settings = settings.but(interpreter=found)
    subject = suite.suite_subject(folder, args.pytest_args)
    done: list[RunResult] = []
    shown = Progress.for_stream(sys.stderr, args.verbose - args.quiet, args.width, render.colour_wanted(sys.stderr))

    def progress(i: int, n: int, r: RunResult, running: Sequence[str]) -> None:
        done.append(r)
        totals = suite.totals_line(r.tests) if r.tests is not None else r.reason
        shown.cell(r, n, running, f"{r.status}: {totals}")

    try:
        with shown:
            rs = run_suite(args.targets, subject, methods, settings, progress, shown.say)
    except KeyboardInterrupt as exc:
        rs = [*done, exc.result] if isinstance(exc, Interrupted) else list(done)
        _suite_outputs(args, rs, files)
        files.tell(_say)
        raise
    suite.compare(rs)
    _confirm(args, rs, settings, folder)
    human = _human(args)
    _show_then_write(lambda: print(suite_render.text(rs, render.colour_wanted(human),
                                                     render.terminal_width(args.width, human)), file=human, flush=True),
                     lambda: _suite_outputs(args, rs, files), files)
    return exit_status((r.status for r in rs), differs=bool(suite.depends_on_method(rs)))


def _confirm(args: argparse.Namespace, rs: list[RunResult], settings: Settings, folder: Path) -> None:
    """Run each test whose outcome differs once more, in its cell and the reference cell, and keep
    the difference only where it reproduces (``kit.suite.confirm``)."""
    from kit import suite
    from kit.places import run_suite

    wanted = suite.to_confirm(rs)
    if not wanted:
        return
    if not args.quiet:
        _say(f"kit: running {len({t for _, ts in wanted.values() for t in ts})} test(s) whose outcome differs once "
             "more, to tell a method dependence from a flaky test")
    again: list[RunResult] = []
    for place, (methods, tests) in wanted.items():  # a place's cells at once, overlapping as the first run's
        subject = suite.suite_subject(folder, [*args.pytest_args, *tests])
        again += run_suite(place, subject, methods, settings.but(quiet=True), lambda *_: None, lambda _: None)
    suite.confirm(rs, again)


def _suite_outputs(args: argparse.Namespace, rs: list[RunResult], files: ResultFiles) -> None:
    from kit import junit, suite_render

    if args.json:
        files.write(args.json, results.dump(rs))
    markdown = suite_render.markdown(rs)
    if args.markdown:
        files.write(args.markdown, markdown)
    if args.junit_xml:
        files.write(args.junit_xml, junit.to_xml(rs))
    files.step_summary(markdown)


def _examples(asked: list[str]) -> list[str]:
    try:
        return select(asked)
    except ValueError as exc:
        raise UsageError(str(exc), field="examples") from None


def cmd_matrix(args: argparse.Namespace) -> int:
    from kit.places import run_places

    examples, methods = _examples(args.examples), _methods(args.methods)
    files = result_files(args)
    done: list[RunResult] = []
    shown = Progress.for_stream(sys.stderr, args.verbose - args.quiet, args.width, render.colour_wanted(sys.stderr))
    shown.total = _cells_asked(args.targets, len(examples) * len(methods))

    def progress(i: int, n: int, r: RunResult, running: Sequence[str]) -> None:
        done.append(r)
        shown.cell(r, n, running)

    try:
        with shown:  # the live line is gone before the table, a warning or the interrupt's line
            rs = run_places(args.targets, examples, methods, Settings.from_args(args), progress, shown.say)
    except KeyboardInterrupt as exc:  # Interrupted (a run cut short) or Stopped between runs
        rs = [*done, exc.result] if isinstance(exc, Interrupted) else list(done)
        finished = {(r.subject, r.method) for r in rs}
        rs += [RunResult(e, Method(m), Status.INTERRUPTED, "not run: the kit was interrupted")
               for e in examples for m in methods if (e, m) not in finished]
        _outputs(args, rs, files)
        files.tell(_say)
        raise
    _show_then_write(lambda: print(render.text_table(rs, render.terminal_width(args.width, _human(args))),
                                   file=_human(args), flush=True),
                     lambda: _outputs(args, rs, files), files)
    return exit_status(r.status for r in rs)


def _show_then_write(show: Callable[[], None], write: Callable[[], None], files: ResultFiles) -> None:
    """A command's last lines, then its files: a reader that went away (``| head``) costs the lines,
    not the files (the command then ends as main() ends it on a broken pipe)."""
    try:
        show()
    except BrokenPipeError:
        write()
        files.tell(_say)
        raise
    write()
    files.finish()


def _cells_asked(targets: str, per_place: int) -> int:
    """How many cells ``--targets`` asks for, for the progress line before any has ended; 0 (unknown)
    for ``auto``, whose containers run only where they can."""
    from kit.places import parse

    plan = parse(targets)
    return 0 if plan.optional else per_place * (int(plan.host) + len(plan.pythons))


def _outputs(args: argparse.Namespace, rs: list[RunResult], files: ResultFiles) -> None:
    """Every file the command was asked for, and the GitHub step summary when it is set; one
    line when cells were inconclusive (they do not fail the command)."""
    from kit import junit

    undecided = [r for r in rs if r.status is Status.INCONCLUSIVE]
    if undecided:
        _say(f"kit: {len(undecided)} cell(s) inconclusive, not counted as failed: "
             + "; ".join(f"{r.subject}/{r.method}" for r in undecided[:5]) + (" ..." if len(undecided) > 5 else ""))

    if args.json:
        files.write(args.json, results.dump(rs))
    markdown = render.markdown_table(rs)
    if args.markdown:
        files.write(args.markdown, markdown)
    if args.junit_xml:
        files.write(args.junit_xml, junit.to_xml(rs))
    files.step_summary(markdown)


def cmd_images(args: argparse.Namespace) -> int:
    from kit.container.engine import EngineUnavailable, connect
    from kit.container.images import PYTHONS, ImageError, build_images

    pythons = args.python or list(PYTHONS)
    unknown = [p for p in pythons if p not in PYTHONS]
    if unknown:
        raise UsageError(f"no image for Python {', '.join(unknown)}; known: {', '.join(PYTHONS)}")
    if args.keep is not None and not (args.list or args.prune):
        raise UsageError("--keep goes with --prune (or --list): kit images --prune --keep N")
    try:
        if args.list or args.prune:
            from kit.container.deps import KEEP

            width = render.terminal_width(args.width, sys.stdout)
            keep = KEEP if args.keep is None else args.keep
            lines = (_images_list if args.list else _images_prune)(connect(), args.python, keep)
            for line in lines:
                print(render.fit(line, width), flush=True)
            return 0
        built = build_images(connect(), pythons, base=args.base, progress=lambda m: print(m, flush=True))
    except EngineUnavailable as exc:
        raise UsageError(exc.reason) from None
    except ImageError as exc:
        raise KitError(f"images: {exc}") from None
    for b in built:
        state = "up to date" if b.reused else f"built in {b.seconds:.1f} s"
        print(f"docker:{b.python}  {b.tag}  base {b.base_image} ({b.base_kind})  {state}")
    return 0


def _age(created: float) -> str:
    seconds = max(0.0, time.time() - created)
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= span:
            return f"{seconds // span:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _images_list(client: Any, pythons: Sequence[str] | None, keep: int) -> list[str]:
    """``kit images --list``: one line per kit image, the derived ones with their base and their own layers' size."""
    from kit.container import deps

    images = [i for i in deps.kit_images(client) if not pythons or i.python in pythons]
    current = deps.current_bases(images)
    sizes = {i.id: i.size for i in images}
    stale = {s.image.id for s in deps.stale_images(images, current, keep)}
    rows = [("IMAGE", "MiB", "OWN", "CREATED", "BUILT ON")]
    for i in images:
        own = f"{(i.size - sizes[i.base_id]) / 2**20:.0f}" if i.derived and i.base_id in sizes else ""
        on = ""
        if i.derived:
            now = "current" if i.base_id and i.base_id == current.get(i.python) else "superseded"
            on = f"{i.base or '?'} ({now}{f', beyond --keep {keep}' if now == 'current' and i.id in stale else ''})"
        rows.append((" ".join(i.tags), f"{i.size / 2**20:.0f}", own, _age(i.created), on))
    if len(rows) == 1:
        return ["no kit images here: python -m kit images builds them"]
    w = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = [f"{t.ljust(w[0])}  {s.rjust(w[1])}  {o.rjust(w[2])}  {a.rjust(w[3])}  {on}".rstrip()
             for t, s, o, a, on in rows]
    derived = [i for i in images if i.derived]
    lines.append(f"{len(images)} kit image{'s' * (len(images) != 1)}, {len(derived)} derived (OWN: their own "
                 f"layers); {len(stale)} stale: "
                 f"kit images --prune{'' if keep == deps.KEEP else f' --keep {keep}'} removes them")
    return lines


def _images_prune(client: Any, pythons: Sequence[str] | None, keep: int) -> list[str]:
    """``kit images --prune``: what was removed and why, what Docker kept (a container uses it), the space freed."""
    from kit.container import deps

    done = deps.prune(client, keep, pythons)
    lines = [f"removed {' '.join(s.image.tags)} (built {_age(s.image.created)}): {s.why}" for s in done.removed]
    lines += [f"skipped {' '.join(s.image.tags)}: {why}; remove the container (docker ps -a --filter label=kit), "
              "then prune again" for s, why in done.skipped]
    if not done.removed and not done.skipped:
        return [f"nothing to prune: every kit-deps image is on the current kit:pyX.Y and among the {keep} newest "
                "for its Python"]
    lines.append(f"removed {len(done.removed)} kit-deps image{'s' * (len(done.removed) != 1)}, "
                 f"freed {size_text(done.freed)}{f'; skipped {len(done.skipped)} in use' if done.skipped else ''}; "
                 "no base image touched")
    return lines


def cmd_report(args: argparse.Namespace) -> int:
    from kit import report

    files = result_files(args)
    merged = report.merge_files(report.read_files(args.files))
    if not merged.rows:
        raise UsageError("the files hold no results")

    print(report.text(merged, render.terminal_width(args.width, _human(args))), file=_human(args))
    markdown = report.markdown(merged)
    if args.markdown:
        files.write(args.markdown, markdown)
    files.step_summary(markdown)
    files.write(args.json, results.dump(merged.results))
    files.finish()
    return exit_status(r.status for r in merged.results)


def cmd_bench(args: argparse.Namespace) -> int:
    from kit import bench

    methods = _methods(args.methods)
    files = ResultFiles({"--json": args.json, "--markdown": args.markdown,
                         "--markdown (its chart)": bench.chart_path(args.markdown)})
    outputs = bench.Outputs(args.json, args.markdown, _human(args), files.write)
    try:
        status = bench.command(args.targets, methods, args.repeat, outputs, (lambda _: None) if args.quiet else _say)
    except (KitError, KeyboardInterrupt):
        files.tell(_say)  # the measurement's own error or the interrupt is the status
        raise
    files.finish()
    return status


COMMANDS = {"list": cmd_list, "run": cmd_run, "pytest": cmd_pytest, "matrix": cmd_matrix, "images": cmd_images,
            "report": cmd_report, "bench": cmd_bench}


def _never_crash_on_print() -> None:
    """A Windows console (cp1252...) cannot show the article's Chinese: escape, don't crash."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


_received: list[int] = []


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _received:  # a second signal while cleaning up: noted, never lets the clean-up be cut short
        _received.append(signum)
        return
    _received.append(signum)
    STOP.request(signum)
    if not STOP.running:  # between runs (or no run at all): stop right here
        raise Stopped(signum)
    # during a run: its watch loop ends it within one interval, kills it, and raises Interrupted


def _install_signal_handlers() -> None:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            with contextlib.suppress(ValueError, OSError):  # not the main thread (tests call main() there)
                signal.signal(signum, _on_signal)


def _ignore_stop_signals() -> None:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_IGN)


def _debugging(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _quiet_broken_stdout() -> None:
    """stdout closed, full or piped into ``head``: stop quietly, with nothing more written there."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if sys.stdout is None or sys.stderr is None:  # started with a closed stdout/stderr (pythonw, >&-)
        sys.stdout = sys.stdout or Path(os.devnull).open("w")  # noqa: SIM115 - lives as long as the process
        sys.stderr = sys.stderr or Path(os.devnull).open("w")  # noqa: SIM115
    _never_crash_on_print()
    _received.clear()
    STOP.signum = 0
    _install_signal_handlers()
    try:
        args = parse_args(argv)
        _SAY_WIDTH[0] = getattr(args, "width", None)
        status = COMMANDS[args.command](args)
        if STOP.signum:  # the stop came as the last run was ending: its results are complete
            raise Stopped(STOP.signum)
        return status
    except KitError as exc:
        _say(f"kit: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = int(getattr(exc, "signum", signal.SIGINT))  # Stopped, or an Interrupted carrying it (kit.stop)
        _ignore_stop_signals()  # the kit is on its way out: a signal that follows must not kill it mid-exit
        _say(f"kit: interrupted by {signal.Signals(signum).name}: the run was stopped and cleaned up")
        return errors.interrupted_status(signum)
    except BrokenPipeError:
        _quiet_broken_stdout()
        return 1
    except OSError as exc:
        if exc.errno in (28, 9):  # ENOSPC, EBADF on our own stdout: stop quietly
            _quiet_broken_stdout()
            return 1
        return _internal(exc, argv)
    except Exception as exc:  # noqa: BLE001 - the one place that turns a kit bug into a status
        return _internal(exc, argv)


def _internal(exc: BaseException, argv: Sequence[str]) -> int:
    if _debugging(argv):
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    else:
        where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        at = f" at {Path(where[0].filename).name}:{where[0].lineno}" if where else ""
        _say(f"kit: internal error{at}: {type(exc).__name__}: {exc} (a bug in the kit; run with --debug or "
             f"{DEBUG_ENV}=1 for the traceback)")
    return errors.INTERNAL_ERROR
