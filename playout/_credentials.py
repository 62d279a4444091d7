"""Least-privilege S3 identities for commune agents (DESIGN.md §3).

A commune's identity may read ``audio/*`` and ``communes/<its id>/*`` and write only
``communes/<its id>/status/*`` and ``communes/<its id>/asrun/*``. The same rule is
written two ways: as SeaweedFS identity actions for the embedded store
(``seaweed_actions``), and as an AWS IAM policy for an operator's external S3
(``aws_policy``).

On the district host the identities issued on the embedded store are kept, with their
secret keys, in ``<data_dir>/storage/commune-identities.json`` (owner-only): SeaweedFS's
own identity file is rebuilt from it at every start (``EmbeddedSeaweed``).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from config import Settings, UserInputError, read_user_text
from playout._errors import StorageError
from playout._layout import (
    AUDIO_PREFIX,
    asrun_prefix,
    check_commune_id,
    commune_prefix,
    status_prefix,
)
from playout._objectstore import S3ObjectStore
from playout._private_files import write_private

log = logging.getLogger(__name__)

CREDENTIAL_FIELDS: Final = ("access_key", "secret_key", "endpoint", "bucket", "commune")
REGISTRY_SCHEMA: Final = "loa.commune-identities/1"
ACCESS_KEY_PREFIX: Final = "loa-c-"
_MAX_CREDENTIALS_BYTES = 64 * 1024


@dataclass(frozen=True)
class CommuneCredentials:
    """What a commune agent needs to reach its bucket as itself: ``issue --json`` prints
    it, ``loa agent run --credentials FILE`` reads it back."""

    commune: str
    access_key: str
    secret_key: str = field(repr=False)
    endpoint: str
    bucket: str

    def __post_init__(self) -> None:
        check_commune_id(self.commune)

    def document(self) -> dict[str, str]:
        """Exactly the five fields of ``CREDENTIAL_FIELDS``."""
        return {name: getattr(self, name) for name in CREDENTIAL_FIELDS}

    @classmethod
    def read(cls, path: Path, *, commune: str | None = None) -> CommuneCredentials:
        """The credentials in ``path`` (which must be ``commune``'s, when given);
        ``UserInputError`` naming the file and the field."""
        text = read_user_text(path, UserInputError)
        if len(text) > _MAX_CREDENTIALS_BYTES:
            raise UserInputError(f"{path}: too large for a credentials file")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserInputError(
                f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from None
        if not isinstance(document, dict):
            raise UserInputError(
                f"{path}: expected a JSON object with {', '.join(CREDENTIAL_FIELDS)}"
            )
        values = {name: _text_field(path, document, name) for name in CREDENTIAL_FIELDS}
        if not values["endpoint"].startswith(("http://", "https://")):
            raise UserInputError(
                f"{path}: field 'endpoint' is {values['endpoint']!r}, not an http(s) URL"
            )
        try:
            check_commune_id(values["commune"])
        except UserInputError as error:
            raise UserInputError(f"{path}: field 'commune': {error}") from None
        if commune is not None and values["commune"] != commune:
            raise UserInputError(
                f"{path}: field 'commune' is {values['commune']!r}, not {commune!r} (--commune)"
            )
        return cls(**values)

    def open_store(
        self, region: str, *, max_attempts: int = 5, connect_timeout_s: float = 5.0
    ) -> S3ObjectStore:
        """The commune's bucket, reached with these credentials."""
        return S3ObjectStore(
            self.endpoint,
            region,
            self.bucket,
            self.access_key,
            self.secret_key,
            max_attempts=max_attempts,
            connect_timeout_s=connect_timeout_s,
        )


class CommuneKey(NamedTuple):
    """One issued key pair, and the commune it belongs to."""

    commune: str
    access_key: str
    secret_key: str

    def __repr__(self) -> str:
        return f"CommuneKey({self.commune!r}, {self.access_key!r}, secret_key=...)"


@dataclass(frozen=True)
class IssuedIdentity:
    """A listing entry: who has a key, which key, since when. No secret."""

    commune: str
    access_key: str
    issued_at: datetime

    def document(self) -> dict[str, str]:
        return {
            "commune": self.commune,
            "access_key": self.access_key,
            "issued_at": self.issued_at.isoformat(timespec="seconds"),
        }


def seaweed_actions(bucket: str, commune_id: str) -> list[str]:
    """The commune's rights as SeaweedFS identity actions (prefix-scoped).

    SeaweedFS's ``Write`` also allows DELETE, so a commune can delete its own heartbeat
    and receipts (never anything else); an AWS policy (``aws_policy``) does not allow it.
    A GET of a missing key in the readable prefixes answers 404 (NoSuchKey)."""
    return [
        f"Read:{bucket}/{AUDIO_PREFIX}*",
        f"Read:{bucket}/{commune_prefix(commune_id)}*",
        f"Write:{bucket}/{status_prefix(commune_id)}*",
        f"Write:{bucket}/{asrun_prefix(commune_id)}*",
    ]


def aws_policy(bucket: str, commune_id: str) -> dict[str, Any]:
    """The commune's rights as an AWS IAM identity policy, to attach to its S3 user.

    ``s3:GetObject`` also covers HEAD; ``s3:PutObject`` covers multipart uploads. There
    is no ``s3:ListBucket``: the agent never lists, and listing would show the names of
    every other commune's objects. Without it S3 answers a GET or HEAD of a missing key
    (no manifest published yet) with 403 AccessDenied rather than 404 NoSuchKey. There
    is no ``s3:DeleteObject`` either. For a bucket policy instead, add a ``Principal``
    naming the commune's user to each statement."""
    arn = f"arn:aws:s3:::{bucket}/"
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("ReadSharedAudio", "s3:GetObject", [f"{arn}{AUDIO_PREFIX}*"]),
            _statement("ReadOwnCommune", "s3:GetObject", [f"{arn}{commune_prefix(commune_id)}*"]),
            _statement(
                "WriteOwnStatusAndAsRun",
                "s3:PutObject",
                [f"{arn}{status_prefix(commune_id)}*", f"{arn}{asrun_prefix(commune_id)}*"],
            ),
        ],
    }


