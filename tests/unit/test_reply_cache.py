"""The reply cache on its own: generations, least-recently-used order, limits, keys."""

from __future__ import annotations

from lxml import etree

from nvo3_netconf.protocol.reply_cache import ReplyCache, request_key


def test_a_reply_lives_as_long_as_its_generation() -> None:
    cache = ReplyCache()
    assert cache.get(1, "q") is None
    cache.put(1, "q", b"<data/>")
    assert cache.get(1, "q") == b"<data/>"
    assert cache.get(2, "q") is None  # the datastores changed: everything goes
    assert len(cache) == 0
    cache.put(1, "q", b"late")  # computed before the change: not kept
    assert cache.get(2, "q") is None
    assert (cache.hits, cache.misses) == (1, 3)


def test_least_recently_used_goes_first_and_big_replies_are_not_kept() -> None:
    cache = ReplyCache(max_entries=2, max_reply=10)
    cache.get(1, "a")
    cache.put(1, "a", b"A")
    cache.put(1, "b", b"B")
    assert cache.get(1, "a") == b"A"  # now "b" is the least recently used
    cache.put(1, "c", b"C")
    assert cache.get(1, "b") is None
    assert cache.get(1, "a") == b"A" and cache.get(1, "c") == b"C"
    cache.put(1, "big", b"x" * 11)
    assert cache.get(1, "big") is None


def test_no_entries_means_no_cache() -> None:
    cache = ReplyCache(max_entries=0)
    cache.get(1, "a")
    cache.put(1, "a", b"A")
    assert cache.get(1, "a") is None and len(cache) == 0


def test_request_key_tells_parameters_and_prefix_bindings_apart() -> None:
    def op(uri: str, text: str = "/p:top", source: str = "running") -> etree._Element:
        rpc = etree.fromstring(
            f'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:p="{uri}">'
            f'<get-config><source><{source}/></source>'
            f'<filter type="xpath" select="{text}"/></get-config></rpc>')
        return rpc[0]

    assert request_key(op("urn:a")) == request_key(op("urn:a"))
    # The same bytes of <get-config>, but p is bound (on <rpc>) to another namespace.
    assert request_key(op("urn:a")) != request_key(op("urn:b"))
    assert request_key(op("urn:a")) != request_key(op("urn:a", "/p:other"))
    assert request_key(op("urn:a")) != request_key(op("urn:a", source="candidate"))


def test_a_reply_of_a_newer_generation_replaces_the_older_ones() -> None:
    cache = ReplyCache()
    cache.put(1, "a", b"A")  # no get before it: the first reply is kept
    assert len(cache) == 1
    cache.put(3, "b", b"B")
    assert cache.get(3, "a") is None and cache.get(3, "b") == b"B"
    cache.put(2, "c", b"C")  # older than what the cache holds: not kept
    assert cache.get(3, "c") is None
