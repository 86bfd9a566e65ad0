"""``kit bench``: what each start method costs, on the host and in the kit's containers.

Per target and start method, a fresh interpreter runs ``python -m kit._bench_worker`` (its
measuring code, ``kit._bench_measure``, says how and why each figure is measured) and prints raw
samples as JSON.  The package turns them into a report:

* ``records``: frozen rows with their medians and spreads, JSON out (never NaN) and back in,
  every field checked (``fields``) as ``kit.results`` checks a run's;
* ``worker``: the worker's command line and output; ``host`` and ``container`` measure there
  (a container through ``kit.container.driver``, as the matrix's);
* ``render``: the text table, Markdown and progress lines; ``chart``: the SVG beside the Markdown;
* ``main``: ``kit bench`` itself (``command``).
"""
from kit.bench.chart import chart_path, chart_svg
from kit.bench.container import container_command, measure_container
from kit.bench.host import measure_host
from kit.bench.main import Outputs, command, run, write_outputs
from kit.bench.records import (
    ABOVE_N,
    CHANNELS,
    ERROR,
    KIND,
    OK,
    SKIPPED,
    TARGET_EFFICIENCY,
    UNDISTURBED,
    VERSION,
    Bench,
    MethodBench,
    Platform,
    PoolStart,
    Samples,
    ScalePoint,
    Scaling,
    Startup,
    Stats,
    Transfer,
    dump,
    load,
)
from kit.bench.render import markdown, progress_line, scaling_notes, text_table
from kit.bench.worker import WORKER, from_worker, parse_output, worker_command, worker_timeout

__all__ = ["ABOVE_N", "CHANNELS", "ERROR", "KIND", "OK", "SKIPPED", "TARGET_EFFICIENCY", "UNDISTURBED", "VERSION",
           "WORKER", "Bench", "MethodBench", "Outputs", "Platform", "PoolStart", "Samples", "ScalePoint", "Scaling",
           "Startup", "Stats", "Transfer", "chart_path", "chart_svg", "command", "container_command", "dump",
           "from_worker",
           "load", "markdown", "measure_container", "measure_host", "parse_output", "progress_line", "run",
           "scaling_notes", "text_table", "worker_command", "worker_timeout", "write_outputs"]
