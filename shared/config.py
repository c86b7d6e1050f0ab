"""Settings from the environment: one typed object, read once per container."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple

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


class Rate(NamedTuple):
    """At most `limit` per `seconds` (`5/1h`)."""

    limit: int
    seconds: int

    def __str__(self) -> str:
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if self.seconds % size == 0:
                return f"{self.limit}/{self.seconds // size}{unit}"
        return f"{self.limit}/{self.seconds}s"


DEFAULT_LIMIT_PER_PHONE = "1/30s,5/1h,10/1d"  # in the spirit of Tencent's own per-number policy
DEFAULT_LIMIT_PER_CALLER = "120/1m,5000/1d"  # an API key or a direct invoker (a backend)
DEFAULT_LIMIT_PER_END_USER = "5/10m,20/1d"  # a mini-program openId or a client IP
DEFAULT_STATUS_LIMIT_PER_CALLER = "60/1m"  # GET /sms/status/{phone} per caller (Tencent: 20/s in all)
DEFAULT_STATUS_CACHE_TTL = 10  # seconds a per-number answer is reused for the same number and window
# Numbers a caller's multi sends may reach (each number counts, not each request): an hour holds
# one SMS_MAX_INLINE_NUMBERS list whole, a day a few; the global daily cap usually binds first.
DEFAULT_LIMIT_MULTI_PER_CALLER = "20000/1h,50000/1d"
DEFAULT_OTP_TEMPLATE_ID = "7840"  # the emulator's `您的验证码是{1}，{2}分钟内有效。`
OTP_LENGTHS = range(4, 9)  # digits in a one-time code


NO_SECRET = Secret("")

# Most receipts come within seconds; a message still `submitted` after 15 minutes lost its receipt
# or waits on a handset that is off, and is asked for per number (then again at doubling ages).
DEFAULT_RECONCILE_AFTER = 900
MIN_RECONCILE_AFTER = 60
MAX_RECONCILE_PULL_RATE = 20.0  # Tencent's own limit for each per-number pull action
DEFAULT_TEMPLATE_SYNC_INTERVAL = 3600  # the scheduled pull re-reads Tencent's template catalogue hourly


class TemplateSpec(NamedTuple):
    """What we know of an approved template: how many parameters it takes, and where it may go
    (`international`: international only; `both`: Tencent's `International = 3`, every region)."""

    params: int
    international: bool = False
    text: str = ""
    both: bool = False

    def serves(self, *, international: bool) -> bool:
        """Whether Tencent lets this template go to a number of that region class."""
        return self.both or self.international == international


NO_TEMPLATES: Mapping[str, TemplateSpec] = MappingProxyType({})


class Settings(NamedTuple):
    """Everything the functions read from the environment (see README, "Environment")."""

    api: Api
    legacy_appid: str = ""
    legacy_appkey: Secret = NO_SECRET
    secret_id: str = ""
    secret_key: Secret = NO_SECRET
    session_token: Secret = NO_SECRET
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
    send_concurrency: int = 32
    allowed_countries: frozenset[str] = frozenset({"CN"})  # ISO regions; "*" allows every country
    templates: Mapping[str, TemplateSpec] = NO_TEMPLATES  # empty: not checked locally
    max_param_length: int = 12
    max_body_bytes: int = 1024 * 1024
    callback_token: Secret = NO_SECRET
    limit_per_phone: tuple[Rate, ...] = ()
    limit_per_caller: tuple[Rate, ...] = ()
    limit_per_end_user: tuple[Rate, ...] = ()
    limit_global_daily: int = 10000
    idempotency_ttl: int = 86400
    otp_secret: Secret = NO_SECRET  # HMAC key for stored code hashes
    otp_template_id: str = DEFAULT_OTP_TEMPLATE_ID
    otp_length: int = 6
    otp_ttl: int = 300
    otp_resend_after: int = 60
    otp_max_attempts: int = 5
    fanout_queue_url: str = ""
    fanout_threshold: int = 5000
    scf_endpoint: str = "https://scf.tencentcloudapi.com"  # where scf:// fan-out invokes
    dead_letter_url: str = ""  # empty: `sms-functions-dead-letter.jsonl` in the temp dir
    max_inline_numbers: int = 20000  # one answer must fit a synchronous invoke's 6 MB
    reconcile_after: int = DEFAULT_RECONCILE_AFTER  # seconds a message may stay `submitted`; 0 = off
    reconcile_batch: int = 500  # messages looked at per scheduled run
    reconcile_pull_rate: float = 10.0  # per-number pulls a second (Tencent allows 20 per action)
    status_limit_per_caller: tuple[Rate, ...] = ()
    status_cache_ttl: int = DEFAULT_STATUS_CACHE_TTL
    callback_max_bytes: int = 256 * 1024  # a push body; Tencent's batches are far smaller
    receipt_max_skew: int = 300  # seconds a receipt's time may lie ahead of ours and still count
    orphan_receipt_ttl: int = 7 * 86400  # receipts of messages this store never sent are kept this long
    limit_multi_per_caller: tuple[Rate, ...] = ()  # numbers per caller through multi sends
    template_sync_interval: int = DEFAULT_TEMPLATE_SYNC_INTERVAL  # seconds between catalogue syncs; 0 = off
    default_template_id_international: str = ""  # for numbers outside the mainland (shared.templates)
    otp_template_id_international: str = ""
    opt_out_keywords: frozenset[str] = frozenset()  # case-folded whole replies (shared.suppressions)
    opt_in_keywords: frozenset[str] = frozenset()
    marketing_templates: frozenset[str] = frozenset()
    suppress_all: bool = False  # opt-outs stop codes and notifications too

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

    def get(name: str) -> str:
        return env.get(name, "").strip()

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
        api_keys=_api_keys(get("SMS_API_KEYS")),
        proxy=get("TENCENT_SMS_PROXY") or get("HTTPS_PROXY") or get("https_proxy"),
        connect_timeout=_float(env, "TENCENT_SMS_CONNECT_TIMEOUT", 3.0),
        read_timeout=_float(env, "TENCENT_SMS_READ_TIMEOUT", 10.0),
        send_concurrency=_int(env, "SMS_SEND_CONCURRENCY", 32),
        max_inline_numbers=_int(env, "SMS_MAX_INLINE_NUMBERS", 20000),
        allowed_countries=_countries(get("SMS_ALLOWED_COUNTRIES") or "CN"),
        templates=_templates(get("SMS_TEMPLATES")),
        max_param_length=_int(env, "SMS_MAX_PARAM_LENGTH", 12),
        max_body_bytes=_int(env, "SMS_MAX_BODY_BYTES", 1024 * 1024),
        callback_token=Secret(get("SMS_CALLBACK_TOKEN")),
        limit_per_phone=parse_rates(
            "SMS_LIMIT_PER_PHONE", get("SMS_LIMIT_PER_PHONE") or DEFAULT_LIMIT_PER_PHONE
        ),
        limit_per_caller=parse_rates(
            "SMS_LIMIT_PER_CALLER", get("SMS_LIMIT_PER_CALLER") or DEFAULT_LIMIT_PER_CALLER
        ),
        limit_per_end_user=parse_rates(
            "SMS_LIMIT_PER_END_USER", get("SMS_LIMIT_PER_END_USER") or DEFAULT_LIMIT_PER_END_USER
        ),
        limit_global_daily=_int(env, "SMS_LIMIT_GLOBAL_DAILY", 10000),
        idempotency_ttl=_int(env, "SMS_IDEMPOTENCY_TTL", 86400),
        otp_secret=Secret(get("SMS_OTP_SECRET")),
        otp_template_id=_otp_template_id(get("SMS_OTP_TEMPLATE_ID") or DEFAULT_OTP_TEMPLATE_ID),
        otp_length=_otp_length(_int(env, "SMS_OTP_LENGTH", 6)),
        otp_ttl=_int(env, "SMS_OTP_TTL", 300),
        otp_resend_after=_int(env, "SMS_OTP_RESEND_AFTER", 60),
        otp_max_attempts=_int(env, "SMS_OTP_MAX_ATTEMPTS", 5),
        fanout_queue_url=get("SMS_FANOUT_QUEUE_URL"),
        fanout_threshold=_int(env, "SMS_FANOUT_THRESHOLD", 5000),
        scf_endpoint=get("TENCENT_SCF_ENDPOINT") or "https://scf.tencentcloudapi.com",
        dead_letter_url=get("SMS_DEAD_LETTER_URL"),
        reconcile_after=_duration(
            "SMS_RECONCILE_AFTER", get("SMS_RECONCILE_AFTER"), DEFAULT_RECONCILE_AFTER, MIN_RECONCILE_AFTER
        ),
        reconcile_batch=_int(env, "SMS_RECONCILE_BATCH", 500),
        reconcile_pull_rate=_reconcile_pull_rate(_float(env, "SMS_RECONCILE_PULL_RATE", 10.0)),
        status_limit_per_caller=parse_rates(
            "SMS_STATUS_LIMIT_PER_CALLER",
            get("SMS_STATUS_LIMIT_PER_CALLER") or DEFAULT_STATUS_LIMIT_PER_CALLER,
        ),
        status_cache_ttl=(
            0
            if get("SMS_STATUS_CACHE_TTL").lower() in ("0", "off")
            else _int(env, "SMS_STATUS_CACHE_TTL", DEFAULT_STATUS_CACHE_TTL)
        ),
        callback_max_bytes=_int(env, "SMS_CALLBACK_MAX_BYTES", 256 * 1024),
        receipt_max_skew=_int(env, "SMS_RECEIPT_MAX_SKEW", 300),
        orphan_receipt_ttl=_int(env, "SMS_ORPHAN_RECEIPT_TTL", 7 * 86400),
        limit_multi_per_caller=parse_rates(
            "SMS_LIMIT_MULTI_PER_CALLER", get("SMS_LIMIT_MULTI_PER_CALLER") or DEFAULT_LIMIT_MULTI_PER_CALLER
        ),
        template_sync_interval=_duration(
            "SMS_TEMPLATE_SYNC_INTERVAL", get("SMS_TEMPLATE_SYNC_INTERVAL"), DEFAULT_TEMPLATE_SYNC_INTERVAL
        ),
        default_template_id_international=_template_id(
            "TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL", get("TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL")
        ),
        otp_template_id_international=_template_id(
            "SMS_OTP_TEMPLATE_ID_INTERNATIONAL", get("SMS_OTP_TEMPLATE_ID_INTERNATIONAL")
        ),
        **_opt_keywords(env),
        marketing_templates=frozenset(
            _template_id("SMS_MARKETING_TEMPLATES", t.strip())
            for t in get("SMS_MARKETING_TEMPLATES").split(",")
            if t.strip()
        ),
        suppress_all=_flag("SMS_SUPPRESS_ALL", get("SMS_SUPPRESS_ALL")),
    )


