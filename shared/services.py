"""What every use case is handed: the settings, the SMS client, the store and the clock.

Built once per container by the entry layer (`shared.runtime`) and passed down as an argument;
tests build one directly with what they need. The client and the store are made on first use, so
a route that needs neither opens no connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.config import Settings

if TYPE_CHECKING:
    from shared.client import SmsClient
    from shared.store.base import Store

Clock = Callable[[], float]


class Services:
    """Settings, client, store and wall clock of one container (or of one test)."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: SmsClient | None = None,
        store: Store | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._client = client
        self._store = store
        self._lock = threading.Lock()

    def now(self) -> int:
        """The wall clock in whole seconds: every stored time and every limit window reads this."""
        return int(self.clock())

    @property
    def client(self) -> SmsClient:
        if self._client is None:
            from shared.client import SmsClient

            with self._lock:
                if self._client is None:
                    self._client = SmsClient(self.settings)  # signs with the real time: Tencent checks it
        return self._client

    @property
    def store(self) -> Store:
        if self._store is None:
            from shared.store import get_store

            with self._lock:
                if self._store is None:
                    self._store = get_store(self.settings.store_url)
                    _warn_if_per_container(self.settings.store_url)
        return self._store


def _warn_if_per_container(url: str) -> None:
    """Once per container, at the store's creation: a SQLite store on a cloud platform is split."""
    from shared.hosting import warn_if_store_is_per_container

    scheme = (url.strip() or "sqlite:").partition(":")[0].lower()  # empty: the default SQLite file
    warn_if_store_is_per_container(scheme)
