"""Each commune's own S3 identity, against the session's real SeaweedFS (DESIGN.md §3).

The identities are issued on the session's embedded store (bucket ``loa``) and revoked
afterwards; the district's own store seeds the objects the communes try to reach."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config import Settings, UserInputError
from playout import (
    CommuneCredentials,
    CommuneIdentityRegistry,
    DistrictKeys,
    EmbeddedSeaweed,
    ObjectStore,
    S3ObjectStore,
    StorageError,
    aws_policy,
    seaweed_actions,
)
from tests.cli import one_line_error, run_loa
from tests.conftest import SeaweedSession, SettingsFactory, free_port_block
from tests.manifests import Bucket, item, make_tone, manifest

COMMUNE = "bum-nua"
OTHER = "mu-ca"  # its objects are written by the district, never by its own agent
CREDENTIAL_KEYS = {"access_key", "secret_key", "endpoint", "bucket", "commune"}


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seaweed(seaweed_session: SeaweedSession) -> EmbeddedSeaweed:
    return EmbeddedSeaweed(seaweed_session.settings)


@pytest.fixture(scope="module")
def district_keys(tmp_path_factory: pytest.TempPathFactory) -> DistrictKeys:
    keys = DistrictKeys(tmp_path_factory.mktemp("district-keys"))
    keys.init()
    return keys


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_tone(tmp_path_factory.mktemp("tone") / "tone.mp3", 550, seconds=0.5)


@pytest.fixture(scope="module")
def seeded(
    seaweed_session: SeaweedSession, district_keys: DistrictKeys, tone: bytes
) -> Iterator[dict[str, str]]:
    """What the district has put in bucket ``loa``: audio, two manifests, the other
    commune's heartbeat. Removed afterwards."""
    district = seaweed_session.store
    ours = Bucket(district, district_keys.private_key(), COMMUNE)
    theirs = Bucket(district, district_keys.private_key(), OTHER)
    ref = ours.put_audio(tone)
    start = datetime.now(UTC) + timedelta(hours=1)
    ours.publish(manifest([item(ref, start)], commune=COMMUNE))
    theirs.publish(manifest([item(ref, start)], commune=OTHER))
    other_status = f"communes/{OTHER}/status/heartbeat.json"
    district.put_bytes(other_status, b'{"commune": "mu-ca"}', "application/json")
    keys = {
        "audio": ref.key,
        "manifest": ours.manifest_key,
        "other_manifest": theirs.manifest_key,
        "other_status": other_status,
    }
    yield keys
    for key in keys.values():
        district.delete(key)


@pytest.fixture(scope="module")
def credentials(seaweed: EmbeddedSeaweed) -> Iterator[CommuneCredentials]:
    issued = seaweed.issue_credentials(COMMUNE)
    yield issued
    seaweed.revoke_credentials(COMMUNE)


@pytest.fixture
def commune_store(credentials: CommuneCredentials) -> Iterator[S3ObjectStore]:
    store = credentials.open_store("us-east-1", max_attempts=1)
    yield store
    store.close()


@pytest.fixture
def cli_env(seaweed_session: SeaweedSession) -> dict[str, str]:
    """``loa`` run against the session's embedded store."""
    settings = seaweed_session.settings
    return {
        "LOA_DATA_DIR": str(settings.data_dir),
        "LOA_STORAGE__EMBEDDED__PORT": str(settings.storage.embedded.port),
    }


def agent_env(
    tmp_path: Path, endpoint: str, keys: DistrictKeys, credentials: CommuneCredentials | None
) -> dict[str, str]:
    """A commune host: its own data dir, the district's store as an external endpoint."""
    env = {
        "LOA_DATA_DIR": str(tmp_path / "commune"),
        "LOA_KEYS__DIR": str(keys.key_dir),
        "LOA_AGENT__ONCE_MAX_WAIT_S": "8",
        "LOA_STORAGE__ENDPOINT": endpoint,
    }
    if credentials is not None:
        env["LOA_AGENT__ACCESS_KEY"] = credentials.access_key
        env["LOA_AGENT__SECRET_KEY"] = credentials.secret_key
    return env


