"""The generic CRUD router factory: a model, its schemas and one `CrudSpec` make a resource.

Role rule for every generated resource: viewers read, operators create and update, admins
delete. Annotations here are real objects (no `from __future__ import annotations`) because
FastAPI reads the signatures of the closures this module builds.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.errors import Conflict, NotFound, ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.kit.envelope import Envelope, Paged, ok, paged
from foredeck.kit.pagination import page_params
from foredeck.kit.schemas import DbId


@dataclass(frozen=True)
class CrudSpec:
    """What the factory needs to know about one resource."""

    path: str  # plural path segment, e.g. "projects"
    label: str  # singular noun, e.g. "project"
    model: Any
    create: type[BaseModel]
    update: type[BaseModel]
    out: type[BaseModel]
    filters: dict[str, Any] = field(default_factory=dict)  # exact-match query filters
    search: tuple[str, ...] = ()  # columns matched by `?q=` (substring, case-insensitive)
    sort_fields: tuple[str, ...] = ("id", "created_at")
    default_sort: str = "-id"
    unique: tuple[tuple[str, ...], ...] = ()  # each a set of columns unique together
    foreign_keys: dict[str, Any] = field(default_factory=dict)  # body field -> target model
    id_type: Any = DbId
    # A read path wider than the table (e.g. a UNION with rows another domain owns): a
    # function returning a subquery with the Out model's columns, the filters only it has,
    # and a lookup for ids that are not in the table (those are read-only).
    list_source: Callable[[], Any] | None = None
    extra_filters: dict[str, Any] = field(default_factory=dict)
    fetch_extra: Callable[[AsyncSession, Any], Awaitable[Any]] | None = None
    prefix: str = "/api/v1"
    tag: str | None = None

    @property
    def children(self) -> list[tuple[Any, str]]:
        """(model, fk column) pairs of the specs that point at this one."""
        return [
            (other.model, fk)
            for other in SPECS.values()
            for fk, target in other.foreign_keys.items()
            if target is self.model and other.model is not self.model
        ]


# Every spec by model, so a cascade can walk into the children's own children.
SPECS: dict[Any, CrudSpec] = {}


# --- the service half: plain async functions on an AsyncSession, flush only ---


def _not_found(spec: CrudSpec, item_id: Any) -> NotFound:
    return NotFound(f"{spec.label.capitalize()} {item_id} not found")


async def get_item(session: AsyncSession, spec: CrudSpec, item_id: Any) -> Any:
    """One row, or NotFound."""
    row = await session.get(spec.model, item_id)
    if row is None:
        raise _not_found(spec, item_id)
    return row


async def read_item(session: AsyncSession, spec: CrudSpec, item_id: Any) -> Any:
    """One row for reading: the spec's own table, then its read-only extra source."""
    row = await session.get(spec.model, item_id)
    if row is None and spec.fetch_extra is not None:
        row = await spec.fetch_extra(session, item_id)
    if row is None:
        raise _not_found(spec, item_id)
    return row


async def get_writable(session: AsyncSession, spec: CrudSpec, item_id: Any) -> Any:
    """A row that may be changed; rows of the read-only extra source are refused."""
    row = await session.get(spec.model, item_id)
    if row is None and spec.fetch_extra is not None:
        if await spec.fetch_extra(session, item_id) is not None:
            raise Conflict(
                f"{spec.label.capitalize()} {item_id} is managed by foredeck and is read-only here",
                code="READ_ONLY",
            )
    if row is None:
        raise _not_found(spec, item_id)
    return row


def filtered(spec: CrudSpec, filters: dict[str, Any]) -> tuple[Select[Any], Any]:
    """The select for a list request's filters (without order or page) and its columns."""
    if spec.list_source is not None:
        source = spec.list_source()
        cols: Any = source.c
        stmt = select(source)
    else:
        cols = spec.model.__table__.c
        stmt = select(spec.model)
    for name in [*spec.filters, *spec.extra_filters]:
        value = filters.get(name)
        if value is not None:
            stmt = stmt.where(cols[name] == value)
    if filters.get("q") and spec.search:
        pattern = f"%{filters['q'].lower()}%"
        stmt = stmt.where(or_(*(func.lower(cols[c]).like(pattern) for c in spec.search)))
    if filters.get("created_after") is not None:
        stmt = stmt.where(cols["created_at"] >= filters["created_after"])
    if filters.get("created_before") is not None:
        stmt = stmt.where(cols["created_at"] < filters["created_before"])
    return stmt, cols


