"""``modeldesk runs code|diff|restore-code``: the exact code behind runs, from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from desktop_app.registry import Run


def _workspace_of(run: Run) -> str:
    from desktop_app.errors import NotFoundError

    workspace = run.git.get("workspace")
    snapshot = run.git.get("snapshot")
    if not workspace or not snapshot:
        reason = (run.git.get("info") or {}).get("reason")  # type: ignore[union-attr]
        raise NotFoundError(
            f"Run {run.id} has no code snapshot" + (f": {reason}" if reason else ".")
        )
    return str(workspace)


def _describe(run: Run) -> list[str]:
    info = run.git.get("info") or {}
    lines = [
        f"Run:        {run.id}  {run.name}",
        f"Workspace:  {run.git.get('workspace', '-')}",
        f"Commit:     {run.git.get('commit') or '(no commit yet)'}",
        f"Branch:     {run.git.get('branch') or '(detached HEAD)'}",
        f"Dirty:      {'yes' if run.git.get('dirty') else 'no'}",
        f"Snapshot:   {run.git.get('snapshot', '-')}",
    ]
    if run.git.get("remote"):
        lines.append(f"Remote:     {run.git['remote']}")
    for large in info.get("large_files", []) if isinstance(info, dict) else []:
        lines.append(
            f"Not copied: {large['path']} ({large['size']:,} bytes, sha256 {large['sha256'][:12]})"
        )
    return lines


def register(runs: click.Group) -> None:
    """Add the code commands to the ``runs`` group."""
    from desktop_app.cli_common import open_cli_registry, registry_option

    @runs.command(name="code")
    @click.argument("run_ref", metavar="RUN")
    @click.option("--stat", is_flag=True, help="List the changed files only, without the diff.")
    @registry_option
    def runs_code(run_ref: str, stat: bool) -> None:
        """Show the code of RUN: its commit, branch, dirty flag and diff against the commit."""
        from desktop_app.versioning.snapshots import run_code_diff

        run = open_cli_registry().get_run(run_ref)
        workspace = _workspace_of(run)
        changed, diff = run_code_diff(workspace, run.id)
        click.echo("\n".join(_describe(run)))
        click.echo(f"\n{len(changed)} file(s) changed against the commit:")
        for item in changed:
            moved = f" (from {item.old_path})" if item.old_path else ""
            click.echo(f"  {item.status}  {item.path}{moved}")
        if diff and not stat:
            click.echo("")
            click.echo(diff, nl=False)

    @runs.command(name="diff")
    @click.argument("run_a", metavar="RUN_A")
    @click.argument("run_b", metavar="RUN_B")
    @click.option("--stat", is_flag=True, help="List the changed files only, without the diff.")
    @registry_option
    def runs_diff(run_a: str, run_b: str, stat: bool) -> None:
        """Show how the code changed from RUN_A to RUN_B."""
        from desktop_app.errors import ConflictError
        from desktop_app.versioning.snapshots import compare_runs

        registry = open_cli_registry()
        a, b = registry.get_run(run_a), registry.get_run(run_b)
        workspace_a, workspace_b = _workspace_of(a), _workspace_of(b)
        if workspace_a != workspace_b:
            raise ConflictError(
                f"The runs come from different workspaces ({workspace_a} and {workspace_b})."
            )
        changed, diff = compare_runs(workspace_a, a.id, b.id)
        if not changed:
            click.echo("The two runs ran the same code.")
            return
        for item in changed:
            click.echo(f"  {item.status}  {item.path}")
        if diff and not stat:
            click.echo("")
            click.echo(diff, nl=False)

    @runs.command(name="restore-code")
    @click.argument("run_ref", metavar="RUN")
    @click.option("--branch", help="Create this branch at the run's code and check it out.")
    @click.option(
        "--worktree",
        type=click.Path(file_okay=False),
        help="Check the run's code out into this new folder (a Git worktree).",
    )
    @registry_option
    def runs_restore_code(run_ref: str, branch: str | None, worktree: str | None) -> None:
        """Give back the exact code of RUN, into a new branch or a new worktree folder.

        Refuses to touch uncommitted work: commit or stash it, or use --worktree.
        """
        from desktop_app.errors import ConflictError
        from desktop_app.versioning.snapshots import restore_to_branch, restore_to_worktree

        if bool(branch) == bool(worktree):
            raise click.UsageError("Give exactly one of --branch NAME or --worktree DIR.")
        run = open_cli_registry().get_run(run_ref)
        workspace = _workspace_of(run)
        if branch:
            try:
                restore_to_branch(workspace, run.id, branch)
            except ConflictError as exc:
                # One line, but with the way out: the CLI shows only the message.
                raise ConflictError(f"{exc.message} {exc.detail}".strip()) from exc
            click.echo(f"Checked out new branch {branch!r} with the code of run {run.id}.")
        else:
            folder = restore_to_worktree(workspace, run.id, str(worktree))
            click.echo(f"The code of run {run.id} is in {folder}.")
