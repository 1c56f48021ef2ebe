"""Background tasks: results, errors, generator items, and a widget abandoning its stale work."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from desktop_app.errors import NotFoundError
from desktop_app.ui.workers import Outcome, TaskGroup, start_task

TIMEOUT_MS = 10_000


def test_a_task_hands_its_result_to_the_gui_thread(qtbot) -> None:
    gui_thread = threading.get_ident()
    seen: list[tuple[int, int]] = []

    def work(a: int, b: int) -> int:
        seen.append((threading.get_ident(), a + b))
        return a + b

    got: list[tuple[int, int]] = []
    finished: list[bool] = []
    # Handlers are connected before the task starts: a signal emitted before a waitSignal
    # connected would never be seen.
    start_task(
        work,
        2,
        3,
        on_returned=lambda value: got.append((threading.get_ident(), value)),
        on_finished=lambda: finished.append(True),
    )
    qtbot.waitUntil(lambda: finished == [True], timeout=TIMEOUT_MS)
    assert seen[0][0] != gui_thread
    assert got == [(gui_thread, 5)]


def test_a_generator_task_hands_over_each_item_as_it_comes(qtbot) -> None:
    items: list[int] = []
    finished: list[bool] = []
    start_task(
        lambda n: (i * i for i in range(n)),
        5,
        on_yielded=items.append,
        on_finished=lambda: finished.append(True),
    )
    qtbot.waitUntil(lambda: finished == [True], timeout=TIMEOUT_MS)
    assert items == [0, 1, 4, 9, 16]


def test_a_group_tags_results_and_errors_with_their_token(qtbot) -> None:
    group = TaskGroup()
    outcomes: list[Outcome] = []

    def missing() -> None:
        raise NotFoundError("no such run")

    def broken() -> None:
        raise ValueError("a bug")

    group.call("sum", sum, [1, 2, 3], on_done=outcomes.append)
    group.call("missing", missing, on_done=outcomes.append)
    group.call("broken", broken, on_done=outcomes.append)
    qtbot.waitUntil(lambda: len(outcomes) == 3 and group.pending() == 0, timeout=TIMEOUT_MS)
    by_token = {outcome.token: outcome for outcome in outcomes}
    assert by_token["sum"].ok and by_token["sum"].value == 6
    assert not by_token["missing"].ok and by_token["missing"].expected
    assert isinstance(by_token["broken"].error, ValueError)
    assert not by_token["broken"].expected
    assert group.wait(TIMEOUT_MS)


def test_abandoned_work_is_stopped_and_never_reported(qtbot) -> None:
    group = TaskGroup()
    release = threading.Event()
    closed = threading.Event()

    def slow_items() -> Iterator[int]:
        try:
            yield 1
            release.wait(TIMEOUT_MS / 1000)
            yield from range(2, 1_000_000)
        finally:
            closed.set()

    stale_items: list[tuple[str, int]] = []
    stale_done: list[Outcome] = []
    fresh: list[Outcome] = []
    group.iterate(
        "stale",
        slow_items,
        on_item=lambda t, i: stale_items.append((t, i)),
        on_done=stale_done.append,
    )
    group.call("fresh", lambda: "kept", on_done=fresh.append)
    qtbot.waitUntil(lambda: stale_items == [("stale", 1)], timeout=TIMEOUT_MS)

    group.abandon(lambda token: token == "stale")
    release.set()
    assert closed.wait(TIMEOUT_MS / 1000), "the abandoned generator was not closed"
    qtbot.waitUntil(lambda: group.pending() == 0, timeout=TIMEOUT_MS)
    assert stale_items == [("stale", 1)]
    assert stale_done == []
    assert [outcome.value for outcome in fresh] == ["kept"]
    assert group.wait(TIMEOUT_MS)


def test_waiting_for_the_shared_pool_leaves_a_group_s_work_to_the_group(qtbot) -> None:
    from desktop_app.ui import workers

    group = TaskGroup()
    release = threading.Event()
    outcomes: list[Outcome] = []

    def slow() -> str:
        release.wait(TIMEOUT_MS / 1000)
        return "loaded"

    group.call("snapshot", slow, on_done=outcomes.append)
    threading.Timer(0.2, release.set).start()
    assert workers.wait_for_tasks(TIMEOUT_MS)  # cancels the shared pool's tasks only
    # The widget waiting for its snapshot still gets it.
    qtbot.waitUntil(lambda: [o.value for o in outcomes] == ["loaded"], timeout=TIMEOUT_MS)
    assert group.wait(TIMEOUT_MS)
