"""Encryption at rest of informant identities (Fernet, AES-128-CBC + HMAC-SHA256).

Key: ``FUNDGUARD_PII_KEY`` — one or more url-safe base64 Fernet keys separated by commas; the
first encrypts, all decrypt (rotation: put the new key first, re-encrypt, drop the old one).
Without it, ``FUNDGUARD_PII_KEY_FILE`` (default ``$FUNDGUARD_VAR_DIR/dev-pii-key``, which
``scripts/up.sh`` generates for the one-machine run) is read. No key → ``PiiKeyMissing``: the
service refuses to store or show identities rather than keep them in clear.

Nothing here logs a plaintext; callers must not either.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class PiiKeyMissing(RuntimeError):
    code = "pii_key_missing"


class PiiUnreadable(RuntimeError):
    code = "pii_unreadable"


def _key_file() -> Path:
    explicit = os.environ.get("FUNDGUARD_PII_KEY_FILE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("FUNDGUARD_VAR_DIR", "var")) / "dev-pii-key"


def _keys() -> list[str]:
    raw = os.environ.get("FUNDGUARD_PII_KEY", "").strip()
    if not raw:
        try:
            raw = _key_file().read_text().strip()
        except OSError:
            raw = ""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise PiiKeyMissing("FUNDGUARD_PII_KEY is not set")
    return keys


def cipher() -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in _keys()])
    except ValueError as exc:  # malformed key
        raise PiiKeyMissing(f"FUNDGUARD_PII_KEY is not a valid Fernet key: {type(exc).__name__}")


def generate_key() -> str:
    return Fernet.generate_key().decode()


def seal(data: dict) -> str:
    return cipher().encrypt(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).decode()


def unseal(token: str) -> dict:
    try:
        return json.loads(cipher().decrypt(token.encode()))
    except InvalidToken:
        raise PiiUnreadable("ciphertext does not match any configured key") from None


def rotate(token: str) -> str:
    return cipher().rotate(token.encode()).decode()
