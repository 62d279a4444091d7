"""Nouns that are counted: after one, a number is a quantity, not a date or a phone number."""

from __future__ import annotations

import re
from typing import Final

COUNTED_NOUNS: Final = (
    # places and units of administration
    "xã", "phường", "thị trấn", "huyện", "tỉnh", "thôn", "bản", "làng", "xóm", "tổ", "khu",
    "cụm", "đơn vị", "cơ quan", "cơ sở", "trường", "lớp", "trạm", "điểm", "hợp tác xã",
    # people and households
    "hộ", "người", "nhân khẩu", "khẩu", "học sinh", "em", "cháu", "gia đình", "thành viên",
    "hội viên", "đảng viên", "đoàn viên", "bệnh nhân", "ca", "trường hợp", "lượt",
    # things
    "đài", "loa", "chiếc", "cái", "con", "công trình", "dự án", "tiêu chí", "chỉ tiêu",
    "nội dung", "phòng", "căn", "ngôi", "tấn", "ha",
)  # fmt: skip

_COUNTED_NOUN_AHEAD = re.compile(
    r"\s+(?:" + "|".join(sorted(COUNTED_NOUNS, key=len, reverse=True)) + r")(?!\w)",
    re.IGNORECASE,
)


def counted_noun_follows(text: str, end: int) -> bool:
    """Whether a counted noun ("xã", "hộ", "học sinh"...) follows ``text[:end]``."""
    return _COUNTED_NOUN_AHEAD.match(text, end) is not None
