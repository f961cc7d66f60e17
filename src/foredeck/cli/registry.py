"""`foredeck registry <entity> list|get|create|update|delete`, against a foredeck server.

The commands are made from the registry's specs and the typed client's operation table, so
each seed 002 entity (and users / api_keys / available_models / rag, served by other
domains) gets the verbs its API has. They talk HTTP through foredeck.client, so they work
against a remote server: --url / FOREDECK_URL and --token / FOREDECK_TOKEN.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from foredeck.cli.common import console, err_console
from foredeck.cli.remote import Token, Url, run_client

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="field=value (value parsed as JSON when it can be)"),
]
Data = Annotated[str | None, typer.Option("--data", "-d", help="The whole body as JSON")]


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_pairs(pairs: list[str] | None, data: str | None = None) -> dict[str, Any]:
    """--data JSON merged with --set field=value pairs."""
    body: dict[str, Any] = {}
    if data:
        try:
            loaded = json.loads(data)
        except ValueError as exc:
            raise typer.BadParameter(f"--data is not JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--data must be a JSON object")
        body.update(loaded)
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected field=value, got {pair!r}")
        body[key] = _value(raw)
    return body


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def show(value: Any, *, as_json: bool) -> None:
    """Print a result as JSON or a Rich table."""
    from rich.table import Table

    data = _plain(value)
    meta = None
    if isinstance(data, dict) and "data" in data and "meta" in data:
        data, meta = data["data"], data["meta"]
    if as_json:
        print(json.dumps(data if meta is None else {"data": data, "meta": meta}, indent=2))
        return
    if isinstance(data, dict):
        # One record: a field / value table reads better than one very wide row.
        single = Table("field", "value", show_header=False)
        for key, value in data.items():
            single.add_row(key, _cell(value, width=200))
        console.print(single)
        return
    rows = data if isinstance(data, list) else [data]
    if not rows or not isinstance(rows[0], dict):
        console.print(data)
        return
    columns = list(rows[0])
    table = Table(*columns)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)
    if meta:
        console.print(
            f"page {meta['page']}/{max(meta['total_pages'], 1)}, {meta['total']} in all",
            style="dim",
        )


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = json.dumps(value)
        return text if len(text) <= width else text[: width - 3] + "..."
    return str(value)


def _verbs(entity: str) -> dict[str, str]:
    """verb -> client method name, for the operations this entity's API has."""
    from foredeck.client import OPERATIONS

    base = f"/api/v1/{entity}"
    wanted = {
        ("GET", base): "list",
        ("POST", base): "create",
        ("GET", base + "/{}"): "get",
        ("PATCH", base + "/{}"): "update",
        ("PUT", base + "/{}"): "update",
        ("DELETE", base + "/{}"): "delete",
    }
    found: dict[str, str] = {}
    for name, (method, path) in OPERATIONS.items():
        head, _, tail = path.rpartition("/")
        shape = f"{head}/{{}}" if tail.startswith("{") and tail.endswith("}") else path
        verb = wanted.get((method, shape))
        if verb and verb not in found:
            found[verb] = name
    return found


