"""What a warm container keeps between invocations: settings, the SMS client, the store.

Everything is created on first use, not at import, so importing a handler needs no network,
credentials or database.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from shared.config import Settings, load_settings
from shared.observability import formatter

if TYPE_CHECKING:
    from shared.client import SmsClient
    from shared.store.base import Store


class Runtime:
    """Per-container singletons; `reset()` forgets them (tests, or a changed environment)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._client: SmsClient | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            with self._lock:
                if self._settings is None:
                    settings = load_settings()
                    formatter.set_secrets(_secret_values(settings))
                    self._settings = settings
        return self._settings

    @property
    def client(self) -> SmsClient:
        if self._client is None:
            from shared.client import SmsClient

            settings = self.settings
            with self._lock:
                if self._client is None:
                    self._client = SmsClient(settings)
        return self._client

    @property
    def store(self) -> Store:
        if self._store is None:
            from shared.store import get_store

            settings = self.settings
            with self._lock:
                if self._store is None:
                    self._store = get_store(settings.store_url)
                    _warn_if_per_container(settings.store_url)
        return self._store

    def reset(self) -> None:
        with self._lock:
            self._settings = None
            self._client = None
            self._store = None


def _warn_if_per_container(url: str) -> None:
    """Once per container, at the store's creation: a SQLite store on a cloud platform is split."""
    from shared.hosting import warn_if_store_is_per_container

    scheme = (url.strip() or "sqlite:").partition(":")[0].lower()  # empty: the default SQLite file
    warn_if_store_is_per_container(scheme)


def _secret_values(settings: Settings) -> list[str]:
    values = [
        settings.legacy_appkey.reveal(),
        settings.secret_key.reveal(),
        settings.session_token.reveal(),
        settings.otp_secret.reveal(),
        settings.callback_token.reveal(),
    ]
    values += [key.reveal() for key in settings.api_keys]
    from urllib.parse import urlsplit

    password = urlsplit(settings.store_url).password if "://" in settings.store_url else None
    if password:
        values.append(password)
    return values


runtime = Runtime()
