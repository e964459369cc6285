"""The national identifier of a person is never stored or logged: only its keyed hash.

HMAC-SHA256 with the key in ``FUNDGUARD_PERSON_ID_KEY``. Outside production a fixed development
key is used when the variable is unset; with ``FUNDGUARD_ENV=production`` a missing or short key is
a startup error (a hash without a secret key could be reversed by enumerating identity numbers).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re

DEV_KEY = "fundguard-dev-person-id-key-not-for-production"
MIN_KEY_LENGTH = 32
_ID = re.compile(r"^[0-9A-Z]{6,64}$")
HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class PersonIdKeyMissing(RuntimeError):
    pass


def _key() -> bytes:
    key = os.environ.get("FUNDGUARD_PERSON_ID_KEY", "")
    if not key:
        if os.environ.get("FUNDGUARD_ENV", "").lower() == "production":
            raise PersonIdKeyMissing("FUNDGUARD_PERSON_ID_KEY must be set in production")
        key = DEV_KEY
    elif len(key) < MIN_KEY_LENGTH and os.environ.get("FUNDGUARD_ENV", "").lower() == "production":
        raise PersonIdKeyMissing(f"FUNDGUARD_PERSON_ID_KEY must have at least {MIN_KEY_LENGTH} characters")
    return key.encode("utf-8")


def normalise(raw: str) -> str:
    """Identity numbers: spaces removed, the check letter upper-cased (…x → …X)."""
    value = re.sub(r"\s+", "", str(raw or "")).upper()
    if not _ID.match(value):
        raise ValueError("invalid national identifier")  # never echo the value
    return value


def hash_person_id(raw: str) -> str:
    return hmac.new(_key(), normalise(raw).encode("ascii"), hashlib.sha256).hexdigest()
