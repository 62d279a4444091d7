"""normalize_text as a whole: the sample bulletins, the public interface, languages other
than Vietnamese, white space and punctuation, and robustness on any input."""

from __future__ import annotations

import random
import re
import time
import unicodedata

import pytest

import pipeline.text
from pipeline.text import Lexicon, normalize_text
from tests.conftest import SHARED_SAMPLES

# The shared samples (/work/shared/samples) are not in the repository, so their text is
# copied here; test_samples_match_the_shared_files checks the copies when they are beside it.
BULLETIN_MORNING = (
    "\n\n".join(
        [
            "Bản tin sáng thứ Hai, ngày 23/11/2026.",
            "Kính thưa bà con nhân dân trong xã!",
            (
                "Sáng nay, UBND huyện tổ chức hội nghị sơ kết 6 tháng thực hiện Chương trình "
                "MTQG xây dựng NTM. Đến hết tháng 10/2026, toàn huyện có 12/22 xã đạt chuẩn "
                "nông thôn mới, 2 xã đạt chuẩn nông thôn mới nâng cao; tỷ lệ hộ nghèo giảm "
                "còn 8,5%, giảm 2,3% so với cùng kỳ năm 2025."
            ),
            (
                "Về hạ tầng thông tin cơ sở, năm 2026 huyện đầu tư nâng cấp 07 đài truyền "
                "thanh xã từ FM sang ứng dụng CNTT-VT, với tổng kinh phí 1.250 triệu đồng. "
                "Mỗi xã được lắp đặt từ 5 đến 8 cụm loa, phủ sóng 100% thôn, bản."
            ),
            (
                "Dự báo thời tiết: hôm nay trời nhiều mây, có mưa rào rải rác; nhiệt độ thấp "
                "nhất 14°C, cao nhất 22°C; gió đông bắc cấp 2 - 3. Đêm nay và ngày mai, vùng "
                "núi cao có thể xuất hiện sương muối, bà con chú ý che chắn cho gia súc, cây "
                "trồng."
            ),
            (
                "Lịch tiêm chủng mở rộng tháng 11: trạm y tế xã tiêm vắc-xin cho trẻ em dưới "
                "5 tuổi vào lúc 7h30 ngày 25/11/2026. Đề nghị các gia đình đưa trẻ đến đúng "
                "giờ và mang theo sổ tiêm chủng."
            ),
            "Bản tin đến đây là kết thúc. Xin cảm ơn bà con đã lắng nghe.",
        ]
    )
    + "\n"
)

ALERT_FLASHFLOOD = (
    "\n\n".join(
        [
            "Cảnh báo lũ quét, sạt lở đất. Rủi ro thiên tai cấp độ 3.",
            (
                "Từ 19h00 ngày 23/11 đến 07h00 ngày 24/11/2026, trên địa bàn xã Tà Tổng, Pa Ủ"
                " và Mù Cả có mưa to đến rất to, lượng mưa phổ biến từ 120 đến 180 mm, có nơi"
                " trên 200 mm. Nguy cơ rất cao xảy ra lũ quét tại các suối Nậm Ma, Nậm Khao "
                "và sạt lở đất tại các sườn dốc ven đường tỉnh 473."
            ),
            (
                "Đề nghị bà con: không đi qua ngầm, tràn, suối khi nước đang lên; các hộ sống"
                " ven suối, chân đồi dốc chủ động di chuyển người, tài sản đến nơi an toàn "
                "trước 17h00 hôm nay; không thu vớt củi, gỗ trên sông suối."
            ),
            ("Khi cần hỗ trợ khẩn cấp, bà con gọi số 112 hoặc báo ngay cho trưởng thôn, bản."),
            "Bản tin phát lúc 15h30 ngày 23/11/2026. Bản tin tiếp theo phát lúc 17h30.",
        ]
    )
    + "\n"
)

ANNOUNCEMENT = (
    "\n\n".join(
        [
            "Thông báo của UBND xã về việc thu gom rác thải.",
            (
                "Thực hiện Kế hoạch số 45/KH-UBND ngày 10/11/2026, từ ngày 01/12/2026, xe thu"
                " gom rác thải sinh hoạt sẽ hoạt động vào thứ Ba và thứ Sáu hằng tuần, từ "
                "6h00 đến 8h30, tại các thôn Nà Pàn, Khòn Khuyên và Bản Vắt."
            ),
            (
                "Đề nghị các hộ gia đình phân loại rác tại nguồn, để rác đúng nơi quy định. "
                "Mức phí thu gom là 15.000 đồng/hộ/tháng."
            ),
        ]
    )
    + "\n"
)


