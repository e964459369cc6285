"""Encryption at rest of webhook signing secrets (Fernet, AES-128-CBC + HMAC-SHA256).

The secret must stay recoverable (it signs every delivery), so it is encrypted, not hashed.
Key: ``FUNDGUARD_NOTIFY_SECRET_KEY``, else ``FUNDGUARD_PII_KEY`` (the platform key), else the
one-machine run's key file (``FUNDGUARD_PII_KEY_FILE``, default ``$FUNDGUARD_VAR_DIR/dev-pii-key``,
which ``scripts/up.sh`` generates). Each may hold several url-safe base64 Fernet keys separated by
commas: the first encrypts, all decrypt (rotation: put the new key first; rotating an endpoint's
secret re-encrypts it with the new key). No key → ``SecretKeyMissing``: notify refuses to keep
a secret in clear. Nothing here logs a plaintext.
"""
from __future__ import annotations


from cryptography.fernet import InvalidToken, MultiFernet

from fundguard_shared import keyring

KEY_ENV = ("FUNDGUARD_NOTIFY_SECRET_KEY", "FUNDGUARD_PII_KEY")


class SecretKeyMissing(RuntimeError):
    code = "secret_key_missing"


class SecretUnreadable(RuntimeError):
    code = "secret_unreadable"


def cipher() -> MultiFernet:
    return keyring.cipher(KEY_ENV, SecretKeyMissing)


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretUnreadable("ciphertext does not match any configured key") from None
