"""API errors as the real server words them, rendered as metav1.Status bodies.

Clients branch on ``reason`` and ``code`` (kubectl prints ``Error from server
(NotFound): ...``; the official client raises ApiException with the body), so both
must match upstream exactly.
"""

from __future__ import annotations

from typing import Any

from conformance.sim.api.kinds import Kind


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_MEDIA_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"


def _details(kind: Kind, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind.plural}
    if kind.group:
        details["group"] = kind.group
    return details


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{kind.resource_name} "{name}" not found', details=_details(kind, name)
    )


def already_exists(kind: Kind, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{kind.resource_name} "{name}" already exists',
        details=_details(kind, name),
    )


def conflict(kind: Kind, name: str, why: str | None = None) -> ApiError:
    why = why or _MODIFIED
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind.resource_name} "{name}": {why}',
        details=_details(kind, name),
    )


def invalid(kind: Kind, name: str, causes: list[dict[str, str]], message: str) -> ApiError:
    details = _details(kind, name)
    details["kind"] = kind.kind
    details["causes"] = causes
    return ApiError(422, "Invalid", message, details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(kind: Kind, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{kind.resource_name} "{name}" is forbidden: {why}',
        details=_details(kind, name),
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f'{_MEDIA_TYPES} (got "{content_type}")',
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")
