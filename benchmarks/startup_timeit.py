"""A bare ``timeit`` of one process start-up: ``python -m benchmarks.startup_timeit METHOD`` (from
the repository's root) prints ms per operation.

The reference ``kit bench`` is compared with: the same statement, a fresh interpreter, no kit
import; a warm-up first (the forkserver's own start is not a process start-up).  Under spawn
and forkserver every child imports this module again (as ``__mp_main__``), so nothing but
``multiprocessing`` is imported at its top: what a start costs, not what this script imports.

Run as a module in a package, as ``kit bench``'s worker is (``python -m kit._bench_worker``: each
child imports the package again, 0.2-0.5 ms of a forkserver start here), not as a file:
before 3.13.8 and 3.14.1 the forkserver did not preload a script's ``__main__`` (CPython
gh-126631, gh-137996), so each of its children re-runs the file through ``runpy.run_path``,
which imports ``pkgutil`` there: on 3.11 here, 6.9 ms a start as a file against 3.0 ms as a
module (2.3 ms with ``pkgutil`` preloaded).  Both are real; the comparison must be of the same one.
"""
import multiprocessing
import sys

STATEMENT = "p = ctx.Process(target=noop); p.start(); p.join()"


def noop() -> None:
    pass


def main() -> None:
    import statistics
    import timeit

    ctx = multiprocessing.get_context(sys.argv[1])
    timer = timeit.Timer(STATEMENT, globals={"ctx": ctx, "noop": noop})
    timer.timeit(number=4)  # warm-up: the forkserver starts, imports are done
    number = 5 if sys.argv[1] == "spawn" else 20
    runs = timer.repeat(repeat=9, number=number)
    print(f"{statistics.median(runs) / number * 1000:.4f} ms")


if __name__ == "__main__":
    main()
