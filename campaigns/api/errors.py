"""One error shape for every refusal: {"error": {"code", "message", "fields"}}, and the
services' typed errors turned into their HTTP status (403 naming the permission, 409 for a
state conflict, 429 with Retry-After, 502 for ITNIO's own failures)."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from campaigns.services.actors import PermissionDeniedError
from itnio_portal.itnio import ItnioError


class Conflict(exceptions.APIException):
    """The object's state does not allow it (a launched campaign edited, a key in flight)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"


class Refused(exceptions.APIException):
    """A service refused what was asked for a reason the caller can fix (shown as is)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


class ItnioFailed(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "itnio_error"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any):
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(d, dict | list) for d in detail):
            return [str(d) for d in detail]
        return [_flatten(d) for d in detail]
    return [str(detail)]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, PermissionDeniedError):
        exc = exceptions.PermissionDenied(str(exc))
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, ItnioError):
        exc = ItnioFailed(str(exc))
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 (logged), never a message made from it
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = error_body("invalid", _("Some fields are not valid."), _flatten(detail))
    else:
        if isinstance(exc, exceptions.Throttled):
            wait = math.ceil(exc.wait or 1)
            headers["Retry-After"] = str(wait)
            extra["retry_after"] = wait
            message = _("Too many requests: try again in %(seconds)s s.") % {"seconds": wait}
        else:
            message = str(exc.detail)
        permission = getattr(exc, "permission", None)
        if permission:
            extra["permission"] = permission
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = error_body(code, message, **extra)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = "Token"
    return Response(body, status=exc.status_code, headers=headers)


def api_not_found(request: Any, *args: Any, **kwargs: Any) -> Any:
    """Any other path under /api/v1/: a 404 in the API's shape (not the admin's HTML page)."""
    from django.http import JsonResponse

    return JsonResponse(
        error_body(
            "not_found",
            _("No such endpoint: the paths end with a slash; see /api/v1/docs/."),
        ),
        status=404,
    )
