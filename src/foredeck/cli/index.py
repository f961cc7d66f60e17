"""CLI commands of the index domain: `foredeck index ...` and `foredeck search`.

Without --url they work directly on the database and the shared index folder (no server
needed), so they behave the same next to an embedded server or a scale-out deployment; with
--url (FOREDECK_URL) they call that server's API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from foredeck.cli.common import DataDir, console, err_console, load_config, local_state, run_local
from foredeck.cli.follow import RemoteJobs, finish, follow, progress_bar, run_here
from foredeck.cli.remote import Token, Url, download_bar, run_remote
from foredeck.config import Config
from foredeck.embedding.parts import EMBEDDER
from foredeck.index.parts import INDEX_MANAGER
from foredeck.kit.runtime import Runtime

T = TypeVar("T")


@asynccontextmanager
async def _state(config: Config) -> AsyncIterator[Runtime]:
    """local_state plus the embedder and the index manager the index services use."""
    from foredeck.db import transaction
    from foredeck.embedding import registry
    from foredeck.embedding.lifecycle import chosen_model
    from foredeck.index import service as index_service
    from foredeck.index.manager import IndexManager

    async with local_state(config) as runtime:
        name = await chosen_model(runtime)
        runtime[EMBEDDER] = await asyncio.to_thread(registry.load_embedder, config, name)
        runtime[INDEX_MANAGER] = IndexManager(
            config, model=runtime[EMBEDDER].name, dimension=runtime[EMBEDDER].dimension
        )
        async with transaction(runtime.sessionmaker) as session:
            await index_service.align_model(session, runtime)
        await runtime[INDEX_MANAGER].sync(runtime.sessionmaker, force=True)
        yield runtime


def _run(data_dir: Path | None, fn: Callable[[Runtime], Awaitable[T]]) -> T:
    return run_local(load_config(data_dir), fn, _state)


def _print_table(data: dict[str, Any], title: str) -> None:
    table = Table("field", "value", title=title)
    for key, value in data.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    index_app = typer.Typer(
        help="The vector index: stats, rebuild, snapshots.", no_args_is_help=True
    )
    snapshot_app = typer.Typer(help="Save or restore index snapshots.", no_args_is_help=True)
    index_app.add_typer(snapshot_app, name="snapshot")
    app.add_typer(index_app, name="index")

    @index_app.command("stats")
    def stats(
        data_dir: DataDir = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
        url: Url = None,
        token: Token = None,
    ) -> None:
        """Vector count, pending records, type, model, size, last rebuild, checksum."""
        from foredeck.index import service as index_service

        async def fn(runtime: Runtime) -> Any:
            async with runtime.sessionmaker() as session:
                return await index_service.stats(session, runtime)

        found = run_remote(url, token, lambda c: c.get_index_stats()) if url else _run(data_dir, fn)
        data = found.model_dump(mode="json")
        if as_json:
            print(json.dumps(data, indent=2))
            return
        _print_table(data, "foredeck index")

    @index_app.command("rebuild")
    def rebuild(data_dir: DataDir = None, url: Url = None, token: Token = None) -> None:
        """Rebuild the index from the stored vectors as an index_rebuild job, with progress
        (locally the job runs in this process; it waits while another holds the index lock)."""
        if url:

            async def remote(client: Any) -> Any:
                ref = await client.rebuild_index()
                return await follow(RemoteJobs(client), ref.job_id)

            job = run_remote(url, token, remote)
        else:
            job = _run(data_dir, lambda runtime: run_here(runtime, "index_rebuild", {}))
        result = finish(job)
        console.print(
            f"rebuilt: {result['vectors']} vectors, {result['index_type']}, "
            f"{result['seconds']} s, sha256 {result['checksum']}"
        )

    @snapshot_app.command("save")
    def snapshot_save(
        path: Annotated[Path, typer.Argument(help="Where to write the .tar snapshot")],
        data_dir: DataDir = None,
        url: Url = None,
        token: Token = None,
    ) -> None:
        """Write a snapshot of the live index (index, id map, manifest) to PATH."""
        if url:
            with download_bar(path.name) as progress:
                resp = run_remote(
                    url, token, lambda c: c.download_index_snapshot(to=path, progress=progress)
                )
            checksum = resp.headers.get("X-Index-Checksum", "?")
            size = path.stat().st_size
            console.print(f"saved {path} ({size:,} bytes, index sha256 {checksum})")
            return
        from foredeck.index import snapshot as snapshot_service

        async def fn(runtime: Runtime) -> Path:
            return await snapshot_service.snapshot_folder(runtime)

        folder = _run(data_dir, fn)
        size = sum(p.stat().st_size for p in folder.iterdir())
        with progress_bar() as bar, open(path, "wb") as out:
            task = bar.add_task("saving", total=size, note=path.name)
            for block in snapshot_service.tar_stream(folder):
                out.write(block)
                bar.advance(task, len(block))
        checksum = json.loads((folder / "manifest.json").read_text())["checksum"]
        console.print(f"saved {path} (index sha256 {checksum})")

    @snapshot_app.command("restore")
    def snapshot_restore(
        path: Annotated[Path, typer.Argument(help="A snapshot written by `snapshot save`")],
        data_dir: DataDir = None,
        url: Url = None,
        token: Token = None,
    ) -> None:
        """Verify a snapshot and swap it in (index lock held, embedding workers paused)."""
        if not path.is_file():
            err_console.print(f"[red]{path} is not a file[/]")
            raise typer.Exit(2)
        if url:

            async def remote(client: Any) -> dict[str, Any]:
                return dict((await client.restore_index_snapshot(path)).manifest)

            with console.status("uploading, verifying and restoring"):
                manifest = run_remote(url, token, remote)
        else:
            from foredeck.index import snapshot as snapshot_service

            async def fn(runtime: Runtime) -> dict[str, Any]:
                with console.status("verifying and restoring"):
                    return await snapshot_service.restore(runtime, path)

            manifest = _run(data_dir, fn)
        console.print(
            f"restored {manifest['count']} vectors ({manifest['model']}, "
            f"{manifest['dimension']}-d), sha256 {manifest['checksum']}"
        )

    @app.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="What to look for")],
        mode: Annotated[str, typer.Option(help="semantic, keyword or hybrid")] = "hybrid",
        k: Annotated[int, typer.Option(help="How many results")] = 10,
        collection: Annotated[str | None, typer.Option(help="Only this collection")] = None,
        data_dir: DataDir = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
        url: Url = None,
        token: Token = None,
    ) -> None:
        """Search the records (the same search as the API)."""
        from pydantic import ValidationError

        from foredeck.index.schemas import SearchRequest

        try:
            body = SearchRequest(query=query, mode=mode, k=k, collection=collection)  # type: ignore[arg-type]
        except ValidationError as exc:
            for err in exc.errors():
                err_console.print(f"[red]{'.'.join(map(str, err['loc']))}: {err['msg']}[/]")
            raise typer.Exit(2) from exc

        async def fn(runtime: Runtime) -> dict[str, Any]:
            from foredeck.index import search as search_service

            async with runtime.sessionmaker() as session:
                found = await search_service.search(session, runtime, body)
                return found.model_dump(mode="json")

        result = (
            run_remote(url, token, lambda c: c.search(body)).model_dump(mode="json")
            if url
            else _run(data_dir, fn)
        )
        if as_json:
            print(json.dumps(result, indent=2))
            return
        table = Table(
            "#", "score", "found by", "id", "collection", "content", title=f"{mode}: {query}"
        )
        for hit in result["hits"]:
            memory = hit["memory"]
            text = memory["content"].replace("\n", " ")
            found_by = [
                f"{name} #{hit[f'{name}_rank']}"
                for name in ("semantic", "keyword")
                if hit.get(f"{name}_rank")
            ]
            table.add_row(
                str(hit["rank"]),
                f"{hit['score']:.4f}",
                ", ".join(found_by),
                str(memory["id"]),
                memory["collection"],
                text[:100] + ("…" if len(text) > 100 else ""),
            )
        console.print(table)
        console.print(f"{len(result['hits'])} hits in {result['took_ms']} ms ({result['model']})")
