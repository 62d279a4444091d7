"""The district public keys an agent accepts manifests from (DESIGN.md §4)."""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config import Settings, UserInputError
from playout._keys import DistrictKeys, KeyFileError, decode_public_key

log = logging.getLogger(__name__)


def pinned_keys(settings: Settings) -> list[Ed25519PublicKey]:
    """``keys.trusted_public_keys``, or else the district's own public key files (the
    current key and, during a rotation, the next one).

    The fallback serves a commune agent on the district host (the demo, tests); a real
    commune pins the key it was given."""
    if settings.keys.trusted_public_keys:
        return [decode_public_key(text) for text in settings.keys.trusted_public_keys]
    keys = DistrictKeys(settings.key_dir)
    try:
        local = keys.public_keys()
    except KeyFileError as error:
        raise UserInputError(
            "no district public key to verify manifests with: set keys.trusted_public_keys "
            f"in the configuration, or create the district key with `loa keys init` ({error})"
        ) from None
    log.info("keys.trusted_public_keys is empty: trusting the local keys in %s", keys.key_dir)
    return local
