"""What the emulator knows: apps and credentials, approved signs and templates, sending policy.

`Catalogue.default()` reads the same environment variables as the functions (with documented
defaults for a local run); `Catalogue.from_file(path)` loads a JSON file of this shape, every
section optional (a missing section keeps the default):

    {
      "apps": [{"appid": "1400009099", "appkey": "…"}],                 # legacy SDK AppID + AppKey
      "credentials": [{"secret_id": "AKID…", "secret_key": "…",          # API 3.0 keys
                       "sdk_app_ids": ["1400009099"], "session_token": ""}],
      "signs": ["腾讯云"],
      "templates": [{"id": "7839", "text": "{1}为您的登录验证码…", "international": false,
                     "status": 0, "name": "", "review_reply": "", "created": 0}],  # status: StatusCode
      "max_param_length": 12,
      "frequency_limits": {"thirty_seconds": 1, "one_hour": 5, "one_day": 10}
    }

`templates` may also be an object keyed by template id (`{"7839": {"text": …}}`, or just the
text). A file holding only `signs` and `templates` replaces exactly those (`--templates FILE`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from local.emulator.text import PLACEHOLDER, placeholder_count

DEFAULT_APPID = "1400009099"
DEFAULT_APPKEY = "local-emulator-appkey-0123456789abcdef"
DEFAULT_SECRET_ID = "AKIDLOCALEMULATOR0000000000000000000"  # noqa: S105 - public local default
DEFAULT_SECRET_KEY = "local-emulator-secret-key-000000"  # noqa: S105 - public local default
DEFAULT_SIGN = "腾讯云"
DEFAULT_MAX_PARAM_LENGTH = 12


@dataclass(frozen=True)
class Template:
    """An approved template; `{1}`, `{2}`, … are its parameters."""

    id: str
    text: str
    international: bool = False
    status: int = 0  # Tencent's StatusCode: 0 live, 1 in review, 2 approved not yet live, -1 rejected
    name: str = ""
    review_reply: str = ""
    created: int = 0  # unix seconds
    both: bool = False  # Tencent's `International = 3`: mainland and international numbers

    def serves(self, *, mainland: bool) -> bool:
        return self.both or self.international != mainland

    @cached_property
    def param_count(self) -> int:
        return placeholder_count(self.text)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """Matches a rendered text of this template; groups `p1`, `p2`, … capture the parameters."""
        parts: list[str] = []
        seen: set[str] = set()
        position = 0
        for match in PLACEHOLDER.finditer(self.text):
            parts.append(re.escape(self.text[position : match.start()]))
            name = f"p{match.group(1)}"
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
            seen.add(name)
            position = match.end()
        parts.append(re.escape(self.text[position:]))
        return re.compile("".join(parts), re.DOTALL)

    def match(self, text: str) -> tuple[str, ...] | None:
        """The parameters that render this template into `text`, or None when it does not fit."""
        found = self.pattern.fullmatch(text)
        if found is None:
            return None
        numbers = sorted({int(m.group(1)) for m in PLACEHOLDER.finditer(self.text)})
        return tuple(found.group(f"p{n}") for n in numbers)


@dataclass(frozen=True)
class App:
    """A legacy application: SDK AppID and its AppKey."""

    appid: str
    appkey: str


@dataclass(frozen=True)
class Credential:
    """An API 3.0 key pair, the SmsSdkAppIds it may use and (role credentials) its session token."""

    secret_id: str
    secret_key: str
    sdk_app_ids: tuple[str, ...]
    session_token: str = ""


@dataclass(frozen=True)
class FrequencyLimits:
    """Per-number caps (messages per window); None switches a cap off. All off by default."""

    thirty_seconds: int | None = None
    one_hour: int | None = None
    one_day: int | None = None  # natural day, Beijing time

    @property
    def enabled(self) -> bool:
        return any(v is not None for v in (self.thirty_seconds, self.one_hour, self.one_day))


@dataclass(frozen=True)
class Catalogue:
    """Everything the emulator accepts. Immutable; build variants with `dataclasses.replace`."""

    apps: tuple[App, ...]
    credentials: tuple[Credential, ...]
    signs: frozenset[str]
    templates: Mapping[str, Template]
    max_param_length: int = DEFAULT_MAX_PARAM_LENGTH
    frequency_limits: FrequencyLimits = field(default_factory=FrequencyLimits)

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> Catalogue:
        """The seed's example account, with credentials from `env` (default: the process environment)."""
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        appid = get("TENCENT_SMS_APPID", DEFAULT_APPID)
        sdk_app_id = get("TENCENT_SMS_SDKAPPID", appid)
        credential = Credential(
            secret_id=get("TENCENTCLOUD_SECRETID", DEFAULT_SECRET_ID),
            secret_key=get("TENCENTCLOUD_SECRETKEY", DEFAULT_SECRET_KEY),
            sdk_app_ids=(sdk_app_id,),
            session_token=get("TENCENTCLOUD_SESSIONTOKEN", ""),
        )
        return cls(
            apps=(App(appid, get("TENCENT_SMS_APPKEY", DEFAULT_APPKEY)),),
            credentials=(credential,),
            signs=frozenset({DEFAULT_SIGN}),
            templates=_index(default_templates()),
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Catalogue:
        """`default(env)` with the sections present in the JSON file at `path` replaced."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.default(env).updated(data)

    def updated(self, data: Mapping[str, Any]) -> Catalogue:
        """A copy with the sections present in `data` (the JSON file format) replaced."""
        if not isinstance(data, Mapping):
            raise ValueError("a catalogue file holds a JSON object")
        changes: dict[str, Any] = {}
        if "apps" in data:
            changes["apps"] = tuple(App(str(a["appid"]), str(a["appkey"])) for a in data["apps"])
        if "credentials" in data:
            changes["credentials"] = tuple(
                Credential(
                    secret_id=str(c["secret_id"]),
                    secret_key=str(c["secret_key"]),
                    sdk_app_ids=tuple(str(i) for i in c.get("sdk_app_ids", ())),
                    session_token=str(c.get("session_token", "")),
                )
                for c in data["credentials"]
            )
        if "signs" in data:
            changes["signs"] = frozenset(str(s) for s in data["signs"])
        if "templates" in data:
            changes["templates"] = _index(_parse_templates(data["templates"]))
        if "max_param_length" in data:
            changes["max_param_length"] = int(data["max_param_length"])
        if "frequency_limits" in data:
            changes["frequency_limits"] = FrequencyLimits(**dict(data["frequency_limits"]))
        return replace(self, **changes)

    # ------------------------------------------------------------------ look-ups

    def app(self, appid: str) -> App | None:
        return next((a for a in self.apps if a.appid == appid), None)

    def credential(self, secret_id: str) -> Credential | None:
        return next((c for c in self.credentials if c.secret_id == secret_id), None)

    @property
    def sdk_app_ids(self) -> frozenset[str]:
        """Every application id that exists (legacy apps and those named by API 3.0 keys)."""
        ids = {a.appid for a in self.apps}
        for credential in self.credentials:
            ids.update(credential.sdk_app_ids)
        return frozenset(ids)

    @property
    def default_app_id(self) -> str:
        if self.apps:
            return self.apps[0].appid
        return next(iter(sorted(self.sdk_app_ids)), DEFAULT_APPID)

    @property
    def default_sign(self) -> str:
        return DEFAULT_SIGN if DEFAULT_SIGN in self.signs else next(iter(sorted(self.signs)), "")

    def match_content(self, text: str, *, international: bool) -> tuple[Template, tuple[str, ...]] | None:
        """The template (of the right region class) and parameters a plain-content text renders."""
        for template in self.templates.values():
            if not template.serves(mainland=not international) or template.status != 0:
                continue
            params = template.match(text)
            if params is not None:
                return template, params
        return None

    def uses_default_secret(self, value: str) -> bool:
        """Whether a secret is one of the built-in (public, non-secret) defaults."""
        return value in (DEFAULT_APPKEY, DEFAULT_SECRET_KEY)


def default_templates() -> list[Template]:
    """The seed's template 7839 (one parameter, a verification code) and a few companions."""
    return [
        Template("7839", "{1}为您的登录验证码，请于5分钟内填写。如非本人操作，请忽略本短信。"),
        Template("7840", "您的验证码是{1}，{2}分钟内有效。"),
        Template("7841", "Your verification code is {1}.", international=True),
        Template("7842", "您的订单{1}已发货，请注意查收。", status=1, name="shipping (in review)"),
        Template(
            "7843",
            "恭喜获得{1}元优惠券，点击领取！",
            status=-1,
            name="coupon (rejected)",
            review_reply="营销短信须带退订方式（拒收请回复R）",
        ),
        Template("7850", "【会员日】{1}全场5折，拒收请回复R"),  # marketing, with Tencent's refusal phrase
        Template("7851", "Members' day: {1} at half price. Reply STOP to opt out", international=True),
        Template("7852", "Code {1}", both=True),
    ]


def _parse_templates(raw: Any) -> list[Template]:
    if isinstance(raw, Mapping):
        items: Iterable[Any] = (
            {"id": key, "text": value} if isinstance(value, str) else {"id": key, **value}
            for key, value in raw.items()
        )
    elif isinstance(raw, list):
        items = raw
    else:
        raise ValueError("templates must be a list or an object keyed by template id")
    templates = []
    for t in items:
        region = t.get("international", False)  # false/0, true/1, or 3 / "both" (Tencent's International)
        both = region in (3, "3", "both")
        templates.append(
            Template(
                str(t["id"]),
                str(t["text"]),
                international=bool(region) and not both,
                both=both,
                status=int(t.get("status", 0)),
                name=str(t.get("name", "")),
                review_reply=str(t.get("review_reply", "")),
                created=int(t.get("created", 0)),
            )
        )
    return templates


def _index(templates: Iterable[Template]) -> dict[str, Template]:
    return {t.id: t for t in templates}
