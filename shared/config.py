"""Settings from the environment: one typed object, read once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from shared.errors import ConfigurationError

Api = Literal["v3", "legacy"]

LEGACY_DEFAULT_ENDPOINT = "https://yun.tim.qq.com"
V3_DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('****')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the functions read from the environment (see README, "Environment")."""

    api: Api
    legacy_appid: str = ""
    legacy_appkey: Secret = field(default_factory=lambda: Secret(""))
    secret_id: str = ""
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    session_token: Secret = field(default_factory=lambda: Secret(""))
    sdk_app_id: str = ""
    region: str = "ap-guangzhou"
    endpoint: str = ""
    default_sign: str = ""
    default_template_id: str = ""
    store_url: str = ""
    api_keys: tuple[Secret, ...] = ()
    proxy: str = ""
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    send_concurrency: int = 8

    @property
    def base_url(self) -> str:
        """The Tencent base URL for the configured protocol (or the override)."""
        if self.endpoint:
            return self.endpoint.rstrip("/")
        return LEGACY_DEFAULT_ENDPOINT if self.api == "legacy" else V3_DEFAULT_ENDPOINT

    def require_credentials(self) -> None:
        """Fail with a clear message when the chosen protocol lacks its credentials."""
        if self.api == "legacy":
            missing = [
                n
                for n, v in (
                    ("TENCENT_SMS_APPID", self.legacy_appid),
                    ("TENCENT_SMS_APPKEY", self.legacy_appkey),
                )
                if not v
            ]
        else:
            missing = [
                n
                for n, v in (
                    ("TENCENTCLOUD_SECRETID", self.secret_id),
                    ("TENCENTCLOUD_SECRETKEY", self.secret_key),
                    ("TENCENT_SMS_SDKAPPID or TENCENT_SMS_APPID", self.sdk_app_id),
                )
                if not v
            ]
        if missing:
            raise ConfigurationError(f"{self.api} API selected but not configured: set {', '.join(missing)}")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {raw!r}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    get = lambda name: env.get(name, "").strip()  # noqa: E731

    appid, appkey = get("TENCENT_SMS_APPID"), get("TENCENT_SMS_APPKEY")
    secret_id, secret_key = get("TENCENTCLOUD_SECRETID"), get("TENCENTCLOUD_SECRETKEY")
    api = get("TENCENT_SMS_API").lower()
    if not api:
        api = "legacy" if (appkey and not secret_key) else "v3"
    if api not in ("v3", "legacy"):
        raise ConfigurationError(f"TENCENT_SMS_API must be 'v3' or 'legacy', got {api!r}")

    return Settings(
        api=api,  # type: ignore[arg-type]
        legacy_appid=appid,
        legacy_appkey=Secret(appkey),
        secret_id=secret_id,
        secret_key=Secret(secret_key),
        session_token=Secret(get("TENCENTCLOUD_SESSIONTOKEN")),
        sdk_app_id=get("TENCENT_SMS_SDKAPPID") or appid,
        region=get("TENCENT_SMS_REGION") or "ap-guangzhou",
        endpoint=get("TENCENT_SMS_ENDPOINT"),
        default_sign=get("TENCENT_SMS_SIGN"),
        default_template_id=get("TENCENT_SMS_TEMPLATE_ID"),
        store_url=get("SMS_STORE_URL"),
        api_keys=tuple(Secret(k.strip()) for k in get("SMS_API_KEYS").split(",") if k.strip()),
        proxy=get("TENCENT_SMS_PROXY") or get("HTTPS_PROXY") or get("https_proxy"),
        connect_timeout=_float(env, "TENCENT_SMS_CONNECT_TIMEOUT", 3.0),
        read_timeout=_float(env, "TENCENT_SMS_READ_TIMEOUT", 10.0),
        send_concurrency=_int(env, "SMS_SEND_CONCURRENCY", 8),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read once per container."""
    return load_settings()
