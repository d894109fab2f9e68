"""API keys: how they are made and how they are stored.

A key is 32 bytes from the operating system's CSPRNG, shown to its owner once and stored only
as its SHA-256 hash (seed 002: "API keys are now stored as SHA-256 hashes").  A short prefix,
which is not secret, is kept for display and support ("which key is this?").  SHA-256 without
a salt is the right hash here: the key has 256 bits of entropy, so there is nothing for a
slow password hash to protect, and an unsalted hash can be looked up by an index.
"""

import hashlib
import secrets

KEY_PREFIX = "mia_"
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def generate_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def display_prefix(raw_key: str) -> str:
    return raw_key[:DISPLAY_PREFIX_LENGTH]
