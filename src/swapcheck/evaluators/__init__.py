"""Automatic evaluators: factories registered by name that score an answer or a pair of answers."""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from swapcheck.errors import ConfigError

ChatMessages = list[dict[str, str]]
Scope = Literal["response", "pair"]
Kind = Literal["rate", "mean"]
"""``rate``: values are 0 or 1 (share of answers showing the behaviour); ``mean``: any number."""
Direction = Literal["worse", "better", "neutral"]
"""What a higher value means for the answer (refusal: worse; JSON valid: better)."""


@dataclass(frozen=True)
class ResponseInput:
    """One answer to score: the prompt as sent, the answer text and the prompt's metadata."""

    messages: ChatMessages
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairInput:
    """Both answers to one prompt (baseline and candidate) and the prompt's metadata."""

    messages: ChatMessages
    baseline_text: str
    candidate_text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalValue:
    """A typed value (0/1 for a rate, any float for a mean) and an optional short label."""

    value: float
    label: str | None = None


EvalResult = EvalValue
"""Former name of :class:`EvalValue`."""

ResponseFn = Callable[[ResponseInput], EvalValue | None]
PairFn = Callable[[PairInput], EvalValue | None]
"""Both return None when the check does not apply (e.g. a JSON check on a prose prompt)."""
Factory = Callable[[Mapping[str, Any]], ResponseFn | PairFn]
"""Builds the scoring function from its options; raises ``ConfigError`` for bad options."""


@dataclass(frozen=True)
class Evaluator:
    """A registered evaluator: name, version, what it scores and how to build it."""

    name: str
    version: int
    scope: Scope
    kind: Kind
    higher_is: Direction
    description: str
    factory: Factory
    options_doc: str = ""
    """How to configure it per study (empty: no options)."""
    needs_options: bool = False
    """True when it does nothing without options (assertions, reference match, schema)."""
    extra: str | None = None
    """The pip extra it needs (``embeddings``), or None."""

    def build(self, options: Mapping[str, Any] | None = None) -> ResponseFn | PairFn:
        """The scoring function for ``options`` (``ConfigError`` names the bad option)."""
        return self.factory(dict(options or {}))


REGISTRY: dict[str, Evaluator] = {}
_BUILTIN_MODULES = (
    "refusal",
    "json_format",
    "identity_leak",
    "markdown",
    "length",
    "language",
    "assertions",
    "reference",
    "similarity",
)


def evaluator(
    name: str,
    *,
    version: int = 1,
    scope: Scope = "response",
    kind: Kind = "rate",
    higher_is: Direction = "worse",
    description: str = "",
    options_doc: str = "",
    needs_options: bool = False,
    extra: str | None = None,
) -> Callable[[Factory], Factory]:
    """Register a factory under ``name``; bump ``version`` whenever its values change."""

    def register(factory: Factory) -> Factory:
        REGISTRY[name] = Evaluator(
            name=name,
            version=version,
            scope=scope,
            kind=kind,
            higher_is=higher_is,
            description=description or (factory.__doc__ or "").strip().splitlines()[0],
            factory=factory,
            options_doc=options_doc,
            needs_options=needs_options,
            extra=extra,
        )
        return factory

    return register


def load_builtin() -> dict[str, Evaluator]:
    """Import the built-in evaluator modules (heavy dependencies load only when built)."""
    for module in _BUILTIN_MODULES:
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise
    return REGISTRY


def get_evaluator(name: str) -> Evaluator:
    """The registered evaluator ``name``, or a ``ConfigError`` listing the known ones."""
    registry = load_builtin()
    if name not in registry:
        raise ConfigError(
            f"Unknown evaluator {name!r}.",
            f"Use one of: {', '.join(sorted(registry))} (swapcheck evaluators list).",
        )
    return registry[name]


def config_hash(name: str, version: int, options: Mapping[str, Any] | None) -> str:
    """'' for an evaluator built with no options, else a short hash of name, version, options."""
    if not options:
        return ""
    text = json.dumps([name, version, dict(options)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
