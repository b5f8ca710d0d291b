"""Users of the NVE agent: hashed passwords, public keys, groups (RFC 6242 sec. 6).

The users file is TOML::

    [users.admin]
    password-hash = "scrypt$16384$8$1$<salt-b64>$<hash-b64>"   # nvo3-nve hash-password
    authorized-keys = ["ssh-ed25519 AAAA... admin@laptop"]
    groups = ["admin"]

    [users.operator]        # no credentials: logs in only through OpenSSH (unix-socket)
    groups = ["operators"]

Passwords are stored as scrypt hashes (RFC 7914) and compared in constant time; there
is no anonymous access. Repeated failures from one address are slowed down.

Public names: :class:`User`, :class:`UserDatabase`, :func:`hash_password`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import paramiko

from nvo3_netconf.errors import ConfigError

logger = logging.getLogger(__name__)

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The storable scrypt hash of ``password``."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(hash_b64)
        digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64),
                                n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


@dataclass(frozen=True)
class User:
    """One account.

    Attributes:
        name: the SSH user name (NETCONF username, NACM user-name).
        password_hash: scrypt hash, or None when only keys are accepted.
        keys: authorized public keys as (type, base64 blob).
        groups: NACM groups from the users file.
    """

    name: str
    password_hash: str | None = None
    keys: frozenset[tuple[str, str]] = frozenset()
    groups: tuple[str, ...] = ()


@dataclass
class UserDatabase:
    """The accounts and the failure throttle; implements the transport's Authenticator.

    Attributes:
        users: name -> user.
        failure_delay: seconds added per recent failure from an address (capped at 5 s).
    """

    users: Mapping[str, User]
    failure_delay: float = 0.2
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_file(cls, path: Path) -> UserDatabase:
        """Load a users file.

        Raises:
            ConfigError: unreadable file or malformed entry.
        """
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read users file {path}: {error}") from None
        return cls.from_mapping(raw.get("users", {}))

    @classmethod
    def from_mapping(cls, entries: Mapping[str, Mapping[str, object]]) -> UserDatabase:
        """Build from ``{name: {"password-hash": ..., "authorized-keys": [...], ...}}``."""
        users = {}
        for name, entry in entries.items():
            keys = set()
            for line in cast("Iterable[object]", entry.get("authorized-keys", []) or []):
                parts = str(line).split()
                if len(parts) < 2:
                    raise ConfigError(f"user {name}: malformed authorized key {line!r}")
                keys.add((parts[0], parts[1]))
            password_hash = entry.get("password-hash")
            users[name] = User(
                name=name,
                password_hash=str(password_hash) if password_hash else None,
                keys=frozenset(keys),
                groups=tuple(
                    str(g) for g in cast("Iterable[object]", entry.get("groups", []) or [])
                ),
            )
        return cls(users)

    def methods(self, user: str) -> str:
        """Offer both methods to everyone (do not reveal which accounts exist)."""
        return "publickey,password"

    def check_password(self, user: str, password: str, peer: str) -> bool:
        """Verify a password, slowing down repeated failures from ``peer``."""
        self._throttle(peer)
        account = self.users.get(user)
        stored = account.password_hash if account else None
        # Hash even for unknown users so timing does not reveal who exists.
        ok = verify_password(password, stored or hash_password("x", salt=b"0" * 16))
        ok = ok and stored is not None
        self._record(peer, ok)
        return ok

    def check_public_key(self, user: str, key: paramiko.PKey, peer: str) -> bool:
        """True when ``key`` is among ``user``'s authorized keys."""
        account = self.users.get(user)
        ok = account is not None and (key.get_name(), key.get_base64()) in account.keys
        if not ok:
            self._record(peer, False)
        return ok

    def groups_of(self, user: str) -> tuple[str, ...]:
        """The NACM groups the users file gives ``user``."""
        account = self.users.get(user)
        return account.groups if account else ()

    def _throttle(self, peer: str) -> None:
        with self._lock:
            count, last = self._failures.get(peer, (0, 0.0))
        if count and time.monotonic() - last < 60:
            time.sleep(min(5.0, self.failure_delay * count))

    def _record(self, peer: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures.pop(peer, None)
            else:
                count, _ = self._failures.get(peer, (0, 0.0))
                self._failures[peer] = (count + 1, time.monotonic())
                logger.info("authentication failure %d from %s", count + 1, peer)