async def count_items(session: AsyncSession, spec: CrudSpec, filters: dict[str, Any]) -> int:
    """How many rows match the filters."""
    stmt, _ = filtered(spec, filters)
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def list_items(
    session: AsyncSession, spec: CrudSpec, filters: dict[str, Any], *, offset: int, limit: int
) -> tuple[list[Any], int]:
    """A page of rows (ORM objects, or mappings for a list source) and the filtered total."""
    stmt, cols = filtered(spec, filters)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    sort = filters.get("sort") or spec.default_sort
    column, pk = cols[sort.lstrip("-")], cols["id"]
    order = [column.desc(), pk.desc()] if sort.startswith("-") else [column.asc(), pk.asc()]
    page = stmt.order_by(*order).offset(offset).limit(limit)
    if spec.list_source is not None:
        return [dict(m) for m in (await session.execute(page)).mappings()], int(total or 0)
    return list(await session.scalars(page)), int(total or 0)


async def _check_values(
    session: AsyncSession, spec: CrudSpec, values: dict[str, Any], current: Any = None
) -> None:
    """Foreign keys point at rows (422 naming the field) and unique sets are free (409)."""
    problems = []
    for name, target in spec.foreign_keys.items():
        ref = values.get(name)
        if ref is not None and await session.get(target, ref) is None:
            problems.append({"field": name, "message": f"No {target.__tablename__} row {ref}"})
    if problems:
        raise ValidationFailed(
            "A referenced row does not exist", details=problems, code="FOREIGN_KEY_MISSING"
        )
    for columns in spec.unique:
        merged = {c: values.get(c, getattr(current, c, None)) for c in columns}
        if not any(c in values for c in columns) or any(v is None for v in merged.values()):
            continue
        stmt = select(spec.model.id)
        for c, v in merged.items():
            stmt = stmt.where(getattr(spec.model, c) == v)
        if current is not None:
            stmt = stmt.where(spec.model.id != current.id)
        if await session.scalar(stmt.limit(1)) is not None:
            shown = ", ".join(f"{c}={v}" for c, v in merged.items())
            raise Conflict(
                f"A {spec.label} with {shown} already exists",
                code="DUPLICATE",
                details=[{"field": c, "message": "already used"} for c in columns],
            )


async def _flush(session: AsyncSession, spec: CrudSpec) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        # Lost a race with a concurrent writer after the explicit checks passed.
        raise Conflict(
            f"The {spec.label} conflicts with an existing row", code="DUPLICATE"
        ) from exc


async def create_item(session: AsyncSession, spec: CrudSpec, values: dict[str, Any]) -> Any:
    """Insert one row after checking its references and unique columns."""
    await _check_values(session, spec, values)
    row = spec.model(**values)
    session.add(row)
    await _flush(session, spec)
    await session.refresh(row)
    return row


async def update_item(
    session: AsyncSession, spec: CrudSpec, row: Any, changes: dict[str, Any]
) -> Any:
    """Apply the fields a client sent; a null for a required column is refused."""
    table = spec.model.__table__
    nulls = [k for k, v in changes.items() if v is None and not table.c[k].nullable]
    if nulls:
        raise ValidationFailed(
            "These fields cannot be null",
            details=[{"field": k, "message": "may not be null"} for k in nulls],
        )
    await _check_values(session, spec, changes, current=row)
    for key, value in changes.items():
        setattr(row, key, value)
    await _flush(session, spec)
    await session.refresh(row)
    return row


async def _dependents(session: AsyncSession, spec: CrudSpec, ids: list[Any]) -> list[tuple]:
    found = []
    for model, fk in spec.children:
        count = await session.scalar(
            select(func.count()).select_from(model).where(getattr(model, fk).in_(ids))
        )
        if count:
            found.append((model, fk, int(count)))
    return found


async def _delete_rows(session: AsyncSession, spec: CrudSpec, ids: list[Any]) -> None:
    for model, fk, _ in await _dependents(session, spec, ids):
        child = SPECS[model]
        child_ids = list(await session.scalars(select(model.id).where(getattr(model, fk).in_(ids))))
        await _delete_rows(session, child, child_ids)
    await session.execute(delete(spec.model).where(spec.model.id.in_(ids)))


async def delete_item(session: AsyncSession, spec: CrudSpec, row: Any, *, cascade: bool) -> None:
    """Delete a row; rows that point at it block the delete unless cascade is asked for."""
    dependents = await _dependents(session, spec, [row.id])
    if dependents and not cascade:
        details = [
            {"field": model.__tablename__, "message": f"{n} row(s) reference this {spec.label}"}
            for model, _, n in dependents
        ]
        raise Conflict(
            f"The {spec.label} is still referenced; delete with ?cascade=true to remove those too",
            code="HAS_DEPENDENTS",
            details=details,
        )
    await _delete_rows(session, spec, [row.id])


# --- the HTTP half ---


