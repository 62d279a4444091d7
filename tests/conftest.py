"""Shared fixtures. Real components only: SeaweedFS, ffmpeg, espeak-ng, SQLite."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
import yaml

from config import EXAMPLE_CONFIG, Settings, load_settings

SHARED_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def free_port_block(size: int = 8) -> int:
    """A first port such that ``size`` consecutive loopback ports are free right now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + size > 65535:
            continue
        if all(_port_is_free(first + offset) for offset in range(size)):
            return first
    raise RuntimeError("no block of free loopback ports found")


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SettingsFactory:
    """Settings of the example district with the data dir under tmp_path.

    Keyword arguments replace whole top-level sections, e.g. ``storage={...}``.
    """
    for name in list(__import__("os").environ):
        if name.startswith("LOA_"):
            monkeypatch.delenv(name)
    base = load_settings(EXAMPLE_CONFIG)

    def build(**overrides: Any) -> Settings:
        data = base.model_dump()
        data["data_dir"] = tmp_path / "var"
        data["database_url"] = None
        # The example's weekly checks must not fire inside a test that runs `loa up`.
        data["alerts"] = {**data["alerts"], "routine": {}}
        data.update(overrides)
        return Settings(**data)

    return build


# --- The content database: SQLite always, PostgreSQL too when asked ----------------------
# Set LOA_TEST_POSTGRES_URL (e.g. postgresql+psycopg://loa@127.0.0.1:5432/loa_test, a
# database the tests may wipe) to run the content tests on PostgreSQL as well. Tests that
# read SQLite's own catalogue use `sqlite_url`.
POSTGRES_URL = os.environ.get("LOA_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'var' / 'loa.db').as_posix()}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each backend in turn; PostgreSQL's database wiped first."""
    if request.param == "sqlite":
        return sqlite_url
    assert POSTGRES_URL is not None
    from sqlalchemy import create_engine, text

    from content._migrate import VERSION_TABLE
    from content._models import Base

    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    engine.dispose()
    return POSTGRES_URL


# --- Object storage: one real SeaweedFS for the whole session ---------------------------
# playout is imported inside the fixtures so that tests not using storage do not depend
# on it importing.

if TYPE_CHECKING:
    from playout import S3ObjectStore


class SeaweedSession(NamedTuple):
    """The session's SeaweedFS: its embedded-mode settings, and a store on bucket ``loa``."""

    settings: Settings
    store: S3ObjectStore


@pytest.fixture(scope="session")
def seaweed_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedSession]:
    """One SeaweedFS on free loopback ports, started once and stopped after the session."""
    from playout import EmbeddedSeaweed, S3ObjectStore

    settings = _embedded_settings(tmp_path_factory.mktemp("seaweed"), free_port_block(8))
    # The data is thrown away: no need to wait for SeaweedFS's 15-second clean stop.
    seaweed = EmbeddedSeaweed(settings, stop_grace_s=1.0)
    seaweed.start()
    try:
        yield SeaweedSession(settings, S3ObjectStore.from_settings(settings))
    finally:
        seaweed.stop()


@pytest.fixture
def object_store(seaweed_session: SeaweedSession) -> S3ObjectStore:
    """An ``S3ObjectStore`` on a new, empty bucket ``t-<8 hex>`` of the session's SeaweedFS."""
    from playout import S3ObjectStore, storage_credentials

    session = seaweed_session.settings
    access_key, secret_key = storage_credentials(session)
    store = S3ObjectStore(
        seaweed_session.store.endpoint,
        session.storage.region,
        f"t-{uuid.uuid4().hex[:8]}",
        access_key,
        secret_key,
    )
    store.ensure_bucket()
    return store


@pytest.fixture
def seaweed_settings(
    make_settings: SettingsFactory, seaweed_session: SeaweedSession, object_store: S3ObjectStore
) -> Settings:
    """Settings of the example district (data dir under tmp_path) whose ``storage`` is the
    session's SeaweedFS as an external endpoint, on ``object_store``'s bucket."""
    from playout import storage_credentials

    access_key, secret_key = storage_credentials(seaweed_session.settings)
    return make_settings(
        storage={
            "endpoint": object_store.endpoint,
            "region": object_store.region,
            "bucket": object_store.bucket,
            "access_key": access_key,
            "secret_key": secret_key,
        }
    )


