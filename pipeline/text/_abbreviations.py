"""Administrative abbreviations (``abbreviations.yaml``) and road names (ĐT.473, QL4D)."""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Final

from pipeline.text._lexicon import read_entries
from pipeline.text._phrases import PhraseTable

_PACKAGE: Final = "pipeline.text"
ABBREVIATIONS_FILE: Final = "abbreviations.yaml"

# Road prefixes are read only before a road number: alone, "ĐT" is usually "điện thoại".
ROAD_PREFIXES: Final = {"ĐT": "đường tỉnh", "QL": "quốc lộ", "TL": "tỉnh lộ"}
_ROAD = re.compile(r"(?<!\w)(" + "|".join(ROAD_PREFIXES) + r")(?:\s?\.\s?|\s)?(?=[0-9])")


def expand_abbreviations(text: str) -> str:
    """``text`` with the built-in administrative abbreviations spelled out."""
    return builtin_abbreviations().replace(text)


def expand_road_names(text: str) -> str:
    """Road prefixes before a number: "ĐT.473" → "đường tỉnh 473", "QL4D" → "quốc lộ 4D"."""
    return _ROAD.sub(lambda found: ROAD_PREFIXES[found.group(1)] + " ", text)


@functools.cache
def builtin_abbreviations() -> PhraseTable:
    """The table of ``abbreviations.yaml``, shipped beside this module, read once."""
    data = resources.files(_PACKAGE).joinpath(ABBREVIATIONS_FILE)
    source = f"{_PACKAGE}/{ABBREVIATIONS_FILE}"
    return PhraseTable(read_entries(data.read_text(encoding="utf-8"), source))
