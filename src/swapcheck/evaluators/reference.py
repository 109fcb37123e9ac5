"""Reference match: how close is the answer to a reference answer held in a metadata column?"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.evaluators import EvalValue, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import option, reject_unknown

NAME = "reference_match"
METHODS = ("exact", "fuzzy")


def normalise(text: str) -> str:
    """Case-folded text with runs of whitespace collapsed to one space."""
    return " ".join(text.casefold().split())


def exact_match(answer: str, reference: str) -> float:
    """1.0 when the answer equals the reference up to case and whitespace, else 0.0."""
    return float(normalise(answer) == normalise(reference))


def fuzzy_match(answer: str, reference: str) -> float:
    """rapidfuzz token-set ratio in 0..1 (lower-cased, punctuation ignored): 1.0 when the words
    of one text are all among the other's, e.g. reference 'Paris' in 'The capital is Paris.'."""
    from rapidfuzz import fuzz, utils

    return fuzz.token_set_ratio(answer, reference, processor=utils.default_process) / 100.0


def _reference(metadata: Mapping[str, Any], column: str) -> str | None:
    value = metadata.get(column)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


@evaluator(
    NAME,
    version=1,
    scope="response",
    kind="mean",
    higher_is="better",
    description="Match with the reference answer in a metadata column: 'exact' (1/0, ignoring "
    "case and whitespace) or 'fuzzy' (token-set ratio 0..1); None when the row has no reference.",
    options_doc='{"column": "<metadata column with the reference answer>", '
    '"method": "exact" (default) or "fuzzy"}',
    needs_options=True,
)
def reference_match(options: Mapping[str, Any]) -> ResponseFn:
    """Exact or fuzzy match between the answer and the row's reference answer."""
    reject_unknown(options, ("column", "method"), NAME)
    column = option(options, "column", str, NAME)
    if not column:
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'column' is missing.",
            'Set "column" to the metadata column that holds the reference answer.',
        )
    method = option(options, "method", str, NAME) or "exact"
    if method not in METHODS:
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'method' must be 'exact' or 'fuzzy', not {method!r}.",
            'Set "method" to "exact" or "fuzzy".',
        )
    score: Callable[[str, str], float] = exact_match if method == "exact" else fuzzy_match
    if method == "fuzzy":
        import rapidfuzz  # noqa: F401  (fail at configuration, not on the first answer)

    def check(item: ResponseInput) -> EvalValue | None:
        reference = _reference(item.metadata, column)
        if reference is None:
            return None
        return EvalValue(score(item.text, reference))

    return check
