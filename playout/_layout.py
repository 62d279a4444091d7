"""Where everything lives in the bucket (DESIGN.md §3), and the checks that keep every
key inside its place: no ``..``, no commune id with a ``/`` in it."""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from config import UserInputError

AUDIO_PREFIX: Final = "audio/"
COMMUNES_PREFIX: Final = "communes/"
MANIFEST_NAME: Final = "manifest.json"
STATUS_DIR: Final = "status"
ASRUN_DIR: Final = "asrun"
# The organisation registry's id pattern: also safe as one path segment and in a policy.
COMMUNE_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
AUDIO_KEY: Final = re.compile(r"^audio/(?P<sha256>[0-9a-f]{64})\.(?P<extension>[a-z0-9]{2,5})$")
_MAX_KEY_BYTES = 1024


class ObjectKeyError(UserInputError):
    """An object key or a commune id that would step outside its place in the bucket."""


class CommuneObject(NamedTuple):
    """A key under ``communes/``: whose it is, and the rest of the key after its prefix."""

    commune_id: str
    rest: str


def check_commune_id(commune_id: str) -> str:
    if not COMMUNE_ID.match(commune_id):
        raise ObjectKeyError(
            f"commune id {commune_id!r}: use lower-case letters, digits and '-' only "
            "(no '/', no '..'), at most 63 characters"
        )
    return commune_id


def commune_prefix(commune_id: str) -> str:
    return f"{COMMUNES_PREFIX}{check_commune_id(commune_id)}/"


def manifest_key(commune_id: str) -> str:
    """Where a commune's signed schedule lives."""
    return commune_prefix(commune_id) + MANIFEST_NAME


def status_prefix(commune_id: str) -> str:
    return f"{commune_prefix(commune_id)}{STATUS_DIR}/"


def heartbeat_key(commune_id: str) -> str:
    return status_prefix(commune_id) + "heartbeat.json"


def asrun_prefix(commune_id: str) -> str:
    return f"{commune_prefix(commune_id)}{ASRUN_DIR}/"


def audio_key(sha256: str, extension: str) -> str:
    """The content address of a clip: ``audio/<sha256>.<ext>``."""
    key = f"{AUDIO_PREFIX}{sha256}.{extension}"
    if not AUDIO_KEY.match(key):
        raise ObjectKeyError(f"audio key {key!r}: not audio/<64 hex digits>.<extension>")
    return key


def parse_commune_key(key: str) -> CommuneObject | None:
    """``("tan-lien", "status/heartbeat.json")`` for ``communes/tan-lien/status/...``."""
    if not key.startswith(COMMUNES_PREFIX):
        return None
    commune_id, slash, rest = key[len(COMMUNES_PREFIX) :].partition("/")
    if not slash or not COMMUNE_ID.match(commune_id):
        return None
    return CommuneObject(commune_id, rest)


def check_object_key(key: str) -> str:
    """Refuse a key that names no single object in its place: empty, absolute, with an
    empty, ``.`` or ``..`` segment, a backslash or a control character, or too long."""
    reason = _key_problem(key)
    if reason is not None:
        raise ObjectKeyError(f"object key {key!r}: {reason}")
    return key


def check_prefix(prefix: str) -> str:
    """As ``check_object_key`` for a listing prefix, which may be empty or end in ``/``."""
    if prefix:
        reason = _key_problem(prefix.removesuffix("/"))
        if reason is not None:
            raise ObjectKeyError(f"key prefix {prefix!r}: {reason}")
    return prefix


def _key_problem(key: str) -> str | None:
    if not key:
        return "empty"
    if len(key.encode("utf-8")) > _MAX_KEY_BYTES:
        return f"longer than {_MAX_KEY_BYTES} bytes"
    if key.startswith("/"):
        return "starts with '/'"
    if "\\" in key or any(ord(character) < 0x20 or ord(character) == 0x7F for character in key):
        return "contains a backslash or a control character"
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        return "has an empty, '.' or '..' path segment"
    return None
