"""What editors and listeners read and hear about alerts, in Vietnamese."""

from __future__ import annotations

from typing import Final

from config import Commune
from content import AlertState, AlertStatus, Hazard

HAZARD_VI: Final = {
    Hazard.STORM: "bão",
    Hazard.TROPICAL_DEPRESSION: "áp thấp nhiệt đới",
    Hazard.TORNADO: "lốc",
    Hazard.LIGHTNING: "sét",
    Hazard.HAIL: "mưa đá",
    Hazard.HEAVY_RAIN: "mưa lớn",
    Hazard.FLOOD: "lũ",
    Hazard.FLASH_FLOOD: "lũ quét",
    Hazard.INUNDATION: "ngập lụt",
    Hazard.LANDSLIDE: "sạt lở đất",
    Hazard.LAND_SUBSIDENCE: "sụt lún đất",
    Hazard.DROUGHT: "hạn hán",
    Hazard.SALINITY_INTRUSION: "xâm nhập mặn",
    Hazard.EXTREME_HEAT: "nắng nóng",
    Hazard.COLD: "rét hại",
    Hazard.FROST: "sương muối",
    Hazard.FOREST_FIRE: "cháy rừng",
    Hazard.EARTHQUAKE: "động đất",
    Hazard.TSUNAMI: "sóng thần",
    Hazard.OTHER: "thiên tai",
}

# Decision 18/2021/QĐ-TTg: the colour of each risk level.
LEVEL_COLOUR_VI: Final = {1: "xanh dương nhạt", 2: "vàng nhạt", 3: "da cam", 4: "đỏ", 5: "tím"}

LANGUAGE_VI: Final = {
    "vi": "tiếng Việt",
    "tyz": "tiếng Tày",
    "nut": "tiếng Nùng",
    "hnj": "tiếng H'Mông",
    "blu": "tiếng H'Mông",
    "ium": "tiếng Dao",
    "blt": "tiếng Thái Đen",
    "tmp": "tiếng Thái",
    "km": "tiếng Khmer",
    "hni": "tiếng Hà Nhì",
    "lhu": "tiếng La Hủ",
    "mtq": "tiếng Mường",
    "cja": "tiếng Chăm",
    "rad": "tiếng Ê Đê",
    "jra": "tiếng Gia Rai",
}

STATUS_VI: Final = {
    AlertStatus.ACTUAL: "thật",
    AlertStatus.EXERCISE: "diễn tập",
    AlertStatus.TEST: "thử nghiệm",
    AlertStatus.DRAFT: "bản nháp",
}

STATE_VI: Final = {
    AlertState.ISSUED: "đã phát hành",
    AlertState.HELD: "bản nháp (không gửi đi)",
    AlertState.SUPERSEDED: "đã được thay thế",
    AlertState.CANCELLED: "đã huỷ",
}

# Said before the message of a test or an exercise, in every language's clip.
TEST_NOTICE_VI: Final = {
    AlertStatus.TEST: (
        "Đây là bản tin thử nghiệm hệ thống cảnh báo. Đây không phải là cảnh báo thật."
    ),
    AlertStatus.EXERCISE: "Đây là bản tin diễn tập. Đây không phải là cảnh báo thật.",
}

ISSUE_TIME_VI: Final = "Bản tin phát lúc {time} ngày {date}."


def language_label(code: str) -> str:
    name = LANGUAGE_VI.get(code)
    return f"{name} ({code})" if name else code


def commune_label(commune: Commune) -> str:
    return f"xã {commune.name} ({commune.id})"


def alert_title(hazard: Hazard, level: int, status: AlertStatus) -> str:
    """What the manifest calls the alert: "Cảnh báo lũ quét – rủi ro thiên tai cấp độ 3"."""
    title = f"Cảnh báo {HAZARD_VI[hazard]} – rủi ro thiên tai cấp độ {level}"
    if status is AlertStatus.TEST:
        return f"[THỬ NGHIỆM] {title}"
    if status is AlertStatus.EXERCISE:
        return f"[DIỄN TẬP] {title}"
    return title


# The routine audible test's message (the test notice is said before it).
TEST_TEXT_VI: Final = (
    "Bản tin thử nghiệm định kỳ của hệ thống truyền thanh cảnh báo thiên tai huyện "
    "{district}. Bà con không cần làm gì. Xin cảm ơn bà con."
)
