"""Per-study evaluator instances: load, validate and save them; the effective list of a study."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.evaluators import Evaluator, config_hash, get_evaluator, load_builtin
from swapcheck.store.connection import Store
from swapcheck.store.settings import get_setting, set_setting
from swapcheck.store.studies import Study

INSTANCE_NAME_RE = re.compile(r"[a-z0-9_:.-]{1,64}")
_INSTANCE_KEYS = frozenset({"name", "evaluator", "options"})


@dataclass(frozen=True)
class Instance:
    """An evaluator built with given options under a name (the name scores are stored under)."""

    name: str
    evaluator: str
    options: Mapping[str, Any] = field(default_factory=dict)
    config_hash: str = ""

    @property
    def spec(self) -> Evaluator:
        """The registered evaluator this instance builds."""
        return get_evaluator(self.evaluator)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "evaluator": self.evaluator, "options": dict(self.options)}


def settings_key(study: Study) -> str:
    """The setting holding the study's evaluator configuration."""
    return f"evaluators.{study.study_id.lower()}"


@functools.cache
def extra_installed(extra: str) -> bool:
    """True when every distribution the package's pip ``extra`` requires is installed."""
    try:
        requirements = importlib.metadata.requires("swapcheck") or []
    except importlib.metadata.PackageNotFoundError:
        return False
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    needed = [r for r in requirements if marker.search(r)]
    if not needed:
        return False
    for requirement in needed:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        try:
            importlib.metadata.version(name.group(0) if name else requirement)
        except importlib.metadata.PackageNotFoundError:
            return False
    return True


def default_instances() -> list[Instance]:
    """Every registered evaluator that runs without options and whose extra is installed."""
    return [
        Instance(name=ev.name, evaluator=ev.name)
        for ev in sorted(load_builtin().values(), key=lambda e: e.name)
        if not ev.needs_options and (ev.extra is None or extra_installed(ev.extra))
    ]


def stored_config(store: Store, study: Study) -> dict[str, Any]:
    """The study's saved configuration: ``{"instances": [...], "disabled": [...]}``."""
    raw = get_setting(store, settings_key(study), None)
    config = raw if isinstance(raw, dict) else {}
    return {
        "instances": list(config.get("instances") or []),
        "disabled": list(config.get("disabled") or []),
    }


def _instance(spec: Mapping[str, Any]) -> Instance:
    ev = get_evaluator(str(spec["evaluator"]))
    options = dict(spec.get("options") or {})
    return Instance(
        name=str(spec["name"]),
        evaluator=ev.name,
        options=options,
        config_hash=config_hash(ev.name, ev.version, options),
    )


def study_instances(store: Store, study: Study) -> list[Instance]:
    """The study's effective instances: the defaults not disabled, then the configured ones."""
    config = stored_config(store, study)
    disabled = set(config["disabled"])
    effective = [i for i in default_instances() if i.name not in disabled]
    for spec in config["instances"]:
        if spec.get("name") in disabled:
            continue
        try:
            effective.append(_instance(spec))
        except ConfigError as exc:
            raise ConfigError(
                f"Study {study.name!r}: evaluator instance {spec.get('name')!r}: {exc.message}",
                "Fix or remove it: swapcheck evaluators config --study "
                f"{study.name!r} --file CONFIG.toml",
            ) from exc
    return effective


def _fail(index: int, name: object, message: str, fix: str) -> ConfigError:
    label = f"Instance {name!r}" if isinstance(name, str) and name else f"Instance #{index + 1}"
    return ConfigError(f"{label}: {message}", fix)


