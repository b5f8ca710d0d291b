"""One persistent NETCONF session per NVE, and a bounded pool to use them concurrently.

:class:`SessionPool` keeps a :class:`~.client.DeviceClient` per NVE of the inventory,
opened on first use and kept open; a session that fails is reopened on the next use,
with exponential backoff between attempts (the client's). :meth:`SessionPool.map` runs
one function per NVE on at most ``workers`` threads.

Public names: :class:`SessionPool`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

from nvo3_netconf.director.client import DeviceClient
from nvo3_netconf.director.inventory import Inventory, NVERecord

__all__ = ["SessionPool"]

T = TypeVar("T")


class SessionPool:
    """The director's sessions, by NVE name.

    Args:
        inventory: where NVEs are found.
        timeout: seconds to connect and to wait for each reply.
        attempts: connection attempts per use (backoff between them).
        backoff: the first wait between attempts (doubled up to ``max_backoff``).
        max_backoff: the longest wait.
        workers: how many NVEs :meth:`map` handles at once.
    """

    def __init__(self, inventory: Inventory, *, timeout: float = 30.0, attempts: int = 3,
                 backoff: float = 0.2, max_backoff: float = 5.0, workers: int = 16) -> None:
        self.inventory = inventory
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.workers = max(1, workers)
        self._clients: dict[str, tuple[NVERecord, DeviceClient]] = {}
        self._lock = threading.Lock()

    def client(self, name: str) -> DeviceClient:
        """The NVE's client (not connected until used); a changed record gets a new one.

        Raises:
            InventoryError: no NVE of that name.
        """
        record = self.inventory.get(name)
        with self._lock:
            known = self._clients.get(name)
            if known is not None and known[0] == record:
                return known[1]
            client = DeviceClient(name, record.connection_params(timeout=self.timeout),
                                  attempts=self.attempts, backoff=self.backoff,
                                  max_backoff=self.max_backoff)
            self._clients[name] = (record, client)
        if known is not None:
            known[1].close()
        return client

    def clients(self, names: Iterable[str]) -> dict[str, DeviceClient]:
        """The clients of ``names``."""
        return {name: self.client(name) for name in names}

    def map(self, function: Callable[[DeviceClient], T],
            names: Iterable[str]) -> dict[str, T | Exception]:
        """``function(client)`` for each NVE, concurrently; an exception is its result."""
        clients = self.clients(names)
        if not clients:
            return {}

        def run(client: DeviceClient) -> T | Exception:
            try:
                return function(client)
            except Exception as error:  # noqa: BLE001 - reported per NVE
                return error

        with ThreadPoolExecutor(max_workers=min(self.workers, len(clients)),
                                thread_name_prefix="ndirector-pool") as pool:
            return dict(zip(clients, pool.map(run, clients.values()), strict=True))

    def close(self) -> None:
        """Close every session."""
        with self._lock:
            clients, self._clients = self._clients, {}
        for _, client in clients.values():
            client.close()

    def __enter__(self) -> SessionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
