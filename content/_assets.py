"""Uploaded recordings, stored once each under their SHA-256 (content-addressed)."""

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from content._errors import ContentError, ContentInputError

ASSET_NAME: Final = re.compile(r"[0-9a-f]{64}(\.[a-z0-9]{1,8})?")
EXTENSION: Final = re.compile(r"\.[a-z0-9]{1,8}")
CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class StoredAsset:
    relative_path: str
    sha256: str
    original_name: str


class AssetShelf:
    """The assets directory. Decoding or judging the audio is the pipeline's job, not ours."""

    def __init__(self, root: Path) -> None:
        if root.exists() and not root.is_dir():
            raise ContentInputError(f"assets dir {root} exists and is not a directory")
        self.root = root

    def put(self, source: Path) -> StoredAsset:
        """Copy ``source`` in as ``<sha256><ext>``; an identical asset is kept, not rewritten."""
        digest = _sha256_of(source)
        name = digest + _extension(source)
        target = self.root / name
        if not target.exists():
            self._copy_atomically(source, target)
        return StoredAsset(relative_path=name, sha256=digest, original_name=source.name)

    def path(self, relative_path: str) -> Path:
        if not ASSET_NAME.fullmatch(relative_path):
            raise ContentInputError(f"asset path {relative_path!r} is not an asset of this store")
        return self.root / relative_path

    def _copy_atomically(self, source: Path, target: Path) -> None:
        # Written beside the target and renamed, so a reader never sees half an asset.
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            descriptor, partial_name = tempfile.mkstemp(
                dir=self.root, prefix=f".{target.name}.", suffix=".part"
            )
        except OSError as error:
            raise ContentError(f"assets dir {self.root}: cannot write: {error.strerror}") from None
        partial = Path(partial_name)
        try:
            with os.fdopen(descriptor, "wb") as writer, source.open("rb") as reader:
                shutil.copyfileobj(reader, writer, CHUNK)
                writer.flush()
                os.fsync(writer.fileno())
            # mkstemp makes the file private; assets are read by the renderer as any user.
            partial.chmod(0o644)
            os.replace(partial, target)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise ContentError(f"cannot store {source} as {target}: {error.strerror}") from None


def _sha256_of(source: Path) -> str:
    try:
        if not source.is_file():
            what = "no such file" if not source.exists() else "not a regular file"
            raise ContentInputError(f"audio file {source}: {what}")
        if source.stat().st_size == 0:
            raise ContentInputError(f"audio file {source}: the file is empty")
        with source.open("rb") as reader:
            return hashlib.file_digest(reader, "sha256").hexdigest()
    except OSError as error:
        raise ContentInputError(f"audio file {source}: cannot read it: {error.strerror}") from None


def _extension(source: Path) -> str:
    suffix = source.suffix.lower()
    return suffix if EXTENSION.fullmatch(suffix) else ""
