"""The OpenAPI 3.1 document of the staff API, generated from the route table (``GET /api/v1/openapi.json``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from hub.web.api_v1.schemas import SCHEMAS, ref
from hub.web.api_v1.spec import Endpoint

TITLE = "Rexian staff API"
VERSION = "1"
ERROR_TEXT = {
    400: "Invalid parameter or body",
    401: "No valid bearer token or session (invalid_token, login_required)",
    403: "The caller's role may not do this (or the CSRF token of a session is missing)",
    404: "Not found, or not visible to the caller",
    409: "Conflict with the current state",
    422: "The request was understood but refused (validation)",
    503: "The service is not configured",
}
DESCRIPTION = (
    "JSON API of the hotline hub for staff tools. Authenticate with a personal access token "
    "(`rexian user token create USERNAME`) sent as `Authorization: Bearer rxn_...`; the pages' session cookie "
    "also works (then unsafe methods need the `X-CSRF-Token` header). Roles and unit scoping are those of the "
    "pages: a department sees only its own units' orders. Lists are `{items, total, page, per_page}`, errors "
    "`{error, message}`, times ISO 8601 with the city's offset."
)


def _error(status: int) -> dict[str, Any]:
    return {"description": ERROR_TEXT[status], "content": {"application/json": {"schema": ref("Error")}}}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    roles = sorted(r.value for r in endpoint.roles) if endpoint.roles is not None else []
    description = endpoint.description
    if endpoint.roles is not None:
        description = (description + "\n\n" if description else "") + "Roles: " + ", ".join(roles) + "."
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": {
            str(endpoint.status): {"description": "No content"}
            if endpoint.status == 204
            else {
                "description": "OK" if endpoint.status == 200 else "Created",
                "content": {"application/json": {"schema": ref(endpoint.response)}},
            }
        },
    }
    if description:
        operation["description"] = description
    if endpoint.params:
        operation["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required,
                "description": p.description,
                "schema": p.schema,
                **({"style": "form", "explode": False} if p.schema.get("type") == "array" else {}),
            }
            for p in endpoint.params
        ]
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.method == "POST" and endpoint.body not in ("ActionParams", "CloseParams"),
            "content": {"application/json": {"schema": ref(endpoint.body)}},
        }
    errors = set(endpoint.errors)
    if endpoint.roles is None:
        operation["security"] = []
    else:
        errors |= {401, 403}
    for status in sorted(errors):
        operation["responses"][str(status)] = _error(status)
    if roles:
        operation["x-roles"] = roles
    return operation


def path_params(path: str) -> list[str]:
    """The ``{name}`` segments of a path template."""
    return re.findall(r"{(\w+)}", path)


def document(endpoints: Iterable[Endpoint], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document of ``endpoints`` (``schemas``: component schemas added by other packages)."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **(schemas or {})},
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal access token (rxn_...): rexian user token create USERNAME",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "rexian_session"},
            },
        },
    }
