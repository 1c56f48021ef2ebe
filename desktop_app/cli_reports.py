"""``modeldesk runs report``: a self-contained HTML comparison report, without any Qt."""

from __future__ import annotations

import click

X_CHOICES = ("step", "wall", "relative")


def register(runs: click.Group) -> None:
    """Add the report command to the ``runs`` group."""
    from desktop_app.cli_common import open_cli_registry, registry_option

    @runs.command(name="report")
    @click.argument("run_refs", metavar="RUN_ID...", nargs=-1, required=True)
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        default="report.html",
        show_default=True,
        help="The HTML file to write (replaced if it exists).",
    )
    @click.option(
        "--metric",
        "metrics",
        multiple=True,
        metavar="KEY",
        help="Chart this metric's curves (repeat for several; default: every stepwise metric).",
    )
    @click.option("--title", help="The report's title (default: 'Comparison of N runs').")
    @click.option(
        "--x",
        "x_mode",
        type=click.Choice(X_CHOICES),
        default="step",
        show_default=True,
        help="What the curves are drawn against: step, wall time or time since the run began.",
    )
    @click.option(
        "--smoothing",
        type=click.FloatRange(0.0, 0.99),
        default=0.0,
        show_default=True,
        help="EMA smoothing of the curves (0 = raw; the raw curve stays faint behind).",
    )
    @registry_option
    def runs_report(
        run_refs: tuple[str, ...],
        output: str,
        metrics: tuple[str, ...],
        title: str | None,
        x_mode: str,
        smoothing: float,
    ) -> None:
        """Write one HTML file comparing the runs RUN_ID... (ids or unambiguous id prefixes).

        The file holds the runs, their params and final metrics side by side (best values
        highlighted), metric curves, bar charts, parallel coordinates and any evaluation
        data, with every chart inline: share it with people who do not have ModelDesk.
        """
        from desktop_app.reports import build_report, write_report

        registry = open_cli_registry()
        html = build_report(
            registry,
            list(run_refs),
            metrics=list(metrics) or None,
            title=title,
            x_mode=x_mode,
            smoothing=smoothing,
        )
        target = write_report(output, html)
        count = len(dict.fromkeys(run_refs))
        click.echo(f"Wrote a report on {count} run{'s' if count != 1 else ''} to {target}")
