"""Sub-resources of a job that only some kinds have, under `/api/v1/jobs/{job_id}`.

The jobs router owns these routes: their paths, parameters, roles and names. A kind that has
one registers a provider from its handlers module, with the models its body and answer take,
so the engine serves a generated dataset's chunks without knowing the generator (as
`outputs` does for downloads). A job of a kind without the provider is answered 404.

Annotations here are real objects (no `from __future__ import annotations`) because FastAPI
reads the signatures of the closures this module builds.
"""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from foredeck.errors import NotFound
from foredeck.jobs import service as jobs_service
from foredeck.jobs.schemas import JobCreated
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, ok

# The sub-resources, by the operation names of their routes.
LIST_CHUNKS = "list_chunks"  # GET    /jobs/{job_id}/chunks
GENERATE_CHUNK = "generate_chunk"  # POST   /jobs/{job_id}/chunks/{index}
PREVIEW_CHUNK = "preview_chunk"  # GET    /jobs/{job_id}/chunks/{index}
PREPARE_DOWNLOAD = "prepare_download"  # POST   /jobs/{job_id}/download
IMPORT_OUTPUT = "import_dataset"  # POST   /jobs/{job_id}/import
RESOURCES = (LIST_CHUNKS, GENERATE_CHUNK, PREVIEW_CHUNK, PREPARE_DOWNLOAD, IMPORT_OUTPUT)
MAX_PREVIEW = 1000

# (session, config, job, ...the route's own arguments) -> the answer's model, or a Response
# sent as it is.
ResourceFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Provider:
    kind: str
    fn: ResourceFn
    # What jobs of the kind are, for the 404 of other kinds: "a dataset generation".
    label: str
    body: Any = None
    response: Any = None
    # Extra OpenAPI answers (another media type, a 202) and the tags of the operation.
    responses: dict[int | str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


# resource -> kind -> provider
PROVIDERS: dict[str, dict[str, Provider]] = {}


def job_resource(
    resource: str,
    kind: str,
    *,
    label: str,
    body: Any = None,
    response: Any = None,
    responses: dict[int | str, Any] | None = None,
    tags: tuple[str, ...] = (),
) -> Callable[[ResourceFn], ResourceFn]:
    """Register the provider of one sub-resource for jobs of this kind."""
    if resource not in RESOURCES:
        raise ValueError(f"Jobs have no sub-resource {resource}; they have {RESOURCES}")

    def register(fn: ResourceFn) -> ResourceFn:
        provider = Provider(kind, fn, label, body, response, responses or {}, tags)
        others = [p for k, p in PROVIDERS.get(resource, {}).items() if k != kind]
        # One route serves every kind, so its OpenAPI document has one body and one answer.
        if any((p.body, p.response) != (body, response) for p in others):
            raise ValueError(f"Every kind's {resource} takes and answers the same models")
        PROVIDERS.setdefault(resource, {})[kind] = provider
        return fn

    return register


def provider_for(resource: str, job: Any) -> Provider:
    """The provider of a sub-resource for this job's kind, or 404 when its kind has none."""
    providers = PROVIDERS.get(resource, {})
    provider = providers.get(job.kind)
    if provider is None:
        kinds = " or ".join(sorted({p.label for p in providers.values()}))
        raise NotFound(f"Job {job.id} is a {job.kind} job, not {kinds}")
    return provider


def _answer(result: Any) -> Any:
    return result if isinstance(result, Response) else ok(result)


def resource_router(*, viewer: Any, operator: Any) -> APIRouter:
    """The routes of the sub-resources that some kind provides (the others have no models).

    Each endpoint is made for the models its providers declared, so the OpenAPI document and
    the generated client show the kind's own body and answer.
    """
    router = APIRouter(prefix="/api/v1")

    def list_chunks(_body: Any) -> Any:
        async def list_chunks(
            job_id: str,
            _: viewer,
            session: SessionDep,
            config: ConfigDep,
        ) -> Any:
            job = await jobs_service.get_job(session, job_id)
            return _answer(await provider_for(LIST_CHUNKS, job).fn(session, config, job))

        return list_chunks

    def generate_chunk(body_type: Any) -> Any:
        async def generate_chunk(
            job_id: str,
            index: int,
            _: operator,
            session: SessionDep,
            config: ConfigDep,
            body: body_type | None = None,
        ) -> Any:
            job = await jobs_service.get_job(session, job_id)
            provider = provider_for(GENERATE_CHUNK, job)
            return _answer(await provider.fn(session, config, job, index, body))

        return generate_chunk

    def preview_chunk(_body: Any) -> Any:
        async def preview_chunk(
            job_id: str,
            index: int,
            _: viewer,
            session: SessionDep,
            config: ConfigDep,
            format: Literal["json", "csv"] = "json",
            limit: Annotated[int, Query(ge=1, le=MAX_PREVIEW)] = 20,
        ) -> Any:
            job = await jobs_service.get_job(session, job_id)
            provider = provider_for(PREVIEW_CHUNK, job)
            answer = await provider.fn(session, config, job, index, format=format, limit=limit)
            return _answer(answer)

        return preview_chunk

    def prepare_download(body_type: Any) -> Any:
        async def prepare_download(
            job_id: str,
            user: operator,
            session: SessionDep,
            config: ConfigDep,
            body: body_type | None = None,
        ) -> Any:
            job = await jobs_service.get_job(session, job_id)
            provider = provider_for(PREPARE_DOWNLOAD, job)
            created_by = user.user_id
            return _answer(await provider.fn(session, config, job, body, created_by=created_by))

        return prepare_download

    def import_dataset(body_type: Any) -> Any:
        async def import_dataset(
            job_id: str,
            body: body_type,
            user: operator,
            session: SessionDep,
            config: ConfigDep,
        ) -> Any:
            job = await jobs_service.get_job(session, job_id)
            provider = provider_for(IMPORT_OUTPUT, job)
            created_by = user.user_id
            return _answer(await provider.fn(session, config, job, body, created_by=created_by))

        return import_dataset

    # In the order they are matched: (name, method, path, endpoint maker, takes a body, options).
    routes: list[tuple[str, str, str, Callable[[Any], Any], bool, dict[str, Any]]] = [
        (LIST_CHUNKS, "GET", "/jobs/{job_id}/chunks", list_chunks, False, {}),
        (GENERATE_CHUNK, "POST", "/jobs/{job_id}/chunks/{index}", generate_chunk, True, {}),
        (PREVIEW_CHUNK, "GET", "/jobs/{job_id}/chunks/{index}", preview_chunk, False, {}),
        (PREPARE_DOWNLOAD, "POST", "/jobs/{job_id}/download", prepare_download, True, {}),
        # An import answers with the job it queued, whatever the kind imports.
        (
            IMPORT_OUTPUT,
            "POST",
            "/jobs/{job_id}/import",
            import_dataset,
            True,
            {"status_code": 202, "response_model": Envelope[JobCreated]},
        ),
    ]
    for name, method, path, make, takes_body, options in routes:
        providers = list(PROVIDERS.get(name, {}).values())
        if not providers:
            continue
        first = providers[0]
        if takes_body and first.body is None:
            raise ValueError(f"The provider of {name} for {first.kind} names no body model")
        if "response_model" not in options and first.response is not None:
            answer: Any = Envelope[first.response]  # type: ignore[name-defined]
            options = {**options, "response_model": answer}
        router.add_api_route(
            path,
            make(first.body),
            methods=[method],
            name=name,
            responses=first.responses or None,
            tags=list(first.tags) or ["jobs"],
            description=inspect.cleandoc(first.fn.__doc__ or ""),
            **options,
        )
    return router
