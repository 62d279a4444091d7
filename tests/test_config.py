"""Configuration: the example district, overrides, and clear failures (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import EXAMPLE_CONFIG, ConfigError, load_settings
from tests.cli import one_line_error, run_loa
from tests.conftest import SHARED_SAMPLES


def test_example_has_the_real_communes_of_muong_te() -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    organisation = settings.organisation
    assert organisation.district.id == "muong-te"
    assert organisation.commune("bum-nua").name == "Bum Nưa"
    assert organisation.commune("thi-tran-muong-te").languages == ["vi", "blt"]
    assert len(organisation.commune("ta-tong").clusters) == 6


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="shared samples not beside the repo")
def test_example_matches_the_shared_registry_sample() -> None:
    import yaml

    sample = yaml.safe_load((SHARED_SAMPLES / "org-sample.yaml").read_text(encoding="utf-8"))
    settings = load_settings(EXAMPLE_CONFIG)
    ours = {(c.id, c.name, len(c.clusters)) for c in settings.organisation.communes}
    assert ours == {(c["id"], c["name"], c["clusters"]) for c in sample["communes"]}


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOA_STORAGE__BUCKET", "loa-test")
    monkeypatch.setenv("LOA_DATABASE_URL", "sqlite:////tmp/x.db")
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.storage.bucket == "loa-test"
    assert settings.db_url == "sqlite:////tmp/x.db"


def test_database_defaults_to_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOA_DATABASE_URL", raising=False)
    monkeypatch.setenv("LOA_DATA_DIR", "/srv/loa")
    assert load_settings(EXAMPLE_CONFIG).db_url == "sqlite:////srv/loa/loa.db"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("organisation: [", "line 1"),
        ("", "the file is empty"),
        ("data_dir: ./var\n", "organisation: Field required"),
        ("organisation: {}\nstorag: {}\n", "storag: unknown field"),
    ],
)
def test_bad_file_names_file_and_field(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


def test_bad_commune_field_is_named(tmp_path: Path) -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("id: pa-u,", "id: Pa U,")
    path = tmp_path / "district.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"organisation\.communes\.5\.id"):
        load_settings(path)


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("organisation:\n  district: 7\n", encoding="utf-8")
    result = run_loa("--config", str(path), "config", "show")
    assert result.returncode == 2
    line = one_line_error(result)
    assert str(path) in line and "organisation.district" in line


def test_cli_config_show_json_masks_secrets() -> None:
    result = run_loa("config", "show", "--json", env={"LOA_STORAGE__SECRET_KEY": "hunter2-s3"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "hunter2-s3" not in result.stdout
    assert data["storage"]["secret_key"] == "***"
    communes = {commune["id"]: commune for commune in data["communes"]}
    assert communes["pa-u"]["name"] == "Pa Ủ"
    assert communes["pa-u"]["languages"] == ["vi", "lhu"]