SAMPLES = {
    "bulletin-morning-vi.txt": BULLETIN_MORNING,
    "alert-flashflood-vi.txt": ALERT_FLASHFLOOD,
    "announcement-vi.txt": ANNOUNCEMENT,
}
ASCII_DIGIT = re.compile(r"[0-9]")


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="shared samples not beside the repo")
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_match_the_shared_files(name: str) -> None:
    assert SAMPLES[name] == (SHARED_SAMPLES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_have_no_digits_left(name: str) -> None:
    spoken = normalize_text(SAMPLES[name])
    assert not ASCII_DIGIT.search(spoken), spoken


def test_morning_bulletin_reads_as_spoken_vietnamese() -> None:
    spoken = normalize_text(BULLETIN_MORNING)
    for abbreviation in ("UBND", "MTQG", "NTM", "CNTT", "VT"):
        assert not re.search(rf"(?<!\w){abbreviation}(?!\w)", spoken), abbreviation
    for phrase in (
        "Bản tin sáng thứ Hai, ngày hai mươi ba tháng mười một năm hai nghìn không trăm hai "
        "mươi sáu.",
        "Sáng nay, ủy ban nhân dân huyện tổ chức hội nghị sơ kết sáu tháng",
        "Chương trình mục tiêu quốc gia xây dựng nông thôn mới.",
        "Đến hết tháng mười năm hai nghìn không trăm hai mươi sáu,",
        "mười hai trên hai mươi hai xã",
        "hai xã đạt chuẩn",
        "tám phẩy năm phần trăm, giảm hai phẩy ba phần trăm",
        "năm hai nghìn không trăm hai mươi lăm.",
        "nâng cấp bảy đài truyền thanh",
        "ứng dụng công nghệ thông tin - viễn thông",
        "một nghìn hai trăm năm mươi triệu đồng",
        "từ năm đến tám cụm loa, phủ sóng một trăm phần trăm thôn, bản.",
        "nhiệt độ thấp nhất mười bốn độ C, cao nhất hai mươi hai độ C;",
        "cấp hai đến ba.",
        "tháng mười một: trạm y tế",
        "dưới năm tuổi vào lúc bảy giờ ba mươi phút ngày hai mươi lăm tháng mười một",
    ):
        assert phrase in spoken


def test_flash_flood_alert_reads_as_spoken_vietnamese() -> None:
    spoken = normalize_text(ALERT_FLASHFLOOD)
    for phrase in (
        "Rủi ro thiên tai cấp độ ba.",
        "Từ mười chín giờ ngày hai mươi ba tháng mười một đến bảy giờ ngày hai mươi tư tháng "
        "mười một năm hai nghìn không trăm hai mươi sáu,",
        "từ một trăm hai mươi đến một trăm tám mươi mi-li-mét, có nơi trên hai trăm mi-li-mét.",
        "ven đường tỉnh bốn trăm bảy mươi ba.",
        "trước mười bảy giờ hôm nay;",
        "bà con gọi số một một hai hoặc báo ngay",
        "Bản tin phát lúc mười lăm giờ ba mươi phút ngày hai mươi ba tháng mười một",
        "phát lúc mười bảy giờ ba mươi phút.",
    ):
        assert phrase in spoken


def test_announcement_reads_as_spoken_vietnamese() -> None:
    spoken = normalize_text(ANNOUNCEMENT)
    for phrase in (
        "Thông báo của ủy ban nhân dân xã",
        "ngày mùng mười tháng mười một năm hai nghìn không trăm hai mươi sáu, từ ngày mùng một "
        "tháng mười hai năm hai nghìn không trăm hai mươi sáu,",
        "từ sáu giờ đến tám giờ ba mươi phút,",
        "mười lăm nghìn đồng trên hộ trên tháng.",
    ):
        assert phrase in spoken


PAUSE = re.compile(r"[.,;:!?](?=\s|$)|\n\n")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_keep_their_paragraphs_and_pauses(name: str) -> None:
    written = SAMPLES[name].strip()
    assert PAUSE.findall(normalize_text(written)) == PAUSE.findall(written)


def test_public_interface_is_exactly_what_other_parts_import() -> None:
    assert sorted(pipeline.text.__all__) == [
        "Lexicon",
        "LexiconError",
        "normalize_text",
        "spell_number",
    ]


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("", ""),
        ("   \n\t ", ""),
        ("...!?", "...!?"),
        ("Xin chào   bà con ,  hôm nay", "Xin chào bà con , hôm nay"),
        ("Dòng một  \r\nDòng hai", "Dòng một\nDòng hai"),
        ("Đoạn một.\n\n\n\n  Đoạn hai.", "Đoạn một.\n\nĐoạn hai."),
        ("Thông\u00a0báo\u200b!", "Thông báo!"),
    ],
)
def test_white_space_is_tidied_and_pauses_kept(text: str, spoken: str) -> None:
    assert normalize_text(text) == spoken


