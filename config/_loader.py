"""Find, read and validate the configuration file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config._errors import ConfigError
from config._settings import Settings

CONFIG_ENV = "LOA_CONFIG"
LOCAL_CONFIG = Path("loa.yaml")
EXAMPLE_CONFIG = Path(__file__).parent / "examples" / "muong-te.yaml"

# Short names that ``loa storage env`` exports, honoured as overrides too.
_FLAT_ALIASES = {"LOA_BUCKET": ("storage", "bucket")}


def config_path(explicit: Path | None = None) -> Path:
    """The file in force: ``--config``, then ``$LOA_CONFIG``, then ``./loa.yaml``,
    then the example district shipped with Loa."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    if LOCAL_CONFIG.is_file():
        return LOCAL_CONFIG
    return EXAMPLE_CONFIG


def load_settings(explicit: Path | None = None) -> Settings:
    """Read and validate the configuration; ``ConfigError`` names file, field and reason."""
    path = config_path(explicit)
    data = _read_yaml(path)
    _resolve_beside(data, path.parent)
    _apply_flat_aliases(data)
    try:
        return Settings(**data)
    except ValidationError as error:
        raise ConfigError(_describe(path, error)) from error


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: configuration file not found") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from error
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: {where}invalid YAML: {problem}") from error
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top, found {type(data).__name__}")
    # A section left empty (only comments under it) means "all defaults".
    return {key: value for key, value in data.items() if value is not None}


# Files that belong with the configuration: a relative path is read beside the file.
_FILES_BESIDE_CONFIG = (("tts", "lexicon"),)


def _resolve_beside(data: dict[str, Any], folder: Path) -> None:
    for section, field in _FILES_BESIDE_CONFIG:
        values = data.get(section)
        if isinstance(values, dict) and isinstance(values.get(field), str):
            value = Path(values[field])
            if not value.is_absolute():
                values[field] = str(folder / value)


def _apply_flat_aliases(data: dict[str, Any]) -> None:
    for variable, (section, field) in _FLAT_ALIASES.items():
        value = os.environ.get(variable)
        if value:
            data.setdefault(section, {})[field] = value


def _describe(path: Path, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        reason = item["msg"]
        if item["type"] == "extra_forbidden":
            reason = "unknown field"
        problems.append(f"{field}: {reason}")
    return f"{path}: " + "; ".join(problems)
