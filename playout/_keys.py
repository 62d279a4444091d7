"""The district's Ed25519 signing key: made once, kept on the district host, mode 0600."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from config import UserInputError

PRIVATE_KEY_NAME = "district.key"
PUBLIC_KEY_NAME = "district.pub"


class KeyFileError(UserInputError):
    """A key file or a pinned key is missing or malformed."""


@dataclass(frozen=True)
class DistrictKeys:
    """The key pair in ``key_dir``: ``district.key`` (PKCS#8 PEM) and ``district.pub``."""

    key_dir: Path

    @property
    def private_path(self) -> Path:
        return self.key_dir / PRIVATE_KEY_NAME

    @property
    def public_path(self) -> Path:
        return self.key_dir / PUBLIC_KEY_NAME

    def exists(self) -> bool:
        return self.private_path.is_file()

    def init(self) -> bool:
        """Create the pair unless it exists; ``True`` when a new pair was made."""
        if self.exists():
            return False
        self.key_dir.mkdir(parents=True, exist_ok=True)
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(self.private_path, pem)
        public = encode_public_key(private_key.public_key()) + "\n"
        _write_private(self.public_path, public.encode("ascii"), mode=0o644)
        return True

    def private_key(self) -> Ed25519PrivateKey:
        try:
            pem = self.private_path.read_bytes()
        except FileNotFoundError as error:
            raise KeyFileError(
                f"{self.private_path}: no district key; create one with `loa keys init`"
            ) from error
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{self.private_path}: not an Ed25519 private key")
        return key

    def public_base64(self) -> str:
        return encode_public_key(self.private_key().public_key())


def encode_public_key(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def decode_public_key(text: str) -> Ed25519PublicKey:
    """A pinned key as ``loa keys public`` prints it (base64 of the 32 raw bytes)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as error:
        raise KeyFileError(
            f"pinned public key {text.strip()[:16]!r}…: not an Ed25519 key"
        ) from error


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    partial = path.with_name(path.name + ".part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(partial, mode)
    os.replace(partial, path)
