"""Editor accounts: names and password hashes (werkzeug.security's scrypt), nothing else.

The public search needs no account; an account lets an editor correct transcripts.
"""

from __future__ import annotations

import re
from typing import Any

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from . import store

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}")
MIN_PASSWORD = 10
# Checked when a name is unknown, so that a wrong name takes as long as a wrong password
# (no telling which accounts exist by timing).
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class AccountError(ValueError):
    """A refused account change, with a message that says what to do."""


def add_user(db: sqlite_utils.Database, name: str, password: str) -> dict[str, Any]:
    """Create an editor account."""
    if not NAME.fullmatch(name):
        raise AccountError(f"bad user name {name!r}: use 2-64 letters, digits, '.', '_', '-', '@'")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if store.get_user(db, name) is not None:
        raise AccountError(f"there is already a user {name!r}")
    store.session_key(db, create=True)  # the web server signs editors' sessions with it
    return store.add_user(db, name, generate_password_hash(password))


def remove_user(db: sqlite_utils.Database, name: str) -> None:
    if not store.remove_user(db, name):
        raise AccountError(f"no user {name!r}; see 'indexer user list'")


def authenticate(db: sqlite_utils.Database, name: str, password: str) -> dict[str, Any] | None:
    """The user whose name and password these are, or None (the same for either mistake)."""
    user = store.get_user(db, name) if NAME.fullmatch(name or "") else None
    ok = check_password_hash(user["password_hash"] if user else _DUMMY_HASH, password or "")
    return user if user and ok else None
