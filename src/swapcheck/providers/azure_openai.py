"""Azure OpenAI chat completions provider (``/openai/deployments/{deployment}/chat/completions``).

* ``base_url`` is the resource endpoint, e.g. ``https://NAME.openai.azure.com`` (required; a
  trailing ``/openai`` is tolerated and removed).
* ``model`` is the *deployment* name (it goes into the URL path and, as on OpenAI, the body).
* ``params["api_version"]`` goes into the ``api-version`` query string, never the body; when
  unset it is ``DEFAULT_API_VERSION`` (``2024-10-21``, a generally available version).
* Every other param is passed through unchanged, as for any OpenAI-compatible API; ``model``
  and ``messages`` always win over params. Messages are sent as they are.
* The key goes in the ``api-key`` header, from ``api_key_env`` or ``AZURE_OPENAI_API_KEY``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from swapcheck.errors import ConfigError
from swapcheck.models import ChatMessages, VariantConfig
from swapcheck.providers.base import Completion, register_provider
from swapcheck.providers.http_common import GENERIC_FIX_BY_STATUS, JsonHttpProvider
from swapcheck.providers.openai_chat import parse_chat_completion

DEFAULT_KEY_ENV = "AZURE_OPENAI_API_KEY"
DEFAULT_API_VERSION = "2024-10-21"
"""A generally available (non-preview) Azure OpenAI inference API version."""

FIX_BY_STATUS = {
    **GENERIC_FIX_BY_STATUS,
    404: "Check the deployment name (the variant's model), the resource endpoint base_url "
    "(e.g. 'https://NAME.openai.azure.com') and params['api_version'].",
}


@register_provider("azure_openai")
class AzureOpenAIProvider(JsonHttpProvider):
    """POST ``{endpoint}/openai/deployments/{model}/chat/completions?api-version=...``."""

    protocol = "Azure OpenAI chat completions"
    fix_by_status = FIX_BY_STATUS

    def __init__(self, variant: VariantConfig) -> None:
        if not variant.base_url:
            raise ConfigError(
                f"Variant '{variant.name}' uses Azure OpenAI but has no base_url.",
                fix="Set base_url to the resource endpoint, e.g. https://NAME.openai.azure.com.",
            )
        if not variant.model:
            raise ConfigError(
                f"Variant '{variant.name}' uses Azure OpenAI but names no deployment.",
                fix="Set the variant's model to the Azure deployment name.",
            )
        base_url = variant.base_url.rstrip("/").removesuffix("/openai")
        super().__init__(variant, base_url, (variant.api_key_env or DEFAULT_KEY_ENV,))
        self.api_version = str(variant.params.get("api_version") or DEFAULT_API_VERSION)

    @property
    def url(self) -> str:
        deployment = quote(self.variant.model, safe="")
        query = urlencode({"api-version": self.api_version})
        return f"{self.base_url}/openai/deployments/{deployment}/chat/completions?{query}"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"api-key": key}

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        """The variant's params minus ``api_version``, plus model and messages (which win)."""
        params = {k: v for k, v in self.variant.api_params.items() if k != "api_version"}
        return {**params, "model": self.variant.model, "messages": messages}

    def parse_payload(self, payload: Any, where: str) -> Completion:
        return parse_chat_completion(payload, self)
