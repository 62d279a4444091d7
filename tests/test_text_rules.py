"""The Vietnamese reading rules one by one: dates, times, ratios, ranges, units, phones,
abbreviations."""

from __future__ import annotations

import pytest

from pipeline.text import normalize_text


def spoken_pairs(*pairs: tuple[str, str]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("written", "spoken"), list(pairs))


@spoken_pairs(
    ("ngày 23/11", "ngày hai mươi ba tháng mười một"),
    ("23/11/2026", "hai mươi ba tháng mười một năm hai nghìn không trăm hai mươi sáu"),
    ("ngày 05/12", "ngày mùng năm tháng mười hai"),
    ("ngày 10/12", "ngày mùng mười tháng mười hai"),
    ("ngày 11/12", "ngày mười một tháng mười hai"),
    ("ngày 23/4", "ngày hai mươi ba tháng tư"),
    ("ngày 1/4/2026", "ngày mùng một tháng tư năm hai nghìn không trăm hai mươi sáu"),
    ("mùng 5/12", "mùng năm tháng mười hai"),
    ("sáng 5/12", "sáng mùng năm tháng mười hai"),
    ("hôm 30/4", "hôm ba mươi tháng tư"),
    ("tháng 10/2026", "tháng mười năm hai nghìn không trăm hai mươi sáu"),
    ("tháng 4/2026", "tháng tư năm hai nghìn không trăm hai mươi sáu"),
    ("Tháng 10-2026", "Tháng mười năm hai nghìn không trăm hai mươi sáu"),
    ("từ 10/2026", "từ tháng mười năm hai nghìn không trăm hai mươi sáu"),
    ("tháng 4", "tháng tư"),
    ("tháng 04 và tháng 11", "tháng tư và tháng mười một"),
    ("ngày 5 tháng 12", "ngày mùng năm tháng mười hai"),
    ("ngày 25 tháng 12", "ngày hai mươi lăm tháng mười hai"),
    ("năm 2025", "năm hai nghìn không trăm hai mươi lăm"),
    ("23-11-2026", "hai mươi ba tháng mười một năm hai nghìn không trăm hai mươi sáu"),
    ("23.11.2026", "hai mươi ba tháng mười một năm hai nghìn không trăm hai mươi sáu"),
    ("2026-11-23", "hai mươi ba tháng mười một năm hai nghìn không trăm hai mươi sáu"),
    ("29/2/2028", "hai mươi chín tháng hai năm hai nghìn không trăm hai mươi tám"),
)
def test_dates(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@spoken_pairs(
    ("12/22 xã", "mười hai trên hai mươi hai xã"),
    ("10/12 xã", "mười trên mười hai xã"),
    ("đạt 10/12", "đạt mười trên mười hai"),
    ("đến 10/12 xã", "đến mười trên mười hai xã"),
    ("từ 5/12 hộ", "từ năm trên mười hai hộ"),
    ("có 5/12 và 10/12 thôn", "có năm trên mười hai và mười trên mười hai thôn"),
    ("ngày 32/12", "ngày ba mươi hai trên mười hai"),
    ("29/2/2026", "hai mươi chín trên hai trên hai nghìn không trăm hai mươi sáu"),
    ("1.250/2.500 hộ", "một nghìn hai trăm năm mươi trên hai nghìn năm trăm hộ"),
)
def test_ratios(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@spoken_pairs(
    # a strong date word wins over the noun after it
    ("ngày 10/12 xã tổ chức", "ngày mùng mười tháng mười hai xã tổ chức"),
    ("đến 10/12", "đến mùng mười tháng mười hai"),
    ("trước 15/12", "trước mười lăm tháng mười hai"),
    (
        "ngày 10/12, 11/12 và 12/12",
        "ngày mùng mười tháng mười hai, mười một tháng mười hai và mười hai tháng mười hai",
    ),
    ("ngày 10/12 hoặc 11/12", "ngày mùng mười tháng mười hai hoặc mười một tháng mười hai"),
    ("23/11 - 25/11", "hai mươi ba tháng mười một đến hai mươi lăm tháng mười một"),
    ("từ 23/11 đến 25/11", "từ hai mươi ba tháng mười một đến hai mươi lăm tháng mười một"),
    # a date may begin a line (a heading, an agenda item); a ratio there has its noun
    ("23/11", "hai mươi ba tháng mười một"),
    ("23/4", "hai mươi ba tháng tư"),
    ("Lịch họp:\n- 05/12: giao ban", "Lịch họp:\n- mùng năm tháng mười hai: giao ban"),
    ("12/22 xã đạt chuẩn", "mười hai trên hai mươi hai xã đạt chuẩn"),
)
def test_dates_told_from_ratios_by_context(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@spoken_pairs(
    ("7h30", "bảy giờ ba mươi phút"),
    ("19h00", "mười chín giờ"),
    ("07h00", "bảy giờ"),
    ("7h05", "bảy giờ năm phút"),
    ("17:30", "mười bảy giờ ba mươi phút"),
    ("0:15", "không giờ mười lăm phút"),
    ("7h", "bảy giờ"),
    ("24h", "hai mươi tư giờ"),
    ("7 giờ 30", "bảy giờ ba mươi"),
    ("từ 6h00 đến 8h30", "từ sáu giờ đến tám giờ ba mươi phút"),
    ("6h30-8h", "sáu giờ ba mươi phút đến tám giờ"),
    ("17:30 - 18:00", "mười bảy giờ ba mươi phút đến mười tám giờ"),
    # not times: read as ordinary numbers
    ("25:10", "hai mươi lăm:mười"),
    ("7h75", "bảy h bảy mươi lăm"),
    ("48h", "bốn mươi tám giờ"),
)
def test_times(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@spoken_pairs(
    ("8,5%", "tám phẩy năm phần trăm"),
    ("100%", "một trăm phần trăm"),
    ("2,3 %", "hai phẩy ba phần trăm"),
    ("2-3%", "hai đến ba phần trăm"),
    ("5%/năm", "năm phần trăm trên năm"),
)
def test_percentages(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@spoken_pairs(
    ("cấp 2 - 3", "cấp hai đến ba"),
    ("cấp 2-3", "cấp hai đến ba"),
    ("cấp 2–3", "cấp hai đến ba"),
    ("cấp 2 — 3", "cấp hai đến ba"),
    ("120 đến 180 mm", "một trăm hai mươi đến một trăm tám mươi mi-li-mét"),
    ("120 - 180 mm", "một trăm hai mươi đến một trăm tám mươi mi-li-mét"),
    ("120 mm - 180 mm", "một trăm hai mươi mi-li-mét đến một trăm tám mươi mi-li-mét"),
    ("từ 5 đến 8 cụm loa", "từ năm đến tám cụm loa"),
    (
        "năm 2025 - 2026",
        "năm hai nghìn không trăm hai mươi lăm đến hai nghìn không trăm hai mươi sáu",
    ),
    ("14 - 20°C", "mười bốn đến hai mươi độ C"),
    ("từ -5 - -1°C", "từ âm năm đến âm một độ C"),
)
def test_ranges(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@spoken_pairs(
    ("180 mm", "một trăm tám mươi mi-li-mét"),
    ("30 cm", "ba mươi xen-ti-mét"),
    ("2 m", "hai mét"),
    ("12 km", "mười hai ki-lô-mét"),
    ("60 km/h", "sáu mươi ki-lô-mét trên giờ"),
    ("15 m/s", "mười lăm mét trên giây"),
    ("120 m³/s", "một trăm hai mươi mét khối trên giây"),
    ("120 m3/s", "một trăm hai mươi mét khối trên giây"),
    ("500 m³", "năm trăm mét khối"),
    ("50 m2", "năm mươi mét vuông"),
    ("14°C", "mười bốn độ C"),
    ("14 °C", "mười bốn độ C"),
    ("14oC", "mười bốn độ C"),
    ("14ºC", "mười bốn độ C"),
    ("30°", "ba mươi độ"),
    ("-2°C", "âm hai độ C"),
    ("từ -2 đến 3 độ", "từ âm hai đến ba độ"),
    ("3 ha", "ba héc-ta"),
    ("55 tạ/ha", "năm mươi lăm tạ trên héc-ta"),
    ("5 kg", "năm ki-lô-gam"),
    ("200 g", "hai trăm gam"),
    ("3 tấn", "ba tấn"),
    ("5 l", "năm lít"),
    ("2 lít", "hai lít"),
    ("15.000 đồng", "mười lăm nghìn đồng"),
    ("15.000đ", "mười lăm nghìn đồng"),
    ("15.000 VNĐ", "mười lăm nghìn đồng"),
    ("15.000 VND", "mười lăm nghìn đồng"),
    ("1.250 triệu đồng", "một nghìn hai trăm năm mươi triệu đồng"),
    ("2 tỷ đồng", "hai tỷ đồng"),
    ("1,5 tỷ đ", "một phẩy năm tỷ đồng"),
    ("15.000 đồng/hộ/tháng", "mười lăm nghìn đồng trên hộ trên tháng"),
    ("mưa 50mm", "mưa năm mươi mi-li-mét"),
    ("50 mét", "năm mươi mét"),
    ("5 giờ", "năm giờ"),
)
def test_units_after_numbers(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@pytest.mark.parametrize(
    "text",
    ["chữ m và chữ g", "Hà Nội", "ha ha", "mm, cm và km", "VNĐ", "độ ẩm cao", "m³/s"],
)
def test_units_stay_as_they_are_away_from_numbers(text: str) -> None:
    assert normalize_text(text) == text


@spoken_pairs(
    ("0912 345 678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("0912.345.678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("0912-345-678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("0912345678", "không chín một hai ba bốn năm sáu bảy tám"),
    ("0213 3881 234", "không hai một ba, ba tám tám một, hai ba bốn"),
    ("+84 912 345 678", "cộng tám bốn, chín một hai, ba bốn năm, sáu bảy tám"),
    ("ĐT: 0912 345 678", "điện thoại: không chín một hai, ba bốn năm, sáu bảy tám"),
    ("SĐT 0912345678", "số điện thoại không chín một hai ba bốn năm sáu bảy tám"),
    ("ĐT0912345678", "điện thoại không chín một hai ba bốn năm sáu bảy tám"),
    ("0912 345 678 12 hộ", "không chín một hai, ba bốn năm, sáu bảy tám mười hai hộ"),
    (
        "0912 345 678 hoặc 0913 456 789",
        "không chín một hai, ba bốn năm, sáu bảy tám hoặc "
        "không chín một ba, bốn năm sáu, bảy tám chín",
    ),
    (
        "0912 345 678 0913 456 789",
        "không chín một hai, ba bốn năm, sáu bảy tám không chín một ba, bốn năm sáu, bảy tám chín",
    ),
    ("05 0912 345 678", "năm không chín một hai, ba bốn năm, sáu bảy tám"),
    ("gọi số 112", "gọi số một một hai"),
    ("Gọi 113 ngay", "Gọi một một ba ngay"),
    ("gọi số 114.", "gọi số một một bốn."),
    ("đường dây nóng 111", "đường dây nóng một một một"),
    ("số 115", "số một một năm"),
    # not phone numbers
    ("tổng số 112 hộ", "tổng số một trăm mười hai hộ"),
    ("có 112 người", "có một trăm mười hai người"),
    ("gọi số 116", "gọi số một trăm mười sáu"),
    ("012345", "mười hai nghìn ba trăm bốn mươi lăm"),
)
def test_phone_numbers(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


REQUIRED_ABBREVIATIONS = {
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "MTQG": "mục tiêu quốc gia",
    "NTM": "nông thôn mới",
    "CNTT": "công nghệ thông tin",
    "VT": "viễn thông",
    "TP.": "thành phố",
    "TT": "thị trấn",
    "KT-XH": "kinh tế - xã hội",
    "BCH": "ban chỉ huy",
    "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn",
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    "UBMTTQ": "ủy ban mặt trận tổ quốc",
    "MTTQ": "mặt trận tổ quốc",
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "CSGT": "cảnh sát giao thông",
    "PCCC": "phòng cháy chữa cháy",
    "KTTV": "khí tượng thủy văn",
    "TW": "trung ương",
    "HTX": "hợp tác xã",
    "ATTP": "an toàn thực phẩm",
    "GD&ĐT": "giáo dục và đào tạo",
    "NN&PTNT": "nông nghiệp và phát triển nông thôn",
}


@pytest.mark.parametrize(("written", "spoken"), sorted(REQUIRED_ABBREVIATIONS.items()))
def test_administrative_abbreviations(written: str, spoken: str) -> None:
    assert normalize_text(f"Theo {written} huyện") == f"Theo {spoken} huyện"


@spoken_pairs(
    ("CNTT-VT", "công nghệ thông tin - viễn thông"),
    ("số 45/KH-UBND", "số bốn mươi lăm/KH - ủy ban nhân dân"),
    ("(UBND xã)", "(ủy ban nhân dân xã)"),
    ("UBMTTQ xã", "ủy ban mặt trận tổ quốc xã"),
    ("TP.HCM", "thành phố Hồ Chí Minh"),
    ("BCH PCTT&TKCN", "ban chỉ huy phòng chống thiên tai và tìm kiếm cứu nạn"),
    ("Văn hóa & Thể thao", "Văn hóa và Thể thao"),
    ("ĐT.473", "đường tỉnh bốn trăm bảy mươi ba"),
    ("ĐT 473", "đường tỉnh bốn trăm bảy mươi ba"),
    ("QL4D", "quốc lộ bốn D"),
    ("QL.12", "quốc lộ mười hai"),
    ("QL 12", "quốc lộ mười hai"),
)
def test_abbreviations_in_context(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


@pytest.mark.parametrize("text", ["ttx", "Tt", "TTS", "UBNDX", "ubnd", "vt", "ĐT", "QL", "VTV"])
def test_abbreviations_match_whole_tokens_in_their_own_case(text: str) -> None:
    assert normalize_text(text) == text


@spoken_pairs(
    ("thứ 4", "thứ tư"),
    ("Thứ 2", "Thứ hai"),
    ("lần thứ 1", "lần thứ nhất"),
    ("English words stay, 3 numbers do not", "English words stay, ba numbers do not"),
    ("phát trên FM và internet", "phát trên FM và internet"),
)
def test_ordinals_and_mixed_text(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken
