"""Run at start-up by every Python process of a run: installs ``kit.probe``, then hands over.

The runner puts this folder first on the run's ``PYTHONPATH`` so that spawn children, the
forkserver and its workers (fresh interpreters that never run the launcher) record what
multiprocessing does in them too.  Outside a run (``KIT_EVENTS`` unset) it does nothing but
hand over.  Handing over: the ``sitecustomize`` this one hides (Debian ships one) is found on
the rest of ``sys.path``, run, and left in ``sys.modules`` as if it had been imported
directly; this folder is then taken off ``sys.path``, so the script sees the path it would
see under ``python script.py``.
"""
import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _install() -> None:
    if not os.environ.get("KIT_EVENTS"):  # kit.env.EVENTS: nothing of the kit is imported outside a run
        return
    try:
        from kit import probe

        probe.install()
    except Exception as exc:  # noqa: BLE001 - never break the user's process; say it once
        sys.stderr.write(f"kit: probe not installed in pid {os.getpid()}: {exc!r}\n")


def _hand_over() -> None:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None or spec.origin == __file__:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module  # the import statement returns this one
    spec.loader.exec_module(module)


_install()
_hand_over()
