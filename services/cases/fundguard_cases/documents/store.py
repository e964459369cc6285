"""Content-addressed blob store: a blob's name is its SHA-256. Written once (atomic rename),
verified on every read. Directory: ``CASES_DOCUMENT_DIR`` (default ``$FUNDGUARD_VAR_DIR/documents``)."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from fundguard_shared.config import var_dir

_HEX = re.compile(r"^[0-9a-f]{64}$")


class BlobMissing(LookupError):
    pass


class BlobCorrupt(RuntimeError):
    pass


def root() -> Path:
    raw = os.environ.get("CASES_DOCUMENT_DIR", "").strip()
    path = Path(raw).resolve() if raw else var_dir() / "documents"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _path(sha256: str) -> Path:
    if not _HEX.match(sha256 or ""):
        raise BlobMissing(sha256)
    return root() / sha256[:2] / sha256


def put_blob(data: bytes) -> str:
    """Store ``data``; returns its SHA-256 (hex). Idempotent: the same bytes land on the same name."""
    digest = hashlib.sha256(data).hexdigest()
    target = _path(digest)
    if target.exists() and target.stat().st_size == len(data):
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest


def get_blob(sha256: str) -> bytes:
    """The bytes named ``sha256``; ``BlobMissing`` if absent, ``BlobCorrupt`` if they no longer hash to it."""
    path = _path(sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BlobMissing(sha256) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BlobCorrupt(sha256)
    return data