def refused(action: Any) -> str:
    with pytest.raises(StorageError) as caught:
        action()
    message = str(caught.value)
    assert "refused access key" in message and "\n" not in message
    return message


# -- what a commune may do ------------------------------------------------------------


def test_reads_audio_and_its_own_manifest(
    commune_store: ObjectStore, seeded: dict[str, str], tone: bytes
) -> None:
    assert commune_store.get_bytes(seeded["audio"], max_bytes=1 << 20) == tone
    document = json.loads(commune_store.get_bytes(seeded["manifest"], max_bytes=1 << 20))
    assert document["commune"] == COMMUNE
    assert commune_store.head(f"communes/{COMMUNE}/status/nothing-yet.json") is None


def test_writes_its_own_status_and_asrun(
    commune_store: ObjectStore, seaweed_session: SeaweedSession
) -> None:
    heartbeat = f"communes/{COMMUNE}/status/heartbeat.json"
    receipt = f"communes/{COMMUNE}/asrun/2026-11-23/1763852400000-test.json"
    for key in (heartbeat, receipt):
        commune_store.put_bytes(key, b'{"ok": true}', "application/json")
        assert seaweed_session.store.get_bytes(key, max_bytes=100) == b'{"ok": true}'
        seaweed_session.store.delete(key)


# -- what it may not ------------------------------------------------------------------


def test_cannot_write_any_manifest(
    commune_store: ObjectStore, seaweed_session: SeaweedSession, seeded: dict[str, str]
) -> None:
    before = seaweed_session.store.get_bytes(seeded["manifest"], max_bytes=1 << 20)
    for key in (seeded["manifest"], seeded["other_manifest"]):
        refused(lambda key=key: commune_store.put_bytes(key, b"{}", "application/json"))
    refused(lambda: commune_store.delete(seeded["manifest"]))
    assert seaweed_session.store.get_bytes(seeded["manifest"], max_bytes=1 << 20) == before


def test_cannot_overwrite_or_add_audio(
    commune_store: ObjectStore,
    seaweed_session: SeaweedSession,
    seeded: dict[str, str],
    tone: bytes,
) -> None:
    message = refused(lambda: commune_store.put_bytes(seeded["audio"], b"noise", "audio/mpeg"))
    assert seeded["audio"] in message
    new_key = f"audio/{'0' * 64}.mp3"
    refused(lambda: commune_store.put_bytes(new_key, b"noise", "audio/mpeg"))
    assert seaweed_session.store.get_bytes(seeded["audio"], max_bytes=1 << 20) == tone
    assert seaweed_session.store.head(new_key) is None


def test_cannot_read_or_write_another_communes_status(
    commune_store: ObjectStore, seaweed_session: SeaweedSession, seeded: dict[str, str]
) -> None:
    other_status = seeded["other_status"]
    refused(lambda: commune_store.get_bytes(other_status, max_bytes=1 << 20))
    refused(lambda: commune_store.put_bytes(other_status, b"{}", "application/json"))
    other_asrun = f"communes/{OTHER}/asrun/2026-11-23/1-x.json"
    refused(lambda: commune_store.put_bytes(other_asrun, b"{}", "application/json"))
    refused(lambda: commune_store.get_bytes(seeded["other_manifest"], max_bytes=1 << 20))
    expected = b'{"commune": "mu-ca"}'
    assert seaweed_session.store.get_bytes(other_status, max_bytes=100) == expected


def test_cannot_list(commune_store: ObjectStore) -> None:
    refused(lambda: list(commune_store.list(f"communes/{COMMUNE}/")))


# -- issuing, rotating, revoking ------------------------------------------------------