def _duration(name: str, raw: str, default: int, minimum: int = 1) -> int:
    """A duration setting: seconds (`900`) or with a unit (`15m`, `1h`, `1d`); `off` (or `0`) disables.

    Empty means `default`; anything shorter than `minimum` seconds is refused.
    """
    if not raw:
        return default
    if raw.lower() in ("off", "none", "0"):
        return 0
    number, unit = (raw[:-1], raw[-1].lower()) if raw[-1].lower() in _UNITS else (raw, "s")
    if not number.isascii() or not number.isdigit() or int(number) * _UNITS[unit] < minimum:
        at_least = f", at least {minimum} s" if minimum > 1 else ""
        raise ConfigurationError(f"{name} takes seconds or 15m/1h form{at_least} (or off), got {raw!r}")
    return int(number) * _UNITS[unit]


DEFAULT_OPT_OUT_KEYWORDS = "R,T,TD,退订,STOP,UNSUBSCRIBE"  # Tencent's 拒收请回复R / 回T退订, and STOP abroad
DEFAULT_OPT_IN_KEYWORDS = "START"


def _template_id(name: str, raw: str) -> str:
    if raw and (not raw.isascii() or not raw.isdigit() or len(raw) > 20):
        raise ConfigurationError(f"{name} takes numeric template ids, got {raw!r}")
    return raw


