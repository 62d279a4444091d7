"""Units of measure and money after a number: "180 mm" → "180 mi-li-mét".

A unit is read only right after a number (with at most one space between), so "m" in a
sentence and "ha" elsewhere stay as they are. Units are case-sensitive and hyphenated by
syllable ("ki-lô-mét") so a TTS engine reads them syllable by syllable. A unit may be
divided by others: "km/h" → "ki-lô-mét trên giờ", "đồng/hộ/tháng" → "đồng trên hộ trên
tháng".
"""

from __future__ import annotations

import re
from typing import Final

UNITS: Final = {
    "mm": "mi-li-mét",
    "cm": "xen-ti-mét",
    "m": "mét",
    "km": "ki-lô-mét",
    "m²": "mét vuông",
    "m2": "mét vuông",
    "km²": "ki-lô-mét vuông",
    "km2": "ki-lô-mét vuông",
    "m³": "mét khối",
    "m3": "mét khối",
    "ha": "héc-ta",
    "g": "gam",
    "kg": "ki-lô-gam",
    "yến": "yến",
    "tạ": "tạ",
    "tấn": "tấn",
    "ml": "mi-li-lít",
    "l": "lít",
    "lít": "lít",
    "°C": "độ C",
    "° C": "độ C",
    "ºC": "độ C",  # the ordinal sign, often typed for the degree sign
    "oC": "độ C",  # "14oC": how many Vietnamese keyboards write it
    "℃": "độ C",
    "°": "độ",
    "%": "phần trăm",
    "h": "giờ",
    "kW": "ki-lô-oát",
    "kWh": "ki-lô-oát giờ",
    "đ": "đồng",
    "đồng": "đồng",
    "VNĐ": "đồng",
    "VND": "đồng",
    "vnđ": "đồng",
}
# Units that only appear after a slash: "m/s" is metres per second, "5 s" is not seconds.
PER_UNITS: Final = {**UNITS, "s": "giây", "ph": "phút"}
SCALE_WORDS: Final = ("nghìn", "ngàn", "triệu", "tỷ")

UNIT_PATTERN: Final = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<=[0-9])\s?(?:(?P<scale>" + "|".join(SCALE_WORDS) + r")\s)?"
    r"(?P<unit>" + UNIT_PATTERN + r")(?P<per>(?:/[^\W\d_]+[²³23]?)*)(?!\w)"
)


def read_units(text: str) -> str:
    """``text`` with each unit that follows a number in words; the number stays digits."""
    return _UNIT_AFTER_NUMBER.sub(_unit_words, text)


def _unit_words(found: re.Match[str]) -> str:
    words = [found["scale"], UNITS[found["unit"]]] if found["scale"] else [UNITS[found["unit"]]]
    for divisor in found["per"].split("/")[1:]:
        words += ["trên", PER_UNITS.get(divisor, divisor)]
    return " " + " ".join(words)
