"""The users database: password hashing and checking, public keys, the failure throttle."""

from __future__ import annotations

import hashlib

import paramiko
import pytest

from nvo3_netconf.errors import ConfigError
from nvo3_netconf.server import auth
from nvo3_netconf.server.auth import FailureThrottle, UserDatabase, hash_password, verify_password


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def digest() -> str:
    return hash_password("s3cret")


def test_hash_is_salted_scrypt_and_verifies(digest: str) -> None:
    assert digest.startswith("scrypt$16384$8$1$")
    assert digest != hash_password("s3cret")
    assert verify_password("s3cret", digest)
    assert not verify_password("s3cret ", digest)
    assert not verify_password("s3cret", "bcrypt$whatever")
    assert not verify_password("s3cret", "scrypt$not$a$valid$hash")


def test_unknown_users_cost_one_scrypt_like_known_ones(digest: str, monkeypatch) -> None:
    users = UserDatabase.from_mapping({"ann": {"password-hash": digest},
                                       "keyonly": {"authorized-keys": []}})
    users.throttle = FailureThrottle(base=0.0)
    auth._dummy()  # made once, up front in a real server's first failed login
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: object, **kwargs: object) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(auth.hashlib, "scrypt", counting)
    for user, password, expected in (("ann", "s3cret", True), ("ann", "nope", False),
                                     ("nobody", "s3cret", False), ("keyonly", "", False)):
        calls.clear()
        assert users.check_password(user, password, "192.0.2.1") is expected
        assert len(calls) == 1, user


def test_public_keys_are_matched_by_type_and_blob() -> None:
    key, other = paramiko.ECDSAKey.generate(bits=256), paramiko.ECDSAKey.generate(bits=256)
    users = UserDatabase.from_mapping({
        "ann": {"authorized-keys": [f"{key.get_name()} {key.get_base64()} ann@lab"]}})
    users.throttle = FailureThrottle(base=0.0)
    assert users.check_public_key("ann", key, "192.0.2.1")
    assert not users.check_public_key("ann", other, "192.0.2.1")
    assert not users.check_public_key("bob", key, "192.0.2.1")
    with pytest.raises(ConfigError):
        UserDatabase.from_mapping({"x": {"authorized-keys": ["just-one-word"]}})


def test_throttle_doubles_per_failure_up_to_the_cap() -> None:
    fake = FakeTime()
    throttle = FailureThrottle(base=0.25, cap=2.0, clock=fake.clock, sleep=fake.sleep)
    delays = []
    for _ in range(6):
        delays.append(throttle.delay("192.0.2.1"))
        throttle.failed("192.0.2.1")
    assert delays == [0.0, 0.25, 0.5, 1.0, 2.0, 2.0]
    assert throttle.delay("192.0.2.2") == 0.0  # per address
    throttle.wait("192.0.2.1")
    assert fake.slept == [2.0]
    throttle.succeeded("192.0.2.1")
    assert throttle.delay("192.0.2.1") == 0.0


def test_throttle_forgets_old_failures_and_bounds_its_table() -> None:
    fake = FakeTime()
    throttle = FailureThrottle(base=1.0, window=60.0, max_addresses=3, clock=fake.clock,
                               sleep=fake.sleep)
    throttle.failed("a")
    throttle.failed("a")
    fake.now += 61
    assert throttle.delay("a") == 0.0
    assert throttle.failed("a") == 1  # a new run of failures
    for peer in ("b", "c", "d"):
        throttle.failed(peer)
    assert throttle.delay("a") == 0.0  # the oldest address was dropped
    assert throttle.delay("d") == 1.0


def test_failed_logins_are_counted_per_address(digest: str) -> None:
    fake = FakeTime()
    users = UserDatabase.from_mapping({"ann": {"password-hash": digest}})
    users.throttle = FailureThrottle(base=0.5, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        assert not users.check_password("ann", "wrong", "192.0.2.1")
    assert fake.slept == [0.5, 1.0]
    assert users.check_password("ann", "s3cret", "192.0.2.9")
    assert fake.slept == [0.5, 1.0]  # another address does not wait
    assert users.check_password("ann", "s3cret", "192.0.2.1")
    assert fake.slept[-1] == 2.0
    assert users.throttle.delay("192.0.2.1") == 0.0
