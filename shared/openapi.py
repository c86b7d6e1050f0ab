"""The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`.

Built only when that route is asked for. The request schemas mirror `shared.validation`, which
stays the authority (it also checks what a schema cannot: number validity, countries, templates).
"""

from __future__ import annotations

from typing import Any

from shared.payloads import MAX_PULL
from shared.validation import MAX_CONTENT, MAX_PARAMS, MAX_SESSION_CONTEXT_BYTES

_ERROR = {"$ref": "#/components/schemas/Error"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_PARAMS = {"type": "array", "maxItems": MAX_PARAMS, "items": {"type": "string", "minLength": 1}}
_MESSAGE = {
    "template_id": {
        "description": "one template for every number, or one per region (Tencent sends mainland templates "
        "to +86 numbers only and international ones to all others); default TENCENT_SMS_TEMPLATE_ID / "
        "TENCENT_SMS_TEMPLATE_ID_INTERNATIONAL",
        "oneOf": [
            {"type": "string", "pattern": "^[0-9]{1,20}$", "examples": ["7839"]},
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "mainland": {"type": "string", "pattern": "^[0-9]{1,20}$", "examples": ["7839"]},
                    "international": {"type": "string", "pattern": "^[0-9]{1,20}$", "examples": ["7841"]},
                },
            },
        ],
    },
    "params": _PARAMS,
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
_PHONE = {"type": "string", "examples": ["+8613800000000"], "description": "E.164"}

