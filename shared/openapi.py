"""The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`.

Built only when that route is asked for, from the declared routes (`shared.routes`) and request
bodies (`shared.bodies`, whose field lists validation uses too).
"""

from __future__ import annotations

from typing import Any

from shared import routes
from shared.bodies import BODIES, PHONE
from shared.payloads import MAX_PULL
from shared.routes import Declared

_ERROR = {"$ref": "#/components/schemas/Error"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_PHONE = PHONE

_SCHEMAS: dict[str, Any] = {
    **{name: body.schema() for name, body in BODIES.items()},
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "tencent_code": {"type": "string"},
                    "tencent_message": {"type": "string"},
                    "retry_after": {"type": "integer"},
                    "phones": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    },
    "SendResult": {
        "type": "object",
        "required": ["message_id", "phone", "status", "fee", "code", "message"],
        "properties": {
            "message_id": {"type": "string"},
            "phone": _PHONE,
            "status": {
                "type": "string",
                "enum": ["submitted", "failed", "unknown", "rate_limited", "suppressed"],
                "description": "rate_limited: a limit held the number back; suppressed: the number opted out "
                "of marketing. Neither was sent, no fee",
            },
            "fee": {"type": "integer"},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "error": {"type": "object"},
            "limit": {"type": "string", "description": "rate_limited: the limit that held the number back"},
            "retry_after": {"type": "integer", "description": "rate_limited: seconds until it has room"},
        },
    },
    "SendMultiResult": {
        "type": "object",
        "required": ["results", "submitted", "failed"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/SendResult"}},
            "submitted": {"type": "integer"},
            "failed": {"type": "integer"},
            "unknown": {"type": "integer"},
            "rate_limited": {"type": "integer", "description": "numbers a rate limit held back (unsent)"},
            "suppressed": {"type": "integer"},
            "duplicates_removed": {"type": "array", "items": {"type": "string"}},
        },
    },
    "PullResult": {
        "type": "object",
        "required": ["items", "stored"],
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "stored": {"type": "integer"},
            "pulled": {"type": "integer"},
            "dead_lettered": {"type": "integer"},
            "raw_dead_lettered": {"type": "integer"},
            "cached": {
                "type": "boolean",
                "description": "per-number reads: a recent answer for the same number and window, reused",
            },
        },
    },
    "Stats": {
        "type": "object",
        "description": "docs/dashboard.md: totals and groups, each with sent, delivered, failed, pending,"
        " unknown, delivery_rate, fee, latency_p50_s, latency_p95_s, latency_histogram, top_failures",
        "properties": {
            "from": {"type": "integer"},
            "to": {"type": "integer"},
            "group_by": {"type": "string"},
            "as_of": {"type": "integer"},
            "latency_buckets_s": {"type": "array", "items": {"type": "integer"}},
            "totals": {"type": "object"},
            "groups": {"type": "array", "items": {"type": "object"}},
        },
    },
    "TencentStats": {
        "type": "object",
        "properties": {
            "from": {"type": "integer"},
            "to": {"type": "integer"},
            "api": {"type": "string"},
            "send": {"type": "object"},
            "callback": {"type": "object"},
            "as_of": {"type": "integer"},
        },
    },
    "MessageHistory": {
        "type": "object",
        "properties": {
            "phone": {"type": "string"},
            "revealed": {"type": "boolean"},
            "messages": {"type": "array", "items": {"type": "object"}},
            "replies": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Message": {
        "type": "object",
        "properties": {
            "message_id": {"type": "string"},
            "phone": _PHONE,
            "status": {"type": "string"},
            "template_id": {"type": "string"},
            "fee": {"type": "integer"},
            "created_at": {"type": "integer"},
            "latest_receipt": {"type": ["object", "null"]},
            "status_reason": {"type": "string"},
        },
    },
    "CallbackAnswer": {
        "type": "object",
        "properties": {"result": {"type": "integer"}, "errmsg": {"type": "string"}},
    },
    "Suppression": {
        "type": "object",
        "properties": {
            "phone": _PHONE,
            "suppressed": {"type": "boolean", "description": "false: opted in again (or taken off)"},
            "changed_at": {"type": "integer", "description": "unix seconds of the reply (or the change)"},
            "sign": {"type": "string"},
            "keyword": {"type": "string", "description": "the reply, case-folded; empty for an operator"},
            "source": {"type": "string", "enum": ["pull", "callback", "phone_pull", "api"]},
        },
    },
    "SuppressionList": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Suppression"}},
            "next": {"type": ["string", "null"], "description": "pass as `after` for the next page"},
        },
    },
    "OtpSendResult": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "expires_in": {"type": "integer"},
            "resend_after": {"type": "integer"},
        },
    },
    "OtpVerifyResult": {"type": "object", "properties": {"verified": {"type": "boolean"}}},
}


