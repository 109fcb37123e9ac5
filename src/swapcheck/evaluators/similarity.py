"""Semantic similarity of the baseline and candidate answers with an offline embedding model."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.evaluators import EvalValue, PairFn, PairInput, evaluator
from swapcheck.evaluators._text import reject_unknown

NAME = "semantic_similarity"
EXTRA_FIX = "pip install 'swapcheck[embeddings]'"


@lru_cache(maxsize=1)
def embedding_model() -> Any:
    """WordLlama's 'l2_supercat' 256-d model, loaded from the files inside the pip package.

    ``cache_dir`` points at the package folder because wordllama looks for its bundled tokenizer
    under ``wordllama/tokenizer/`` but ships it in ``wordllama/tokenizers/`` (the cache layout);
    downloads are disabled, so a missing file is an error instead of a network call.
    """
    import wordllama
    from wordllama import WordLlama

    package_dir = Path(wordllama.__file__).parent
    return WordLlama.load(cache_dir=package_dir, disable_download=True)


def cosine_similarity(first: str, second: str) -> float:
    """Cosine similarity of the two texts' embeddings, clipped to [-1, 1]."""
    value = float(embedding_model().similarity(first, second))
    return max(-1.0, min(1.0, value))


@evaluator(
    NAME,
    version=1,
    scope="pair",
    kind="mean",
    higher_is="better",
    description="Cosine similarity (-1..1) of the baseline and candidate answers' embeddings "
    "(WordLlama, bundled offline); 1.0 when both are empty, 0.0 when only one is.",
    extra="embeddings",
)
def semantic_similarity(options: Mapping[str, Any]) -> PairFn:
    """Cosine similarity of the two answers' embeddings."""
    reject_unknown(options, (), NAME)
    try:
        embedding_model()
    except ImportError as exc:
        raise ConfigError(
            f"Evaluator {NAME!r} needs the optional 'embeddings' dependencies ({exc.name} is "
            "not installed).",
            EXTRA_FIX,
        ) from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Evaluator {NAME!r}: the bundled embedding model cannot be loaded ({exc}).",
            f"Reinstall the extra: {EXTRA_FIX} --force-reinstall",
        ) from exc

    def check(item: PairInput) -> EvalValue:
        baseline, candidate = item.baseline_text.strip(), item.candidate_text.strip()
        if not baseline or not candidate:
            return EvalValue(float(baseline == candidate), "empty")
        return EvalValue(cosine_similarity(baseline, candidate))

    return check
