"""The foundation's promise: text → speech → storage → three communes play it, via the CLI."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.cli import one_line_error, run_loa
from tests.conftest import free_port_block
from tests.meter import decode, integrated_lufs

PLAY_KEYS = {"commune", "item_id", "audio_sha256", "scheduled", "started", "file"}


@pytest.fixture
def isolated(tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI run with its own data dir and embedded-storage ports."""
    return {
        "LOA_DATA_DIR": str(tmp_path / "var"),
        "LOA_STORAGE__EMBEDDED__PORT": str(free_port_block(10)),
    }


def test_demo_plays_the_bulletin_at_three_communes(isolated: dict[str, str]) -> None:
    result = run_loa("demo", "--json", env=isolated, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bucket"] == "loa"
    assert report["s3_endpoint"].startswith("http://127.0.0.1:")
    assert len({play["commune"] for play in report["plays"]}) == 3
    # An alert, the item as a one-off, then as its slot's bulletin; each in two languages
    # per commune.
    kinds = sorted(play["item_id"].split("-")[0] for play in report["plays"])
    assert kinds == ["alert"] * 6 + ["bulletin"] * 6 + ["demo"] * 6
    for play in report["plays"]:
        assert play.keys() >= PLAY_KEYS
        played = Path(play["file"])
        assert hashlib.sha256(played.read_bytes()).hexdigest() == play["audio_sha256"]
        delay = datetime.fromisoformat(play["started"]) - datetime.fromisoformat(play["scheduled"])
        # An alert plays as soon as the agent sees it (a 2 s emergency poll); the rest on time.
        late_s = 3.0 if play["item_id"].startswith("alert-") else 1.0
        assert 0 <= delay.total_seconds() < late_s
        assert abs(integrated_lufs(decode(played)) + 16.0) <= 0.5
    storage_dir = Path(isolated["LOA_DATA_DIR"]) / "storage"
    assert any(storage_dir.rglob("*")), "storage data kept for inspection"


def test_content_flow_refuses_until_approved(isolated: dict[str, str], tmp_path: Path) -> None:
    text = tmp_path / "thông báo.txt"
    text.write_text("Thông báo của Ủy ban nhân dân xã về lịch tiêm chủng.", encoding="utf-8")
    added = run_loa(
        "content", "add", "--kind", "announcement", "--title", "Tiêm chủng",
        "--language", "vi", "--text-file", str(text), "--json", env=isolated,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    item_id = str(json.loads(added.stdout)["id"])

    refused = run_loa(
        "schedule", "add", "--content", item_id, "--communes", "pa-u",
        "--at", "2030-11-24T06:00:00+07:00", env=isolated,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "not approved" in one_line_error(refused)

    assert run_loa("content", "approve", item_id, env=isolated).returncode == 0
    listed = json.loads(run_loa("content", "list", "--json", env=isolated).stdout)
    assert [(entry["id"], entry["state"]) for entry in listed] == [(int(item_id), "approved")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "empty"), (b"  \n\t\n", "whitespace"), ("Lũ quét".encode("utf-16"), "UTF-8")],
)
def test_bad_text_file_exits_2_naming_it(
    isolated: dict[str, str], tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bản tin.txt"
    path.write_bytes(content)
    result = run_loa(
        "content", "add", "--kind", "bulletin", "--title", "T", "--text-file", str(path),
        env=isolated,
    )  # fmt: skip
    assert result.returncode == 2
    line = one_line_error(result)
    assert str(path) in line and expected in line


def test_unknown_commune_exits_2(isolated: dict[str, str]) -> None:
    result = run_loa("agent", "run", "--commune", "atlantis", "--once", env=isolated)
    assert result.returncode == 2
    assert "atlantis" in one_line_error(result)


def test_unknown_sink_exits_2(isolated: dict[str, str]) -> None:
    result = run_loa("agent", "run", "--commune", "pa-u", "--sink", "speaker", env=isolated)
    assert result.returncode == 2
    assert "speaker" in one_line_error(result)


def test_a_recording_without_audio_is_refused_at_upload(
    isolated: dict[str, str], tmp_path: Path
) -> None:
    fake = tmp_path / "giọng đọc.mp3"
    fake.write_text("đây không phải âm thanh", encoding="utf-8")
    result = run_loa(
        "content", "add", "--kind", "announcement", "--title", "T", "--language", "blt",
        "--audio-file", str(fake), env=isolated,
    )  # fmt: skip
    assert result.returncode == 2
    assert str(fake) in one_line_error(result)
    assert json.loads(run_loa("content", "list", "--json", env=isolated).stdout) == []


def test_content_add_prints_only_the_id_on_stdout(isolated: dict[str, str], tmp_path: Path) -> None:
    text = tmp_path / "tin.txt"
    text.write_text("Bản tin.", encoding="utf-8")
    result = run_loa(
        "content", "add", "--kind", "bulletin", "--title", "T", "--text-file", str(text),
        env=isolated,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().isdigit()
    assert "Đã thêm nội dung" in result.stderr