def _keywords(raw: str) -> frozenset[str]:
    if raw.strip().lower() in ("off", "none"):
        return frozenset()
    return frozenset(k.strip().casefold() for k in raw.split(",") if k.strip())


def _opt_keywords(env: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """`SMS_OPT_OUT_KEYWORDS` / `SMS_OPT_IN_KEYWORDS`: comma lists (case-insensitive), or `off`."""
    out = _keywords(env.get("SMS_OPT_OUT_KEYWORDS", "") or DEFAULT_OPT_OUT_KEYWORDS)
    back = _keywords(env.get("SMS_OPT_IN_KEYWORDS", "") or DEFAULT_OPT_IN_KEYWORDS)
    if out & back:
        raise ConfigurationError(
            f"a keyword cannot both opt out and opt in: {sorted(out & back)} "
            "(SMS_OPT_OUT_KEYWORDS, SMS_OPT_IN_KEYWORDS)"
        )
    return {"opt_out_keywords": out, "opt_in_keywords": back}


def _flag(name: str, raw: str) -> bool:
    value = raw.lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} takes 1 or 0, got {raw!r}")


def _reconcile_pull_rate(value: float) -> float:
    if value > MAX_RECONCILE_PULL_RATE:
        raise ConfigurationError(
            f"SMS_RECONCILE_PULL_RATE must be at most Tencent's {MAX_RECONCILE_PULL_RATE:g} a second,"
            f" got {value:g}"
        )
    return value