_SCHEMAS: dict[str, Any] = {
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
    "SendRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "phone": _PHONE,
            "nationcode": {"type": "string", "examples": ["86"]},
            "mobile": {"type": "string", "examples": ["13800000000"]},
            **_MESSAGE,
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
    "SendMultiRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["phones"],
        "properties": {"phones": {"type": "array", "minItems": 1, "items": {"type": "string"}}, **_MESSAGE},
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
    "PullRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": ["receipts", "replies"], "default": "receipts"},
            "max": {"type": "integer", "minimum": 1, "maximum": MAX_PULL, "default": MAX_PULL},
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
    "OtpSendRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["phone"],
        "properties": {
            "phone": _PHONE,
            "purpose": {"type": "string", "default": "login"},
            "length": {"type": "integer", "minimum": 4, "maximum": 8},
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
    "OtpVerifyRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["phone", "code"],
        "properties": {
            "phone": _PHONE,
            "code": {"type": "string", "pattern": "^[0-9]{4,8}$"},
            "purpose": {"type": "string", "default": "login"},
            "id": {"type": "string"},
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


def _op(
    summary: str,
    ok: str | None,
    request: str | None = None,
    *,
    auth: bool = True,
    params: list[dict[str, Any]] | None = None,
    codes: tuple[int, ...] = (400, 401, 429, 502, 503, 504),
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK"}}
    if ok:
        responses["200"]["content"] = {"application/json": {"schema": _ref(ok)}}
    for code in codes:
        responses[str(code)] = {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if request:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(request)}}}
    if params:
        op["parameters"] = params
    if not auth:
        op["security"] = []
    return op


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def openapi_document() -> dict[str, Any]:
    """The whole API, every route of every function."""
    idempotency = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 128},
        "description": "a retried request with the same key is answered once",
    }
    token = _query("token", {"type": "string"}, "the callback secret (SMS_CALLBACK_TOKEN), given once")
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
        "paths": {
            "/sms/send": {
                "post": _op(
                    "Send one templated (or plain-content) SMS",
                    "SendResult",
                    "SendRequest",
                    params=[idempotency],
                )
            },
            "/sms/send-multi": {
                "post": _op(
                    "Send one message to many numbers (chunked to ≤200 per call)",
                    "SendMultiResult",
                    "SendMultiRequest",
                    params=[idempotency],
                )
            },
            "/sms/preview": {
                "post": _op(
                    "What a send would show, bill and meet, sending nothing",
                    "PreviewResult",
                    "PreviewRequest",
                    codes=(400, 401, 503),
                )
            },
            "/sms/templates": {
                "get": _op("Tencent's template catalogue as last synced", "TemplateList", codes=(401, 503))
            },
            "/sms/templates/sync": {
                "post": _op(
                    "Read the template catalogue from Tencent into the store (API 3.0 only)",
                    "TemplateSyncResult",
                    codes=(401, 501, 502, 503, 504),
                )
            },
            "/sms/pull": {
                "post": _op("Pull delivery receipts or replies into the store", "PullResult", "PullRequest")
            },
            "/sms/status/{phone}": {
                "get": _op(
                    "One number's receipts or replies, read through to Tencent (limited per caller; "
                    "an answer is reused for SMS_STATUS_CACHE_TTL seconds, default 10)",
                    "PullResult",
                    params=[
                        {"name": "phone", "in": "path", "required": True, "schema": _PHONE},
                        _query("kind", {"type": "string", "enum": ["receipts", "replies"]}),
                        _query("begin", {"type": "integer"}, "unix seconds (default: 24 h before end)"),
                        _query("end", {"type": "integer"}, "unix seconds (default: now)"),
                        _query("max", {"type": "integer", "minimum": 1, "maximum": MAX_PULL}),
                    ],
                )
            },
            "/sms/messages/{message_id}": {
                "get": _op(
                    "A stored message with its latest receipt",
                    "Message",
                    params=[
                        {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    codes=(401, 404, 503),
                )
            },
            "/sms/suppressions": {
                "get": _op(
                    "Numbers that opted out (replied R, TD, 退订, STOP…), in phone order",
                    "SuppressionList",
                    params=[
                        _query("after", _PHONE, "the previous page's `next`"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                    ],
                    codes=(400, 401, 503),
                )
            },
            "/sms/suppressions/{phone}": {
                "get": _op(
                    "A number's latest opt-out or opt-in",
                    "Suppression",
                    params=[{"name": "phone", "in": "path", "required": True, "schema": _PHONE}],
                    codes=(400, 401, 404, 503),
                ),
                "put": _op(
                    "Put a number on the suppression list (marketing sends skip it)",
                    "Suppression",
                    params=[{"name": "phone", "in": "path", "required": True, "schema": _PHONE}],
                    codes=(400, 401, 503),
                ),
                "delete": _op(
                    "Take a number off the suppression list",
                    "Suppression",
                    params=[{"name": "phone", "in": "path", "required": True, "schema": _PHONE}],
                    codes=(400, 401, 503),
                ),
            },
            "/sms/messages": {
                "get": _op(
                    "One number's messages (or one message) with every receipt and the number's replies;"
                    " numbers masked unless reveal=1",
                    "MessageHistory",
                    params=[
                        _query("phone", _PHONE, "E.164; give phone or message_id"),
                        _query("message_id", {"type": "string", "maxLength": 128}),
                        _query("reveal", {"type": "string", "enum": ["0", "1"]}, "1: show numbers unmasked"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 20}),
                    ],
                    codes=(400, 401, 404, 503),
                )
            },
            "/sms/stats": {
                "get": _op(
                    "Delivery statistics from the store (default: the last 24 h by hour)",
                    "Stats",
                    params=[
                        _query("from", {"type": "integer"}, "unix seconds (widened to the hour)"),
                        _query("to", {"type": "integer"}, "unix seconds (widened to the hour)"),
                        _query(
                            "group_by",
                            {
                                "type": "string",
                                "enum": ["hour", "day", "template", "country", "status", "caller"],
                            },
                        ),
                    ],
                    codes=(400, 401, 503),
                )
            },
            "/sms/stats/tencent": {
                "get": _op(
                    "Tencent's own send and receipt statistics for the same hours (at most 32 days)",
                    "TencentStats",
                    params=[_query("from", {"type": "integer"}), _query("to", {"type": "integer"})],
                    codes=(400, 401, 502, 503, 504),
                )
            },
            "/dashboard": {
                "get": {
                    "summary": "The dashboard page (HTML; it asks for the key and calls the routes above)",
                    "security": [],
                    "responses": {"200": {"description": "OK", "content": {"text/html": {}}}},
                }
            },
            "/sms/callback/receipts": {
                "post": _op(
                    "Tencent's delivery-report push",
                    "CallbackAnswer",
                    auth=False,
                    params=[token],
                    codes=(400, 401, 413, 503),
                )
            },
            "/sms/callback/replies": {
                "post": _op(
                    "Tencent's reply push",
                    "CallbackAnswer",
                    auth=False,
                    params=[token],
                    codes=(400, 401, 413, 503),
                )
            },
            "/otp/send": {
                "post": _op(
                    "Send a one-time code",
                    "OtpSendResult",
                    "OtpSendRequest",
                    codes=(400, 401, 403, 429, 500, 502, 503, 504),
                )
            },
            "/otp/verify": {
                "post": _op(
                    "Check a one-time code",
                    "OtpVerifyResult",
                    "OtpVerifyRequest",
                    codes=(400, 401, 403, 404, 409, 410, 423, 429, 503),
                )
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OK"}},
                }
            },
        },
    }
