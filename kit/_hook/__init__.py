"""A folder the runner puts first on a run's ``PYTHONPATH``: its ``sitecustomize`` installs
``kit.probe`` in every Python process of the run (see that module)."""
