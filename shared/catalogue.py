"""Tencent's template catalogue kept in the store: synced from `DescribeSmsTemplateList` on the
schedule (every `SMS_TEMPLATE_SYNC_INTERVAL`) and on demand (`POST /sms/templates/sync`), listed at
`GET /sms/templates`, and checked before every send (`shared.templates.check_region`): the template
exists, is live (StatusCode 0), fits the number's region and gets as many parameters as its text has
placeholders. `SMS_TEMPLATES` stays a static override, and is all there is on the legacy API.

Each container reads the stored catalogue at most once a minute (`CACHE_SECONDS`): a sync made
elsewhere is seen within that time.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from shared.errors import SmsError
from shared.observability import logger
from shared.runtime import runtime
from shared.template_list import TencentTemplate

CACHE_SECONDS = 60.0

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, TencentTemplate]]] = {}  # store url → (loaded at, by id)


def sync(*, deadline: float | None) -> dict[str, Any]:
    """Read the whole catalogue from Tencent and store it; what it holds now."""
    templates = runtime.client.describe_templates(deadline=deadline)
    now = int(time.time())
    runtime.store.replace_templates(templates, now=now)
    with _lock:
        _cache.clear()
    live = sum(t.live for t in templates)
    logger.info("templates synced", extra={"templates": len(templates), "live": live})
    return {"templates": len(templates), "live": live, "synced_at": now}


def sync_if_due(*, deadline: float | None) -> dict[str, Any] | None:
    """The scheduled refresh: a sync when the stored catalogue is older than the interval (API 3.0
    only). A failure is logged and reported, never raised: the pull it runs beside goes on."""
    settings = runtime.settings
    if settings.api != "v3" or not settings.template_sync_interval:
        return None
    try:
        _, synced_at = runtime.store.list_templates()
        if time.time() - synced_at < settings.template_sync_interval:
            return None
        return sync(deadline=deadline)
    except SmsError as error:
        logger.warning("template sync failed", extra={"error_code": error.code})
        return {"error": error.to_body()["error"]}


def listing() -> dict[str, Any]:
    """`GET /sms/templates`: the synced catalogue, and the static `SMS_TEMPLATES` overrides."""
    templates, synced_at = runtime.store.list_templates()
    static = {
        template_id: {**spec._asdict(), "international": 3 if spec.both else int(spec.international)}
        for template_id, spec in runtime.settings.templates.items()
    }
    return {"templates": [t.to_dict() for t in templates], "synced_at": synced_at or None, "static": static}


def synced() -> dict[str, TencentTemplate]:
    """The stored catalogue by template id (empty: never synced, or the legacy API), cached."""
    settings = runtime.settings
    if settings.api != "v3":
        return {}
    key = settings.store_url
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        templates, _ = runtime.store.list_templates()
    except SmsError as error:  # the store is down: Tencent still checks; the send's record will fail loudly
        logger.warning("template catalogue not read", extra={"error_code": error.code})
        return cached[1] if cached is not None else {}
    by_id = {t.template_id: t for t in templates}
    with _lock:
        _cache[key] = (now, by_id)
    return by_id
