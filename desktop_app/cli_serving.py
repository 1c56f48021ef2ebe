"""``modeldesk serve``: a model server in the foreground (and the launcher's warm standby)."""

from __future__ import annotations

import click

from desktop_app.cli_common import fail, open_cli_registry, registry_option


def register(cli: click.Group) -> None:
    """Add the ``serve`` and hidden ``serve-standby`` commands."""

    @cli.command(name="serve")
    @click.argument("model_ref", metavar="NAME[@ALIAS|:VERSION]")
    @click.option("--port", type=int, default=0, show_default=True, help="Port (0: a free one).")
    @click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help="Address to bind; anything but loopback needs --token.",
    )
    @click.option(
        "--token", default=None, help="Require 'Authorization: Bearer TOKEN' on every request."
    )
    @click.option(
        "--max-body-mb",
        type=float,
        default=32.0,
        show_default=True,
        help="Largest request body accepted, in MiB.",
    )
    @click.option(
        "--record-fraction",
        type=click.FloatRange(0.0, 1.0),
        default=0.0,
        show_default=True,
        help="Share of requests whose input rows are recorded in the registry (drift).",
    )
    @click.option("--parent-pid", type=int, default=None, hidden=True)
    @click.option("--detach-file", default=None, hidden=True)
    @click.option("--state-file", default=None, hidden=True)
    @registry_option
    def serve_command(
        model_ref: str,
        port: int,
        host: str,
        token: str | None,
        max_body_mb: float,
        record_fraction: float,
        parent_pid: int | None,
        detach_file: str | None,
        state_file: str | None,
    ) -> None:
        """Serve a registered model version over HTTP until Ctrl-C.

        NAME serves the latest version, NAME@ALIAS the version an alias points at, NAME:VERSION
        a given one. The server speaks the V2 inference protocol (tritonclient works) and
        MLflow's scoring protocol on one port, and prints its URL once ready.
        """
        from desktop_app.serving.model import parse_model_ref
        from desktop_app.serving.server import ServeError, ServeOptions, configure_logging, serve

        configure_logging()
        name, ref = parse_model_ref(model_ref)
        options = ServeOptions(
            model=name,
            ref=ref,
            host=host,
            port=port,
            token=token,
            max_body_mb=max_body_mb,
            record_fraction=record_fraction,
            parent_pid=parent_pid,
            detach_file=detach_file,
            state_file=state_file,
        )
        try:
            options.check()
            registry = open_cli_registry()
            serve(registry, options)
        except ServeError as exc:
            fail(exc.message, exc.exit_code)

    @cli.command(name="serve-standby", hidden=True)
    @registry_option
    def serve_standby() -> None:
        """Import the serving stack, then serve the model named by one JSON line on stdin."""
        from desktop_app.serving.server import ServeError, configure_logging
        from desktop_app.serving.standby import run_standby

        configure_logging()
        try:
            registry = open_cli_registry()
            run_standby(registry)
        except ServeError as exc:
            fail(exc.message, exc.exit_code)
