"""``solus-bridge demo``: mock SolusVM and the bridge on loopback, seeded, until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click


def register(group: click.Group) -> None:
    @group.command("demo")
    @click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
                  help="Bridge port (0 = a free port).")
    @click.option("--mock-port", default=0, show_default=True, type=click.IntRange(0, 65535),
                  help="Mock SolusVM port (0 = a free port).")
    @click.option("--data-dir", type=click.Path(file_okay=False),
                  help="Keep the database and mail outbox here instead of a temporary folder.")
    @click.option("--keep", is_flag=True, help="Do not remove the temporary data folder on exit.")
    def demo(port: int, mock_port: int, data_dir: str | None, keep: bool) -> None:
        """Start the seeded mock SolusVM and the bridge on 127.0.0.1; Ctrl-C stops and cleans up."""
        # Deferred: the demo loads the mock (the `mock` extra); other commands must not need it.
        from bridge.demo import Demo

        stop = threading.Event()

        def _stop(_signum: int, _frame: Any) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        running = Demo(port=port, mock_port=mock_port, data_dir=data_dir, keep=keep or bool(data_dir))
        try:
            try:
                running.start()
            except OSError as exc:  # e.g. the port is taken
                raise click.ClickException(f"cannot start the demo: {exc.strerror or exc}") from None
            click.echo(running.banner())
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
            click.echo("stopping the demo ...")
        finally:
            running.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if running.keep:
            click.echo(f"demo stopped; data kept in {running.data_dir}")
        else:
            click.echo("demo stopped; temporary data removed")
