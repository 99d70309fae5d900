"""Who may sign in to the studio, and to do what: named accounts with a role and a password
stored as a salted scrypt hash (Python's standard library; no password is ever stored).

Roles, each allowed what the one before it is:

* ``annotator``: label items (Label, Map), see Insights and Conflicts;
* ``reviewer``: also accept the model's suggestions, resolve disputes and export;
* ``owner``: also create and delete projects and set how many people label each item.

The studio asks for sign-in as soon as one account exists. Without accounts it
is open to whoever reaches it, so ``sslabel app`` refuses to listen beyond this
machine then, unless told to (see :func:`exposure_refusal`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time

import pandas as pd
from sqlalchemy import delete, insert, select, update

from .errors import StoreError
from .store.schema import accounts

ROLES = ("annotator", "reviewer", "owner")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MB and tens of ms per check: slow to guess


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, as ``scrypt$n$r$p$salt$hash`` (hex).

    Examples
    --------
    >>> stored = hash_password("correct horse")
    >>> stored.startswith("scrypt$16384$8$1$"), verify_password("correct horse", stored)
    (True, True)
    >>> verify_password("wrong", stored)
    False
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        again = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(again.hex(), digest)


def may(role: str | None, needed: str) -> bool:
    """Whether ``role`` is allowed what ``needed`` is (roles rank annotator < reviewer < owner).

    Examples
    --------
    >>> may("owner", "reviewer"), may("annotator", "reviewer"), may(None, "annotator")
    (True, False, False)
    """
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may well resolve to a public address


def exposure_refusal(host: str, *, sign_in: bool, open_ok: bool) -> str | None:
    """Why the studio must not listen on ``host``, or None when it may.

    Beyond this machine it needs sign-in (an account exists), unless the person said
    explicitly that anyone who reaches it may label (``open_ok``).

    Examples
    --------
    >>> exposure_refusal("127.0.0.1", sign_in=False, open_ok=False) is None
    True
    >>> exposure_refusal("0.0.0.0", sign_in=True, open_ok=False) is None
    True
    >>> print(exposure_refusal("0.0.0.0", sign_in=False, open_ok=False))  # doctest: +ELLIPSIS
    refusing to listen on 0.0.0.0 without sign-in: ...
    """
    if is_loopback(host) or sign_in or open_ok:
        return None
    return (
        f"refusing to listen on {host} without sign-in: anyone who reaches it could label. "
        "Add an account first (sslabel users add NAME --role owner), or pass --no-sign-in "
        "to let anyone in on purpose."
    )


class Accounts:
    """The accounts of one store.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.store import Store
    >>> team = Accounts(Store(tempfile.mkdtemp()))
    >>> team.add("ann", "reviewer", "s3cret-pass")
    >>> team.sign_in("ann", "s3cret-pass"), team.sign_in("ann", "nope")
    ('reviewer', None)
    """

    MIN_PASSWORD = 8

    def __init__(self, store):
        self.db = store.db

    def exist(self) -> bool:
        """Whether any account exists (then the studio asks everyone to sign in)."""
        with self.db.begin() as conn:
            return conn.execute(select(accounts.c.name).limit(1)).first() is not None

    def add(self, name: str, role: str, password: str) -> None:
        name = _account_name(name)
        _check(role, password)
        with self.db.begin() as conn:
            if conn.execute(select(accounts.c.name).where(accounts.c.name == name)).first():
                raise StoreError(f"There is an account {name!r} already; remove it first.")
            conn.execute(
                insert(accounts).values(
                    name=name, role=role, password_hash=hash_password(password),
                    created_at=time.time(),
                )
            )  # fmt: skip

    def set_password(self, name: str, password: str) -> None:
        _check("annotator", password)
        self._update(name, password_hash=hash_password(password))

    def set_role(self, name: str, role: str) -> None:
        _check(role, "x" * self.MIN_PASSWORD)
        self._update(name, role=role)

    def remove(self, name: str) -> None:
        with self.db.begin() as conn:
            if not conn.execute(delete(accounts).where(accounts.c.name == name)).rowcount:
                raise StoreError(f"There is no account {name!r}.")

    def sign_in(self, name: str, password: str) -> str | None:
        """The account's role when ``password`` is right, else None."""
        with self.db.begin() as conn:
            row = conn.execute(
                select(accounts.c.role, accounts.c.password_hash).where(
                    accounts.c.name == name.strip()
                )
            ).first()
        if row is None:
            verify_password(password, hash_password("timing"))  # as slow as a real check
            return None
        return row.role if verify_password(password, row.password_hash) else None

    def table(self) -> pd.DataFrame:
        """``name, role, created_at`` of every account (never the hashes)."""
        with self.db.begin() as conn:
            rows = conn.execute(
                select(accounts.c.name, accounts.c.role, accounts.c.created_at).order_by(
                    accounts.c.name
                )
            ).all()
        return pd.DataFrame(rows, columns=["name", "role", "created_at"])

    def _update(self, name: str, **values) -> None:
        with self.db.begin() as conn:
            done = conn.execute(update(accounts).where(accounts.c.name == name).values(**values))
            if not done.rowcount:
                raise StoreError(f"There is no account {name!r}.")


def _account_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise StoreError("An account needs a name of 1 to 80 characters.")
    return name


def _check(role: str, password: str) -> None:
    if role not in ROLES:
        raise StoreError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    if len(password) < Accounts.MIN_PASSWORD:
        raise StoreError(f"A password needs at least {Accounts.MIN_PASSWORD} characters.")
