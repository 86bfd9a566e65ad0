"""Options declared once: the parser is built from them, and a child kit's argv rebuilt from
values parses back to the same values (the container path depends on it)."""
from __future__ import annotations

import argparse

import pytest

from kit import options
from kit.cli import GLOBAL_FLAGS, build_parser, parse_args
from kit.container.run import matrix_command, run_command
from kit.settings import DEFAULTS
from kit.errors import UsageError


def parsed(argv: list[str]) -> argparse.Namespace:
    return parse_args(argv)


def test_a_matrix_argv_parses_back_to_its_values() -> None:
    values: dict[str, object] = dict(targets="host", examples=["hello", "cpu"], methods=["fork", "spawn"],
                                     scale=0.25, timeout=7.5, jobs=1, json="-", junit_xml="out.xml",
                                     markdown="t.md", keep_containers=True)
    args = parsed(options.to_argv("matrix", (), (), **values))
    assert {k: getattr(args, k) for k in values} == values


def test_a_run_argv_with_script_arguments_parses_back() -> None:
    argv = options.to_argv("run", ["s.py"], ["-x", "--y", "z"], method=["default", "fork"], targets="host",
                           scale=0.1, timeout=60.0, json="-")
    args = parsed(argv)
    assert (args.subject, args.script_args, args.method, args.targets, args.scale, args.timeout, args.json) == (
        "s.py", ["-x", "--y", "z"], ["default", "fork"], "host", 0.1, 60.0, "-")


def test_the_container_commands_are_rebuilt_from_the_options() -> None:
    cmd = matrix_command(["hello"], ["fork"], DEFAULTS)
    assert cmd[:3] == ["python", "-m", "kit"]
    args = parsed(cmd[3:])
    assert (args.examples, args.methods, args.targets, args.jobs, args.json) == (["hello"], ["fork"], "host", 1, "-")
    args = parsed(run_command("/w/s.py", ["default"], DEFAULTS, ["--flag"])[3:])
    assert (args.subject, args.method, args.script_args) == ("/w/s.py", ["default"], ["--flag"])


def test_an_option_a_command_does_not_take_is_refused() -> None:
    with pytest.raises(ValueError, match="kit run takes no jobs"):
        options.to_argv("run", ["s.py"], jobs=2)
    with pytest.raises(ValueError, match="takes no nonsense"):
        options.to_argv("matrix", nonsense=1)


def test_every_option_of_the_parser_is_declared_once() -> None:
    """Besides positionals, the global flags and -h, every option of run/matrix/report/bench comes
    from kit.options: a hand-added one would be missed by to_argv."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    declared = {o.flag for o in options.OPTIONS}
    for command in ("run", "matrix", "report", "bench"):
        flags = {f for a in sub.choices[command]._actions for f in a.option_strings if f.startswith("--")}
        assert flags - {"--help", *GLOBAL_FLAGS} <= declared, (command, flags - declared)
        takes = {o.flag for o in options.OPTIONS if command in o.commands}
        assert takes <= flags, (command, takes - flags)


def test_the_round_trip_catches_an_option_that_loses_its_values() -> None:
    """Broken variant: an option written back as one value instead of many parses to another list."""
    broken = options.Option("--methods", ("matrix",), "", kind="value")
    argv = ["matrix", *broken.to_argv(["fork", "spawn"])]
    with pytest.raises(UsageError, match="invalid choice"):
        parsed(argv)
    good = next(o for o in options.OPTIONS if o.flag == "--methods")
    assert parsed(["matrix", *good.to_argv(["fork", "spawn"])]).methods == ["fork", "spawn"]


def test_arguments_after_the_separator_belong_to_kit_run_only() -> None:
    with pytest.raises(UsageError, match="not kit matrix"):
        parsed(["matrix", "--", "-x"])


def test_an_option_has_one_default_for_every_command() -> None:
    """``--targets`` is ``host`` for run, matrix and bench alike (``nox -s matrix`` asks for auto):
    a per-command default made ``kit run`` and ``kit matrix`` differ silently."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for option in options.OPTIONS:
        if option.dest in ("method", "methods", "examples"):  # positional-like lists, filled after parsing
            continue
        seen = {command: sub.choices[command].get_default(option.dest) for command in option.commands}
        assert len({repr(v) for v in seen.values()}) == 1, (option.flag, seen)
    assert {c: sub.choices[c].get_default("targets") for c in ("run", "matrix", "bench")} == dict.fromkeys(
        ("run", "matrix", "bench"), "host")


@pytest.mark.parametrize("argv, quiet, verbose, debug", [
    (["-q", "run", "hello"], 1, 0, False),
    (["run", "hello", "-q"], 1, 0, False),
    (["run", "hello", "-v", "--debug"], 0, 1, True),
    (["-v", "matrix", "--jobs", "2"], 0, 1, False),
    (["run", "hello", "--", "-q"], 0, 0, False),  # after --: the script's
])
def test_the_global_flags_go_before_or_after_the_command(argv: list[str], quiet: int, verbose: int,
                                                          debug: bool) -> None:
    args = parse_args(argv)
    assert (args.quiet, args.verbose, args.debug) == (quiet, verbose, debug)


def test_help_shows_a_default_only_where_there_is_one() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, parser in sub.choices.items():
        text = parser.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, command
    assert "(default: 0.1)" in sub.choices["run"].format_help()  # a real default is still shown