def test_output_is_nfc_even_from_decomposed_input() -> None:
    decomposed = unicodedata.normalize("NFD", "Ủy ban nhân dân xã Pa Ủ, ngày 23/11")
    spoken = normalize_text(decomposed)
    assert spoken == "Ủy ban nhân dân xã Pa Ủ, ngày hai mươi ba tháng mười một"
    assert unicodedata.is_normalized("NFC", spoken)


@pytest.mark.parametrize("language", ["hni", "lhu", "blt", "en", "xx-nonsense"])
def test_other_languages_get_only_nfc_white_space_and_lexicon(language: str) -> None:
    text = unicodedata.normalize("NFD", "UBND  xã: 12/22 xã, 8,5%  lúc 7h30 BQL")
    lexicon = Lexicon({"BQL": "ban quản lý"})
    spoken = normalize_text(text, language=language, lexicon=lexicon)
    assert spoken == "UBND xã: 12/22 xã, 8,5% lúc 7h30 ban quản lý"


@pytest.mark.parametrize("language", ["vi", "vi-VN", "VI"])
def test_vietnamese_may_carry_a_region(language: str) -> None:
    assert normalize_text("gọi số 112", language=language) == "gọi số một một hai"


def test_the_same_text_always_reads_the_same() -> None:
    assert normalize_text(BULLETIN_MORNING) == normalize_text(BULLETIN_MORNING)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_normalised_text_is_left_as_it_is(name: str) -> None:
    spoken = normalize_text(SAMPLES[name])
    assert normalize_text(spoken) == spoken


def test_a_long_text_is_normalised_quickly() -> None:
    copies = 200_000 // len(BULLETIN_MORNING.encode()) + 1
    text = "\n\n".join([BULLETIN_MORNING] * copies)
    assert len(text.encode()) >= 200_000
    started = time.perf_counter()
    spoken = normalize_text(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"{elapsed:.2f} s for {len(text.encode())} bytes"
    assert not ASCII_DIGIT.search(spoken)


# Digits of other scripts, superscripts, marks, symbols and emoji as well as the characters
# the rules look at: none of it may make the normaliser raise.
RANDOM_ALPHABET = (
    "0123456789" * 4
    + "/:,.%-–—+&()°ºhHmgl \n\t\u00a0"
    + "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọ"
    + "ÀĐƯỦ\u0301\u0323²³٣３₫€😀ỹ\u200b"
    + "UBNDTPQLĐTKX"
)


def test_random_text_never_raises_and_stays_nfc() -> None:
    generator = random.Random(20261123)
    for _ in range(400):
        text = "".join(generator.choices(RANDOM_ALPHABET, k=generator.randint(0, 80)))
        spoken = normalize_text(text)
        assert unicodedata.is_normalized("NFC", spoken), repr(text)
        assert normalize_text(spoken) == spoken, repr(text)
        assert unicodedata.is_normalized("NFC", normalize_text(text, language="hni"))


def random_vietnamese_sentence(generator: random.Random) -> str:
    """A sentence of supported written forms with random numbers."""
    number = generator.randint
    day, month = number(1, 28), number(1, 12)
    forms = [
        f"{number(0, 10**12):,} hộ".replace(",", "."),
        f"{number(0, 999)},{number(0, 99)}%",
        f"ngày {day:02d}/{month:02d}/{number(1990, 2099)}",
        f"ngày {day}/{month}",
        f"tháng {month}/{number(1990, 2099)}",
        f"lúc {number(0, 23)}h{number(0, 59):02d}",
        f"lúc {number(0, 23):02d}:{number(0, 59):02d}",
        f"{number(0, 99)}/{number(13, 99)} xã",
        f"từ {number(0, 500)} đến {number(0, 500)} mm",
        f"cấp {number(1, 9)} - {number(1, 9)}",
        f"gọi số 11{number(1, 5)}",
        f"0{number(10**8, 10**9 - 1)}",
        f"{number(-5, 40)}°C",
        f"năm {number(1000, 2999)}",
        f"ĐT.{number(1, 999)}",
        f"{number(0, 9999)} {generator.choice(['km', 'm³/s', 'ha', 'kg', 'tấn', 'đ', 'VNĐ'])}",
    ]
    return ", ".join(generator.sample(forms, k=4)) + "."


def test_supported_forms_leave_no_digits_and_read_once() -> None:
    generator = random.Random(473)
    for _ in range(300):
        text = random_vietnamese_sentence(generator)
        spoken = normalize_text(text)
        assert not ASCII_DIGIT.search(spoken), (text, spoken)
        assert normalize_text(spoken) == spoken, text
