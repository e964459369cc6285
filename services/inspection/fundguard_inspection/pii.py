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

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from fundguard_shared import keyring


class PiiKeyMissing(RuntimeError):
    code = "pii_key_missing"


class PiiUnreadable(RuntimeError):
    code = "pii_unreadable"


def cipher() -> MultiFernet:
    return keyring.cipher(("FUNDGUARD_PII_KEY",), PiiKeyMissing)


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
