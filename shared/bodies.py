"""The JSON request bodies of the API, declared once: each field's JSON Schema, and which fields a
body needs. Validation takes its field lists from here (`only_fields(body, SEND.names)`) and the
OpenAPI document its request schemas, so neither can list a field the other refuses.

The schemas describe shape; `shared.validation` stays the authority for what a schema cannot say
(number validity, allowed countries, templates, control characters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from shared.payloads import MAX_PULL

MAX_PARAMS = 20
MAX_CONTENT = 500
MAX_SESSION_CONTEXT_BYTES = 511

Schema = dict[str, Any]


class Body(NamedTuple):
    """A request body: its fields (name → JSON Schema) and the sets of fields one of which it needs
    (e.g. `phone`, or `mobile` with a default `nationcode`)."""

    fields: Mapping[str, Schema]
    needs: tuple[tuple[str, ...], ...] = ()

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.fields)

    def schema(self) -> Schema:
        """The OpenAPI / JSON Schema of the body: these fields and no others."""
        schema: Schema = {"type": "object", "additionalProperties": False, "properties": dict(self.fields)}
        if len(self.needs) == 1:
            schema["required"] = list(self.needs[0])
        elif self.needs:
            schema["anyOf"] = [{"required": list(fields)} for fields in self.needs]
        return schema


_TEMPLATE_ID = {"type": "string", "pattern": "^[0-9]{1,20}$", "examples": ["7839"]}
PHONE: Schema = {"type": "string", "examples": ["+8613800000000"], "description": "E.164"}
_ONE_NUMBER: dict[str, Schema] = {
    "phone": PHONE,
    "nationcode": {"type": "string", "examples": ["86"], "description": "with mobile; default 86"},
    "mobile": {"type": "string", "examples": ["13800000000"], "description": "instead of phone"},
}
_ONE_NUMBER_NEEDS = (("phone",), ("mobile",))
_IDEMPOTENCY_KEY: Schema = {
    "type": "string",
    "maxLength": 128,
    "description": "as the Idempotency-Key header: a retried request with the same key is answered once",
}

MESSAGE: dict[str, Schema] = {
    "template_id": {
        "description": "one template for every number, or one per region (Tencent sends mainland templates "
        "to +86 numbers only and international ones to all others); default TENCENT_SMS_TEMPLATE_ID / "
        "TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL",
        "oneOf": [
            _TEMPLATE_ID,
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "mainland": _TEMPLATE_ID,
                    "international": {**_TEMPLATE_ID, "examples": ["7841"]},
                },
            },
        ],
    },
    "params": {"type": "array", "maxItems": MAX_PARAMS, "items": {"type": "string", "minLength": 1}},
    "sign": {"type": "string", "minLength": 2, "maxLength": 20, "examples": ["腾讯云"]},
    "extend": {"type": "string", "pattern": "^[0-9]{0,12}$"},
    "ext": {
        "type": "string",
        "maxLength": MAX_SESSION_CONTEXT_BYTES,
        "description": "echoed back (SessionContext)",
    },
    "content": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_CONTENT,
        "description": "plain-content send (legacy API only), instead of template_id + params",
    },
    "type": {"type": "integer", "enum": [0, 1], "description": "with content: 0 notification, 1 marketing"},
}

SEND = Body({**_ONE_NUMBER, **MESSAGE, "idempotency_key": _IDEMPOTENCY_KEY}, _ONE_NUMBER_NEEDS)
SEND_MULTI = Body(
    {
        "phones": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        **MESSAGE,
        "idempotency_key": _IDEMPOTENCY_KEY,
    },
    (("phones",),),
)
PULL = Body(
    {
        "kind": {"type": "string", "enum": ["receipts", "replies"], "default": "receipts"},
        "max": {"type": "integer", "minimum": 1, "maximum": MAX_PULL, "default": MAX_PULL},
    }
)
_PURPOSE: Schema = {"type": "string", "default": "login"}
OTP_SEND = Body(
    {**_ONE_NUMBER, "purpose": _PURPOSE, "length": {"type": "integer", "minimum": 4, "maximum": 8}},
    _ONE_NUMBER_NEEDS,
)
OTP_VERIFY = Body(
    {
        **_ONE_NUMBER,
        "code": {"type": "string", "pattern": "^[0-9]{4,8}$"},
        "purpose": _PURPOSE,
        "id": {"type": "string"},
    },
    (("phone", "code"), ("mobile", "code")),
)

# OpenAPI schema name → body (the names shared.routes gives as a route's `request`).
BODIES: dict[str, Body] = {
    "SendRequest": SEND,
    "SendMultiRequest": SEND_MULTI,
    "PullRequest": PULL,
    "OtpSendRequest": OTP_SEND,
    "OtpVerifyRequest": OTP_VERIFY,
}
