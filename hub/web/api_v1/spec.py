"""The staff API's route table types: one :class:`Endpoint` per operation, with its parameters, roles and schemas.

The same table mounts the routes (:func:`hub.web.api_v1.routes.setup`), checks the query and path parameters
(:func:`parse_args`) and generates the OpenAPI document (:mod:`hub.web.api_v1.openapi`), so what is documented is
what runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from hub.models import Role
from hub.web.api_v1.common import DEFAULT_PER_PAGE, MAX_PER_PAGE, ApiError

ApiHandler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Param:
    """A query or path parameter; ``schema`` is its JSON Schema (type string/integer/boolean/array)."""

    name: str
    schema: dict[str, Any]
    description: str
    where: str = "query"  # "query" | "path"

    @property
    def required(self) -> bool:
        """Path parameters always are; query parameters never."""
        return self.where == "path"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One operation of the API."""

    method: str
    path: str  # an aiohttp path that is also an OpenAPI path template: ``/api/v1/work-orders/{number}``
    handler: ApiHandler
    summary: str
    tag: str
    roles: frozenset[Role] | None  # None: public (the OpenAPI document)
    response: str  # component schema of the success body
    status: int = 200
    params: tuple[Param, ...] = ()
    body: str | None = None  # component schema of the JSON request body
    errors: tuple[int, ...] = ()  # error statuses besides 401/403 (which every protected operation may answer)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        """The handler's name: unique in the table."""
        return self.handler.__name__.lstrip("_")


def _bad(param: Param, value: str) -> ApiError:
    if param.where == "path":
        return ApiError(404, "not_found")
    return ApiError(400, "invalid_parameter", parameter=param.name, value=value[:100])


def _scalar(param: Param, schema: dict[str, Any], raw: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        try:
            number = int(raw)
        except ValueError:
            raise _bad(param, raw) from None
        if number < schema.get("minimum", number) or number > schema.get("maximum", number):
            raise _bad(param, raw)
        return number
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered not in TRUE | FALSE:
            raise _bad(param, raw)
        return lowered in TRUE
    value = raw.strip()
    if len(value) > schema.get("maxLength", 200) or ("enum" in schema and value not in schema["enum"]):
        raise _bad(param, raw)
    if schema.get("format") == "date":
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _bad(param, raw) from None
    return value


def parse_args(request: web.Request, params: tuple[Param, ...]) -> dict[str, Any]:
    """The operation's parameters, converted and checked; unknown query parameters are ignored.

    An empty query value counts as absent. A malformed query value is 400 ``invalid_parameter`` (naming it); a
    malformed path value is 404, as an unknown one would be.
    """
    args: dict[str, Any] = {}
    for param in params:
        raw = request.match_info.get(param.name) if param.where == "path" else request.query.get(param.name)
        if raw is None or (raw == "" and param.where == "query"):
            if "default" in param.schema:
                args[param.name] = param.schema["default"]
            continue
        if param.schema.get("type") == "array":
            items = [part.strip() for part in raw.split(",") if part.strip()]
            if len(items) > param.schema.get("maxItems", 20):
                raise _bad(param, raw)
            args[param.name] = tuple(_scalar(param, param.schema["items"], item) for item in items)
        else:
            args[param.name] = _scalar(param, param.schema, raw)
    return args


# -- parameter building blocks ------------------------------------------------------------------------------


def text(name: str, description: str, max_length: int = 200) -> Param:
    """A free-text query parameter."""
    return Param(name, {"type": "string", "maxLength": max_length}, description)


def choice(name: str, values: list[str] | tuple[str, ...], description: str, default: str | None = None) -> Param:
    """A query parameter with a fixed set of values."""
    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    if default is not None:
        schema["default"] = default
    return Param(name, schema, description)


def flag(name: str, description: str) -> Param:
    """A boolean query parameter (``true``/``false``, ``1``/``0``)."""
    return Param(name, {"type": "boolean"}, description)


def day(name: str, description: str) -> Param:
    """A calendar day (``YYYY-MM-DD``, the city's local day)."""
    return Param(name, {"type": "string", "format": "date"}, description)


def path(name: str, description: str, *, integer: bool = False) -> Param:
    """A path parameter."""
    schema: dict[str, Any] = {"type": "integer", "minimum": 1} if integer else {"type": "string", "maxLength": 64}
    return Param(name, schema, description, where="path")


PAGING = (
    Param("page", {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}, "Page number, from 1."),
    Param(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
        f"Items per page (at most {MAX_PER_PAGE}).",
    ),
)
