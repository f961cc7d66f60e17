"""CLI commands of the index domain: `foredeck index ...` and `foredeck search`.

They work directly on the database and the shared index folder (no server needed), so they
behave the same next to an embedded server or a scale-out deployment.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from foredeck import migrate
from foredeck.cli.common import console, err_console, load_config
from foredeck.config import Config
from foredeck.errors import AppError

T = TypeVar("T")
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (FOREDECK_DATA_DIR)")
]


@asynccontextmanager
async def _state(config: Config) -> AsyncIterator[Any]:
    """The parts of app.state the index services use, built without starting a server."""
    from foredeck.db import make_engine, make_sessionmaker
    from foredeck.embedding import registry
    from foredeck.embedding.lifecycle import chosen_model
    from foredeck.index import service as index_service
    from foredeck.index.manager import IndexManager
    from foredeck.jobs.settings import JobSettings

    engine = make_engine(config)
    state = SimpleNamespace(
        config=config,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        redis=None,
        job_settings=JobSettings(),
    )
    try:
        name = await chosen_model(state)
        state.embedder = await asyncio.to_thread(registry.load_embedder, config, name)
        state.index_manager = IndexManager(
            config, model=state.embedder.name, dimension=state.embedder.dimension
        )
        await index_service.align_model(state)
        await state.index_manager.sync(state.sessionmaker, force=True)
        yield state
    finally:
        await engine.dispose()


def _run(data_dir: Path | None, fn: Callable[[Any], Awaitable[T]]) -> T:
    from foredeck.logging import configure_logging

    config = load_config(data_dir)
    # Log lines go to stderr and only warnings: stdout is for the command's output.
    configure_logging(config.effective_log_format, "WARNING")
    migrate.upgrade(config)

    async def main() -> T:
        async with _state(config) as state:
            return await fn(state)

    try:
        return asyncio.run(main())
    except AppError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/]")
        for detail in exc.details:
            err_console.print(f"  {detail.get('field') or ''} {detail['message']}")
        raise typer.Exit(1) from exc


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
    )


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
    ) -> None:
        """Vector count, pending records, type, model, size, last rebuild, checksum."""
        from foredeck.index import service as index_service

        async def fn(state: Any) -> dict[str, Any]:
            async with state.sessionmaker() as session:
                return (await index_service.stats(session, state)).model_dump(mode="json")

        data = _run(data_dir, fn)
        if as_json:
            print(json.dumps(data, indent=2))
            return
        table = Table("field", "value", title="foredeck index")
        for key, value in data.items():
            table.add_row(key, "" if value is None else str(value))
        console.print(table)

    @index_app.command("rebuild")
    def rebuild(data_dir: DataDir = None) -> None:
        """Rebuild the index from the stored vectors (takes the index lock), with progress."""
        from foredeck.index import service as index_service
        from foredeck.jobs.locks import operation_lock

        async def fn(state: Any) -> dict[str, Any]:
            with _bar() as bar:
                task = bar.add_task("rebuilding", total=None, note="")

                async def progress(done: int, total: int, message: str) -> None:
                    bar.update(task, completed=done, total=total, note=message)

                async with operation_lock(state, "index", holder="cli-rebuild"):
                    return await index_service.rebuild(state, progress)

        result = _run(data_dir, fn)
        console.print(
            f"rebuilt: {result['vectors']} vectors, {result['index_type']}, "
            f"{result['seconds']} s, sha256 {result['checksum']}"
        )

    @snapshot_app.command("save")
    def snapshot_save(
        path: Annotated[Path, typer.Argument(help="Where to write the .tar snapshot")],
        data_dir: DataDir = None,
    ) -> None:
        """Write a snapshot of the live index (index, id map, manifest) to PATH."""
        from foredeck.index import snapshot as snapshot_service

        async def fn(state: Any) -> Path:
            return await snapshot_service.snapshot_folder(state)

        folder = _run(data_dir, fn)
        size = sum(p.stat().st_size for p in folder.iterdir())
        with _bar() as bar, open(path, "wb") as out:
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
    ) -> None:
        """Verify a snapshot and swap it in (index lock held, embedding workers paused)."""
        from foredeck.index import snapshot as snapshot_service

        if not path.is_file():
            err_console.print(f"[red]{path} is not a file[/]")
            raise typer.Exit(2)

        async def fn(state: Any) -> dict[str, Any]:
            with console.status("verifying and restoring"):
                return await snapshot_service.restore(state, path)

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
    ) -> None:
        """Search the records (the same search as the API)."""
        from pydantic import ValidationError

        from foredeck.index import search as search_service
        from foredeck.index.schemas import SearchRequest

        try:
            body = SearchRequest(query=query, mode=mode, k=k, collection=collection)  # type: ignore[arg-type]
        except ValidationError as exc:
            for err in exc.errors():
                err_console.print(f"[red]{'.'.join(map(str, err['loc']))}: {err['msg']}[/]")
            raise typer.Exit(2) from exc

        async def fn(state: Any) -> Any:
            async with state.sessionmaker() as session:
                return await search_service.search(session, state, body)

        result = _run(data_dir, fn)
        if as_json:
            print(result.model_dump_json(indent=2))
            return
        table = Table("#", "score", "id", "collection", "content", title=f"{mode}: {query}")
        for hit in result.hits:
            text = hit.memory.content.replace("\n", " ")
            table.add_row(
                str(hit.rank),
                f"{hit.score:.4f}",
                str(hit.memory.id),
                hit.memory.collection,
                text[:100] + ("…" if len(text) > 100 else ""),
            )
        console.print(table)
        console.print(f"{len(result.hits)} hits in {result.took_ms} ms ({result.model})")
