"""Multipart upload of one file, each part checked by its Content-MD5.

boto3's transfer manager would do this too, but it sends CRC32 trailers that not every
S3 implementation understands (see ``_client_config``), and it cannot tell us that the
object it assembled is the file we read. Here each part carries its MD5, and the
assembled object's ETag is checked against the MD5 of the part MD5s, as S3 defines it."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from playout._errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)


def upload_in_parts(
    client: S3Client, bucket: str, key: str, path: Path, content_type: str, part_bytes: int
) -> str:
    """Upload ``path`` as ``key`` in parts of ``part_bytes``; return the object's ETag.

    On any failure the upload is aborted, so no half-assembled parts stay billed or
    stored, and the key keeps whatever it had before."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)[
        "UploadId"
    ]
    try:
        parts, digests = _upload_parts(client, bucket, key, upload_id, path, part_bytes)
        response = client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        with contextlib.suppress(ClientError, BotoCoreError):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    etag = response["ETag"].strip('"')
    problem = _assembly_problem(etag, digests)
    if problem is not None:
        # A content-addressed key must never hold other bytes: the next publish would
        # find it "present" and every agent would refuse it.
        client.delete_object(Bucket=bucket, Key=key)
        raise StorageError(f"{key}: {problem}; the object was deleted")
    return etag


def _upload_parts(
    client: S3Client, bucket: str, key: str, upload_id: str, path: Path, part_bytes: int
) -> tuple[list[CompletedPartTypeDef], list[bytes]]:
    parts: list[CompletedPartTypeDef] = []
    digests: list[bytes] = []
    with path.open("rb") as file:
        for number, chunk in enumerate(_chunks(file, part_bytes), start=1):
            digest = hashlib.md5(chunk, usedforsecurity=False).digest()
            response = client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=chunk,
                ContentMD5=base64.b64encode(digest).decode("ascii"),
            )
            parts.append({"ETag": response["ETag"], "PartNumber": number})
            digests.append(digest)
            log.debug("%s: part %d, %d bytes", key, number, len(chunk))
    return parts, digests


def _chunks(file: BinaryIO, size: int) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk


def _assembly_problem(etag: str, digests: list[bytes]) -> str | None:
    """S3's multipart ETag is ``md5(md5(part 1) + … + md5(part n))-n``."""
    if "-" not in etag:
        return None  # a store that names its objects otherwise: each part was checked
    expected = f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"
    if etag != expected:
        return f"assembled object has ETag {etag}, expected {expected} from its parts"
    return None
