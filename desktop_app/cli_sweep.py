"""``modeldesk sweep``: a hyperparameter sweep from the command line, one line per trial."""

from __future__ import annotations

import math
import signal
import threading
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from desktop_app.training.sweep import SweepEvent, SweepResult, TrialRecord

EXIT_INTERRUPTED = 130


def format_value(value: float | None) -> str:
    """A metric value with four decimals (``-`` when there is none)."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.4f}"


def trial_line(event: SweepEvent) -> str:
    """``trial 3/20  accuracy 0.9412  best 0.9531 (trial 2)`` for a trial that ended."""
    from desktop_app.registry import RunStatus

    trial = event.trial
    budget = f"/{event.budget}" if event.budget is not None else ""
    head = f"trial {trial.number}{budget}"
    if trial.status == RunStatus.FINISHED and trial.value is not None:
        outcome = f"{event.metric} {format_value(trial.value)}"
    else:
        reason = (trial.reason or "").strip().splitlines()
        outcome = str(trial.status) + (f": {reason[0]}" if reason else "")
    best = _best_text(event.best)
    return f"{head}  {outcome}" + (f"  {best}" if best else "")


def _best_text(best: TrialRecord | None) -> str:
    if best is None or best.value is None:
        return ""
    return f"best {format_value(best.value)} (trial {best.number})"


def _summary(result: SweepResult, metric: str) -> str:
    best = result.best
    text = f"Sweep {result.status}: {result.done} trial{'s' if result.done != 1 else ''} done"
    if best is not None and best.value is not None:
        params = ", ".join(f"{k}={v!r}" for k, v in best.params.items())
        text += f"; best {metric} {format_value(best.value)} (trial {best.number}: {params})"
    reason = (result.reason or "").strip().splitlines()
    return text + (f"; {reason[0]}" if reason else "") + "."


def register(cli: click.Group) -> None:
    """Add ``sweep`` to the top-level command group."""
    from desktop_app.cli_common import open_cli_registry, registry_option

    @cli.command(name="sweep")
    @click.argument(
        "sweep_file", metavar="SWEEP.toml", required=False, type=click.Path(dir_okay=False)
    )
    @click.option(
        "--resume",
        "resume_ref",
        metavar="PARENT_RUN",
        help="Carry on the sweep of this parent run up to its budget (SWEEP.toml not needed).",
    )
    @click.option(
        "--dask",
        "dask_address",
        metavar="ADDRESS",
        help="Run the trials on this Dask scheduler (default: $MODELDESK_DASK_SCHEDULER); "
        "its workers must see the registry folder.",
    )
    @registry_option
    def sweep_command(
        sweep_file: str | None, resume_ref: str | None, dask_address: str | None
    ) -> None:
        """Search hyperparameters: run the trials of SWEEP.toml as child runs of a new run.

        SWEEP.toml is a job file with a [sweep] table (method, metric, budget, space). One
        line is printed per finished trial; the parent run id is printed on the last line.
        Ctrl+C stops the sweep (running trials are cancelled, exit code 130); the exit code
        is 0 only if the sweep FINISHED.
        """
        from desktop_app.cli_common import fail
        from desktop_app.registry import RunStatus
        from desktop_app.training.sweep import (
            load_sweep,
            read_sweep,
            resume_sweep,
            run_sweep,
            start_sweep,
        )

        if not sweep_file and not resume_ref:
            raise click.UsageError("Give SWEEP.toml, or --resume PARENT_RUN.")
        if resume_ref:
            registry = open_cli_registry()
            parent_id = registry.resolve_run_id(resume_ref)
            spec = read_sweep(registry, parent_id)
            if sweep_file and load_sweep(sweep_file).text != spec.text:
                click.echo(
                    f"Note: resuming with the sweep stored in run {parent_id}; "
                    f"{click.format_filename(sweep_file)} differs and is not used.",
                    err=True,
                )
        else:
            assert sweep_file is not None
            spec = load_sweep(sweep_file)
            registry = open_cli_registry(create=True)
            parent_id = start_sweep(registry, spec)
        budget = spec.trial_budget()
        limits = [f"{budget} trials"] if budget is not None else []
        if spec.minutes is not None:
            limits.append(f"{spec.minutes:g} min")
        click.echo(
            f"{'Resuming' if resume_ref else 'Sweep'} {parent_id}: {spec.method} search of "
            f"{spec.metric} ({spec.direction}) over {', '.join(spec.space)}; "
            f"budget {' or '.join(limits)}; experiment {spec.job.experiment!r}.",
            err=True,
        )

        def on_event(event: SweepEvent) -> None:
            if event.kind == "trial_ended":
                click.echo(trial_line(event))

        interrupted = threading.Event()
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
        try:
            if resume_ref:
                result = resume_sweep(
                    registry,
                    parent_id,
                    should_stop=interrupted.is_set,
                    on_event=on_event,
                    dask_address=dask_address,
                )
            else:
                result = run_sweep(
                    registry,
                    parent_id,
                    should_stop=interrupted.is_set,
                    on_event=on_event,
                    dask_address=dask_address,
                )
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        click.echo(_summary(result, spec.metric), err=True)
        click.echo(parent_id)
        if result.status == RunStatus.FINISHED:
            return
        if interrupted.is_set():
            raise click.exceptions.Exit(EXIT_INTERRUPTED)
        fail(f"Sweep {parent_id} {result.status}: {result.reason or 'see its trials'}")
