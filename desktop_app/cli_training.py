"""``modeldesk train`` and ``modeldesk runs cancel|rerun``: training runs from the command line.

Also the hidden ``modeldesk worker`` (one run's worker process) and ``modeldesk run-script``
(a user's script run by a frozen build, which has no ``python``).
"""

from __future__ import annotations

import signal
import threading
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from desktop_app.registry import Registry
    from desktop_app.training.queue import QueueEvent

EXIT_INTERRUPTED = 130
_POLL_INTERVAL_S = 0.05


def format_progress(done: int, total: int, message: str) -> str:
    """A progress line such as ``[ 3/5] fold 3``."""
    width = max(2, len(str(total)))
    return f"[{done:>{width}}/{total}] {message}".rstrip()


def _echo_event(event: QueueEvent) -> None:
    from desktop_app.training.queue import QueueEventKind

    if event.kind == QueueEventKind.OUTPUT:
        click.echo(event.text, err=event.stream == "stderr")
    elif event.kind == QueueEventKind.PROGRESS:
        click.echo(format_progress(event.done, event.total, event.text))


def run_and_report(registry: Registry, run_id: str) -> None:
    """Run a queued run in a worker, echo its progress and output, end like ``train`` does.

    The run id is printed on the last line of stdout. Ctrl+C cancels the run (exit 130); a run
    that did not finish exits 1 with its status and reason on one line.
    """
    from desktop_app.cli_common import fail
    from desktop_app.registry import RunStatus
    from desktop_app.training.queue import JobQueue

    queue = JobQueue(registry, max_workers=1)
    queue.submit(run_id)
    interrupted = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
    try:
        ended = False
        cancelled = False
        while not ended:
            if interrupted.is_set() and not cancelled:
                cancelled = True
                click.echo(f"Cancelling run {run_id}...", err=True)
                queue.cancel(run_id)
            for event in queue.poll():
                _echo_event(event)
                ended = ended or (event.is_end and event.run_id == run_id)
            if not ended:
                time.sleep(_POLL_INTERVAL_S)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        queue.shutdown(cancel=True)
    run = registry.get_run(run_id)
    click.echo(run_id)
    if run.status == RunStatus.FINISHED:
        return
    reason = (run.status_reason or "").strip().splitlines()
    message = f"Run {run_id} {run.status}" + (f": {reason[0]}" if reason else ".")
    fail(message, EXIT_INTERRUPTED if interrupted.is_set() else 1)


def register(cli: click.Group, runs: click.Group) -> None:
    """Add ``train``, the hidden worker commands and ``runs cancel|rerun``."""
    from desktop_app.cli_common import fail, open_cli_registry, registry_option

    @cli.command(name="train")
    @click.argument("job", metavar="JOB.toml", type=click.Path(dir_okay=False))
    @click.option("--experiment", metavar="NAME", help="Log into this experiment instead.")
    @registry_option
    def train_command(job: str, experiment: str | None) -> None:
        """Validate the job in JOB.toml and run it in a worker process, showing its progress.

        The run id is printed on the last line. Ctrl+C cancels the run (exit code 130); the
        exit code is 0 only if the run FINISHED.
        """
        from desktop_app.training.queue import enqueue_job

        registry = open_cli_registry(create=True)
        try:
            run_id = enqueue_job(registry, job, experiment=experiment)
        except KeyboardInterrupt:
            fail("Interrupted before the run was created.", EXIT_INTERRUPTED)
        run = registry.get_run(run_id)
        click.echo(f"Run {run_id} ({run.name}) in experiment {run.experiment_name!r}.", err=True)
        run_and_report(registry, run_id)

    @runs.command(name="cancel")
    @click.argument("run_ref", metavar="RUN")
    @registry_option
    def runs_cancel(run_ref: str) -> None:
        """Cancel RUN, queued or running (on this computer): end its process, mark it KILLED."""
        from desktop_app.training.queue import cancel_run

        registry = open_cli_registry()
        run_id = registry.resolve_run_id(run_ref)
        was = cancel_run(registry, run_id)
        click.echo(f"Cancelled run {run_id} (it was {was}).")

    @runs.command(name="rerun")
    @click.argument("run_ref", metavar="RUN")
    @click.option(
        "--wait", is_flag=True, help="Run it here and show its progress, like 'modeldesk train'."
    )
    @registry_option
    def runs_rerun(run_ref: str, wait: bool) -> None:
        """Run the job of RUN again as a new run and print its id.

        Without --wait the new run starts in a background worker and this returns at once.
        """
        from desktop_app.training import launch
        from desktop_app.training.queue import rerun

        registry = open_cli_registry()
        new_id = rerun(registry, registry.resolve_run_id(run_ref))
        if wait:
            run_and_report(registry, new_id)
            return
        pid = launch.start_detached(registry.root, new_id)
        registry.set_run_process(new_id, pid)  # so a worker that dies early is found
        click.echo(new_id)

    @cli.command(name="worker", hidden=True)
    @click.option("--registry", "registry_path", required=True, help="The registry folder.")
    @click.option("--run", "run_id", help="The id of the queued run.")
    @click.option("--standby", is_flag=True, help="Import first, then read the run id from stdin.")
    def worker_command(registry_path: str, run_id: str | None, standby: bool) -> None:
        """Run one queued run in this process (started by the job queue)."""
        from desktop_app.cli_common import fail
        from desktop_app.training import worker

        if standby:
            raise click.exceptions.Exit(worker.standby(registry_path))
        if not run_id:
            fail("Give --run RUN_ID, or --standby.", 2)
        raise click.exceptions.Exit(worker.main(registry_path, run_id))

    @cli.command(
        name="run-script",
        hidden=True,
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )
    @click.argument("script", type=click.Path(dir_okay=False))
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run_script_command(script: str, args: tuple[str, ...]) -> None:
        """Run a Python script as ``__main__`` (how a frozen build runs a job's script)."""
        import runpy
        import sys
        from pathlib import Path

        sys.argv = [script, *args]
        sys.path.insert(0, str(Path(script).resolve().parent))
        runpy.run_path(script, run_name="__main__")