def _embedded_settings(data_dir: Path, port: int) -> Settings:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("LOA_"):
                patch.delenv(name)
        data = load_settings(EXAMPLE_CONFIG).model_dump()
        data["data_dir"] = data_dir
        data["database_url"] = None
        data["storage"]["embedded"]["port"] = port
        # Every test bucket is a SeaweedFS collection of its own, which takes 7 volumes,
        # and SeaweedFS allows (free disk / volume size) volumes: small volumes keep a
        # session of hundreds of buckets within that on a nearly full disk.
        data["storage"]["embedded"]["volume_size_limit_mb"] = 16
        return Settings(**data)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo phrase bank (espeak-ng stand-ins for hni, lhu, blt), built once a session."""
    from pipeline.tts import build_demo_phrasebank

    root = tmp_path_factory.mktemp("phrasebank")
    build_demo_phrasebank(root)
    return root


@pytest.fixture
def alert_district(seaweed_settings: Settings, demo_root: Path) -> Settings:
    """The example district on the session's SeaweedFS with its signing key, Vietnamese
    spoken offline (no internet here) and the demo phrase bank for hni, lhu and blt."""
    from playout import DistrictKeys

    DistrictKeys(seaweed_settings.key_dir).init()
    data = seaweed_settings.model_dump()
    data["tts"]["chains"]["vi"] = ["espeak"]
    data["tts"]["phrasebank"] = {"dir": demo_root}
    return Settings(**data)


def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """A config file for `loa`, with the storage secrets passed in the environment."""
    path = tmp_path / "loa.yaml"
    data = settings.model_dump(mode="json", exclude={"storage"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    storage, secret = settings.storage, settings.storage.secret_key
    return {
        "LOA_CONFIG": str(path),
        "LOA_STORAGE__ENDPOINT": str(storage.endpoint),
        "LOA_STORAGE__REGION": storage.region,
        "LOA_STORAGE__BUCKET": storage.bucket,
        "LOA_STORAGE__ACCESS_KEY": storage.access_key,
        "LOA_STORAGE__SECRET_KEY": secret.get_secret_value() if secret else "",
    }


def run_agents(
    settings: Settings, communes: list[str], sinks: Path
) -> tuple[threading.Event, list[threading.Thread]]:
    """A real agent per commune, each in a thread with a ``file:`` sink ``sinks/<id>``;
    set the event to stop them all."""
    from playout import CommuneAgent, FileSink, S3ObjectStore

    stop = threading.Event()
    threads = []
    zone = settings.organisation.district.zone
    for commune_id in communes:
        agent = CommuneAgent(
            settings,
            commune_id,
            S3ObjectStore.from_settings(settings),
            FileSink(sinks / commune_id, zone=zone),
        )
        thread = threading.Thread(target=agent.run, kwargs={"stop_event": stop}, daemon=True)
        thread.start()
        threads.append(thread)
    return stop, threads


def sink_plays(sinks: Path, commune_id: str) -> list[dict[str, Any]]:
    """The ``plays.jsonl`` lines of a commune's ``file:`` sink under ``sinks``."""
    path = sinks / commune_id / "plays.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- Commune agents: the district key they pin, and a link that is down ------------------

if TYPE_CHECKING:
    from playout import DistrictKeys, EmbeddedSeaweed, ObjectStore
    from tests.manifests import Bucket


@pytest.fixture
def district_keys(tmp_path: Path) -> DistrictKeys:
    from playout import DistrictKeys

    keys = DistrictKeys(tmp_path / "keys")
    keys.init()
    return keys


@pytest.fixture
def dead_store(object_store: S3ObjectStore) -> ObjectStore:
    """The same bucket behind a loopback port where nothing listens: a link that is down."""
    from playout import S3ObjectStore

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return S3ObjectStore(
        f"http://127.0.0.1:{port}",
        object_store.region,
        object_store.bucket,
        "commune",
        "secret",
        max_attempts=1,
        connect_timeout_s=1.0,
    )


@pytest.fixture
def bucket(object_store: ObjectStore, district_keys: DistrictKeys) -> Bucket:
    """``object_store`` as a district publishes to it, signing with ``district_keys``."""
    from tests.manifests import Bucket

    return Bucket(object_store, district_keys.private_key())


@pytest.fixture
def sink_dir(tmp_path: Path) -> Path:
    """Where a ``file:`` sink writes what an agent played."""
    return tmp_path / "played"


@contextmanager
def own_seaweed(settings: Settings) -> Iterator[tuple[Settings, EmbeddedSeaweed]]:
    """A SeaweedFS of the caller's own (a test that stops or kills it), on free ports;
    ``settings`` with it as the embedded store."""
    from playout import EmbeddedSeaweed

    data = settings.model_dump()
    data["storage"]["embedded"]["port"] = free_port_block(8)
    data["storage"]["embedded"]["volume_size_limit_mb"] = 16
    own = Settings(**data)
    seaweed = EmbeddedSeaweed(own, stop_grace_s=1.0)
    seaweed.start()
    try:
        yield own, seaweed
    finally:
        seaweed.stop()


def agent_settings(
    make_settings: SettingsFactory, keys: DistrictKeys, timing: dict[str, float]
) -> Settings:
    """The example district whose agents pin ``keys``, with ``timing`` in ``agent``."""
    return make_settings(
        keys={"dir": keys.key_dir, "trusted_public_keys": [keys.public_base64()]}, agent=timing
    )
