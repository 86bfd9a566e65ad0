"""``kit bench`` from its checked arguments: measure every target and method, then the table and files.

Targets are those of ``kit matrix`` (``kit.places.parse``).  One worker runs at a time, host
first, then each Python's container, so that no two measurements share the CPUs.  Interrupted,
the rows that finished are still written.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional

from kit.bench.chart import chart_path, chart_svg
from kit.bench.container import measure_container
from kit.bench.host import measure_host
from kit.bench.records import ERROR, Bench, MethodBench, dump
from kit.bench.render import markdown, progress_line, text_table

Say = Callable[[str], None]
Write = Callable[[Optional[str], str], None]  # a path (None: nowhere, "-": stdout), the text


def run(spec: str, methods: Sequence[str], repeat: int, on_row: Callable[[MethodBench], None],
        say: Say) -> list[MethodBench]:
    """Every method on every target of ``spec`` (as ``kit matrix --targets``), one worker at a time;
    ``on_row`` sees each row as it comes.  A bad target is a UsageError before anything runs."""
    from kit.places import clients, parse

    plan = parse(spec)
    client, images = clients(plan, say)
    rows: list[MethodBench] = []

    def got(row: MethodBench) -> None:
        rows.append(row)
        on_row(row)

    if plan.host:
        for method in methods:
            got(measure_host(method, repeat))
    if client is not None:
        for python, image in images.items():
            say(f"docker:{python}: {', '.join(methods)} in one container of {image}")
            for row in measure_container(client, python, image, methods, repeat, say):
                got(row)
    return rows


def write_outputs(bench: Bench, json_path: str | None, markdown_path: str | None,
             write: Write) -> None:
    write(json_path, dump(bench))
    if markdown_path:
        chart = chart_path(markdown_path)
        write(markdown_path, markdown(bench, chart))
        if chart:
            write(chart, chart_svg(bench))


@dataclass(frozen=True)
class Outputs:
    """Where ``kit bench`` writes: the JSON and the Markdown (and its chart) through ``write``
    (``-``: stdout), the table on ``human``."""

    json_path: str | None
    markdown_path: str | None
    human: Any
    write: Write


def command(spec: str, methods: Sequence[str], repeat: int, outputs: Outputs, say: Say) -> int:
    """``kit bench`` once its arguments are checked: progress on ``say``, the table and files as
    ``outputs`` says.  Interrupted, it writes what finished; a failed measurement (not a skipped
    method) is a KitError once everything is written."""
    from kit.errors import KitError

    json_path, markdown_path, human, write = outputs.json_path, outputs.markdown_path, outputs.human, outputs.write

    t0 = time.monotonic()
    rows: list[MethodBench] = []

    def on_row(row: MethodBench) -> None:
        rows.append(row)
        say(progress_line(row))

    try:
        run(spec, methods, repeat, on_row, say)
    except KeyboardInterrupt:
        if rows:
            write_outputs(Bench(tuple(rows), repeat, time.monotonic() - t0), json_path, markdown_path, write)
        raise
    bench = Bench(tuple(rows), repeat, time.monotonic() - t0)
    print(text_table(bench), file=human, flush=True)
    write_outputs(bench, json_path, markdown_path, write)
    say(f"kit bench: {len(rows)} measurement(s) in {bench.seconds:.0f} s")
    failed = [r for r in rows if r.status == ERROR]
    if failed:
        raise KitError(f"bench: {len(failed)} measurement(s) failed: "
                       + "; ".join(f"{r.target} {r.method}: {r.reason}" for r in failed[:3]))
    return 0
