"""Variants page widgets: the variants table, the add/edit form, delete, TOML import and export."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import streamlit as st

from swapcheck.errors import SwapcheckError
from swapcheck.keys import lookup_key
from swapcheck.models import LOGGED_VARIANT, VariantConfig
from swapcheck.providers import provider_names
from swapcheck.store import Store
from swapcheck.store.variants import delete_variant, list_variants, save_variant
from swapcheck.ui.render import neutralise_markdown, user_errors
from swapcheck.variants_toml import (
    Change,
    Problem,
    VariantFileError,
    check_variant,
    export_variants_toml,
    import_variants,
)

_DEFAULT_PROVIDER = "openai"
NEW = "(new variant)"
KEEP, REPLACE, TEMPLATE = "Keep the logged one", "Replace it", "Wrap it (template with {system})"
PROMPT_MODES = (KEEP, REPLACE, TEMPLATE)
FORM_PARAMS = ("temperature", "top_p", "max_tokens", "stop")
"""Parameters with their own inputs; every other parameter goes in the extra JSON box."""
EXTRA_LABEL = "extra params (JSON)"
_NOTICE = "variants_notice"
_CHOICE = "variant_choice"
_NEXT_CHOICE = "variant_choice_next"
_CONFIRM = "variant_confirm_delete"
KEY_NOTE = (
    "Keys are never stored or shown here. A variant names the environment variable holding its "
    "key (e.g. `OPENAI_API_KEY`); swapcheck reads it from the server's environment or from "
    "`.streamlit/secrets.toml` when it generates. The table only says whether it is set."
)


# -- pure helpers (tested without a browser) ---------------------------------------------------


def _shorten(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def variant_rows(variants: Sequence[VariantConfig]) -> list[dict[str, Any]]:
    """One display row per variant; the key column says "set"/"not set", never the value."""
    rows = []
    for v in variants:
        key_state = _key_state(v.api_key_env)
        prompt = "(logged)" if v.system_prompt is None else _shorten(v.system_prompt) or "(none)"
        rows.append(
            {
                "name": v.name,
                "provider": v.provider,
                "model": v.model,
                "base URL": v.base_url or "",
                "key variable": v.api_key_env or "",
                "key": key_state,
                "params": json.dumps(v.params, sort_keys=True, ensure_ascii=False),
                "system prompt": prompt,
                "$ in / 1M": v.price_input_per_mtok,
                "$ out / 1M": v.price_output_per_mtok,
                "max concurrency": v.max_concurrency,
                "RPM": v.requests_per_minute,
                "TPM": v.tokens_per_minute,
            }
        )
    return rows


def _key_state(env_name: str | None) -> str:
    """Whether the named key variable is set ("set" / "not set"); never its value."""
    if not env_name:
        return ""
    return "set" if lookup_key(env_name) else "not set"


def prompt_mode_of(system_prompt: str | None) -> str:
    if system_prompt is None:
        return KEEP
    return TEMPLATE if "{system}" in system_prompt else REPLACE


def _same_number(new: Any, original: Any) -> Any:
    """Keep the stored value when the input shows the same number (0 stays 0, not 0.0), so an
    untouched edit never changes the request hash of stored answers."""
    if new is None or original is None or isinstance(original, bool):
        return new
    if isinstance(original, int | float) and new == original:
        return original
    return new


def _stop_from_text(text: str, original: Any) -> Any:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    if isinstance(original, str) and lines == [original]:
        return original
    return lines


def stop_to_text(stop: Any) -> str:
    if isinstance(stop, str):
        return stop
    if isinstance(stop, list):
        return "\n".join(str(s) for s in stop)
    return ""


def extra_params_text(params: dict[str, Any]) -> str:
    extra = {k: v for k, v in params.items() if k not in FORM_PARAMS}
    return json.dumps(extra, indent=2, sort_keys=True, ensure_ascii=False) if extra else ""


def variant_from_form(
    values: dict[str, Any], original: VariantConfig | None = None
) -> VariantConfig:
    """The variant the form describes; ``VariantFileError`` names each bad field with a fix."""
    name = (values.get("name") or "").strip()
    problems: list[Problem] = []
    extra: Any = {}
    text = (values.get("extra_params") or "").strip()
    if text:
        try:
            extra = json.loads(text)
        except ValueError as exc:
            problems.append(
                Problem("form", name, EXTRA_LABEL, f"is not valid JSON ({exc}).",
                        'Write a JSON object, e.g. {"seed": 7, "api_version": "2024-06-01"}.')
            )  # fmt: skip
        if not problems and not isinstance(extra, dict):
            problems.append(
                Problem("form", name, EXTRA_LABEL, "is not a JSON object.",
                        'Write it in braces, e.g. {"seed": 7}.')
            )  # fmt: skip
    if isinstance(extra, dict):
        for key in FORM_PARAMS:
            if key in extra:
                problems.append(
                    Problem("form", name, EXTRA_LABEL, f"sets {key}, which has its own input.",
                            f"Remove {key} from the JSON and use the {key} input.")
                )  # fmt: skip
    mode = values.get("prompt_mode", KEEP)
    prompt_text = values.get("system_prompt") or ""
    if mode == TEMPLATE and "{system}" not in prompt_text:
        problems.append(
            Problem("form", name, "system prompt", "is a template without {system}.",
                    "Write {system} where the logged system prompt goes, or choose 'Replace it'.")
        )  # fmt: skip
    if problems:
        raise VariantFileError(problems)
    old = original.params if original else {}
    params: dict[str, Any] = dict(extra) if isinstance(extra, dict) else {}
    for key in ("temperature", "top_p", "max_tokens"):
        value = _same_number(values.get(key), old.get(key))
        if value is not None:
            params[key] = value
    stop = _stop_from_text(values.get("stop") or "", old.get("stop"))
    if stop is not None:
        params["stop"] = stop
    variant = VariantConfig(
        name=name,
        provider=values.get("provider") or "",
        model=(values.get("model") or "").strip(),
        base_url=(values.get("base_url") or "").strip() or None,
        api_key_env=(values.get("api_key_env") or "").strip() or None,
        params=params,
        price_input_per_mtok=float(values.get("price_in") or 0.0),
        price_output_per_mtok=float(values.get("price_out") or 0.0),
        system_prompt=None if mode == KEEP else prompt_text,
        max_concurrency=values.get("max_concurrency"),
        requests_per_minute=values.get("rpm"),
        tokens_per_minute=values.get("tpm"),
    )
    return check_variant(variant, source="form")


def preview_import(store: Store, file_name: str, data: bytes) -> list[Change]:
    """What importing an uploaded TOML file would change (nothing is saved)."""
    return import_variants(store, data, source=file_name, dry_run=True)


def apply_import(store: Store, file_name: str, data: bytes) -> list[Change]:
    """Import an uploaded TOML file: every variant saved, or none when any has a problem."""
    return import_variants(store, data, source=file_name)


# -- widgets -----------------------------------------------------------------------------------


def show_problems(what: str, exc: SwapcheckError) -> None:
    if isinstance(exc, VariantFileError):
        lines = []
        for p in exc.problems:
            where = " ".join(x for x in (f"[{p.variant}]" if p.variant else "", p.field or "") if x)
            lines.append(
                f"- **{neutralise_markdown(where or p.source)}**: {neutralise_markdown(p.message)}"
                f" **Fix:** {neutralise_markdown(p.fix)}"
            )
        source = exc.problems[0].source if exc.problems else "form"
        header = what if source == "form" else f"{what} ({neutralise_markdown(source)})"
        st.error(f"{header}:\n\n" + "\n".join(lines))
    else:
        fix = f"\n\n**Fix:** {neutralise_markdown(exc.fix)}" if exc.fix else ""
        st.error(f"{what}: {neutralise_markdown(exc.message)}{fix}")


def show_notice() -> None:
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.success(notice)


def show_table(variants: Sequence[VariantConfig]) -> None:
    if not variants:
        st.info("No variant yet: add one below or import a TOML file.")
        return
    st.dataframe(variant_rows(variants), hide_index=True)


def _after_change(notice: str, choice: str) -> None:
    st.session_state[_NOTICE] = notice
    st.session_state[_NEXT_CHOICE] = choice
    st.rerun()


def edit_section(store: Store, variants: Sequence[VariantConfig]) -> None:
    """Choose a variant (or a new one), edit every setting in a form, save or delete it."""
    editable = {v.name: v for v in variants if v.provider != LOGGED_VARIANT}
    if _NEXT_CHOICE in st.session_state:
        st.session_state[_CHOICE] = st.session_state.pop(_NEXT_CHOICE)
    if st.session_state.get(_CHOICE) not in (NEW, *editable):
        st.session_state[_CHOICE] = NEW
    choice = st.selectbox("Add or edit", [NEW, *editable], key=_CHOICE)
    original = editable.get(choice)
    values = _form(choice, original)
    if values is not None:
        try:
            variant = variant_from_form(values, original)
            save_variant(store, variant, replace=original is not None and variant.name == choice)
        except SwapcheckError as exc:
            show_problems("Could not save the variant", exc)
        else:
            _after_change(f"Variant {variant.name} saved.", variant.name)
    if original is not None:
        _delete_controls(store, original.name)


def _form(choice: str, v: VariantConfig | None) -> dict[str, Any] | None:
    """The form's values when it was submitted, else None."""
    k = f"vf_{choice}_"
    params = v.params if v else {}
    providers = [p for p in provider_names() if p != LOGGED_VARIANT]
    if v and v.provider not in providers:
        providers.append(v.provider)
    with st.form(f"variant_form_{choice}"):
        c1, c2 = st.columns(2)
        values: dict[str, Any] = {}
        values["name"] = c1.text_input(
            "Name", v.name if v else "", key=k + "name", placeholder="gpt-candidate",
            help="Letters, digits, '.', '_' and '-'. A new name saves a copy.",
        )  # fmt: skip
        values["provider"] = c2.selectbox(
            "Provider",
            providers,
            index=providers.index(v.provider if v else _DEFAULT_PROVIDER)
            if (v or _DEFAULT_PROVIDER in providers)
            else 0,
            key=k + "provider",
            help="Empty base URL and key variable mean the provider's defaults "
            "(openai: OPENAI_API_KEY, anthropic: ANTHROPIC_API_KEY, gemini: GEMINI_API_KEY, "
            "azure_openai: AZURE_OPENAI_API_KEY).",
        )
        values["model"] = c1.text_input("Model", v.model if v else "", key=k + "model")
        values["base_url"] = c2.text_input(
            "Base URL (optional)", (v.base_url or "") if v else "", key=k + "base_url",
            placeholder="provider default (set it for vLLM, Ollama, Azure, …)",
        )  # fmt: skip
        values["api_key_env"] = c1.text_input(
            "Key variable name", (v.api_key_env or "") if v else "", key=k + "api_key_env",
            placeholder="provider default, e.g. OPENAI_API_KEY",
            help="The NAME of the environment variable (or secrets.toml entry), never the key.",
        )  # fmt: skip
        values["temperature"] = c2.number_input(
            "temperature", min_value=0.0, step=0.1, key=k + "temperature",
            value=_float_or_none(params.get("temperature")), placeholder="provider default",
        )  # fmt: skip
        values["top_p"] = c1.number_input(
            "top_p", min_value=0.0, max_value=1.0, step=0.05, key=k + "top_p",
            value=_float_or_none(params.get("top_p")), placeholder="provider default",
        )  # fmt: skip
        values["max_tokens"] = c2.number_input(
            "max_tokens", min_value=1, step=1, key=k + "max_tokens",
            value=_int_or_none(params.get("max_tokens")), placeholder="provider default",
        )  # fmt: skip
        values["stop"] = c1.text_area(
            "Stop sequences (one per line)", stop_to_text(params.get("stop")), key=k + "stop"
        )
        values["extra_params"] = c2.text_area(
            "Extra params (JSON)", extra_params_text(params), key=k + "extra_params",
            placeholder='{"seed": 7}', help="Any other parameter, e.g. seed or api_version.",
        )  # fmt: skip
        mode = prompt_mode_of(v.system_prompt if v else None)
        values["prompt_mode"] = st.radio(
            "System prompt", PROMPT_MODES, index=PROMPT_MODES.index(mode), key=k + "prompt_mode",
            horizontal=True,
        )  # fmt: skip
        values["system_prompt"] = st.text_area(
            "System prompt text (for Replace or Wrap; {system} stands for the logged one)",
            (v.system_prompt or "") if v else "", key=k + "system_prompt",
        )  # fmt: skip
        c1, c2, c3, c4, c5 = st.columns(5)
        values["price_in"] = c1.number_input(
            "$ per 1M input tokens", min_value=0.0, value=v.price_input_per_mtok if v else 0.0,
            key=k + "price_in", format="%.4f",
        )  # fmt: skip
        values["price_out"] = c2.number_input(
            "$ per 1M output tokens", min_value=0.0, value=v.price_output_per_mtok if v else 0.0,
            key=k + "price_out", format="%.4f",
        )  # fmt: skip
        for col, field, label in (
            (c3, "max_concurrency", "Max concurrency"),
            (c4, "requests_per_minute", "RPM"),
            (c5, "tokens_per_minute", "TPM"),
        ):
            short = {"requests_per_minute": "rpm", "tokens_per_minute": "tpm"}.get(field, field)
            values[short] = col.number_input(
                label, min_value=1, step=1, value=getattr(v, field) if v else None,
                key=k + short, placeholder="no limit",
            )  # fmt: skip
        submitted = st.form_submit_button("Save variant", type="primary")
    return values if submitted else None


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _delete_controls(store: Store, name: str) -> None:
    if st.session_state.get(_CONFIRM) != name:
        if st.button(f"Delete {name}…", key="variant_delete"):
            st.session_state[_CONFIRM] = name
            st.rerun()
        return
    st.warning(f"Delete variant {name}? This cannot be undone.")
    c1, c2 = st.columns(2)
    if c1.button(f"Yes, delete {name}", type="primary", key="variant_delete_confirm"):
        st.session_state.pop(_CONFIRM, None)
        try:
            delete_variant(store, name)
        except SwapcheckError as exc:
            show_problems("Could not delete the variant", exc)
        else:
            _after_change(f"Variant {name} deleted.", NEW)
    if c2.button("Cancel", key="variant_delete_cancel"):
        st.session_state.pop(_CONFIRM, None)
        st.rerun()