def test_rotated_and_revoked_keys_are_refused_by_the_running_store(
    seaweed: EmbeddedSeaweed,
) -> None:
    first = seaweed.issue_credentials("thu-lum")
    second = seaweed.issue_credentials("thu-lum")
    assert first.access_key != second.access_key
    assert re.fullmatch(r"loa-c-thu-lum-[0-9a-f]{12}", second.access_key)
    assert seaweed.revoke_credentials("thu-lum") == second.access_key
    for stale in (first, second):
        store = stale.open_store("us-east-1", max_attempts=1)
        message = refused(lambda store=store: store.head("communes/thu-lum/manifest.json"))
        assert stale.access_key in message and stale.endpoint in message
    assert "thu-lum" not in [entry.commune for entry in seaweed.identities.issued()]
    # SeaweedFS keeps, on a reread, identities its file no longer names: the name stays.
    identities = json.loads((seaweed.root / "s3-identities.json").read_text(encoding="utf-8"))
    tombstone = {"name": "commune-thu-lum", "credentials": [], "actions": []}
    assert tombstone in identities["identities"]


def test_issue_refuses_unknown_or_malformed_commune(seaweed: EmbeddedSeaweed) -> None:
    with pytest.raises(UserInputError, match="atlantis"):
        seaweed.issue_credentials("atlantis")
    with pytest.raises(UserInputError, match="'a/b'"):
        seaweed.issue_credentials("a/b")
    with pytest.raises(UserInputError, match="ka-lang"):
        seaweed.revoke_credentials("ka-lang")