_SCHEMAS.update(
    {
        "PreviewRequest": {
            "description": "the body of POST /sms/send or POST /sms/send-multi",
            "oneOf": [_ref("SendRequest"), _ref("SendMultiRequest")],
        },
        "PreviewNumber": {
            "type": "object",
            "properties": {
                "field": {"type": "string"},
                "phone": {"type": ["string", "null"]},
                "region": {"type": "string"},
                "region_class": {"type": "string", "enum": ["mainland", "international"]},
                "encoding": {"type": "string", "enum": ["GSM-7", "UCS-2"]},
                "counted_length": {"type": "integer"},
                "parts": {"type": "integer"},
                "fee": {"type": "integer", "description": "billed parts if sent; 0 when refused"},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "code": {
                                "type": "string",
                                "description": "invalid, duplicate, not_allowed, template_region_mismatch, "
                                "suppressed, rate_limited, …",
                            },
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
        "PreviewResult": {
            "type": "object",
            "properties": {
                "text": {"type": ["string", "null"], "description": "as the handset shows it: 【sign】text"},
                "length": {"type": ["integer", "null"]},
                "template_id": {"type": ["string", "null"]},
                "sign": {"type": ["string", "null"]},
                "regions": {
                    "type": "object",
                    "description": "mainland / international: encoding, parts, fee",
                },
                "numbers": {"type": "array", "items": _ref("PreviewNumber")},
                "sendable": {"type": "integer"},
                "refused": {"type": "integer"},
                "fee_total": {"type": ["integer", "null"]},
                "problems": {"type": "array", "description": "caller-wide limits that would refuse the send"},
            },
        },
        "Template": {
            "type": "object",
            "properties": {
                "template_id": {"type": "string"},
                "international": {"type": "integer", "enum": [0, 1, 3]},
                "status": {"type": "integer", "enum": [0, 1, 2, -1]},
                "status_name": {"type": "string"},
                "name": {"type": "string"},
                "text": {"type": "string"},
                "params": {"type": "integer"},
                "review_reply": {"type": "string"},
                "created_at": {"type": "integer"},
                "synced_at": {"type": "integer"},
            },
        },
        "TemplateList": {
            "type": "object",
            "properties": {
                "templates": {"type": "array", "items": _ref("Template")},
                "synced_at": {"type": ["integer", "null"]},
                "overrides": {"type": "object", "description": "SMS_TEMPLATES"},
            },
        },
        "TemplateSyncResult": {
            "type": "object",
            "properties": {
                "synced": {"type": "integer"},
                "live": {"type": "integer"},
                "synced_at": {"type": "integer"},
            },
        },
    }
)


def _op(route: Declared) -> dict[str, Any]:
    """One operation of the document, from its declaration plus its parameters here."""
    if route.page:
        return {
            "summary": route.summary,
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"text/html": {}}}},
        }
    responses: dict[str, Any] = {"200": {"description": "OK"}}
    if route.answer:
        responses["200"]["content"] = {"application/json": {"schema": _ref(route.answer)}}
    for code in route.errors:
        responses[str(code)] = {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
    op: dict[str, Any] = {"summary": route.summary, "responses": responses}
    if route.request:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.request)}},
        }
    path_params = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_SCHEMAS.get(name, {"type": "string"})}
        for name in route.params
    ]
    params = [*path_params, *PARAMETERS.get(route.key, [])]
    if params:
        op["parameters"] = params
    if route.public:
        op["security"] = []
    return op


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "phone": _PHONE,
    "kind": {"type": "string", "enum": ["receipts", "replies"]},
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 128},
    "description": "a retried request with the same key is answered once",
}
_PHONE_PAGE = [
    _query("after", _PHONE, "the previous page's `next`"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
]
# Query and header parameters of the declared routes (keys of `shared.routes.BY_KEY`); path
# parameters come from the declared paths.
PARAMETERS: dict[str, list[dict[str, Any]]] = {
    "POST /sms/send": [_IDEMPOTENCY],
    "POST /sms/send-multi": [_IDEMPOTENCY],
    "GET /sms/status/{phone}": [
        _query("kind", {"type": "string", "enum": ["receipts", "replies"]}),
        _query("begin", {"type": "integer"}, "unix seconds (default: 24 h before end)"),
        _query("end", {"type": "integer"}, "unix seconds (default: now)"),
        _query("max", {"type": "integer", "minimum": 1, "maximum": MAX_PULL}),
    ],
    "GET /sms/suppressions": _PHONE_PAGE,
    "GET /sms/messages": [
        _query("phone", _PHONE, "E.164; give phone or message_id"),
        _query("message_id", {"type": "string", "maxLength": 128}),
        _query("reveal", {"type": "string", "enum": ["0", "1"]}, "1: show numbers unmasked"),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 20}),
    ],
    "GET /sms/stats": [
        _query("from", {"type": "integer"}, "unix seconds (widened to the hour)"),
        _query("to", {"type": "integer"}, "unix seconds (widened to the hour)"),
        _query(
            "group_by",
            {"type": "string", "enum": ["hour", "day", "template", "country", "status", "caller"]},
        ),
    ],
    "GET /sms/stats/tencent": [_query("from", {"type": "integer"}), _query("to", {"type": "integer"})],
    "POST /sms/callback/{kind}": [
        _query("token", {"type": "string"}, "the callback secret (SMS_CALLBACK_TOKEN), given once")
    ],
}


def openapi_document() -> dict[str, Any]:
    """The whole API: every route of `shared.routes.TABLE`, whichever function serves it."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes.TABLE:
        paths.setdefault(route.path, {})[route.method.lower()] = _op(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sms-functions",
            "version": "1.0.0",
            "description": "Send SMS through Tencent Cloud SMS and track every message.",
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": paths,
    }
