"""Object storage behind one small interface (DESIGN.md §3). S3 is the one backend.

Every failure of the store or the network leaves this module as a ``StorageError``
whose one-line message names the endpoint, the bucket, the key and the reason.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from config import ConfigError, Settings
from playout._errors import (
    ObjectNotFound,
    ObjectTooLarge,
    StorageAccessDenied,
    StorageError,
    StorageUnavailable,
    StorageUnreachable,
)
from playout._layout import check_object_key, check_prefix
from playout._s3_multipart import upload_in_parts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1024 * 1024
_MAX_DATE_SAMPLES = 64
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_MISSING_BUCKET_CODES = frozenset({"NoSuchBucket"})
_ALREADY_THERE_CODES = frozenset({"412", "PreconditionFailed"})
_REFUSED_CREDENTIAL_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
        "InvalidToken",
        "ExpiredToken",
        "RequestTimeTooSkewed",
    }
)


@dataclass(frozen=True)
class ObjectInfo:
    """What the store says about one object. ``etag`` is without its quotes."""

    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class DateSample:
    """The ``Date`` header of one response (the store's clock, to the whole second) and
    when its request was sent and its answer received, on ``time.monotonic()``."""

    date: datetime
    sent: float
    received: float


class ObjectStore(ABC):
    """A bucket of objects addressed by keys such as ``audio/<sha256>.mp3``."""

    def take_date_samples(self) -> list[DateSample]:
        """The ``Date`` of every response since the last call, oldest first (errors and
        304s included). A store that cannot tell returns none."""
        return []

    @abstractmethod
    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str) -> str:
        """Store ``data`` under ``key`` in one PUT; return the new ETag."""

    @abstractmethod
    def put_file_if_absent(
        self, key: str, path: Path, content_type: str, *, part_bytes: int
    ) -> bool:
        """Store the file unless ``key`` exists; ``False`` when it did. Files above
        ``part_bytes`` go up in parts of that size."""

    @abstractmethod
    def get_bytes(self, key: str, *, max_bytes: int) -> bytes:
        """The object's bytes. Refused, before downloading, when over ``max_bytes``."""

    @abstractmethod
    def get_if_changed(
        self, key: str, etag: str | None, *, max_bytes: int
    ) -> tuple[bytes, str] | None:
        """``(bytes, etag)``, or ``None`` when the object still has ``etag``."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and ETag, or ``None`` when there is no such object."""

    @abstractmethod
    def download_to(self, key: str, path: Path, *, max_bytes: int) -> int:
        """Write the object to ``path`` (all of it or nothing); return its size."""

    @abstractmethod
    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""


class S3ObjectStore(ObjectStore):
    """An S3 bucket: SeaweedFS, MinIO, Ceph RGW, AWS S3 or any provider's S3 API."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        *,
        max_attempts: int = 5,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_connections: int = 16,
    ) -> None:
        _check_arguments(endpoint, bucket, access_key, secret_key)
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.bucket = bucket
        self.access_key = access_key
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        config = _client_config(max_attempts, connect_timeout_s, read_timeout_s, max_connections)
        # One session per store: boto3's default session is not safe to share between
        # the threads that build stores (the demo runs one agent per thread).
        session = boto3.session.Session()
        self._client: S3Client = session.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        self._dates = _DateRecorder()
        self._dates.attach(self._client)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        max_attempts: int = 5,
        connect_timeout_s: float = 5.0,
    ) -> S3ObjectStore:
        """The configured store, as the given identity or else the district's."""
        # Imported here because the embedded store uses this module to probe itself.
        from playout._seaweed import storage_credentials, storage_endpoint

        if access_key is not None and secret_key is None:
            raise ConfigError(f"storage: access key {access_key!r} is given without its secret key")
        if access_key is None and secret_key is not None:
            raise ConfigError("storage: a secret key is given without its access key")
        if access_key is None or secret_key is None:
            access_key, secret_key = storage_credentials(settings)
        storage = settings.storage
        return cls(
            storage_endpoint(settings),
            storage.region,
            storage.bucket,
            access_key,
            secret_key,
            max_attempts=max_attempts,
            connect_timeout_s=connect_timeout_s,
            max_connections=max(settings.publish.parallel_requests, 4),
        )

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.endpoint}, bucket={self.bucket!r})"

    def close(self) -> None:
        """Close the pooled connections now rather than when the store is collected."""
        self._client.close()

    def take_date_samples(self) -> list[DateSample]:
        return self._dates.take()

    def ensure_bucket(self) -> None:
        with self._translated("check bucket"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as error:
                if _code(error) not in _NOT_FOUND_CODES | _MISSING_BUCKET_CODES:
                    raise
            self._create_bucket()

    def put_bytes(self, key: str, data: bytes, content_type: str) -> str:
        with self._translated("put", key):
            response = self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ContentMD5=_content_md5(hashlib.md5(data, usedforsecurity=False).digest()),
            )
        return _unquoted(response["ETag"])

    def put_file_if_absent(
        self, key: str, path: Path, content_type: str, *, part_bytes: int
    ) -> bool:
        if self.head(key) is not None:
            return False
        try:
            size = path.stat().st_size
        except OSError as error:
            raise StorageError(f"cannot read {path}: {error.strerror or error}") from error
        if size > part_bytes:
            with self._translated("put", key):
                upload_in_parts(self._client, self.bucket, key, path, content_type, part_bytes)
            return True
        return self._put_file_unless_present(key, path, content_type)

    def _put_file_unless_present(self, key: str, path: Path, content_type: str) -> bool:
        """One PUT with ``If-None-Match: *``: a writer that got there since our HEAD wins."""
        digest = _file_md5(path)
        try:
            with self._translated("put", key), path.open("rb") as body:
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    ContentMD5=_content_md5(digest),
                    IfNoneMatch="*",
                )
        except StorageError as error:
            if _code_of(error) in _ALREADY_THERE_CODES:
                return False
            raise
        return True

    def get_bytes(self, key: str, *, max_bytes: int) -> bytes:
        with self._translated("get", key):
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            return self._read_body(key, response, max_bytes)

    def get_if_changed(
        self, key: str, etag: str | None, *, max_bytes: int
    ) -> tuple[bytes, str] | None:
        with self._translated("get", key):
            try:
                if etag:
                    response = self._client.get_object(
                        Bucket=self.bucket, Key=key, IfNoneMatch=_quoted(etag)
                    )
                else:
                    response = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _code(error) in ("304", "NotModified"):
                    return None
                raise
            return self._read_body(key, response, max_bytes), _unquoted(response["ETag"])

    def head(self, key: str) -> ObjectInfo | None:
        try:
            with self._translated("head", key):
                response = self._client.head_object(Bucket=self.bucket, Key=key)
        except ObjectNotFound:
            return None
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            etag=_unquoted(response["ETag"]),
            last_modified=response["LastModified"],
        )

    def download_to(self, key: str, path: Path, *, max_bytes: int) -> int:
        partial = path.with_name(path.name + ".part")
        try:
            with self._translated("get", key):
                response = self._client.get_object(Bucket=self.bucket, Key=key)
                self._refuse_oversize(key, response, max_bytes)
                size = _stream_to_file(response["Body"], partial)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return size

    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
        )
        with self._translated("list", prefix + "*"):
            for page in pages:
                for entry in page.get("Contents", []):
                    yield ObjectInfo(
                        key=entry["Key"],
                        size=entry["Size"],
                        etag=_unquoted(entry["ETag"]),
                        last_modified=entry["LastModified"],
                    )

    def delete(self, key: str) -> None:
        with self._translated("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def _create_bucket(self) -> None:
        try:
            if self.region == "us-east-1":
                self._client.create_bucket(Bucket=self.bucket)
            else:
                self._client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
                )
        except ClientError as error:
            # Another process created it between our check and our request.
            if _code(error) != "BucketAlreadyOwnedByYou":
                raise
        log.info("created bucket %s at %s", self.bucket, self.endpoint)

    def _read_body(self, key: str, response: GetObjectOutputTypeDef, max_bytes: int) -> bytes:
        self._refuse_oversize(key, response, max_bytes)
        return response["Body"].read()

    def _refuse_oversize(self, key: str, response: GetObjectOutputTypeDef, max_bytes: int) -> None:
        size = response["ContentLength"]
        if size > max_bytes:
            response["Body"].close()
            raise ObjectTooLarge(
                f"{self._where(key)} is {size} bytes, over the {max_bytes}-byte limit: "
                "not downloaded"
            )

    @contextmanager
    def _translated(self, action: str, key: str | None = None) -> Iterator[None]:
        """Refuse a key outside its place before any request (``ObjectKeyError``), then
        turn every boto exception into our own error with a one-line message."""
        if key is not None and action != "list":
            check_object_key(key)
        try:
            yield
        except ClientError as error:
            raise self._client_error(error, action, key) from error
        except BotoCoreError as error:
            raise self._transport_error(error, action, key) from error

    def _client_error(self, error: ClientError, action: str, key: str | None) -> StorageError:
        code = _code(error)
        reason = _client_reason(error)
        if code in _REFUSED_CREDENTIAL_CODES:
            hint = " (check this computer's clock)" if code == "RequestTimeTooSkewed" else ""
            return StorageAccessDenied(
                f"S3 endpoint {self.endpoint} refused access key {self.access_key!r} "
                f"to {action} {self._where(key)}: {reason}{hint}"
            )
        if code in _MISSING_BUCKET_CODES or (key is None and code in _NOT_FOUND_CODES):
            return StorageUnavailable(
                f"bucket {self.bucket!r} does not exist at S3 endpoint {self.endpoint} "
                f"(to {action} {self._where(key)})"
            )
        if code in _NOT_FOUND_CODES:
            return ObjectNotFound(f"{self._where(key)} not found at {self.endpoint}")
        return StorageError(
            f"S3 endpoint {self.endpoint} failed to {action} {self._where(key)}: {reason}"
        )

    def _transport_error(self, error: BotoCoreError, action: str, key: str | None) -> StorageError:
        if isinstance(error, ConnectTimeoutError):
            reason = f"no connection within {self._connect_timeout_s:g} s"
            return StorageUnreachable(f"cannot reach S3 endpoint {self.endpoint}: {reason}")
        if isinstance(error, EndpointConnectionError):
            reason = _network_reason(error)
            return StorageUnreachable(f"cannot reach S3 endpoint {self.endpoint}: {reason}")
        if isinstance(error, ReadTimeoutError):
            return StorageError(
                f"S3 endpoint {self.endpoint} did not answer within "
                f"{self._read_timeout_s:g} s (to {action} {self._where(key)})"
            )
        return StorageError(
            f"S3 endpoint {self.endpoint} failed to {action} {self._where(key)}: "
            f"{_one_line(str(error))}"
        )

    def _where(self, key: str | None) -> str:
        return f"s3://{self.bucket}/{key}" if key is not None else f"bucket {self.bucket!r}"