HASHED_KEY_PREFIX = "sha256:"
_HEX = frozenset("0123456789abcdef")


def _api_keys(raw: str) -> tuple[Secret, ...]:
    """`SMS_API_KEYS`: comma-separated keys, each plain or `sha256:<64 hex>` (the hash of the key).

    A hashed entry matches only a presented key whose sha256 it is; a plain entry only itself. A bare
    64-hex entry is a plain key, with a warning: it looks like a hash written without its marker."""
    keys = []
    for position, entry in enumerate(e.strip() for e in raw.split(",")):
        if not entry:
            continue
        if entry[: len(HASHED_KEY_PREFIX)].lower() == HASHED_KEY_PREFIX:
            digest = entry[len(HASHED_KEY_PREFIX) :].strip().lower()
            if len(digest) != 64 or not _HEX.issuperset(digest):
                raise ConfigurationError(
                    f"SMS_API_KEYS entry {position + 1} starts with sha256: but is not followed by the "
                    "64 hex digits of a sha256"
                )
            entry = HASHED_KEY_PREFIX + digest
        elif len(entry) == 64 and _HEX.issuperset(entry.lower()):
            from shared.observability import logger  # only here: config stays import-light

            logger.warning(
                "an SMS_API_KEYS entry looks like an unmarked sha256; it is used as a plain key. "
                "Write hashed keys as sha256:<hex>",
                extra={"entry": position + 1},
            )
        keys.append(Secret(entry))
    return tuple(keys)


def _otp_template_id(raw: str) -> str:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        raise ConfigurationError(f"SMS_OTP_TEMPLATE_ID must be a numeric template id, got {raw!r}")
    return raw


def _otp_length(value: int) -> int:
    if value not in OTP_LENGTHS:
        raise ConfigurationError(f"SMS_OTP_LENGTH must be between 4 and 8 digits, got {value}")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rates(name: str, raw: str) -> tuple[Rate, ...]:
    """`1/30s,5/1h,10/1d` → rates; `off` → none."""
    if raw.strip().lower() in ("off", "none", "0"):
        return ()
    rates = []
    for part in raw.split(","):
        count, _, window = part.strip().partition("/")
        window = window.strip().lower()
        number, unit = window[:-1] or "1", window[-1:]
        digits = count.strip() + number
        if not digits.isascii() or not digits.isdigit() or unit not in _UNITS or int(count) < 1:
            raise ConfigurationError(
                f"{name} takes rates like 1/30s,5/1h,10/1d (or off), got {part.strip()!r}"
            )
        rates.append(Rate(int(count), int(number) * _UNITS[unit]))
    return tuple(rates)


def _countries(raw: str) -> frozenset[str]:
    codes = frozenset(c.strip().upper() for c in raw.split(",") if c.strip())
    bad = [c for c in codes if c != "*" and not (len(c) == 2 and c.isalpha())]
    if bad:
        raise ConfigurationError(
            f"SMS_ALLOWED_COUNTRIES takes ISO country codes such as CN,HK or *, got {bad}"
        )
    return codes


def _templates(raw: str) -> dict[str, TemplateSpec]:
    """`SMS_TEMPLATES`: JSON `{"7839": {"params": 1, "international": false, "text": "…"}}`, or `@file`;
    `"international": 3` (or `"both"`) marks a template Tencent lets go everywhere."""
    if not raw:
        return {}
    try:
        if raw.startswith("@"):
            with open(raw[1:], encoding="utf-8") as handle:
                raw = handle.read()
        data = json.loads(raw)
        specs = {}
        for template_id, spec in data.items():
            if isinstance(spec, int):
                spec = {"params": spec}
            region = spec.get("international", False)  # false/0, true/1, or 3 / "both" for every region
            both = region in (3, "3", "both")
            specs[str(template_id)] = TemplateSpec(
                int(spec["params"]), bool(region) and not both, str(spec.get("text", "")), both
            )
        return specs
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"SMS_TEMPLATES is not a valid template catalogue: {exc}") from None
