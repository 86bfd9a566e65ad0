"""A test file with no test in it."""
from __future__ import annotations

VALUE = 1