def test_secret_files_are_owner_only_and_list_every_identity(
    seaweed: EmbeddedSeaweed, credentials: CommuneCredentials
) -> None:
    identities_file = seaweed.root / "s3-identities.json"
    registry_file = seaweed.identities.path
    for path in (identities_file, registry_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    identities = json.loads(identities_file.read_text(encoding="utf-8"))["identities"]
    by_name = {identity["name"]: identity for identity in identities}
    assert by_name["loa-district"]["actions"] == ["Admin", "Read", "Write", "List", "Tagging"]
    commune = by_name[f"commune-{COMMUNE}"]
    assert commune["credentials"] == [
        {"accessKey": credentials.access_key, "secretKey": credentials.secret_key}
    ]
    assert commune["actions"] == seaweed_actions("loa", COMMUNE)
    listing = [entry.document() for entry in seaweed.identities.issued()]
    assert {"commune": COMMUNE, "access_key": credentials.access_key} in [
        {"commune": e["commune"], "access_key": e["access_key"]} for e in listing
    ]
    assert credentials.secret_key not in json.dumps(listing)


def test_keys_issued_while_stopped_work_after_start_and_revoke_while_running(
    make_settings: SettingsFactory,
) -> None:
    settings: Settings = make_settings(
        storage={"embedded": {"port": free_port_block(8), "start_timeout_s": 30}}
    )
    seaweed = EmbeddedSeaweed(settings, stop_grace_s=1.0)
    issued = seaweed.issue_credentials(COMMUNE)
    revoked = seaweed.issue_credentials("pa-u")
    seaweed.revoke_credentials("pa-u")
    assert not seaweed.reload_identities()
    assert issued.endpoint == seaweed.endpoint and issued.bucket == "loa"
    with seaweed:
        store = issued.open_store("us-east-1", max_attempts=1)
        assert store.head(f"communes/{COMMUNE}/manifest.json") is None
        old = revoked.open_store("us-east-1", max_attempts=1)
        refused(lambda: old.head("communes/pa-u/manifest.json"))
        seaweed.revoke_credentials(COMMUNE)
        refused(lambda: store.head(f"communes/{COMMUNE}/manifest.json"))


def test_a_damaged_registry_is_named(tmp_path: Path) -> None:
    path = tmp_path / "commune-identities.json"
    path.write_text('{"schema": "loa.commune-identities/1", "communes": {"a/b": {}}}')
    with pytest.raises(StorageError, match=re.escape(str(path))):
        CommuneIdentityRegistry(path).issued()


def test_seaweed_actions_are_prefix_scoped() -> None:
    assert seaweed_actions("loa", "tan-lien") == [
        "Read:loa/audio/*",
        "Read:loa/communes/tan-lien/*",
        "Write:loa/communes/tan-lien/status/*",
        "Write:loa/communes/tan-lien/asrun/*",
    ]


# -- the agent with a commune's own credentials ---------------------------------------


def test_agent_runs_with_credentials_from_the_environment(
    tmp_path: Path,
    seaweed_session: SeaweedSession,
    seeded: dict[str, str],
    credentials: CommuneCredentials,
    district_keys: DistrictKeys,
    tone: bytes,
) -> None:
    district = seaweed_session.store
    bucket = Bucket(district, district_keys.private_key(), COMMUNE)
    ref = bucket.put_audio(tone)
    start = datetime.now(UTC) + timedelta(seconds=4)
    bucket.publish(manifest([item(ref, start, item_id="ban-tin-xa")], sequence=2))
    sink = tmp_path / "played"
    env = agent_env(tmp_path, district.endpoint, district_keys, credentials)

    result = run_loa(
        "agent", "run", "--commune", COMMUNE, "--once", "--sink", f"file:{sink}", env=env
    )

    assert result.returncode == 0, result.stderr
    [play] = [json.loads(line) for line in (sink / "plays.jsonl").read_text().splitlines()]
    assert play["outcome"] == "played" and play["item_id"] == "ban-tin-xa"
    heartbeat = bucket.read_json(f"communes/{COMMUNE}/status/heartbeat.json")
    assert heartbeat["commune"] == COMMUNE and heartbeat["manifest"]["sequence"] == 2
    receipts = list(district.list(f"communes/{COMMUNE}/asrun/"))
    assert [r.key for r in receipts if r.key.endswith("-ban-tin-xa.json")]
    for entry in [*receipts, *district.list(f"communes/{COMMUNE}/status/")]:
        district.delete(entry.key)


def test_agent_with_a_wrong_secret_says_so_in_one_line(
    tmp_path: Path,
    seaweed_session: SeaweedSession,
    seeded: dict[str, str],
    credentials: CommuneCredentials,
    district_keys: DistrictKeys,
) -> None:
    wrong = CommuneCredentials(
        COMMUNE, credentials.access_key, "not-the-secret", credentials.endpoint, "loa"
    )
    env = agent_env(tmp_path, seaweed_session.store.endpoint, district_keys, wrong)
    sink = f"file:{tmp_path / 'out'}"
    result = run_loa("agent", "run", "--commune", COMMUNE, "--once", "--sink", sink, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # The agent also logs the failed sync as a warning; the error itself is one line.
    [line] = [line for line in result.stderr.splitlines() if line.startswith("loa: lỗi:")]
    assert f"refused access key {credentials.access_key!r}" in line


def test_cli_issue_json_runs_an_agent_and_revoke_ends_it(
    tmp_path: Path,
    cli_env: dict[str, str],
    seaweed_session: SeaweedSession,
    district_keys: DistrictKeys,
    tone: bytes,
) -> None:
    commune = "ka-lang"
    issued = run_loa("credentials", "issue", "--commune", commune, "--json", env=cli_env)
    assert issued.returncode == 0, issued.stderr
    document = json.loads(issued.stdout)
    assert set(document) == CREDENTIAL_KEYS
    assert document["commune"] == commune and document["bucket"] == "loa"
    assert document["endpoint"] == seaweed_session.store.endpoint
    credentials_file = tmp_path / "ka-lang.json"
    credentials_file.write_text(issued.stdout, encoding="utf-8")
    try:
        listed = json.loads(run_loa("credentials", "list", "--json", env=cli_env).stdout)
        [entry] = [entry for entry in listed if entry["commune"] == commune]
        assert set(entry) == {"commune", "access_key", "issued_at"}
        assert entry["access_key"] == document["access_key"]

        district = seaweed_session.store
        bucket = Bucket(district, district_keys.private_key(), commune)
        ref = bucket.put_audio(tone)
        later = datetime.now(UTC) + timedelta(hours=1)
        bucket.publish(manifest([item(ref, later)], commune=commune))
        # Only the data dir and the keys: the endpoint and bucket come from the file.
        env = {"LOA_DATA_DIR": str(tmp_path / "var"), "LOA_KEYS__DIR": str(district_keys.key_dir)}
        env["LOA_AGENT__ONCE_MAX_WAIT_S"] = "0.5"
        run = run_loa(
            "agent", "run", "--commune", commune, "--once", "--sink", f"file:{tmp_path / 'out'}",
            "--credentials", str(credentials_file), env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert bucket.read_json(f"communes/{commune}/status/heartbeat.json")["commune"] == commune
    finally:
        revoked = run_loa("credentials", "revoke", "--commune", commune, env=cli_env)
        for key in (
            f"communes/{commune}/manifest.json",
            f"communes/{commune}/status/heartbeat.json",
        ):
            seaweed_session.store.delete(key)
    assert revoked.returncode == 0, revoked.stderr
    assert document["access_key"] in revoked.stdout
    store = CommuneCredentials.read(credentials_file).open_store("us-east-1", max_attempts=1)
    refused(lambda: store.head(f"communes/{commune}/manifest.json"))
    listed = json.loads(run_loa("credentials", "list", "--json", env=cli_env).stdout)
    assert commune not in [entry["commune"] for entry in listed]


@pytest.mark.parametrize("commune", ["atlantis", "a/b"])
def test_cli_issue_for_an_unknown_or_malformed_commune_exits_2(
    tmp_path: Path, commune: str
) -> None:
    result = run_loa(
        "credentials", "issue", "--commune", commune, env={"LOA_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert repr(commune) in one_line_error(result)
    assert not (tmp_path / "storage" / "commune-identities.json").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"access_key": "k", "secret_key": "s", "endpoint": "http://h", "bucket": "loa"}',
         "'commune' is missing"),
        ('{"access_key": "k", "secret_key": "s", "endpoint": "http://h", "bucket": "loa", '
         '"commune": "pa-u"}', "'commune' is 'pa-u'"),
        ('{"access_key": "k", "secret_key": "", "endpoint": "http://h", "bucket": "loa", '
         '"commune": "bum-nua"}', "'secret_key'"),
        ("[1]", "JSON object"),
    ],
)  # fmt: skip
def test_agent_credentials_file_errors_name_file_and_field(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "xã.json"
    path.write_text(content, encoding="utf-8")
    result = run_loa(
        "agent", "run", "--commune", COMMUNE, "--once", "--credentials", str(path),
        env={"LOA_DATA_DIR": str(tmp_path / "var")},
    )  # fmt: skip
    assert result.returncode == 2
    line = one_line_error(result)
    assert str(path) in line and expected in line


# -- the policy for an external S3 ----------------------------------------------------


def _check_policy(policy: dict[str, Any], commune: str) -> None:
    assert policy["Version"] == "2012-10-17"
    statements = policy["Statement"]
    assert all(re.fullmatch(r"[A-Za-z0-9]+", s["Sid"]) for s in statements)
    assert all(s["Effect"] == "Allow" and "Principal" not in s for s in statements)
    rights = {(a, r) for s in statements for a in s["Action"] for r in s["Resource"]}
    arn = "arn:aws:s3:::loa/"
    assert rights == {
        ("s3:GetObject", f"{arn}audio/*"),
        ("s3:GetObject", f"{arn}communes/{commune}/*"),
        ("s3:PutObject", f"{arn}communes/{commune}/status/*"),
        ("s3:PutObject", f"{arn}communes/{commune}/asrun/*"),
    }


def test_cli_policy_is_valid_json_naming_only_the_communes_prefixes(tmp_path: Path) -> None:
    result = run_loa(
        "credentials", "policy", "--commune", "pa-u", env={"LOA_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    _check_policy(policy, "pa-u")
    assert policy == aws_policy("loa", "pa-u")


def test_cli_issue_for_an_external_store_prints_the_policy(tmp_path: Path) -> None:
    env = {"LOA_DATA_DIR": str(tmp_path), "LOA_STORAGE__ENDPOINT": "https://s3.example.vn"}
    result = run_loa("credentials", "issue", "--commune", "pa-u", "--json", env=env)
    assert result.returncode == 0, result.stderr
    _check_policy(json.loads(result.stdout), "pa-u")
    assert "pa-u" in result.stderr and "LOA_AGENT__ACCESS_KEY" in result.stderr
    assert not (tmp_path / "storage").exists()
    revoke = run_loa("credentials", "revoke", "--commune", "pa-u", env=env)
    assert revoke.returncode == 2 and "s3.example.vn" in one_line_error(revoke)
