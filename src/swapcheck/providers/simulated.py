"""Deterministic offline provider backed by ``swapcheck.simulated_model`` (demos and tests)."""

from __future__ import annotations

from typing import Any

import httpx

from swapcheck.models import ChatMessages, VariantConfig
from swapcheck.providers.base import Completion, register_provider


@register_provider("simulated")
class SimulatedProvider:
    """Answers without network; ``params["quirks"]`` and ``params["seed"]`` shape the answers."""

    def __init__(self, variant: VariantConfig) -> None:
        self.variant = variant
        quirks = variant.params.get("quirks", []) or ()
        self.quirks: tuple[str, ...] = (quirks,) if isinstance(quirks, str) else tuple(quirks)
        self.seed = int(variant.params.get("seed", 0) or 0)

    def __repr__(self) -> str:
        return f"SimulatedProvider(variant={self.variant.name!r}, model={self.variant.model!r})"

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        return {
            "model": self.variant.model,
            "messages": messages,
            "quirks": list(self.quirks),
            "seed": self.seed,
        }

    async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
        from swapcheck.simulated_model import simulate_answer

        answer = simulate_answer(messages, self.variant.model, quirks=self.quirks, seed=self.seed)
        return Completion(
            text=answer.text,
            finish_reason=answer.finish_reason,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
        )
