"""Payloads encrypted with AES-256-GCM before they leave the process (`PAYLOAD_ENCRYPTION_KEYS`).

An encrypted payload's metadata says `encoding: binary/encrypted` and which key encrypted it
(`encryption-key-id`); its data is a random 12-byte nonce followed by the ciphertext of the
original `Payload` proto, serialised (as temporalio/samples-python's `encryption` does). The key
id is the cipher's associated data, so a payload relabelled with another key id does not decrypt.

New payloads use the newest key (the last one configured); a payload decodes with the key its
metadata names, so histories written before a rotation still read as long as their key stays
configured. Payloads that are not encrypted (written before the codec was turned on) pass through
decoding unchanged.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

VARIABLE = "PAYLOAD_ENCRYPTION_KEYS"
ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class PayloadDecryptionError(ValueError):
    """An encrypted payload that cannot be decrypted with the configured keys."""


@dataclass(frozen=True)
class EncryptionKey:
    id: str
    secret: bytes = field(repr=False)


def parse_keys(text: str) -> tuple[EncryptionKey, ...]:
    """The keys of `kid:base64key,...` (oldest first). A `ValueError` says which entry is wrong
    and why, never quoting key material."""
    keys: list[EncryptionKey] = []
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    for number, entry in enumerate(entries, 1):
        key_id, colon, encoded = (part.strip() for part in entry.partition(":"))
        where = f"entry #{number}"
        if not colon:
            raise ValueError(f"{where}: expected KEY_ID:BASE64_KEY")
        if not key_id:
            raise ValueError(f"{where}: the key id is empty (expected KEY_ID:BASE64_KEY)")
        if not _KEY_ID_PATTERN.fullmatch(key_id):
            raise ValueError(f"{where}: key id {key_id!r}: 1 to 64 letters, digits, '.', '_', '-'")
        where = f"key {key_id!r}"
        try:
            secret = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{where}: not valid base64") from None
        if len(secret) != KEY_BYTES:
            raise ValueError(f"{where}: {len(secret)} bytes, expected {KEY_BYTES} (AES-256)")
        if any(key.id == key_id for key in keys):
            raise ValueError(f"{where}: the id is used twice")
        keys.append(EncryptionKey(key_id, secret))
    if not keys:
        raise ValueError("no key (expected KEY_ID:BASE64_KEY,...; the last one encrypts)")
    return tuple(keys)


def new_key_entry(key_id: str) -> str:
    """A fresh `kid:base64` entry of `PAYLOAD_ENCRYPTION_KEYS`."""
    if not _KEY_ID_PATTERN.fullmatch(key_id):
        raise ValueError(f"{key_id!r}: 1 to 64 letters, digits, '.', '_', '-'")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with key ids: encodes with the last key, decodes with the one named."""

    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        super().__init__()
        if not keys:
            raise ValueError(f"{VARIABLE}: no key")
        self._ciphers = {key.id: AESGCM(key.secret) for key in keys}
        self.key_id = keys[-1].id
        """The key new payloads are encrypted with."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        associated = self.key_id.encode()
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), associated)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self.key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload; one that is not encrypted is returned as it is."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r}, which {VARIABLE} does not hold "
                f"(it holds {', '.join(sorted(self._ciphers))})"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r} does not decrypt: its data or its "
                "key id was altered"
            ) from None
