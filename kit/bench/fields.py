"""Reading numbers and objects out of JSON, each refusal a ValueError naming the field.

A bench file or a worker's output is checked field by field, as ``kit.results`` checks a run's:
``results[2].startup.per_start_s.samples[0] should be positive`` says what to fix.
"""
from __future__ import annotations

import math
from typing import Any


def obj(data: Any, where: str) -> dict[str, Any]:
    """``data`` if it is a JSON object."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} should be an object, not {type(data).__name__}")
    return data


def field(d: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """``d[key]``, present and of ``kind`` (``float`` takes an int too; ``int`` never takes a bool)."""
    if key not in d:
        raise ValueError(f"{where}.{key} is missing")
    value = d[key]
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) if kind is float else (
        isinstance(value, kind) and not (kind is int and isinstance(value, bool)))
    if not ok:
        raise ValueError(f"{where}.{key} should be {kind.__name__}, not {type(value).__name__}")
    return value


def number(value: Any, where: str, positive: bool = True) -> float:
    """A finite number: positive, or (``positive`` off) at least zero."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{where} should be a finite number, not {value!r:.40}")
    if positive and value <= 0:
        raise ValueError(f"{where} should be positive, not {value!r:.40}")
    if value < 0:
        raise ValueError(f"{where} should not be negative, not {value!r:.40}")
    return float(value)


def count(d: dict[str, Any], key: str, where: str, minimum: int = 1) -> int:
    """``d[key]``, an int of at least ``minimum``."""
    value: int = field(d, key, int, where)
    if value < minimum:
        raise ValueError(f"{where}.{key} should be at least {minimum}, not {value}")
    return value


def numbers(values: Any, where: str, positive: bool = True) -> tuple[float, ...]:
    """A non-empty list of finite numbers (positive ones unless ``positive`` is off)."""
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where} should be a non-empty list of numbers")
    return tuple(number(v, f"{where}[{i}]", positive) for i, v in enumerate(values))


def one_of(d: dict[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    """A string among ``choices``."""
    value: str = field(d, key, str, where)
    if value not in choices:
        words = " or ".join([", ".join(choices[:-1]), choices[-1]] if len(choices) > 2 else choices)
        raise ValueError(f"{where}.{key} should be {words}, not {value!r:.40}")
    return value
