"""Encryption at rest for stored credentials (Graph, Cove, Autotask, Entra secrets).

The key is derived from APP_SECRET_KEY, so a database dump alone does not reveal the secrets.
Changing APP_SECRET_KEY makes stored secrets unreadable: they must then be typed in again, and the
settings page says so rather than failing.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class SecretUnreadable(RuntimeError):
    """A stored secret cannot be decrypted (APP_SECRET_KEY changed since it was saved)."""


def _fernet() -> Fernet:
    secret_key = current_app.config["SECRET_KEY"].encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"backupchecks-secrets-v1",
               info=b"stored credentials").derive(secret_key)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the stored secret cannot be read: APP_SECRET_KEY changed since it was saved; "
                               "type the secret in again") from None


def secret_readable(token: str | None) -> bool:
    """For the settings pages: whether a stored secret (if any) can still be decrypted."""
    try:
        decrypt_secret(token)
    except SecretUnreadable:
        return False
    return True