def _check_spec(index: int, spec: object) -> Instance:
    """One configured instance, fully validated (its options are built once)."""
    if isinstance(spec, Instance):
        spec = spec.to_dict()
    if not isinstance(spec, Mapping):
        raise _fail(index, None, "is not a table/object.", 'Write {"name": ..., "evaluator": ...}.')
    name = spec.get("name")
    unknown = sorted(set(spec) - _INSTANCE_KEYS)
    if unknown:
        raise _fail(
            index,
            name,
            f"unknown key(s) {', '.join(map(repr, unknown))}.",
            "Use only 'name', 'evaluator' and 'options' (options go inside 'options').",
        )
    if not isinstance(name, str) or INSTANCE_NAME_RE.fullmatch(name) is None:
        raise _fail(
            index,
            name,
            f"name {name!r} is not allowed.",
            "Use 1-64 lower-case letters, digits, '_', ':', '.' or '-'.",
        )
    evaluator_name = spec.get("evaluator")
    if not isinstance(evaluator_name, str) or not evaluator_name:
        raise _fail(index, name, "has no 'evaluator'.", "Add evaluator = '<registered name>'.")
    try:
        ev = get_evaluator(evaluator_name)
    except ConfigError as exc:
        raise _fail(index, name, exc.message, exc.fix) from exc
    registry = load_builtin()
    if name in registry:
        raise _fail(
            index,
            name,
            f"the name {name!r} belongs to the built-in evaluator of that name.",
            f"Pick another name (e.g. '{name}_custom'); add '{name}' to 'disabled' to drop the "
            "default one.",
        )
    options = spec.get("options") or {}
    if not isinstance(options, Mapping):
        raise _fail(index, name, "'options' is not a table/object.", "Write options = { ... }.")
    try:
        json.dumps(dict(options), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail(
            index,
            name,
            f"options cannot be stored as JSON ({exc}).",
            "Use strings, finite numbers, booleans, lists and tables.",
        ) from exc
    if ev.needs_options and not options:
        raise _fail(
            index,
            name,
            f"evaluator {ev.name!r} does nothing without options.",
            f"Add options: {ev.options_doc or 'see swapcheck evaluators list'}",
        )
    _check_build(index, name, ev, options)
    return Instance(
        name=name,
        evaluator=ev.name,
        options=dict(options),
        config_hash=config_hash(ev.name, ev.version, options),
    )


def _check_build(index: int, name: str, ev: Evaluator, options: Mapping[str, Any]) -> None:
    try:
        ev.build(options)
    except ConfigError as exc:
        raise _fail(index, name, f"{ev.name}: {exc.message}", exc.fix) from exc
    except ImportError as exc:
        extra = f"pip install 'swapcheck[{ev.extra}]'" if ev.extra else "install it"
        raise _fail(
            index, name, f"{ev.name} needs a package that is not installed ({exc}).", extra
        ) from exc
    except Exception as exc:  # a factory that failed without a ConfigError
        raise _fail(
            index,
            name,
            f"{ev.name} rejected its options ({type(exc).__name__}: {exc}).",
            f"Check the options: {ev.options_doc or 'see swapcheck evaluators list'}",
        ) from exc


def validate_config(instances: Sequence[object], disabled: Sequence[object]) -> list[Instance]:
    """Check every configured instance and disabled name; the validated instances."""
    checked: list[Instance] = []
    seen: set[str] = set()
    for index, spec in enumerate(instances):
        instance = _check_spec(index, spec)
        if instance.name in seen:
            raise _fail(
                index,
                instance.name,
                "the name is used twice.",
                "Give every instance its own name (scores are stored under it).",
            )
        seen.add(instance.name)
        checked.append(instance)
    known = set(load_builtin()) | seen
    for name in disabled:
        if not isinstance(name, str) or name not in known:
            raise ConfigError(
                f"Disabled name {name!r} is neither a registered evaluator nor an instance.",
                f"Use one of: {', '.join(sorted(known))}.",
            )
    return checked


def set_study_instances(
    store: Store, study: Study, instances: Sequence[object], disabled: Sequence[str] = ()
) -> list[Instance]:
    """Validate and save the study's configured instances; returns the effective list."""
    if isinstance(disabled, str) or not isinstance(disabled, Sequence):
        raise ConfigError("'disabled' is not a list.", 'Write disabled = ["name", ...].')
    checked = validate_config(list(instances), list(disabled))
    set_setting(
        store,
        settings_key(study),
        {
            "instances": [i.to_dict() for i in checked],
            "disabled": sorted(dict.fromkeys(disabled)),
        },
    )
    return study_instances(store, study)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A configuration file (``.toml`` or ``.json``) as ``{"instances": [...], "disabled": [...]}``.

    ``instances`` may be an array of tables with ``name``, or a table keyed by instance name.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {file}: {exc.strerror}.", "Check the path and permissions."
        ) from exc
    try:
        if file.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(
                f"{file.name}: unknown configuration format.", "Use a .toml or .json file."
            )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{file.name} is not valid: {exc}.", "Fix the syntax.") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file.name} is not a table/object.", "See docs/EVALUATORS.md.")
    unknown = sorted(set(data) - {"instances", "disabled"})
    if unknown:
        raise ConfigError(
            f"{file.name}: unknown key(s) {', '.join(map(repr, unknown))}.",
            "Use only 'instances' and 'disabled' at the top level.",
        )
    instances = data.get("instances") or []
    if isinstance(instances, dict):
        instances = [
            {"name": name, **spec} if isinstance(spec, dict) else spec
            for name, spec in instances.items()
        ]
    if not isinstance(instances, list):
        raise ConfigError(f"{file.name}: 'instances' is not a list.", "See docs/EVALUATORS.md.")
    disabled = data.get("disabled") or []
    if not isinstance(disabled, list):
        raise ConfigError(f"{file.name}: 'disabled' is not a list.", 'disabled = ["name"]')
    return {"instances": instances, "disabled": disabled}