def commune_policy(settings: Settings, commune_id: str) -> dict[str, Any]:
    """``aws_policy`` for a registered commune, on the configured bucket."""
    return aws_policy(settings.storage.bucket, registered_commune_id(settings, commune_id))


def registered_commune_id(settings: Settings, commune_id: str) -> str:
    """``commune_id`` if it is well formed and in the district's registry;
    ``UserInputError`` naming it otherwise."""
    check_commune_id(commune_id)
    organisation = settings.organisation
    try:
        organisation.commune(commune_id)
    except KeyError:
        raise UserInputError(
            f"unknown commune {commune_id!r}: not in the district registry of "
            f"{organisation.district.id!r} ({', '.join(organisation.commune_ids())})"
        ) from None
    return commune_id


class CommuneIdentityRegistry:
    """The commune identities issued on the embedded store, secrets included, in one
    owner-only JSON file. Reads are safe at any time (the file is replaced whole);
    callers that change it hold the store's lock (``EmbeddedSeaweed``).

    A revoked commune stays listed under ``revoked`` (its old access key, no secret):
    SeaweedFS 4.48 keeps, on reload, every identity whose name has gone from its file,
    so a revoked identity must stay there, by name, with no credentials."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def issued(self) -> list[IssuedIdentity]:
        """Every commune with a key, by commune id."""
        return [
            IssuedIdentity(commune, entry["access_key"], _parse_time(self.path, entry))
            for commune, entry in sorted(self._load().issued.items())
        ]

    def key(self, commune_id: str) -> CommuneKey | None:
        """The commune's current key pair, if one was issued."""
        entry = self._load().issued.get(check_commune_id(commune_id))
        if entry is None:
            return None
        return CommuneKey(commune_id, entry["access_key"], entry["secret_key"])

    def issue(self, commune_id: str) -> CommuneKey:
        """A new key pair for the commune; it replaces (rotates) any earlier one."""
        check_commune_id(commune_id)
        registry = self._load()
        key = CommuneKey(
            commune_id,
            f"{ACCESS_KEY_PREFIX}{commune_id}-{secrets.token_hex(6)}",
            secrets.token_urlsafe(30),
        )
        registry.revoked.pop(commune_id, None)
        registry.issued[commune_id] = {
            "access_key": key.access_key,
            "secret_key": key.secret_key,
            "issued_at": _now(),
        }
        self._save(registry)
        return key

    def revoke(self, commune_id: str) -> CommuneKey:
        """Withdraw the commune's key pair; ``UserInputError`` when it has none."""
        check_commune_id(commune_id)
        registry = self._load()
        entry = registry.issued.pop(commune_id, None)
        if entry is None:
            raise UserInputError(
                f"commune {commune_id!r} has no issued S3 credentials in {self.path}"
            )
        registry.revoked[commune_id] = {"access_key": entry["access_key"], "revoked_at": _now()}
        self._save(registry)
        return CommuneKey(commune_id, entry["access_key"], entry["secret_key"])

    def seaweed_identities(self, bucket: str) -> list[dict[str, Any]]:
        """The SeaweedFS identity of every commune with a key, on ``bucket``, and an
        identity without credentials or rights for every revoked one."""
        registry = self._load()
        identities = {commune: _seaweed_identity(commune, [], []) for commune in registry.revoked}
        for commune, entry in registry.issued.items():
            credentials = [{"accessKey": entry["access_key"], "secretKey": entry["secret_key"]}]
            identities[commune] = _seaweed_identity(
                commune, credentials, seaweed_actions(bucket, commune)
            )
        return [identities[commune] for commune in sorted(identities)]

    def _load(self) -> _Registry:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return _Registry({}, {})
        except OSError as error:
            raise StorageError(f"{self.path}: cannot read it: {error.strerror}") from error
        if self.path.stat().st_mode & 0o077:
            log.warning("%s was readable by others; now owner-only", self.path)
            self.path.chmod(0o600)
        return _parse_registry(self.path, text)

    def _save(self, registry: _Registry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        document = {
            "schema": REGISTRY_SCHEMA,
            "communes": dict(sorted(registry.issued.items())),
            "revoked": dict(sorted(registry.revoked.items())),
        }
        write_private(self.path, json.dumps(document, indent=2) + "\n")


class _Registry(NamedTuple):
    """The registry file's two mappings, commune id to entry."""

    issued: dict[str, dict[str, str]]
    revoked: dict[str, dict[str, str]]


def _seaweed_identity(
    commune: str, credentials: list[dict[str, str]], actions: list[str]
) -> dict[str, Any]:
    return {"name": f"commune-{commune}", "credentials": credentials, "actions": actions}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _statement(sid: str, action: str, resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": [action], "Resource": resources}


def _text_field(path: Path, document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if value is None:
        raise UserInputError(f"{path}: field {name!r} is missing")
    if not isinstance(value, str) or not value.strip():
        raise UserInputError(f"{path}: field {name!r} must be a non-empty string")
    return value.strip()


def _parse_registry(path: Path, text: str) -> _Registry:
    """The issued and revoked entries, each checked; ``StorageError`` naming the file."""
    hint = "repair it, or delete it and issue the communes' credentials again"
    try:
        document = json.loads(text)
        if document.get("schema") != REGISTRY_SCHEMA:
            raise ValueError(f"schema is not {REGISTRY_SCHEMA!r}")
        registry = _Registry(dict(document["communes"]), dict(document.get("revoked", {})))
        _check_entries("communes", registry.issued, ("access_key", "secret_key", "issued_at"))
        _check_entries("revoked", registry.revoked, ("access_key", "revoked_at"))
    except (ValueError, KeyError, TypeError, AttributeError, UserInputError) as error:
        raise StorageError(f"{path}: not a commune identity registry ({error}); {hint}") from None
    return registry


def _check_entries(section: str, entries: dict[str, Any], fields: tuple[str, ...]) -> None:
    for commune, entry in entries.items():
        check_commune_id(commune)
        for name in fields:
            if not isinstance(entry.get(name), str) or not entry[name]:
                raise ValueError(f"{section}.{commune}.{name} is missing or empty")


def _parse_time(path: Path, entry: dict[str, str]) -> datetime:
    try:
        return datetime.fromisoformat(entry["issued_at"])
    except ValueError:
        raise StorageError(f"{path}: issued_at {entry['issued_at']!r} is not a time") from None
