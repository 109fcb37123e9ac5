"""Automatic evaluators: checks registered by name that score one response (refusal, JSON, ...)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

ChatMessages = list[dict[str, str]]


@dataclass(frozen=True)
class EvalResult:
    """A score (1.0 = the behaviour is present) and an optional short label."""

    value: float
    label: str | None = None


EvalFn = Callable[[ChatMessages, str], EvalResult | None]
"""Returns None when the check does not apply to this prompt (e.g. JSON check on prose)."""


@dataclass(frozen=True)
class Evaluator:
    name: str
    version: int
    description: str
    fn: EvalFn


REGISTRY: dict[str, Evaluator] = {}
_BUILTIN_MODULES = ("refusal", "json_format", "identity_leak")


def evaluator(name: str, *, version: int = 1, description: str = "") -> Callable[[EvalFn], EvalFn]:
    """Register ``fn`` under ``name``; bump ``version`` whenever its verdicts change."""

    def register(fn: EvalFn) -> EvalFn:
        REGISTRY[name] = Evaluator(name, version, description or (fn.__doc__ or "").strip(), fn)
        return fn

    return register


def load_builtin() -> dict[str, Evaluator]:
    """Import the built-in evaluator modules (lazily, so heavy ones cost nothing until used)."""
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return REGISTRY
