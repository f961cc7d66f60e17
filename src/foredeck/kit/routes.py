"""A lean route class for the hottest reads."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from foredeck.kit.schemas import DbId

# Integer path parameters are ids: bounded as the database stores them.
_INT = TypeAdapter(DbId)


class PathOnlyRoute(APIRoute):
    """For endpoints that take only integer path parameters and the request, authenticate in
    their body and return a Response: the handler converts the path parameters itself instead
    of running FastAPI's per-request dependency solving (about a fifth of a point read in
    process). The OpenAPI document comes from the same signature as for any route.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        dependant = self.dependant
        extra = (
            dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.dependencies
        )
        names = [field.name for field in dependant.path_params]
        if extra or any(field.field_info.annotation is not int for field in dependant.path_params):
            raise TypeError(f"{self.path}: PathOnlyRoute takes only int path parameters")
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            values: dict[str, int] = {}
            for name in names:
                raw = request.path_params[name]
                try:
                    values[name] = _INT.validate_python(raw)
                except ValidationError as exc:
                    raise RequestValidationError(
                        [{**err, "loc": ("path", name)} for err in exc.errors()]
                    ) from None
            response: Response = await endpoint(request=request, **values)
            return response

        return handler
