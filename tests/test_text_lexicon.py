"""District lexicons: loading, clear errors (exit 2), and how entries are applied."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from config import ConfigError
from pipeline.text import Lexicon, LexiconError, normalize_text

EXAMPLE_LEXICON = (
    Path(__file__).resolve().parents[1] / "config" / "examples" / "muong-te-lexicon.yaml"
)


def write_lexicon(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "lexicon.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_example_lexicon_of_muong_te_loads_and_applies() -> None:
    lexicon = Lexicon.load(EXAMPLE_LEXICON)
    assert lexicon.entries["BQL"] == "ban quản lý"
    assert lexicon.entries["Ka Lăng"] == "Ca Lăng"
    spoken = normalize_text("BQL RPH xã Ka Lăng họp với BQL dự án.", lexicon=lexicon)
    assert spoken == "ban quản lý rừng phòng hộ xã Ca Lăng họp với ban quản lý dự án."


def test_entries_are_loaded_in_nfc(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", '"Pa Ủ": "Pa Ủ"\n"Nậm  Ma": "Nặm Ma"\n')
    lexicon = Lexicon.load(write_lexicon(tmp_path, decomposed))
    assert dict(lexicon.entries) == {"Pa Ủ": "Pa Ủ", "Nậm Ma": "Nặm Ma"}
    assert all(unicodedata.is_normalized("NFC", key) for key in lexicon.entries)
    assert normalize_text("suối Nậm Ma", lexicon=lexicon) == "suối Nặm Ma"


def test_lexicon_overrides_the_built_in_abbreviations() -> None:
    lexicon = Lexicon({"TT": "trung tâm"})
    assert normalize_text("TT Y tế huyện", lexicon=lexicon) == "trung tâm Y tế huyện"
    assert normalize_text("TT Mường Tè") == "thị trấn Mường Tè"


def test_longest_entry_wins_and_matches_are_whole_tokens_in_their_case() -> None:
    lexicon = Lexicon({"BQL": "ban quản lý", "BQL RPH": "ban quản lý rừng phòng hộ"})
    assert (
        normalize_text("BQL RPH, BQL", lexicon=lexicon) == "ban quản lý rừng phòng hộ, ban quản lý"
    )
    assert normalize_text("BQLX bql", lexicon=lexicon) == "BQLX bql"


def test_spoken_forms_go_through_the_rules() -> None:
    lexicon = Lexicon({"BCĐ389": "ban chỉ đạo 389"})
    assert (
        normalize_text("BCĐ389 huyện", lexicon=lexicon) == "ban chỉ đạo ba trăm tám mươi chín huyện"
    )


def test_lexicon_applies_to_other_languages_too() -> None:
    lexicon = Lexicon({"UBND": "ủy ban nhân dân"})
    assert normalize_text("UBND 5/12", language="hni", lexicon=lexicon) == "ủy ban nhân dân 5/12"


def test_empty_lexicon_changes_nothing(tmp_path: Path) -> None:
    assert dict(Lexicon.empty().entries) == {}
    assert normalize_text("UBND xã", lexicon=Lexicon.empty()) == "ủy ban nhân dân xã"
    comments_only = Lexicon.load(write_lexicon(tmp_path, "# nothing yet\n"))
    assert dict(comments_only.entries) == {}


def test_entries_are_read_only() -> None:
    lexicon = Lexicon({"BQL": "ban quản lý"})
    with pytest.raises(TypeError):
        lexicon.entries["BQL"] = "x"  # type: ignore[index]


def test_a_blank_entry_given_in_code_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        Lexicon({" ": "x"})


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + '"BQL": "ban quản lý"\n'.encode())
    assert dict(Lexicon.load(path).entries) == {"BQL": "ban quản lý"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "- BQL\n- RPH\n",
            "line 1: expected a mapping of written form to spoken form, found a list",
        ),
        ('"BQL"\n', "line 1: expected a mapping"),
        ('"BQL": 5\n', "line 1: entry 'BQL': the spoken form must be text, found 5"),
        ('"A": "a"\n"BQL": yes\n', "line 2: entry 'BQL': the spoken form must be text, found yes"),
        (
            '"A": "a"\n"BQL": [ban]\n',
            "line 2: entry 'BQL': the spoken form must be text, found a list",
        ),
        ('"BQL":\n', "line 1: entry 'BQL': the spoken form is missing"),
        ('"BQL": "  "\n', "line 1: entry 'BQL': the spoken form is empty"),
        ('"": "x"\n', "line 1: the written form is empty"),
        ('~: "x"\n', "line 1: the written form is empty"),
        ('"A": "a"\n2026: "hai"\n', "line 2: the written form 2026 is not text"),
        ('"BQL": "a"\n"BQL": "b"\n', "line 2: entry 'BQL': already given on line 1"),
        ('"Pa Ủ": "a"\n"' + unicodedata.normalize("NFD", "Pa Ủ") + '": "b"\n', "already given"),
        ('"BQL": "ban\n', "line 2, column 1: invalid YAML"),
        ('"BQL": "a"\n  "RPH": "b"\n', "invalid YAML"),
    ],
)
def test_bad_lexicon_names_file_line_and_entry(tmp_path: Path, body: str, expected: str) -> None:
    path = write_lexicon(tmp_path, body)
    with pytest.raises(LexiconError) as caught:
        Lexicon.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_missing_unreadable_or_non_utf8_files_are_lexicon_errors(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match=r"absent\.yaml: no such file"):
        Lexicon.load(tmp_path / "absent.yaml")
    with pytest.raises(LexiconError, match="is a directory"):
        Lexicon.load(tmp_path)
    windows_1258 = tmp_path / "legacy.yaml"
    windows_1258.write_bytes(b'"BQL": "ban qu\xe1n l\xfd"\n')
    with pytest.raises(
        LexiconError, match=r"legacy.yaml: not UTF-8 text \(byte 0xe1 at offset 14\)"
    ):
        Lexicon.load(windows_1258)


def test_lexicon_error_is_a_configuration_error_with_exit_code_2() -> None:
    assert issubclass(LexiconError, ConfigError)
    assert LexiconError("x").exit_code == 2
