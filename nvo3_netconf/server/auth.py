"""Users of the NVE agent: hashed passwords, public keys, groups (RFC 6242 sec. 6).

The users file is TOML::

    [users.admin]
    password-hash = "scrypt$16384$8$1$<salt-b64>$<hash-b64>"   # nvo3-nve hash-password
    authorized-keys = ["ssh-ed25519 AAAA... admin@laptop"]
    groups = ["admin"]

    [users.operator]        # no credentials: logs in only through OpenSSH (unix-socket)
    groups = ["operators"]

Passwords are stored as scrypt hashes (RFC 7914) and compared in constant time; an
unknown user, or one without a password, costs the same one scrypt computation, so the
answer's timing does not tell which accounts exist. Public keys are compared with the
listed ones; there is no anonymous access. Repeated failures from one source address
are slowed down (:class:`FailureThrottle`): each attempt from an address with recent
failures waits ``base * 2**(failures - 1)`` seconds, at most ``cap``, before it is
checked. The wait holds only that connection's SSH thread, never another client's
session. Nothing here logs a password.

The ``groups`` are the users' NACM groups (RFC 8341 sec. 3.4.2: groups provided by the
transport layer, used while ``/nacm/enable-external-groups`` is true).

Public names: :class:`User`, :class:`UserDatabase`, :class:`FailureThrottle`,
:func:`hash_password`, :func:`verify_password`.
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
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
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


_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash no password matches, made once: what unknown users are checked against."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(base64.b64encode(os.urandom(24)).decode())
    return _dummy_hash


@dataclass
class FailureThrottle:
    """Slows down repeated authentication failures, per source address.

    Attributes:
        base: the wait after one recent failure, in seconds; it doubles with each more.
        cap: the longest wait.
        window: failures older than this (seconds since the last one) are forgotten.
        max_addresses: addresses remembered at most (the oldest are forgotten first), so
            that many sources cannot grow the table without bound.
        clock / sleep: time source and wait (tests inject their own).
    """

    base: float = 0.25
    cap: float = 8.0
    window: float = 600.0
    max_addresses: int = 10_000
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _failures: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delay(self, peer: str) -> float:
        """How long the next attempt from ``peer`` waits."""
        with self._lock:
            count, last = self._failures.get(peer, (0, 0.0))
        if not count or self.clock() - last > self.window:
            return 0.0
        return float(min(self.cap, self.base * 2.0 ** min(count - 1, 32)))

    def wait(self, peer: str) -> None:
        """Hold the caller as long as ``peer``'s recent failures ask."""
        delay = self.delay(peer)
        if delay:
            self.sleep(delay)

    def failed(self, peer: str) -> int:
        """Count a failure from ``peer``; returns its count of recent failures."""
        now = self.clock()
        with self._lock:
            count, last = self._failures.pop(peer, (0, 0.0))
            count = count + 1 if now - last <= self.window else 1
            self._failures[peer] = (count, now)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
        return count

    def succeeded(self, peer: str) -> None:
        """A login from ``peer`` succeeded: forget its failures."""
        with self._lock:
            self._failures.pop(peer, None)


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
        throttle: slows down repeated failures per source address.
    """

    users: Mapping[str, User]
    throttle: FailureThrottle = field(default_factory=FailureThrottle)

    def __post_init__(self) -> None:
        _dummy()  # now, so that not even the first unknown user is slower to refuse

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
        self.throttle.wait(peer)
        account = self.users.get(user)
        stored = account.password_hash if account else None
        # One scrypt computation whoever asks: timing does not reveal who exists.
        ok = verify_password(password, stored or _dummy()) and stored is not None
        self._record(peer, ok, user, "password")
        return ok

    def check_public_key(self, user: str, key: paramiko.PKey, peer: str) -> bool:
        """True when ``key`` is among ``user``'s authorized keys.

        SSH asks twice for a key that is accepted (the offer, then the signed request
        after paramiko verified the signature): both are answered the same.
        """
        self.throttle.wait(peer)
        account = self.users.get(user)
        offered = (key.get_name(), key.get_base64())
        ok = account is not None and any(
            name == offered[0] and hmac.compare_digest(blob, offered[1])
            for name, blob in account.keys
        )
        self._record(peer, ok, user, "publickey")
        return ok

    def groups_of(self, user: str) -> tuple[str, ...]:
        """The NACM groups the users file gives ``user``."""
        account = self.users.get(user)
        return account.groups if account else ()

    def _record(self, peer: str, ok: bool, user: str, method: str) -> None:
        if ok:
            self.throttle.succeeded(peer)
            return
        count = self.throttle.failed(peer)
        # The user name as typed is logged (repr: no control characters), never a secret.
        logger.info("%s authentication of %r from %s failed (%d recent failures)",
                    method, user, peer, count)
