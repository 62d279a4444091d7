"""A phrase bank's index: one language's phrases, date and time formats and templates.

``<root>/<language>/index.yaml`` names each phrase's recording (a path inside the bank's
folder) and the words it says. The index is per language because word order is: a
template says in which order this language says hazard, level, place and time, and a
format how it says a date. Every error names the index file and the entry at fault.

Checked by hand, not by a pydantic model: each message names the entry and says what to
change (``phrases.x.file: '../x.wav' must be a path inside the bank's folder``), which
pydantic's messages would each need translating to do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from config import ConfigError
from pipeline.tts._base import Utterance
from pipeline.tts._phrasebank_slots import (
    FORMAT_FIELDS,
    SLOT_KINDS,
    Formats,
    SlotRef,
    TemplatePart,
    Templates,
    cover,
    expand,
    format_fields,
    phrases_by_words,
)

INDEX_FILE = "index.yaml"
DEFAULT_GAP_S = 0.15
MAX_GAP_S = 5.0  # between two phrases of one sentence; longer is a fault, not a pause
INDEX_KEYS = frozenset(
    {"language", "name", "voice", "stand_in", "note", "generator", "gap_s"}
    | {"phrases", "formats", "templates"}
)
PHRASE_KEYS = frozenset({"file", "transcript"})
LANGUAGE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # also a folder name

_PHRASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SLOT_REF = re.compile(r"\{(?P<name>(?P<kind>[a-z]+)(?:\.[a-z0-9_-]+)?)\}")
_FORMAT_SAMPLE = {"day": 1, "month": 1, "year": 2000, "hour": 0, "minute": 0}


class PhrasebankError(ConfigError):
    """A phrase bank's index is invalid: the message names the file and the entry."""


@dataclass(frozen=True)
class Phrase:
    """One recording and the words it says."""

    id: str
    file: Path
    transcript: str


@dataclass(frozen=True)
class PhraseBank:
    """One language's recorded phrases, formats and templates, read from its index."""

    folder: Path
    language: str
    name: str
    voice: str
    stand_in: bool
    note: str
    generator: str
    gap_s: float
    phrases: Mapping[str, Phrase]
    formats: Formats
    templates: Templates

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX_FILE

    @classmethod
    def load(cls, folder: Path) -> PhraseBank:
        """Read and check ``folder/index.yaml``; ``PhrasebankError`` naming the entry at
        fault, or every phrase whose file is missing."""
        index = folder / INDEX_FILE
        data = _read_index(index)
        _check_keys(index, "the index", data, INDEX_KEYS)
        phrases = _read_phrases(index, folder, _required(index, data, "phrases"))
        formats = _read_formats(index, data.get("formats") or {})
        bank = cls(
            folder=folder,
            language=_text(index, "language", data.get("language", folder.name)),
            name=_text(index, "name", data.get("name", folder.name)),
            voice=_text(index, "voice", _required(index, data, "voice")),
            stand_in=_flag(index, "stand_in", data.get("stand_in", False)),
            note=_text(index, "note", data.get("note", ""), empty_ok=True),
            generator=_text(index, "generator", data.get("generator", ""), empty_ok=True),
            gap_s=_gap_s(index, data.get("gap_s", DEFAULT_GAP_S)),
            phrases=phrases,
            formats=formats,
            templates=_read_templates(index, data.get("templates") or {}, formats),
        )
        _require_files(index, phrases.values())
        return bank

    def fingerprint(self) -> str:
        """A hash of the index and each recording's size and mtime: cheap (no audio is
        read), and it changes when a phrase is re-recorded."""
        digest = hashlib.sha256(self.index_path.read_bytes())
        for phrase in sorted(self.phrases.values(), key=lambda phrase: phrase.id):
            digest.update(f"\0{phrase.id}\0{_file_stamp(phrase.file)}".encode())
        return digest.hexdigest()

    def expand(self, utterance: Utterance) -> list[str]:
        """The phrase ids that say ``utterance``; ``TTSInputError`` for an unknown
        template, missing slots or slot values that do not parse (all named at once)."""
        return expand(self.language, self.templates, self.formats, utterance)

    def cover(self, text: str) -> list[str]:
        """The phrase ids whose transcripts say ``text`` (case, Unicode form, punctuation
        and spacing ignored); ``EngineUnavailable`` naming every stretch no phrase says."""
        return cover(self.language, text, self._phrases_by_words)

    @cached_property
    def _phrases_by_words(self) -> dict[tuple[str, ...], str]:
        return phrases_by_words({phrase.id: phrase.transcript for phrase in self.phrases.values()})


def _file_stamp(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


# --- The file ---------------------------------------------------------------------------


def _read_index(index: Path) -> dict[str, Any]:
    try:
        raw = index.read_bytes()
    except OSError as exc:
        raise PhrasebankError(f"{index}: cannot read the phrase bank index: {exc}") from exc
    data = _parse_yaml(index, raw)
    if not isinstance(data, dict):
        raise PhrasebankError(f"{index}: the index must be a mapping (language, voice, phrases…)")
    return data


def _parse_yaml(index: Path, raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PhrasebankError(f"{index}: not UTF-8 text ({exc})") from exc
    except yaml.YAMLError as exc:
        raise PhrasebankError(f"{index}: {_yaml_problem(exc)}") from exc


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {problem}"


# --- Entries ----------------------------------------------------------------------------


def _error(index: Path, entry: str, problem: str) -> PhrasebankError:
    return PhrasebankError(f"{index}: {entry}: {problem}")


def _check_keys(index: Path, entry: str, data: Mapping[Any, Any], known: frozenset[str]) -> None:
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise _error(
            index, entry, f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )


def _required(index: Path, data: Mapping[str, Any], key: str) -> Any:
    if data.get(key) is None:
        raise _error(index, key, "missing")
    return data[key]


def _text(index: Path, entry: str, value: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise _error(index, entry, f"{value!r} must be text (put it in quotes)")
    if not empty_ok and not value.strip():
        raise _error(index, entry, "must not be empty")
    return value.strip()


def _flag(index: Path, entry: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _error(index, entry, f"{value!r} must be true or false")
    return value


def _gap_s(index: Path, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error(index, "gap_s", f"{value!r} must be a number of seconds")
    if not 0.0 <= value <= MAX_GAP_S:
        raise _error(index, "gap_s", f"{value} s: from 0 to {MAX_GAP_S:g} s")
    return float(value)


def _mapping(index: Path, entry: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, dict):
        raise _error(index, entry, "must be a mapping")
    return value


def _numbered(index: Path, entry: str, parts: Any) -> list[tuple[str, Any]]:
    """Each item of a non-empty list with its entry: ``formats.time[0]``, …"""
    if not isinstance(parts, list) or not parts:
        raise _error(index, entry, "must be a non-empty list")
    return [(f"{entry}[{number}]", part) for number, part in enumerate(parts)]


# --- Phrases ----------------------------------------------------------------------------


def _read_phrases(index: Path, folder: Path, entries: Any) -> dict[str, Phrase]:
    return {
        phrase_id: _read_phrase(index, folder, phrase_id, fields)
        for phrase_id, fields in _mapping(index, "phrases", entries).items()
    }


def _read_phrase(index: Path, folder: Path, phrase_id: Any, fields: Any) -> Phrase:
    where = f"phrases.{phrase_id}"
    if not isinstance(phrase_id, str) or not _PHRASE_ID.fullmatch(phrase_id):
        raise _error(index, where, "a phrase id is letters, digits, '.', '-' and '_'")
    _check_keys(index, where, _mapping(index, where, fields), PHRASE_KEYS)
    relative = _relative_file(index, f"{where}.file", fields.get("file"))
    transcript = _text(index, f"{where}.transcript", fields.get("transcript"))
    return Phrase(phrase_id, folder / relative, transcript)


def _relative_file(index: Path, entry: str, value: Any) -> Path:
    name = _text(index, entry, value)
    relative = PurePosixPath(name)
    # Checked on the name, not the resolved path: a file linked in from elsewhere is fine.
    if relative.is_absolute() or ".." in relative.parts:
        raise _error(index, entry, f"{name!r} must be a path inside the bank's folder")
    return Path(relative)


def _require_files(index: Path, phrases: Iterable[Phrase]) -> None:
    missing = [phrase for phrase in phrases if not phrase.file.is_file()]
    if missing:
        named = ", ".join(f"phrases.{phrase.id} ({phrase.file.name})" for phrase in missing)
        listed = ", ".join(str(phrase.file) for phrase in missing)
        raise PhrasebankError(
            f"{index}: {len(missing)} recording(s) missing: {named}; no such file: {listed}"
        )


# --- Formats ----------------------------------------------------------------------------


def _read_formats(index: Path, entries: Any) -> dict[str, tuple[str, ...]]:
    return {
        kind: _read_format(index, kind, parts)
        for kind, parts in _mapping(index, "formats", entries).items()
    }


def _read_format(index: Path, kind: Any, parts: Any) -> tuple[str, ...]:
    where = f"formats.{kind}"
    if kind not in FORMAT_FIELDS:
        raise _error(index, where, f"formats exist for {', '.join(FORMAT_FIELDS)}")
    fields = FORMAT_FIELDS[kind]
    return tuple(
        _format_part(index, entry, part, fields) for entry, part in _numbered(index, where, parts)
    )


def _format_part(index: Path, entry: str, part: Any, fields: tuple[str, ...]) -> str:
    text = _text(index, entry, part)
    try:
        unknown = sorted(format_fields(text) - set(fields))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}: use {', '.join(fields)}")
        text.format(**_FORMAT_SAMPLE)
    except (ValueError, KeyError, IndexError) as exc:
        raise _error(index, entry, f"{text!r}: {exc}") from exc
    return text


# --- Templates --------------------------------------------------------------------------


def _read_templates(
    index: Path, entries: Any, formats: Formats
) -> dict[str, tuple[TemplatePart, ...]]:
    return {
        str(name): _read_template(index, f"templates.{name}", parts, formats)
        for name, parts in _mapping(index, "templates", entries).items()
    }


def _read_template(
    index: Path, where: str, parts: Any, formats: Formats
) -> tuple[TemplatePart, ...]:
    return tuple(
        _template_part(index, entry, part, formats)
        for entry, part in _numbered(index, where, parts)
    )


def _template_part(index: Path, entry: str, part: Any, formats: Formats) -> TemplatePart:
    text = _text(index, entry, part)
    if "{" in text or "}" in text:
        return _slot_ref(index, entry, text, formats)
    if not _PHRASE_ID.fullmatch(text):
        raise _error(index, entry, f"{text!r} is neither a phrase id nor a slot like {{place}}")
    return text


def _slot_ref(index: Path, entry: str, text: str, formats: Formats) -> SlotRef:
    slot = _SLOT_REF.fullmatch(text)
    if slot is None:
        raise _error(index, entry, f"{text!r}: a slot is written {{kind}} or {{kind.name}}")
    kind = slot.group("kind")
    if kind not in SLOT_KINDS:
        raise _error(index, entry, f"unknown slot kind {kind!r} (kinds: {', '.join(SLOT_KINDS)})")
    if kind in FORMAT_FIELDS and kind not in formats:
        raise _error(index, entry, f"{text} needs formats.{kind} (how this language says it)")
    return SlotRef(slot.group("name"))
