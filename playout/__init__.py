"""Object storage, signed manifests, publishing, and the commune agent (DESIGN.md §3–5)."""

from playout._errors import ManifestError, ObjectNotFound, StorageError, StoragePortInUseError
from playout._keys import DistrictKeys, KeyFileError, decode_public_key, encode_public_key
from playout._manifest import (
    SCHEMA,
    AudioRef,
    ItemKind,
    Manifest,
    ManifestItem,
    Priority,
    Repeat,
    manifest_key,
    sign,
    verify,
    verify_signed,
)
from playout._objectstore import ObjectInfo, ObjectStore, S3ObjectStore
from playout._publish import Publisher, PublishReport, audio_key
from playout._seaweed import (
    EmbeddedSeaweed,
    StorageStatus,
    storage_credentials,
    storage_endpoint,
)
from playout.agent import AudioSink, CommuneAgent, FileSink, Sink, parse_sink

__all__ = [
    "SCHEMA",
    "AudioRef",
    "AudioSink",
    "CommuneAgent",
    "DistrictKeys",
    "EmbeddedSeaweed",
    "FileSink",
    "ItemKind",
    "KeyFileError",
    "Manifest",
    "ManifestError",
    "ManifestItem",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "Priority",
    "PublishReport",
    "Publisher",
    "Repeat",
    "S3ObjectStore",
    "Sink",
    "StorageError",
    "StoragePortInUseError",
    "StorageStatus",
    "audio_key",
    "decode_public_key",
    "encode_public_key",
    "manifest_key",
    "parse_sink",
    "sign",
    "storage_credentials",
    "storage_endpoint",
    "verify",
    "verify_signed",
]
