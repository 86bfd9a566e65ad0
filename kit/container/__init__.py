"""Run the kit in Linux containers, one image per Python version, through the Docker SDK.

``engine`` connects and owns container lifetimes; ``images`` builds ``kit:pyX.Y``
images (from ``python:X.Y-slim`` or from Debian packages when no registry
answers); ``run`` runs a whole matrix batch in one container and returns
ordinary ``RunResult`` objects.  Importing this package does not import the
SDK, so the kit keeps working without it.
"""
from kit.container.engine import LABEL, EngineUnavailable, connect, container, leftovers

__all__ = ["LABEL", "EngineUnavailable", "connect", "container", "leftovers"]
