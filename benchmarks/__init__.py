"""A package only so that ``python -m benchmarks.startup_timeit`` has the shape of ``python -m
kit._bench_worker``: a small module in a package, which each spawn or forkserver child imports
again (the package first: 0.2-0.5 ms of a forkserver start here, against a top-level module)."""
