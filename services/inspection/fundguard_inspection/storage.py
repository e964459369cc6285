"""Content-addressed evidence storage. ``EvidenceStore`` is the interface; ``LocalEvidenceStore``
keeps blobs under ``<root>/<aa>/<bb>/<sha256>``; an object-store implementation (S3/OSS/MinIO,
key = the SHA-256) can replace it without touching the callers.

A blob is written to a temporary file in the same directory while it is hashed and measured,
fsynced, then renamed into place: a crash never leaves a half-written blob under a real name,
and storing the same bytes twice keeps one blob.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

_CHUNK = 1 << 20


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when the same content was already stored


class EvidenceStore(Protocol):
    def put(self, stream: BinaryIO, max_bytes: int) -> StoredBlob: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def iter_hashes(self) -> Iterator[str]: ...
    def rehash(self, sha256: str) -> str | None: ...


class LocalEvidenceStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: BinaryIO, max_bytes: int) -> StoredBlob:
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path(sha)
            if final.exists():
                os.unlink(tmp)
                return StoredBlob(sha, size, created=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o440)
            os.replace(tmp, final)
            return StoredBlob(sha, size, created=True)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def iter_hashes(self) -> Iterator[str]:
        for p in sorted(self.root.glob("??/??/*")):
            if p.is_file() and not p.name.startswith("."):
                yield p.name

    def rehash(self, sha256: str) -> str | None:
        """The SHA-256 of the bytes now stored under ``sha256``; None when the blob is gone."""
        try:
            f = self.open(sha256)
        except FileNotFoundError:
            return None
        digest = hashlib.sha256()
        with f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()


def default_store() -> EvidenceStore:
    from fundguard_shared.config import var_dir
    root = os.environ.get("FUNDGUARD_EVIDENCE_DIR") or str(var_dir() / "evidence")
    return LocalEvidenceStore(root)
