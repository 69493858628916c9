"""The OpenAPI schema's shared parts: the one error shape, and the refusals every operation may
answer with (drf-spectacular post-processing hook, settings.SPECTACULAR_SETTINGS)."""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "example": "permission_denied"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "400: the messages of each field",
                },
                "permission": {"type": "string", "description": "403: the one missing"},
                "retry_after": {"type": "integer", "description": "429: seconds"},
            },
        }
    },
}
REFUSALS = {
    "400": "Bad input: a message per field (fields)",
    "401": "No token, or an invalid, expired or revoked one",
    "403": "The token's user lacks the permission named in `permission`",
    "404": "No such object",
    "409": "The object's state does not allow it (or the launch token no longer fits the plan)",
    "429": "Too many requests: see the Retry-After header",
}
KEY_REUSED = "The Idempotency-Key was used for another request"
CONFLICTS = ("/launch/", "/pause/", "/resume/", "/cancel/", "/start/", "/calls/tts/")


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if path.endswith(("/schema/", "/docs/")):
            continue
        for method, operation in operations.items():
            wanted = ["401", "403", "429"]
            if method in ("post", "patch", "put") or ("{id}" not in path and method == "get"):
                wanted.append("400")
            if "{id}" in path:
                wanted.append("404")
            if method == "patch" or path.endswith(CONFLICTS):
                wanted.append("409")
            if path.endswith("/calls/tts/"):
                operation["responses"].setdefault(
                    "422", {"description": KEY_REUSED, "content": ref}
                )
            for status in wanted:
                operation["responses"].setdefault(
                    status, {"description": REFUSALS[status], "content": ref}
                )
    return result
