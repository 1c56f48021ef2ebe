"""The content-addressed artifact folder: every file is stored once, named by its SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from desktop_app.errors import InvalidValueError, NotFoundError, RegistryError

_CHUNK = 1 << 20


def sha256_of_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Files under ``artifacts/<first two hex digits>/<sha256>``, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidValueError(f"Not a SHA-256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put_file(self, source: Path) -> tuple[str, int]:
        """Copy a file into the store; return its SHA-256 and size."""
        try:
            with open(source, "rb") as handle:
                return self.put_stream(handle)
        except FileNotFoundError as exc:
            raise NotFoundError(f"No such file: {source}") from exc
        except IsADirectoryError as exc:
            raise InvalidValueError(f"{source} is a folder; log its files one by one.") from exc

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; return their SHA-256 and size."""
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Store a stream's bytes, hashing while copying; return SHA-256 and size."""
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            target = self.path_for(sha)
            if target.exists():
                os.unlink(tmp_name)
            else:
                target.parent.mkdir(exist_ok=True)
                os.replace(tmp_name, target)
            return sha, size
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def exists(self, sha256: str) -> bool:
        """Whether the blob is present."""
        return self.path_for(sha256).exists()

    def read_bytes(self, sha256: str, *, verify: bool = True) -> bytes:
        """The blob's bytes, checked against its hash unless told otherwise."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"Artifact {sha256[:12]} is missing from {self.root}.") from exc
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise RegistryError(
                f"Artifact {sha256[:12]} does not match its SHA-256: the file was changed "
                "or damaged on disk and will not be used.",
                code="ARTIFACT_CORRUPT",
            )
        return data

    def verify(self, sha256: str) -> bool:
        """Whether the blob exists and its content still hashes to its name."""
        path = self.path_for(sha256)
        return path.exists() and sha256_of_file(path) == sha256

    def export(self, sha256: str, destination: Path) -> Path:
        """Copy a blob out of the store to a normal file, refusing one that fails its hash."""
        source = self.path_for(sha256)
        if not source.exists():
            raise NotFoundError(f"Artifact {sha256[:12]} is missing from {self.root}.")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        if sha256_of_file(destination) != sha256:
            destination.unlink()
            raise RegistryError(
                f"Artifact {sha256[:12]} does not match its SHA-256: the stored file was changed "
                "or damaged and was not exported.",
                code="ARTIFACT_CORRUPT",
            )
        return destination

    def remove(self, sha256: str) -> int:
        """Delete a blob; return the bytes freed (0 if it was not there)."""
        path = self.path_for(sha256)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def all_hashes(self) -> set[str]:
        """Every blob present on disk."""
        return {
            p.name for p in self.root.glob("??/*") if p.is_file() and not p.name.startswith(".")
        }
