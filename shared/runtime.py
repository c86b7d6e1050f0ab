"""What a warm container keeps between invocations: its `Services`, for the entry layer to hand on.

It is created on first use, not at import, so importing a handler needs no network, credentials
or database. Only `shared.entry` (and the local gateway) read it; use cases get `Services` passed in.
"""

from __future__ import annotations

import threading
import time

from shared.config import Settings, load_settings
from shared.observability import formatter
from shared.services import Clock, Services


class Runtime:
    """The container's one `Services`, made on first use from the environment and `clock`;
    `reset()` forgets it (a changed environment), `install()` puts a ready one in place (tests)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._lock = threading.Lock()
        self._services: Services | None = None
        self.clock = clock

    @property
    def services(self) -> Services:
        if self._services is None:
            with self._lock:
                if self._services is None:
                    settings = load_settings()
                    formatter.set_secrets(_secret_values(settings))
                    self._services = Services(settings, clock=self.clock)
        return self._services

    def install(self, services: Services) -> None:
        formatter.set_secrets(_secret_values(services.settings))
        with self._lock:
            self._services = services

    def reset(self) -> None:
        with self._lock:
            self._services = None


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