class _DateRecorder:
    """Keeps the ``Date`` header of every HTTP response the client receives, with the
    send and receive times of its request (botocore events; thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: deque[DateSample] = deque(maxlen=_MAX_DATE_SAMPLES)
        self._sending = threading.local()  # botocore sends and receives on one thread

    def attach(self, client: S3Client) -> None:
        client.meta.events.register("before-send.s3", self._before_send)
        client.meta.events.register("response-received.s3", self._received)

    def take(self) -> list[DateSample]:
        with self._lock:
            samples = list(self._samples)
            self._samples.clear()
        return samples

    def _before_send(self, **_: Any) -> None:
        # Returning anything but None here would replace the HTTP response.
        self._sending.at = time.monotonic()

    def _received(self, response_dict: dict[str, Any] | None = None, **_: Any) -> None:
        received = time.monotonic()
        sent = getattr(self._sending, "at", None)
        header = response_dict["headers"].get("Date") if response_dict else None
        if sent is None or not header:
            return
        try:
            date = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            log.debug("unparsable Date header %r", header)
            return
        if date.tzinfo is None:
            return  # "-0000": no zone stated, so not an instant
        with self._lock:
            self._samples.append(DateSample(date, sent, received))


def _check_arguments(endpoint: str, bucket: str, access_key: str, secret_key: str) -> None:
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"storage endpoint {endpoint!r}: not an http:// or https:// URL")
    if not bucket:
        raise ConfigError("storage bucket: empty")
    if not access_key or not secret_key:
        raise ConfigError(f"storage credentials for {endpoint}: empty access key or secret key")


def _client_config(
    max_attempts: int, connect_timeout_s: float, read_timeout_s: float, max_connections: int
) -> Config:
    return Config(
        max_pool_connections=max_connections,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        # Content-MD5 is what every S3 implementation checks; botocore's newer default
        # checksums (CRC32 headers and trailers) are not understood by all of them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def _stream_to_file(body: Any, path: Path) -> int:
    size = 0
    try:
        with path.open("wb") as file:
            for chunk in body.iter_chunks(_CHUNK_BYTES):
                file.write(chunk)
                size += len(chunk)
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise StorageError(f"cannot write {path}: {error.strerror or error}") from error
    return size


def _file_md5(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, lambda: hashlib.md5(usedforsecurity=False)).digest()
    except OSError as error:
        raise StorageError(f"cannot read {path}: {error.strerror or error}") from error


def _content_md5(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _code_of(error: StorageError) -> str:
    cause = error.__cause__
    return _code(cause) if isinstance(cause, ClientError) else ""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _client_reason(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "unknown error"))
    message = str(details.get("Message", ""))
    if not message or message == code:
        return code
    return f"{code} ({_one_line(message)})"


def _network_reason(error: BaseException) -> str:
    """The operating system's words for why a connection failed, e.g. "connection refused"."""
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[0].lower() + cause.strerror[1:]
        nested = getattr(cause, "kwargs", {}).get("error")
        cause = nested or cause.__cause__ or cause.__context__
    return _one_line(str(error))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _unquoted(etag: str) -> str:
    return etag.strip('"')
