"""Numbers in Vietnamese words: spell_number, and numbers as Vietnamese text writes them."""

from __future__ import annotations

import pytest

from pipeline.text import normalize_text, spell_number


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        (0, "không"),
        (1, "một"),
        (2, "hai"),
        (3, "ba"),
        (4, "bốn"),
        (5, "năm"),
        (6, "sáu"),
        (7, "bảy"),
        (8, "tám"),
        (9, "chín"),
        (10, "mười"),
        (11, "mười một"),
        (14, "mười bốn"),
        (15, "mười lăm"),
        (19, "mười chín"),
        (20, "hai mươi"),
        (21, "hai mươi mốt"),
        (24, "hai mươi tư"),
        (25, "hai mươi lăm"),
        (55, "năm mươi lăm"),
        (91, "chín mươi mốt"),
        (94, "chín mươi tư"),
        (100, "một trăm"),
        (101, "một trăm linh một"),
        (104, "một trăm linh bốn"),
        (105, "một trăm linh năm"),
        (110, "một trăm mười"),
        (111, "một trăm mười một"),
        (115, "một trăm mười lăm"),
        (121, "một trăm hai mươi mốt"),
        (200, "hai trăm"),
        (999, "chín trăm chín mươi chín"),
        (1000, "một nghìn"),
        (1001, "một nghìn không trăm linh một"),
        (1010, "một nghìn không trăm mười"),
        (1250, "một nghìn hai trăm năm mươi"),
        (2005, "hai nghìn không trăm linh năm"),
        (2025, "hai nghìn không trăm hai mươi lăm"),
        (2026, "hai nghìn không trăm hai mươi sáu"),
        (10_000, "mười nghìn"),
        (15_000, "mười lăm nghìn"),
        (21_000, "hai mươi mốt nghìn"),
        (100_000, "một trăm nghìn"),
        (1_000_000, "một triệu"),
        (1_000_005, "một triệu không trăm linh năm"),
        (1_005_000, "một triệu không trăm linh năm nghìn"),
        (1_250_000, "một triệu hai trăm năm mươi nghìn"),
        (3_000_200, "ba triệu hai trăm"),
        (1_000_000_000, "một tỷ"),
        (1_000_000_005, "một tỷ không trăm linh năm"),
        (2_500_000_000, "hai tỷ năm trăm triệu"),
        (5_000_000_000_000, "năm nghìn tỷ"),
        (-5, "âm năm"),
    ],
)
def test_spell_number(number: int, spoken: str) -> None:
    assert spell_number(number) == spoken


def test_spell_number_reads_numbers_beyond_a_billion_billion() -> None:
    assert spell_number(10**18) == "một tỷ tỷ"


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("1250", "một nghìn hai trăm năm mươi"),
        ("1.250", "một nghìn hai trăm năm mươi"),
        ("1.250.000", "một triệu hai trăm năm mươi nghìn"),
        ("8,5", "tám phẩy năm"),
        ("2,35", "hai phẩy ba mươi lăm"),
        ("0,05", "không phẩy không năm"),
        ("1.250,5", "một nghìn hai trăm năm mươi phẩy năm"),
        ("3,14159", "ba phẩy một bốn một năm chín"),
        ("07 đài", "bảy đài"),
        ("0", "không"),
        ("00", "không"),
        ("4.0", "bốn chấm không"),
        ("mục 1.2.3", "mục một chấm hai chấm ba"),
        ("có 2 xã.", "có hai xã."),
        ("kinh phí 1.250.", "kinh phí một nghìn hai trăm năm mươi."),
        ("năm 2025", "năm hai nghìn không trăm hai mươi lăm"),
        ("6 tháng", "sáu tháng"),
        ("1,2,3", "một,hai,ba"),
        (
            "mã 1234567890123456",
            "mã một hai ba bốn năm sáu bảy tám chín không một hai ba bốn năm sáu",
        ),
    ],
)
def test_written_numbers(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken


def test_thousands_separator_is_never_a_decimal_point() -> None:
    assert "phẩy" not in normalize_text("1.250")
    assert "chấm" not in normalize_text("1.250")


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("QL4D", "quốc lộ bốn D"),
        ("H5N1", "H năm N một"),
        ("mạng 4G", "mạng bốn G"),
        ("F0", "F không"),
        ("COVID-19", "COVID mười chín"),
        ("Windows 10", "Windows mười"),
    ],
)
def test_numbers_touching_letters_are_read_apart(written: str, spoken: str) -> None:
    assert normalize_text(written) == spoken
