"""Lexicons: a district's written forms and how to say them, read from YAML.

The file is one mapping, written form → spoken form::

    "BQL": "ban quản lý"
    "Ka Lăng": "Ca Lăng"

Both sides are text, neither empty; both are stored in NFC with single spaces, so a form
typed on macOS (NFD) matches the same words typed on Windows (NFC).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

import yaml

from config import ConfigError, read_user_text
from pipeline.text._phrases import PhraseTable

_STRING_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_KINDS = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "one value"}


class LexiconError(ConfigError):
    """A lexicon file is missing or invalid; the message names the file, line and entry."""


class Lexicon:
    """Written forms and their spoken forms, replaced as whole tokens, longest first.

    Matching is case-sensitive: "BQL" is an abbreviation, "bql" is not.
    """

    def __init__(self, entries: Mapping[str, str]) -> None:
        """A lexicon of ``entries``; ``ValueError`` if a written or spoken form is blank."""
        normal = {_normal(written): _normal(spoken) for written, spoken in entries.items()}
        if any(not written or not spoken for written, spoken in normal.items()):
            raise ValueError("a lexicon entry has an empty written or spoken form")
        self._entries = MappingProxyType(normal)
        self._table = PhraseTable(normal)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """The lexicon in the YAML file ``path``; ``LexiconError`` says what is wrong where."""
        return cls(read_entries(_read_text(path), str(path)))

    @classmethod
    def empty(cls) -> Lexicon:
        """A lexicon without entries: it changes nothing."""
        return cls({})

    @property
    def entries(self) -> Mapping[str, str]:
        """Written form → spoken form, both NFC (read-only)."""
        return self._entries

    def apply(self, text: str) -> str:
        """``text`` with each written form of this lexicon replaced by its spoken form."""
        return self._table.replace(text)

    def __repr__(self) -> str:
        return f"Lexicon({len(self._entries)} entries)"


def read_entries(text: str, source: str) -> dict[str, str]:
    """The entries of the lexicon YAML ``text``; ``source`` names it in errors.

    A file that is empty or only comments is an empty lexicon.
    """
    root = _compose(text, source)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise LexiconError(
            f"{source}: {_line(root)}: expected a mapping of written form to spoken form, "
            f"found {_kind(root)}"
        )
    entries: dict[str, str] = {}
    first_lines: dict[str, int] = {}
    for key_node, value_node in _pairs(root):
        line = key_node.start_mark.line + 1
        written = _written_form(key_node, source)
        where = f"{source}: line {line}: entry {written!r}"
        if written in first_lines:
            raise LexiconError(f"{where}: already given on line {first_lines[written]}")
        entries[written] = _spoken_form(value_node, where)
        first_lines[written] = line
    return entries


def _read_text(path: Path) -> str:
    return read_user_text(path, LexiconError, "save the lexicon as UTF-8")


def _compose(text: str, source: str) -> yaml.Node | None:
    # Composing (not loading) keeps each entry's line number for the error messages.
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = error.problem or error.context or "unreadable"
        raise LexiconError(f"{source}: {where}invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise LexiconError(f"{source}: invalid YAML: {error}") from None


def _pairs(root: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    yield from root.value


def _written_form(node: yaml.Node, source: str) -> str:
    where = f"{source}: {_line(node)}"
    is_null = isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG
    if not _is_string(node) and not is_null:
        shown = node.value if isinstance(node, yaml.ScalarNode) else _kind(node)
        raise LexiconError(f"{where}: the written form {shown} is not text; quote it")
    written = "" if is_null else _normal(node.value)
    if not written:
        raise LexiconError(f"{where}: the written form is empty")
    return written


def _spoken_form(node: yaml.Node, where: str) -> str:
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        raise LexiconError(f"{where}: the spoken form is missing")
    if not _is_string(node):
        shown = node.value if isinstance(node, yaml.ScalarNode) else _kind(node)
        raise LexiconError(f"{where}: the spoken form must be text, found {shown}; quote it")
    spoken = _normal(node.value)
    if not spoken:
        raise LexiconError(f"{where}: the spoken form is empty")
    return spoken


def _is_string(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _STRING_TAG


def _normal(form: str) -> str:
    return " ".join(unicodedata.normalize("NFC", form).split())


def _line(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _kind(node: yaml.Node) -> str:
    return _KINDS.get(type(node), "something else")
