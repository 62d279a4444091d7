"""The content of a CAP ``<resource>`` (the alert's audio), fetched offline and checked.

Nothing on the alert path needs the internet: the content comes from ``derefUri`` (the
bytes inline, base64) or from a ``uri`` that is a relative path or a ``file:`` URL under
a base directory. ``size`` and ``digest`` are checked when the resource carries them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from content._cap import CapError, CapResource, shown

DIGEST_PATTERN = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")
"""CAP 1.2 specifies SHA-1 (40 hex digits); Loa also accepts and writes SHA-256 (64)."""
_SHA1_HEX_DIGITS = 40


def decode_deref_uri(text: str) -> bytes:
    """The bytes of a ``derefUri`` (base64, line breaks allowed); ``ValueError`` if bad."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as error:
        raise ValueError(str(error)) from None


def resource_bytes(resource: CapResource, base_dir: Path) -> bytes:
    """The content of ``resource``, checked against its ``size`` and ``digest``.

    From ``derefUri`` when present, else from ``uri``: a relative path or a ``file:`` URL
    that must lie under ``base_dir``. http(s) and other schemes are refused. Raises
    ``CapError`` naming the resource (its ``resourceDesc``) and the element at fault.
    """
    data = _content(resource, base_dir)
    if resource.size is not None and len(data) != resource.size:
        raise _error(resource, "size", f"the content is {len(data)} bytes", resource.size)
    if resource.digest is not None:
        _check_digest(resource, data)
    return data


def _content(resource: CapResource, base_dir: Path) -> bytes:
    if resource.deref_uri is not None:
        try:
            return decode_deref_uri(resource.deref_uri)
        except ValueError:
            raise _error(resource, "derefUri", "not valid base64", resource.deref_uri) from None
    if resource.uri is None:
        raise _error(resource, "uri", "the resource has neither <derefUri> nor <uri>")
    path = _local_path(resource, resource.uri, base_dir)
    try:
        return path.read_bytes()
    except OSError as error:
        raise _error(
            resource, "uri", f"cannot read {path}: {error.strerror}", resource.uri
        ) from None


def _local_path(resource: CapResource, uri: str, base_dir: Path) -> Path:
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        raise _error(resource, "uri", "Loa fetches no alert audio from the internet", uri)
    if parts.scheme not in ("", "file") or parts.netloc not in ("", "localhost"):
        raise _error(resource, "uri", "only a relative path or a local file: URL", uri)
    base = base_dir.resolve()
    path = (base / unquote(parts.path)).resolve()
    if not path.is_relative_to(base):
        raise _error(resource, "uri", f"the file is not under {base}", uri)
    return path


def _check_digest(resource: CapResource, data: bytes) -> None:
    digest = resource.digest or ""
    if not DIGEST_PATTERN.match(digest):
        raise _error(resource, "digest", "40 hex digits (SHA-1) or 64 (SHA-256)", digest)
    if len(digest) == _SHA1_HEX_DIGITS:
        # CAP 1.2's digest is SHA-1. It detects a damaged or swapped file; authenticity
        # comes from where the message came from (and its signature), not from this hash.
        actual = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    else:
        actual = hashlib.sha256(data).hexdigest()
    if actual != digest.lower():
        raise _error(resource, "digest", f"the content's digest is {actual}", digest)


def _error(resource: CapResource, element: str, problem: str, value: object = None) -> CapError:
    suffix = "" if value is None else f": {shown(value)}"
    return CapError(f"resource {resource.description!r}: {element}: {problem}{suffix}")
