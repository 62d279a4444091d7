"""The district's Ed25519 signing key: made on the district host, never leaves it, mode 0600.

Rotation is two steps, so that no commune is ever left with a schedule it cannot verify:

1. ``prepare_rotation`` makes the next pair beside the current one. Communes pin both
   public keys (an agent accepts a manifest signed by any key it pins, DESIGN.md §4).
2. ``activate_rotation`` signs with the next key from then on. The old private key is
   deleted; its public key is kept in ``retired.pub`` for inspecting old manifests.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from config import UserInputError
from playout._private_files import write_private

log = logging.getLogger(__name__)

PRIVATE_KEY_NAME = "district.key"
PUBLIC_KEY_NAME = "district.pub"
NEXT_PRIVATE_KEY_NAME = "district.next.key"
NEXT_PUBLIC_KEY_NAME = "district.next.pub"
RETIRED_KEYS_NAME = "retired.pub"


class KeyFileError(UserInputError):
    """A key file or a pinned key is missing, malformed, or readable by others."""


@dataclass(frozen=True)
class DistrictKeys:
    """The pairs in ``key_dir``: ``district.key`` (PKCS#8 PEM) and ``district.pub``
    (base64 of the raw public key), and during a rotation ``district.next.*``."""

    key_dir: Path

    @property
    def private_path(self) -> Path:
        return self.key_dir / PRIVATE_KEY_NAME

    @property
    def public_path(self) -> Path:
        return self.key_dir / PUBLIC_KEY_NAME

    @property
    def next_private_path(self) -> Path:
        return self.key_dir / NEXT_PRIVATE_KEY_NAME

    @property
    def next_public_path(self) -> Path:
        return self.key_dir / NEXT_PUBLIC_KEY_NAME

    @property
    def retired_path(self) -> Path:
        return self.key_dir / RETIRED_KEYS_NAME

    def exists(self) -> bool:
        return self.private_path.is_file()

    def rotation_pending(self) -> bool:
        return self.next_private_path.is_file()

    def init(self) -> bool:
        """Create the pair unless it exists; ``True`` when a new pair was made."""
        if self.exists():
            return False
        _new_pair(self.private_path, self.public_path)
        return True

    def private_key(self) -> Ed25519PrivateKey:
        """The key manifests are signed with now."""
        return _load_private(self.private_path, hint="create one with `loa keys init`")

    def public_base64(self) -> str:
        return encode_public_key(self.private_key().public_key())

    def public_keys(self) -> list[Ed25519PublicKey]:
        """What a manifest signed here may verify with: the current key, and the next
        one while a rotation is pending. Read from the public files only."""
        keys = [_read_public(self.public_path, hint="create the pair with `loa keys init`")]
        if self.next_public_path.is_file():
            keys.append(_read_public(self.next_public_path, hint="or run `loa keys rotate`"))
        return keys

    def retired_public_keys(self) -> list[Ed25519PublicKey]:
        """Keys that signed manifests before a rotation (``retired.pub``, one per line)."""
        try:
            lines = self.retired_path.read_text(encoding="ascii").split()
        except FileNotFoundError:
            return []
        return [decode_public_key(line) for line in lines]

    def prepare_rotation(self) -> bool:
        """Make the next pair unless one is pending; ``True`` when a new one was made."""
        self.private_key()  # a rotation needs a current key to rotate from
        if self.rotation_pending():
            return False
        _new_pair(self.next_private_path, self.next_public_path)
        log.info("prepared the next district key %s", self.next_public_path)
        return True

    def activate_rotation(self) -> str:
        """Sign with the next key from now on; return the retired public key (base64).

        The order survives a crash at any step: the old public key is recorded first,
        and the switch itself is one rename."""
        old = self.private_key()
        new = _load_private(self.next_private_path, hint="prepare one with `loa keys rotate`")
        retired = encode_public_key(old.public_key())
        _append_line(self.retired_path, retired)
        os.replace(self.next_private_path, self.private_path)
        write_private(self.public_path, _public_file_text(new), mode=0o644)
        self.next_public_path.unlink(missing_ok=True)
        log.info("district key rotated; retired %s", retired)
        return retired


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


def _new_pair(private_path: Path, public_path: Path) -> None:
    private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(private_path, pem)
    write_private(public_path, _public_file_text(private_key), mode=0o644)


def _public_file_text(private_key: Ed25519PrivateKey) -> bytes:
    return (encode_public_key(private_key.public_key()) + "\n").encode("ascii")


def _load_private(path: Path, *, hint: str) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
        pem = path.read_bytes()
    except FileNotFoundError as error:
        raise KeyFileError(f"{path}: no such key; {hint}") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # As ssh does: a signing key others can read may already be someone else's.
        raise KeyFileError(
            f"{path}: permissions {stat.S_IMODE(mode):04o} are too open; the district key "
            f"must be readable by its owner only (chmod 600 {path})"
        )
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as error:
        raise KeyFileError(f"{path}: not a PEM private key ({error})") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 private key")
    return key


def _read_public(path: Path, *, hint: str) -> Ed25519PublicKey:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as error:
        raise KeyFileError(f"{path}: no such public key; {hint}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(f"{path}: cannot read: {error}") from error
    return decode_public_key(text)


def _append_line(path: Path, line: str) -> None:
    existing = path.read_text(encoding="ascii").split() if path.exists() else []
    if line not in existing:
        text = "".join(f"{entry}\n" for entry in [*existing, line])
        write_private(path, text.encode("ascii"), mode=0o644)