def change_rows(changes: Sequence[Change]) -> list[dict[str, str]]:
    rows = []
    for c in changes:
        detail = "; ".join(f"{f}: {old!r} → {new!r}" for f, old, new in c.fields)
        rows.append({"variant": c.name, "action": c.action, "changes": detail})
    return rows


def import_section(store: Store) -> None:
    """Upload a TOML file, see what it would change, then apply it."""
    upload = st.file_uploader("Variants TOML file", type=["toml"], key="variants_toml_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        changes = preview_import(store, upload.name, data)
    except SwapcheckError as exc:
        show_problems("Nothing can be imported", exc)
        return
    st.dataframe(change_rows(changes), hide_index=True)
    if all(c.action == "unchanged" for c in changes):
        st.info("Every variant in this file is already saved as written.")
        return
    if st.button("Apply import", type="primary", key="variants_apply_import"):
        with user_errors("Could not import the variants"):
            applied = apply_import(store, upload.name, data)
            done = sum(c.action != "unchanged" for c in applied)
            _after_change(f"Imported {upload.name}: {done} variants added or updated.", NEW)


def export_section(variants: Sequence[VariantConfig]) -> None:
    exportable = [v for v in variants if v.provider != LOGGED_VARIANT]
    st.download_button(
        "Download variants.toml",
        data=export_variants_toml(exportable).encode("utf-8") if exportable else b"",
        file_name="variants.toml",
        mime="application/toml",
        disabled=not exportable,
        key="variants_export",
    )


def variants_page(store: Store) -> None:
    """Everything below the page title."""
    st.caption(KEY_NOTE)
    show_notice()
    variants = list_variants(store)
    show_table(variants)
    st.subheader("Add or edit a variant")
    edit_section(store, variants)
    st.subheader("TOML")
    st.caption("Import adds or updates the variants of a file (format: docs/VARIANTS.md).")
    c1, c2 = st.columns([3, 1])
    with c1:
        import_section(store)
    with c2:
        export_section(variants)