def filter_model(spec: CrudSpec) -> type[BaseModel]:
    """The query parameters of the list route, as one model."""
    sorts = [s for f in spec.sort_fields for s in (f, f"-{f}")]
    fields: dict[str, Any] = {
        name: (typ | None, Field(default=None, description=f"Only rows with this {name}"))
        for name, typ in {**spec.filters, **spec.extra_filters}.items()
    }
    if spec.search:
        fields["q"] = (
            str | None,
            Field(
                default=None,
                min_length=1,
                max_length=200,
                description=f"Substring of {' or '.join(spec.search)}",
            ),
        )
    fields["created_after"] = (datetime | None, None)
    fields["created_before"] = (datetime | None, None)
    fields["sort"] = (
        Literal[tuple(sorts)],  # type: ignore[valid-type]
        Field(default=spec.default_sort, description="A field; a leading - sorts descending"),
    )
    fields["page"] = (int, Field(default=1, ge=1, le=1_000_000))
    fields["per_page"] = (int | None, Field(default=None, ge=1))
    fields["limit"] = (int | None, Field(default=None, ge=1, description="The same as per_page"))
    fields["offset"] = (
        int | None,
        Field(default=None, ge=0, description="Rows to skip, instead of page"),
    )
    name = "".join(part.capitalize() for part in spec.path.split("_")) + "Filters"
    # A misspelt filter would silently list everything; refuse it instead.
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


@dataclass(frozen=True)
class CrudRoles:
    """The dependencies that admit a viewer, an operator and an admin.

    Passed in by the caller so that kit, below every domain, never imports auth.
    """

    viewer: Any
    operator: Any
    admin: Any


def crud_router(spec: CrudSpec, roles: CrudRoles) -> APIRouter:
    """list / get / create / update / delete routes for one spec."""
    Viewer, Operator, Admin = roles.viewer, roles.operator, roles.admin
    SPECS[spec.model] = spec
    create_body, update_body, out = spec.create, spec.update, spec.out
    filters_model = filter_model(spec)
    id_type = spec.id_type
    router = APIRouter(prefix=f"{spec.prefix}/{spec.path}", tags=[spec.tag or spec.path])

    async def list_route(
        _: Viewer,  # type: ignore[valid-type]
        session: SessionDep,
        request: Request,
        filters: Annotated[filters_model, Query()],  # type: ignore[valid-type]
    ) -> Any:
        f: Any = filters
        page = page_params(request, f.page, f.per_page, f.limit, f.offset)
        rows, total = await list_items(
            session,
            spec,
            f.model_dump(),
            offset=page.offset,
            limit=page.per_page,
        )
        items = [out.model_validate(r) for r in rows]
        return paged(items, page=page.page, per_page=page.per_page, total=total)

    async def get_route(item_id: id_type, _: Viewer, session: SessionDep) -> Any:  # type: ignore[valid-type]
        return ok(out.model_validate(await read_item(session, spec, item_id)))

    async def create_route(body: create_body, _: Operator, session: SessionDep) -> Any:  # type: ignore[valid-type]
        row = await create_item(session, spec, body.model_dump())  # type: ignore[attr-defined]
        return ok(out.model_validate(row))

    async def update_route(
        item_id: id_type,  # type: ignore[valid-type]
        body: update_body,  # type: ignore[valid-type]
        _: Operator,  # type: ignore[valid-type]
        session: SessionDep,
    ) -> Any:
        row = await get_writable(session, spec, item_id)
        changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        return ok(out.model_validate(await update_item(session, spec, row, changes)))

    async def delete_route(
        item_id: id_type,  # type: ignore[valid-type]
        _: Admin,  # type: ignore[valid-type]
        session: SessionDep,
        cascade: Annotated[bool, Query(description="Also delete rows that reference it")] = False,
    ) -> Response:
        row = await get_writable(session, spec, item_id)
        await delete_item(session, spec, row, cascade=cascade)
        return Response(status_code=204)

    plural, one, label = spec.path, spec.label.replace(" ", "_"), spec.label
    words = plural.replace("_", " ")
    single: Any = Envelope[out]  # type: ignore[valid-type]

    def add(path: str, endpoint: Any, method: str, name: str, doc: str, **options: Any) -> None:
        summary, _, description = doc.partition(". ")
        router.add_api_route(
            path, endpoint, methods=[method], name=name, summary=summary,
            description=description or summary, **options,
        )  # fmt: skip

    add("", list_route, "GET", f"list_{plural}", f"List {words}. {words.capitalize()}, "
        "filtered, sorted and paged.", response_model=Paged[out])  # type: ignore[valid-type]  # fmt: skip
    add("", create_route, "POST", f"create_{one}", f"Create a {label}. Operator; writes the "
        "row only, no side effects.", response_model=single, status_code=201)  # fmt: skip
    add("/{item_id}", get_route, "GET", f"get_{one}", f"Get a {label}. One {label}.",
        response_model=single)  # fmt: skip
    add("/{item_id}", update_route, "PATCH", f"update_{one}", f"Update a {label}. Operator; "
        "the fields sent change, the others stay.", response_model=single)  # fmt: skip
    add("/{item_id}", delete_route, "DELETE", f"delete_{one}", f"Delete a {label}. Admin; 409 "
        "while other rows reference it unless cascade=true.", status_code=204,
        response_class=Response)  # fmt: skip
    return router
