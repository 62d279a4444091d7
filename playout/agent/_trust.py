"""The district public keys an agent accepts manifests from (DESIGN.md §4)."""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config import Settings, UserInputError
from playout._keys import DistrictKeys, decode_public_key

log = logging.getLogger(__name__)


def pinned_keys(settings: Settings) -> list[Ed25519PublicKey]:
    """``keys.trusted_public_keys``, or else the district's own public key file.

    The fallback serves a commune agent on the district host (the demo, tests); a real
    commune pins the key it was given."""
    if settings.keys.trusted_public_keys:
        return [decode_public_key(text) for text in settings.keys.trusted_public_keys]
    public_path = DistrictKeys(settings.key_dir).public_path
    try:
        text = public_path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise UserInputError(
            "no district public key to verify manifests with: set keys.trusted_public_keys "
            f"in the configuration, or create {public_path} with `loa keys init`"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"{public_path}: cannot read: {error}") from error
    log.info("keys.trusted_public_keys is empty: trusting the local key %s", public_path)
    return [decode_public_key(text)]
