"""``solus-bridge serve --host --port --workers [--dev]``: gunicorn sync workers (or Flask's dev server)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    @group.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5000, show_default=True, type=int)
    @click.option("--workers", default=2, show_default=True, type=int, help="gunicorn sync workers (one per core)")
    @click.option("--dev", is_flag=True, help="Flask's development server (reloader, debugger off).")
    def serve(host: str, port: int, workers: int, dev: bool) -> None:
        """Serve the bridge."""
        from bridge.cli import database_ready, make_app

        database_ready(make_app())  # one line and exit 1 before init-db, not 500s later
        if dev:
            make_app().run(host=host, port=port, debug=False)
            return
        from gunicorn.app.base import BaseApplication

        class _App(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                self.cfg.set("bind", f"{host}:{port}")
                self.cfg.set("workers", workers)
                self.cfg.set("worker_class", "sync")
                self.cfg.set("accesslog", None)

            def load(self):  # type: ignore[no-untyped-def]
                return make_app()

        _App().run()
