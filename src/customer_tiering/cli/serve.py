"""``tiering serve`` (the API and pages under uvicorn) and the ``keys`` group (create, list,
revoke) that controls who may call it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from customer_tiering.cli._common import console, err_console, open_store
from customer_tiering.core.settings import get_settings

app = typer.Typer()
keys_app = typer.Typer(help="API keys with roles: viewer, reviewer, admin.", no_args_is_help=True)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes (each loads the models and polls the registry; "
                            "one per core for what-if scoring, which is CPU-bound).")] = 1,
) -> None:
    """Serve the API (and pages) with uvicorn: grades, explanations, what-if, reviews."""
    import threading

    import uvicorn

    console.print(f"starting {workers} worker(s) on http://{host}:{port}; store "
                  f"{get_settings().tier_store_url()}", soft_wrap=True)
    # "serving" is said once the server answers, not when it starts: each worker loads the
    # models first, which takes seconds, and a client told to go ahead would be refused
    threading.Thread(target=_say_when_serving, args=(host, port), daemon=True).start()
    uvicorn.run("customer_tiering.api.asgi:app", host=host, port=port, log_level=log_level,
                access_log=False, workers=workers)


def _say_when_serving(host: str, port: int, timeout_s: float = 900.0) -> None:
    """Print "serving" once ``/health/live`` answers (polled from the supervising process)."""
    import time
    import urllib.request

    probe = "127.0.0.1" if host in ("0.0.0.0", "") else host
    url = f"http://{probe}:{port}/health/live"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    console.print(f"serving on http://{host}:{port} (OpenAPI at /docs)",
                                  soft_wrap=True)
                    return
        except OSError:
            pass
        time.sleep(0.25)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="viewer (sales ops), reviewer or admin.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "unnamed",
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from customer_tiering.store.keys import create_key

    with open_store() as store:
        key = create_key(store, role, name)
    # the note goes to stderr so that `tiering keys create ... > key.txt` captures the key alone
    err_console.print(f"{role} key for {name!r}; it is shown only now:")
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """Key ids, roles and names (never the secrets)."""
    from customer_tiering.store.keys import list_keys

    with open_store() as store:
        rows = list_keys(store)
    console.print(_render_keys(rows))


def _render_keys(rows: list[dict[str, object]]) -> Table:
    """One row per key: id, role, name, when created and when revoked (blank if in use)."""
    table = Table(title="API keys")
    for col in ("key id", "role", "name", "created", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["key_id"]), str(r["role"]), str(r["name"]), str(r["created_at"])[:19],
                      str(r["revoked_at"] or "")[:19])
    return table


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id (tiering keys list).")]) -> None:
    """Revoke a key (it stops working within 30 seconds)."""
    from customer_tiering.store.keys import revoke_key

    with open_store() as store:
        revoke_key(store, key_id)
    console.print(f"key {key_id} revoked")