def _entity_app(entity: str, verbs: dict[str, str]) -> typer.Typer:
    sub = typer.Typer(help=f"{entity.replace('_', ' ').capitalize()}.", no_args_is_help=True)
    label = entity.replace("_", " ")

    if "list" in verbs:

        @sub.command("list")
        def list_cmd(
            filters: Annotated[
                list[str] | None, typer.Option("--filter", "-f", help="field=value")
            ] = None,
            sort: Annotated[str | None, typer.Option(help="A field; -field sorts down")] = None,
            q: Annotated[str | None, typer.Option("--q", help="Substring search")] = None,
            page: Annotated[int | None, typer.Option(help="Page number")] = None,
            per_page: Annotated[int | None, typer.Option(help="Rows per page")] = None,
            url: Url = None,
            token: Token = None,
            as_json: AsJson = False,
        ) -> None:
            kwargs = parse_pairs(filters)
            for key, value in (("sort", sort), ("q", q), ("page", page), ("per_page", per_page)):
                if value is not None:
                    kwargs[key] = value
            method = verbs["list"]
            show(run_client(lambda c: _invoke(c, method, kwargs), url, token), as_json=as_json)

        list_cmd.__doc__ = f"List {label}."

    if "get" in verbs:

        @sub.command("get")
        def get_cmd(item_id: str, url: Url = None, token: Token = None, as_json: AsJson = False):  # type: ignore[no-untyped-def]
            method = verbs["get"]
            show(run_client(lambda c: getattr(c, method)(item_id), url, token), as_json=as_json)

        get_cmd.__doc__ = f"Show one of the {label}."

    if "create" in verbs:

        @sub.command("create")
        def create_cmd(  # type: ignore[no-untyped-def]
            sets: Sets = None,
            data: Data = None,
            url: Url = None,
            token: Token = None,
            as_json: AsJson = False,
        ):
            body = parse_pairs(sets, data)
            method = verbs["create"]
            show(run_client(lambda c: getattr(c, method)(body), url, token), as_json=as_json)

        create_cmd.__doc__ = f"Create one of the {label} from --set field=value / --data JSON."

    if "update" in verbs:

        @sub.command("update")
        def update_cmd(  # type: ignore[no-untyped-def]
            item_id: str,
            sets: Sets = None,
            data: Data = None,
            url: Url = None,
            token: Token = None,
            as_json: AsJson = False,
        ):
            body = parse_pairs(sets, data)
            if not body:
                raise typer.BadParameter("nothing to change: give --set field=value or --data")
            method = verbs["update"]
            show(
                run_client(lambda c: getattr(c, method)(item_id, body), url, token),
                as_json=as_json,
            )

        update_cmd.__doc__ = f"Change fields of one of the {label}."

    if "delete" in verbs:

        @sub.command("delete")
        def delete_cmd(  # type: ignore[no-untyped-def]
            item_id: str,
            cascade: Annotated[
                bool, typer.Option(help="Also delete rows that reference it")
            ] = False,
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
            url: Url = None,
            token: Token = None,
        ):
            if not yes:
                typer.confirm(f"Delete {label} {item_id}?", abort=True)
            method = verbs["delete"]
            kwargs = {"cascade": True} if cascade else {}
            run_client(lambda c: _invoke(c, method, kwargs, item_id), url, token)
            console.print(f"deleted {label} {item_id}")

        delete_cmd.__doc__ = f"Delete one of the {label} (admin)."

    return sub


def _invoke(client: Any, method: str, kwargs: dict[str, Any], *args: Any) -> Any:
    """Call a client method, refusing keyword arguments it does not take."""
    import inspect

    fn = getattr(client, method)
    accepted = set(inspect.signature(fn).parameters)
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise typer.BadParameter(f"unknown filter(s): {', '.join(unknown)}")
    return fn(*args, **kwargs)


def entities() -> list[str]:
    """The registry's entities plus seed 002's entities served by other domains."""
    from foredeck.registry.specs import EXTERNAL, SPECS

    return [s.path for s in SPECS] + list(EXTERNAL)


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    registry_app = typer.Typer(
        help="The thin registry (seed 002) on a foredeck server: --url and --token, "
        "or FOREDECK_URL and FOREDECK_TOKEN.",
        no_args_is_help=True,
    )
    try:
        found = [(entity, _verbs(entity)) for entity in entities()]
    except Exception as exc:  # a stale generated client must not take the whole CLI down
        reason = f"{type(exc).__name__}: {exc}"

        @registry_app.command("unavailable")
        def unavailable() -> None:
            """Why the registry commands could not load."""
            err_console.print(f"[red]registry commands unavailable: {reason}[/]")
            err_console.print("run: python scripts/gen_client.py")
            raise typer.Exit(1)

        found = []
    for entity, verbs in found:
        if verbs:
            registry_app.add_typer(_entity_app(entity, verbs), name=entity.replace("_", "-"))
    app.add_typer(registry_app, name="registry")
