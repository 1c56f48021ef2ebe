"""Workload 6: code snapshot of a 5,000-file, 50 MB repository, cold and unchanged."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time

from tests.benchmarks.bench_common import Context, Result, fmt_seconds, say, verdict

FILES = 5_000
TOTAL_BYTES = 50 * 1024 * 1024
COLD_GOAL_S = 1.0
WARM_GOAL_S = 0.150
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "b@x",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "b@x",
}


def _build(folder: os.PathLike[str] | str) -> None:
    rng = random.Random(0)
    size = TOTAL_BYTES // FILES
    for index in range(FILES):
        path = os.path.join(folder, f"pkg{index % 50:02d}", f"module_{index:04d}.py")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(rng.randbytes(size))
    env = {**os.environ, **_GIT_ENV}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=folder, env=env, check=True)


def run(ctx: Context) -> list[Result]:
    from desktop_app.versioning.snapshots import take_snapshot

    folder = ctx.bench_dir / "snapshot-repo"
    if not (folder / ".git").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        say(f"  building a repository of {FILES:,} files, {TOTAL_BYTES // 2**20} MB …")
        _build(folder)
    # Cold: an edited tracked file and a new untracked file, so new objects must be written.
    stamp = str(time.time_ns()).encode()
    (folder / "pkg00" / "module_0000.py").write_bytes(os.urandom(TOTAL_BYTES // FILES) + stamp)
    (folder / f"scratch_{stamp.decode()}.py").write_bytes(os.urandom(4096))
    subprocess.run(["sync"], check=False)
    t0 = time.perf_counter()
    cold = take_snapshot(folder, f"bench-cold-{stamp.decode()}")
    cold_s = time.perf_counter() - t0
    warm = []
    for index in range(5):
        t0 = time.perf_counter()
        again = take_snapshot(folder, f"bench-warm-{index}")
        warm.append(time.perf_counter() - t0)
        assert again.dirty == cold.dirty
    warm.sort()
    warm_s = warm[len(warm) // 2]
    say(
        f"  ModelDesk: snapshot of {FILES:,} files / {TOTAL_BYTES // 2**20} MB with one edited "
        f"and one new file: {fmt_seconds(cold_s)} (goal < 1 s)"
    )
    say(f"    unchanged tree again: median {fmt_seconds(warm_s)} of 5 (goal < 150 ms)")
    for ref in subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/modeldesk/"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split():
        subprocess.run(["git", "update-ref", "-d", ref], cwd=folder, check=True)
    (folder / f"scratch_{stamp.decode()}.py").unlink()
    # Worst case: the same tree with nothing committed, so every byte is hashed and written.
    bare = ctx.bench_dir / "snapshot-uncommitted"
    shutil.rmtree(bare, ignore_errors=True)
    shutil.copytree(folder, bare, ignore=shutil.ignore_patterns(".git"))
    subprocess.run(["git", "init", "-q"], cwd=bare, check=True)
    t0 = time.perf_counter()
    take_snapshot(bare, "bench-uncommitted")
    uncommitted_s = time.perf_counter() - t0
    shutil.rmtree(bare, ignore_errors=True)
    say(
        f"    worst case, all {TOTAL_BYTES // 2**20} MB untracked in a repository without "
        f"commits: {fmt_seconds(uncommitted_s)}"
    )
    return [
        Result("6", "snapshot, nothing committed", fmt_seconds(uncommitted_s), "(info)", "INFO"),
        Result(
            "6", "code snapshot, cold", fmt_seconds(cold_s), "< 1 s", verdict(cold_s < COLD_GOAL_S)
        ),
        Result(
            "6",
            "code snapshot, unchanged",
            fmt_seconds(warm_s),
            "< 150 ms",
            verdict(warm_s < WARM_GOAL_S),
        ),
    ]
