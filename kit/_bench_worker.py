"""``python -m kit._bench_worker --method M ...``: the measuring interpreter of ``kit bench``.

A few lines on purpose: a spawn or forkserver child re-runs ``__main__`` (as ``__mp_main__``)
and that is counted in every start-up measured; the measuring code (``kit._bench_measure``,
whose docstring says how and why) is imported under the guard only.  The functions the
children run are defined here, so that a child unpickles them from this small module.
"""


def noop() -> None:
    pass


def trivial() -> int:
    return 1


if __name__ == "__main__":
    import sys

    from kit import _bench_measure

    sys.exit(_bench_measure.main(sys.argv[1:], noop, trivial))
