"""Hyperparameter sweeps: many trial runs of one job under a parent run, searched by grid,
random sampling or Optuna's TPE.

A sweep file is a job file plus a ``[sweep]`` table::

    [sweep]
    method = "optuna"        # "grid", "random" or "optuna" (TPE)
    metric = "accuracy"      # the job's final metric to optimise
    direction = "maximize"   # or "minimize" (default: by the metric, e.g. rmse is minimised)
    trials = 20              # budget in trials ...
    minutes = 10             # ... and/or in minutes (whichever ends first)
    parallel = 2             # trials at once (default: cores - 1, or the Dask cluster's threads)
    seed = 0
    [sweep.space]
    n_estimators = { low = 10, high = 200, log = true, type = "int" }
    max_depth = [3, 5, 8, null]       # a list = a choice; null (or "None") is None
    criterion = ["gini", "entropy"]

``start_sweep`` opens the parent run (RUNNING, the file kept as its artifact ``sweep.toml``);
``run_sweep`` queues trials as child runs named ``trial N`` and follows them to the budget;
``resume_sweep`` carries a stopped sweep on from the trials its parent already has. The
registry is the sweep's whole state: tags ``sweep_trial`` and ``sweep_params`` on every child,
``best_trial`` on the parent and ``is_best`` on the best child, the parent metric
``best_<metric>`` after every trial that ended (step = trials ended).

Budgets count trials that ended FINISHED or FAILED, across sessions; a trial cancelled by a stop
is not counted and its grid combination is tried again on resume. The minutes budget counts the
time of earlier sessions too (tag ``sweep_elapsed_s``); when it runs out the trials still running
are cancelled, so the sweep ends on time.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import random
import re
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from desktop_app.errors import AppError, ConflictError, InvalidValueError, NotFoundError
from desktop_app.registry import Registry, Run, RunStatus
from desktop_app.training.dask_backend import ENV_DASK_SCHEDULER
from desktop_app.training.spec import NONE_TEXT, JobSpec, JobSpecError

if TYPE_CHECKING:
    from desktop_app.training.queue import QueueEvent

METHODS = ("grid", "random", "optuna")
DIRECTIONS = ("maximize", "minimize")
SWEEP_ARTIFACT = "sweep.toml"
STOPPED_REASON = "stopped by user"
TIME_BUDGET_REASON = "sweep time budget reached"
TAG_METHOD = "sweep_method"
TAG_METRIC = "sweep_metric"
TAG_DIRECTION = "sweep_direction"
TAG_BASE_DIR = "sweep_base_dir"
TAG_ELAPSED = "sweep_elapsed_s"
TAG_DONE = "sweep_trials_done"
TAG_BACKEND = "sweep_backend"
TAG_BEST_TRIAL = "best_trial"
TAG_TRIAL = "sweep_trial"
TAG_PARAMS = "sweep_params"
TAG_IS_BEST = "is_best"
# Metrics where smaller is better: the default direction for them is "minimize".
MINIMIZED_METRICS = frozenset({"log_loss", "rmse", "mae", "mse", "mape", "median_ae"})
# A random or Optuna sweep whose first trials all fail stops instead of failing to the budget.
FAILED_START_LIMIT = 5
POLL_INTERVAL_S = 0.1
HEARTBEAT_EVERY_S = 10.0
_SWEEP_KEYS = ("method", "metric", "direction", "trials", "minutes", "parallel", "seed", "space")
_RANGE_KEYS = ("low", "high", "log", "type", "step")
_RANGE_TYPES = ("int", "float")
_BARE_NULL = re.compile(r"null(?![\w-])")


class SweepSpecError(JobSpecError):
    """A sweep file that cannot run as written; the message starts with the field at fault."""

    code = "INVALID_SWEEP"


@dataclass(frozen=True)
class Choice:
    """A hyperparameter that takes one of the listed values."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """A hyperparameter drawn from ``low``..``high`` (both included), on a log scale if ``log``."""

    low: float
    high: float
    log: bool = False
    integer: bool = False
    step: float | None = None

    def grid_values(self) -> list[Any]:
        """Every value of an integer range, by its step (a grid cannot list a float range)."""
        step = int(self.step or 1)
        return list(range(int(self.low), int(self.high) + 1, step))


Dimension = Choice | Range


@dataclass(frozen=True)
class SweepSpec:
    """A job and how to search its hyperparameters."""

    job: JobSpec
    method: str
    metric: str
    direction: str
    space: dict[str, Dimension]
    trials: int | None = None
    minutes: float | None = None
    parallel: int | None = None
    seed: int = 0
    text: str = ""

    @property
    def base_dir(self) -> Path:
        """The folder the job's relative paths start from."""
        return self.job.base_dir

    def grid_size(self) -> int:
        """How many combinations the space has (grid method only)."""
        return math.prod(len(_grid_values(dim)) for dim in self.space.values())

    def trial_budget(self) -> int | None:
        """The most trials the sweep runs, or None when only time bounds it."""
        if self.method == "grid":
            return min(self.trials or self.grid_size(), self.grid_size())
        return self.trials

    def trial_job(self, params: Mapping[str, Any]) -> JobSpec:
        """The job of one trial: the trial's params over the job's own model params."""
        assert self.job.model is not None
        model = replace(self.job.model, params={**self.job.model.params, **params})
        return replace(self.job, model=model)

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` beats ``than`` in the sweep's direction."""
        return value > than if self.direction == "maximize" else value < than


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a sweep: its child run, its params and, once it ended, its outcome."""

    number: int
    run_id: str
    params: dict[str, Any]
    status: RunStatus = RunStatus.QUEUED
    value: float | None = None
    reason: str = ""

    @property
    def counts(self) -> bool:
        """Whether the trial used up budget (it ended FINISHED or FAILED)."""
        return self.status in (RunStatus.FINISHED, RunStatus.FAILED)


@dataclass(frozen=True)
class SweepEvent:
    """A trial started or ended; ``done`` trials of ``budget`` (None: time only) have ended."""

    kind: str  # "trial_started" or "trial_ended"
    trial: TrialRecord
    done: int
    budget: int | None
    best: TrialRecord | None
    metric: str


@dataclass(frozen=True)
class SweepResult:
    """How a sweep session ended: the parent's status and every trial the parent has."""

    parent_id: str
    status: RunStatus
    reason: str
    trials: list[TrialRecord]
    best: TrialRecord | None
    done: int


class TrialQueue(Protocol):
    """What a sweep needs from a queue of runs: ``JobQueue`` and ``DaskQueue`` both fit."""

    max_workers: int

    def submit(self, run_id: str) -> None:
        """Add a QUEUED run to the waiting list."""

    def cancel(self, run_id: str) -> None:
        """Cancel a waiting or running run (it ends KILLED)."""

    def poll(self) -> list[QueueEvent]:
        """Start what can start, reap what ended, without blocking."""

    def running(self) -> list[str]:
        """Ids of the runs running now."""

    def waiting(self) -> list[str]:
        """Ids of the runs waiting to start."""

    def shutdown(self, cancel: bool) -> list[QueueEvent]:
        """Stop the queue, cancelling what it holds if asked."""


QueueFactory = Callable[..., TrialQueue]


# ---- reading sweep files -----------------------------------------------------------------------


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and check a sweep file (a job file with a ``[sweep]`` table)."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepSpecError(f"no such sweep file: {file}") from None
    except IsADirectoryError:
        raise SweepSpecError(f"{file} is a folder, not a sweep file") from None
    except UnicodeDecodeError as exc:
        raise SweepSpecError(f"{file.name}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise SweepSpecError(f"cannot read the sweep file {file}: {exc.strerror}") from None
    try:
        return parse_sweep(text, file.resolve().parent)
    except JobSpecError as exc:
        raise SweepSpecError(f"{file.name}: {exc.message}", detail=exc.detail) from None


def parse_sweep(text: str, base_dir: Path) -> SweepSpec:
    """Build a sweep spec from TOML text; the job's relative paths start at ``base_dir``."""
    import tomli_w

    from desktop_app.training.spec import parse_job

    try:
        raw = tomllib.loads(nulls_as_none_text(text))
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"TOML syntax error: {exc}") from None
    if "sweep" not in raw:
        raise SweepSpecError(
            "missing; add a [sweep] table with method, metric and space", field="sweep"
        )
    table = _table(raw.pop("sweep"), "sweep")
    job = parse_job(tomli_w.dumps(raw), base_dir)
    if job.script is not None or job.model is None:
        raise SweepSpecError(
            "a sweep needs a [model] job: its trials set the model's hyperparameters",
            field="sweep",
        )
    _check_keys(table, _SWEEP_KEYS, "sweep")
    method = _choice(table.get("method"), METHODS, "sweep.method", required=True)
    metric = _sweep_metric(table.get("metric"), job)
    direction = _choice(
        table.get("direction", "minimize" if metric in MINIMIZED_METRICS else "maximize"),
        DIRECTIONS,
        "sweep.direction",
    )
    trials = _positive_int(table.get("trials"), "sweep.trials")
    minutes = _positive_number(table.get("minutes"), "sweep.minutes")
    parallel = _positive_int(table.get("parallel"), "sweep.parallel")
    seed = _positive_int(table.get("seed", 0), "sweep.seed", zero=True) or 0
    if "space" not in table:
        raise SweepSpecError(
            "missing; add [sweep.space] with the hyperparameters to search", field="sweep.space"
        )
    space_table = _table(table["space"], "sweep.space")
    if not space_table:
        raise SweepSpecError(
            "is empty; name at least one hyperparameter to search", field="sweep.space"
        )
    space = {key: _dimension(value, f"sweep.space.{key}") for key, value in space_table.items()}
    _check_space_against_estimator(space, job.model.estimator)
    if method == "grid":
        for key, dim in space.items():
            _grid_values(dim, f"sweep.space.{key}")
    elif trials is None and minutes is None:
        raise SweepSpecError(
            f"a {method} sweep needs a budget: give trials, minutes or both", field="sweep"
        )
    return SweepSpec(
        job=job,
        method=str(method),
        metric=metric,
        direction=str(direction),
        space=space,
        trials=trials,
        minutes=minutes,
        parallel=parallel,
        seed=seed,
        text=text,
    )


def nulls_as_none_text(text: str) -> str:
    """TOML text with every bare ``null`` value written ``"None"`` (TOML itself has no null).

    Strings, comments, keys and table headers are left alone; the job reader already reads the
    text ``"None"`` as None, so both spellings work in a sweep file.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
        elif text.startswith(('"""', "'''"), i):
            end = _end_of_multiline(text, i)
            out.append(text[i:end])
            i = end
        elif char in "\"'":
            end = i + 1
            while end < n and text[end] not in (char, "\n"):
                end += 2 if char == '"' and text[end] == "\\" else 1
            out.append(text[i : end + 1])
            i = end + 1
        elif _BARE_NULL.match(text, i) and _null_is_a_value(text, i, "".join(out)):
            out.append(f'"{NONE_TEXT}"')
            i += 4
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _end_of_multiline(text: str, start: int) -> int:
    quote = text[start : start + 3]
    at = start + 3
    while True:
        found = text.find(quote, at)
        if found < 0:
            return len(text)
        if quote == '"""' and _escaped(text, found):
            at = found + 1
            continue
        end = found + 3
        while end < len(text) and text[end] == quote[0] and end - found < 5:
            end += 1
        return end


def _escaped(text: str, at: int) -> bool:
    slashes = 0
    while at - slashes - 1 >= 0 and text[at - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1


def _null_is_a_value(text: str, at: int, before: str) -> bool:
    previous = before.rstrip()
    if not previous or previous[-1] not in "=[,":
        return False
    if text[at + 4 :].lstrip(" \t")[:1] in ("=", "."):
        return False  # a key named null
    line = previous[previous.rfind("\n") + 1 :].strip()
    return line not in ("[", "[[")  # a "[" that opens its line starts a table header


def _table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SweepSpecError(
            f"must be a table ([{name}] or {{ key = value }}), got {value!r}", field=name
        )
    return value


def _check_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise SweepSpecError(
                f"unknown key{hint}; known keys here: {', '.join(known)}", field=f"{where}.{key}"
            )


def _choice(value: Any, allowed: tuple[str, ...], name: str, *, required: bool = False) -> str:
    if value is None and required:
        raise SweepSpecError(f"missing; choose one of {', '.join(allowed)}", field=name)
    if value not in allowed:
        close = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        what = "method" if name.endswith("method") else "value"
        raise SweepSpecError(
            f"unknown {what} {value!r}{hint}; choose one of {', '.join(allowed)}", field=name
        )
    return str(value)


def _sweep_metric(value: Any, job: JobSpec) -> str:
    from desktop_app.training.evaluation import METRICS

    if value is None:
        if job.metrics:
            return job.metrics[0]
        raise SweepSpecError(
            "missing; name the metric to optimise, such as accuracy or r2", field="sweep.metric"
        )
    if not isinstance(value, str) or value not in METRICS:
        close = difflib.get_close_matches(str(value), list(METRICS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise SweepSpecError(
            f"unknown metric {value!r}{hint}; known: {', '.join(METRICS)}", field="sweep.metric"
        )
    if job.metrics is not None and value not in job.metrics:
        raise SweepSpecError(
            f"{value!r} is not among the job's metrics ({', '.join(job.metrics)}); add it there",
            field="sweep.metric",
        )
    if job.task is not None and METRICS[value].task != job.task:
        raise SweepSpecError(
            f"{value!r} is a {METRICS[value].task} metric but the job's task is {job.task}",
            field="sweep.metric",
        )
    return value


def _positive_int(value: Any, name: str, *, zero: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SweepSpecError(f"must be a whole number, got {value!r}", field=name)
    if value < (0 if zero else 1):
        raise SweepSpecError(f"must be {'0' if zero else '1'} or more, got {value}", field=name)
    return value


def _positive_number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SweepSpecError(f"must be a number above 0, got {value!r}", field=name)
    return float(value)


def _dimension(value: Any, name: str) -> Dimension:
    if isinstance(value, list):
        return _choice_dimension(value, name)
    if isinstance(value, dict):
        return _range_dimension(value, name)
    raise SweepSpecError(
        f"give a list of values to choose from, such as [1, 2, 3], or a range such as "
        f"{{ low = 1, high = 10 }}; got {value!r}",
        field=name,
    )


def _choice_dimension(value: list[Any], name: str) -> Choice:
    if not value:
        raise SweepSpecError("the list of values is empty", field=name)
    values = [None if v == NONE_TEXT else v for v in value]
    for item in values:
        if item is not None and not isinstance(item, str | int | float | bool):
            raise SweepSpecError(
                f"each value must be text, a number, true/false or null, got {item!r}", field=name
            )
    keys = [_value_key(v) for v in values]
    repeated = sorted({str(v) for v, k in zip(values, keys, strict=True) if keys.count(k) > 1})
    if repeated:
        raise SweepSpecError(f"listed twice: {', '.join(repeated)}", field=name)
    return Choice(tuple(values))


def _range_dimension(value: dict[str, Any], name: str) -> Range:
    _check_keys(value, _RANGE_KEYS, name)
    for bound in ("low", "high"):
        if bound not in value:
            raise SweepSpecError(f"a range needs both low and high; {bound} is missing", field=name)
        number = value[bound]
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise SweepSpecError(f"{bound} must be a number, got {number!r}", field=name)
    low, high = value["low"], value["high"]
    if low > high:
        raise SweepSpecError(f"low ({low}) is above high ({high})", field=name)
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise SweepSpecError(f"log must be true or false, got {log!r}", field=name)
    default_type = "int" if isinstance(low, int) and isinstance(high, int) else "float"
    kind = _choice(value.get("type", default_type), _RANGE_TYPES, f"{name}.type")
    step = value.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | float)):
        raise SweepSpecError(f"step must be a number, got {step!r}", field=name)
    if step is not None and step <= 0:
        raise SweepSpecError(f"step must be above 0, got {step}", field=name)
    if log and low <= 0:
        raise SweepSpecError(f"a log range needs low above 0, got {low}", field=name)
    if log and step is not None:
        raise SweepSpecError("a log range cannot have a step", field=name)
    if kind == "int":
        for label, number in (("low", low), ("high", high), ("step", step)):
            if number is not None and float(number) != int(number):
                raise SweepSpecError(
                    f"{label} must be a whole number for an int range, got {number}", field=name
                )
        return Range(int(low), int(high), log, True, None if step is None else int(step))
    return Range(float(low), float(high), log, False, None if step is None else float(step))


def _grid_values(dim: Dimension, name: str = "") -> list[Any]:
    if isinstance(dim, Choice):
        return list(dim.values)
    if not dim.integer:
        raise SweepSpecError(
            "the grid method needs values it can list, and a float range is continuous; give "
            "a list of values, or use method random or optuna",
            field=name,
        )
    if dim.log:
        raise SweepSpecError(
            "the grid method lists every value of a range, so a log range makes no sense "
            "there; give a list of values, or use method random or optuna",
            field=name,
        )
    return dim.grid_values()


def _check_space_against_estimator(space: Mapping[str, Dimension], estimator: str) -> None:
    """Every key must be a hyperparameter, every value one scikit-learn accepts for it."""
    from desktop_app.training.catalog import find_estimator, hyperparameters, param_problems

    cls = find_estimator(estimator)
    known = [h.name for h in hyperparameters(cls)]
    for key, dim in space.items():
        name = f"sweep.space.{key}"
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise SweepSpecError(f"{cls.__name__} has no hyperparameter {key!r}{hint}", field=name)
        samples = list(dim.values) if isinstance(dim, Choice) else [dim.low, dim.high]
        for sample in samples:
            problems = param_problems(cls, {key: sample})
            if problems:
                reason = problems[0].split(": ", 1)[-1]
                raise SweepSpecError(f"value {sample!r} is not accepted: {reason}", field=name)


def _value_key(value: Any) -> str:
    return json.dumps(value)


def _params_key(params: Mapping[str, Any], keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(_value_key(params.get(k)) for k in keys)


# ---- samplers ----------------------------------------------------------------------------------


def grid_combinations(space: Mapping[str, Dimension]) -> Iterator[dict[str, Any]]:
    """Every combination of the space, the first key varying slowest."""
    keys = list(space)
    for values in itertools.product(*(_grid_values(space[k], k) for k in keys)):
        yield dict(zip(keys, values, strict=True))


def random_params(space: Mapping[str, Dimension], seed: int, number: int) -> dict[str, Any]:
    """The params of random trial ``number``: a pure function of the seed and the number."""
    rng = random.Random(f"modeldesk-sweep:{seed}:{number}")
    return {key: _sample(dim, rng) for key, dim in space.items()}


def _sample(dim: Dimension, rng: random.Random) -> Any:
    if isinstance(dim, Choice):
        return dim.values[rng.randrange(len(dim.values))]
    if dim.integer:
        low, high = int(dim.low), int(dim.high)
        if dim.log:
            drawn = math.exp(rng.uniform(math.log(low - 0.5 + 1e-9), math.log(high + 0.5)))
            return min(high, max(low, round(drawn)))
        return rng.randrange(low, high + 1, int(dim.step or 1))
    if dim.log:
        return math.exp(rng.uniform(math.log(dim.low), math.log(dim.high)))
    if dim.step:
        return dim.low + dim.step * rng.randint(0, int((dim.high - dim.low) // dim.step))
    return rng.uniform(dim.low, dim.high)


class _Proposer(Protocol):
    def propose(self, number: int) -> dict[str, Any] | None:
        """The params of the next trial, or None when the method has nothing left."""

    def started(self, number: int, run_id: str) -> None:
        """The proposed trial now has a run."""

    def ended(self, trial: TrialRecord) -> None:
        """A trial this session started has ended."""


class _GridProposer:
    """Every combination in order, skipping the ones already done."""

    def __init__(self, spec: SweepSpec, history: Sequence[TrialRecord]) -> None:
        self.keys = list(spec.space)
        self.done = {_params_key(t.params, self.keys) for t in history if t.counts}
        self.combos = grid_combinations(spec.space)

    def propose(self, number: int) -> dict[str, Any] | None:
        for combo in self.combos:
            if _params_key(combo, self.keys) not in self.done:
                return combo
        return None

    def started(self, number: int, run_id: str) -> None:
        pass

    def ended(self, trial: TrialRecord) -> None:
        pass


class _RandomProposer:
    """Seeded random draws, one per trial number."""

    def __init__(self, spec: SweepSpec) -> None:
        self.spec = spec

    def propose(self, number: int) -> dict[str, Any] | None:
        return random_params(self.spec.space, self.spec.seed, number)

    def started(self, number: int, run_id: str) -> None:
        pass

    def ended(self, trial: TrialRecord) -> None:
        pass


class _OptunaProposer:
    """An in-memory Optuna study (TPE, seeded): ask when a slot frees, tell when a trial ends."""

    def __init__(self, spec: SweepSpec, history: Sequence[TrialRecord]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = spec.space
        self.distributions = {key: _distribution(dim) for key, dim in spec.space.items()}
        # A resumed study gets a seed of its own: the first one would draw the same startup
        # params again. It stays a function of the sweep's seed and where it resumes.
        resumed_at = max((t.number for t in history), default=0)
        seed = spec.seed if not resumed_at else (spec.seed * 1_000_003 + resumed_at) % 2**32
        self.study = optuna.create_study(
            direction="maximize" if spec.direction == "maximize" else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        self.asked: dict[int, Any] = {}
        self.by_run: dict[str, Any] = {}
        for trial in history:
            frozen = self._history_trial(trial)
            if frozen is not None:
                self.study.add_trial(frozen)

    def _history_trial(self, trial: TrialRecord) -> Any:
        from optuna.trial import TrialState, create_trial

        if not trial.counts or set(trial.params) != set(self.distributions):
            return None
        if not all(_in_space(self.space[k], v) for k, v in trial.params.items()):
            return None
        if trial.status == RunStatus.FINISHED and trial.value is not None:
            return create_trial(
                params=trial.params, distributions=self.distributions, value=trial.value
            )
        return create_trial(
            params=trial.params, distributions=self.distributions, state=TrialState.FAIL
        )

    def propose(self, number: int) -> dict[str, Any] | None:
        asked = self.study.ask(fixed_distributions=self.distributions)
        self.asked[number] = asked
        return dict(asked.params)

    def started(self, number: int, run_id: str) -> None:
        self.by_run[run_id] = self.asked.pop(number)

    def ended(self, trial: TrialRecord) -> None:
        from optuna.trial import TrialState

        asked = self.by_run.pop(trial.run_id, None)
        if asked is None:
            return
        if trial.status == RunStatus.FINISHED and trial.value is not None:
            self.study.tell(asked, trial.value)
        elif trial.status == RunStatus.KILLED:
            self.study.tell(asked, state=TrialState.PRUNED)
        else:
            self.study.tell(asked, state=TrialState.FAIL)


def _in_space(dim: Dimension, value: Any) -> bool:
    if isinstance(dim, Choice):
        return _value_key(value) in {_value_key(v) for v in dim.values}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return dim.low <= value <= dim.high and (not dim.integer or float(value).is_integer())


def _distribution(dim: Dimension) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(dim, Choice):
        return CategoricalDistribution(list(dim.values))
    if dim.integer:
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=int(dim.step or 1))
    return FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)


def _proposer(spec: SweepSpec, history: Sequence[TrialRecord]) -> _Proposer:
    if spec.method == "grid":
        return _GridProposer(spec, history)
    if spec.method == "random":
        return _RandomProposer(spec)
    return _OptunaProposer(spec, history)


# ---- the parent run ----------------------------------------------------------------------------


def start_sweep(registry: Registry, sweep_spec: SweepSpec, *, name: str | None = None) -> str:
    """Check the sweep's job, then open its parent run (RUNNING, ``sweep.toml`` stored)."""
    from desktop_app.training.spec import validate_job

    first = (
        next(iter(grid_combinations(sweep_spec.space)), None)
        if sweep_spec.method == "grid"
        else None
    )
    probe = sweep_spec.trial_job(first or random_params(sweep_spec.space, sweep_spec.seed, 1))
    problems = validate_job(probe)
    if problems:
        raise SweepSpecError(
            "The sweep's job is not valid: " + "; ".join(problems), detail="\n".join(problems)
        )
    _check_metric_is_reported(sweep_spec, probe)
    job = sweep_spec.job
    parent = registry.create_run(
        job.experiment,
        name=name or job.name or f"sweep {sweep_spec.method} {sweep_spec.metric}",
        status=RunStatus.RUNNING,
        source="sweep",
        tags={
            TAG_METHOD: sweep_spec.method,
            TAG_METRIC: sweep_spec.metric,
            TAG_DIRECTION: sweep_spec.direction,
            TAG_BASE_DIR: str(Path(sweep_spec.base_dir).resolve()),
            "estimator": job.model.estimator if job.model else "",
        },
    )
    try:
        text = sweep_spec.text or _spec_text(sweep_spec)
        registry.log_artifact_bytes(parent.id, text.encode("utf-8"), SWEEP_ARTIFACT, kind="sweep")
    except BaseException as exc:
        registry.set_run_status(
            parent.id, RunStatus.FAILED, f"The sweep could not be stored: {exc}"
        )
        raise
    return parent.id


def _check_metric_is_reported(spec: SweepSpec, probe: JobSpec) -> None:
    """The trials must report the sweep's metric: right task, and asked for or a default."""
    from desktop_app.training.catalog import make_estimator
    from desktop_app.training.data import data_problems
    from desktop_app.training.evaluation import METRICS, resolve_metrics

    _, task = data_problems(probe)
    if task is None or probe.model is None:
        return
    if METRICS[spec.metric].task != task:
        raise SweepSpecError(
            f"{spec.metric!r} is a {METRICS[spec.metric].task} metric but the job is {task}",
            field="sweep.metric",
        )
    if spec.job.metrics is None:
        reported = resolve_metrics(None, task, make_estimator(probe.model, task, probe.split.seed))
        if spec.metric not in reported:
            raise SweepSpecError(
                f"the job does not report {spec.metric!r} (by default it reports "
                f'{", ".join(reported)}); add metrics = ["{spec.metric}"] to the job',
                field="sweep.metric",
            )


def _spec_text(spec: SweepSpec) -> str:
    """A sweep file for a spec built in code (no original text to keep)."""
    import tomli_w

    from desktop_app.training.spec import dump_job

    space: dict[str, Any] = {}
    for key, dim in spec.space.items():
        if isinstance(dim, Choice):
            space[key] = [NONE_TEXT if v is None else v for v in dim.values]
        else:
            entry: dict[str, Any] = {"low": dim.low, "high": dim.high, "log": dim.log}
            entry["type"] = "int" if dim.integer else "float"
            if dim.step is not None:
                entry["step"] = dim.step
            space[key] = entry
    sweep: dict[str, Any] = {
        "method": spec.method,
        "metric": spec.metric,
        "direction": spec.direction,
        "seed": spec.seed,
    }
    for key in ("trials", "minutes", "parallel"):
        if getattr(spec, key) is not None:
            sweep[key] = getattr(spec, key)
    sweep["space"] = space
    return dump_job(spec.job) + "\n" + tomli_w.dumps({"sweep": sweep})


def read_sweep(registry: Registry, parent_id: str) -> SweepSpec:
    """The sweep a parent run was started with (its ``sweep.toml``, read back)."""
    run = registry.get_run(parent_id)
    try:
        artifact = registry.get_artifact(run.id, SWEEP_ARTIFACT)
    except NotFoundError:
        raise NotFoundError(f"Run {run.id} has no {SWEEP_ARTIFACT}: it is not a sweep.") from None
    text = registry.artifacts.read_bytes(artifact.sha256).decode("utf-8")
    return parse_sweep(text, Path(run.tags.get(TAG_BASE_DIR) or "."))


def sweep_trials(
    registry: Registry, parent_id: str, spec: SweepSpec | None = None
) -> list[TrialRecord]:
    """The trials (child runs tagged ``sweep_trial``) of a sweep, by trial number."""
    spec = spec or read_sweep(registry, parent_id)
    ids = registry.search_runs(f'parent = "{parent_id}"', limit=None)
    trials = []
    for run in registry.get_runs(ids, skip_missing=True):
        trial = _trial_of(run, spec)
        if trial is not None:
            trials.append(trial)
    return sorted(trials, key=lambda t: t.number)


def _trial_of(run: Run, spec: SweepSpec) -> TrialRecord | None:
    number = run.tags.get(TAG_TRIAL, "")
    if not number.isdigit():
        return None
    params = _trial_params(run, spec)
    if params is None:
        return None
    value = None
    if run.status == RunStatus.FINISHED:
        summary = run.metrics.get(spec.metric)
        if summary is not None and math.isfinite(summary.last):
            value = summary.last
    return TrialRecord(int(number), run.id, params, run.status, value, run.status_reason)


def _trial_params(run: Run, spec: SweepSpec) -> dict[str, Any] | None:
    """A trial's params: the exact JSON tag the sweep wrote, else read back from the run params."""
    text = run.tags.get(TAG_PARAMS)
    if text:
        try:
            params = json.loads(text)
        except ValueError:
            params = None
        if isinstance(params, dict) and set(params) == set(spec.space):
            return params
    params = {}
    for key, dim in spec.space.items():
        if key not in run.params:
            return None
        try:
            params[key] = _from_param_text(dim, run.params[key])
        except ValueError:
            return None
    return params


def _from_param_text(dim: Dimension, text: str) -> Any:
    if isinstance(dim, Choice):
        for value in dim.values:
            if (value if isinstance(value, str) else repr(value)) == text:
                return value
        raise ValueError(text)
    return int(text) if dim.integer else float(text)


# ---- running ----------------------------------------------------------------------------------


def run_sweep(
    registry: Registry,
    parent_id: str,
    *,
    queue_factory: QueueFactory | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_event: Callable[[SweepEvent], None] | None = None,
    dask_address: str | None = None,
    poll_interval: float = POLL_INTERVAL_S,
) -> SweepResult:
    """Run the trials of a RUNNING sweep parent until its budget is spent or it is stopped.

    Trials go to ``queue_factory(registry, max_workers)`` (default: a local ``JobQueue``, or a
    ``DaskQueue`` when ``dask_address`` or ``$MODELDESK_DASK_SCHEDULER`` names a scheduler).
    ``should_stop()`` returning true cancels the running trials and ends the parent KILLED;
    a spent budget ends it FINISHED. Ctrl+C (KeyboardInterrupt) is a stop too, then re-raised.
    """
    parent = registry.get_run(parent_id)
    if parent.status != RunStatus.RUNNING:
        raise ConflictError(
            f"Sweep {parent.id} is {parent.status}; resume it to carry on with its trials."
        )
    spec = read_sweep(registry, parent.id)
    factory, backend = _queue_factory(queue_factory, dask_address)
    if parent.pid != os.getpid():
        registry.set_run_process(parent.id, os.getpid())
    registry.set_tags(parent.id, {TAG_BACKEND: backend})
    session = _Session(registry, parent, spec, should_stop, on_event, poll_interval)
    return session.run(factory)


def resume_sweep(
    registry: Registry,
    parent_id: str,
    **options: Any,
) -> SweepResult:
    """Carry a stopped sweep on from its finished trials until its budget (counting them) is spent.

    Trials left QUEUED or RUNNING by an earlier session are cancelled first (they count for
    nothing); the parent goes RUNNING again. Takes the same options as ``run_sweep``.
    """
    from desktop_app.training.queue import cancel_run

    registry.reap_lost_runs()  # a session that died leaves its parent RUNNING until reaped
    parent = registry.get_run(parent_id)
    read_sweep(registry, parent.id)
    if parent.status == RunStatus.RUNNING and parent.pid not in (None, os.getpid()):
        raise ConflictError(
            f"Sweep {parent.id} is still running (process {parent.pid} on {parent.host}); "
            "stop it before resuming it."
        )
    for child_id in registry.search_runs(
        f'parent = "{parent.id}" and (status = QUEUED or status = RUNNING)', limit=None
    ):
        try:
            cancel_run(registry, child_id)
        except ConflictError:
            if not registry.get_run(child_id).status.is_terminal:
                registry.set_run_status(child_id, RunStatus.KILLED, "the sweep was resumed")
        registry.set_tags(child_id, {"sweep_note": "left over by an interrupted sweep session"})
    registry.set_run_status(parent.id, RunStatus.RUNNING, "")
    registry.set_run_process(parent.id, os.getpid())
    return run_sweep(registry, parent.id, **options)


def _queue_factory(
    queue_factory: QueueFactory | None, dask_address: str | None
) -> tuple[QueueFactory, str]:
    if queue_factory is not None and dask_address:
        raise InvalidValueError("Give either queue_factory or dask_address, not both.")
    if queue_factory is not None:
        return queue_factory, getattr(queue_factory, "__name__", "custom")
    address = dask_address or os.environ.get(ENV_DASK_SCHEDULER, "").strip()
    if address:
        from functools import partial

        from desktop_app.training.dask_backend import DaskQueue

        return partial(DaskQueue, address=address), f"dask {address}"
    from desktop_app.training.queue import JobQueue

    return JobQueue, "local"


@dataclass
class _Session:
    """One stretch of a sweep in this process, from (re)start to its end."""

    registry: Registry
    parent: Run
    spec: SweepSpec
    should_stop: Callable[[], bool]
    on_event: Callable[[SweepEvent], None] | None
    poll_interval: float
    trials: dict[str, TrialRecord] = field(default_factory=dict)
    active: dict[str, TrialRecord] = field(default_factory=dict)
    best: TrialRecord | None = None
    done: int = 0
    next_number: int = 1
    elapsed_before: float = 0.0

    def run(self, factory: QueueFactory) -> SweepResult:
        """Run trials until the budget, a stop or an error ends the sweep."""
        started = time.monotonic()
        queue: TrialQueue | None = None
        proposer: _Proposer | None = None
        status, reason = RunStatus.FAILED, ""
        try:
            proposer = self._prepare()
            queue = factory(self.registry, self.spec.parallel)
            status, reason = self._loop(queue, proposer, started)
        except BaseException as exc:
            if queue is not None and proposer is not None:
                try:
                    self._cancel_active(queue, proposer, STOPPED_REASON)
                except Exception:
                    pass  # the error that got here matters more
            if isinstance(exc, KeyboardInterrupt):
                status, reason = RunStatus.KILLED, STOPPED_REASON
            elif isinstance(exc, AppError):
                status, reason = RunStatus.FAILED, exc.message
            else:
                status, reason = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
            raise
        finally:
            try:
                if queue is not None:
                    queue.shutdown(cancel=True)
            finally:
                elapsed = self.elapsed_before + time.monotonic() - started
                self.registry.set_tags(
                    self.parent.id, {TAG_ELAPSED: f"{elapsed:.1f}", TAG_DONE: self.done}
                )
                self.registry.set_run_status(self.parent.id, status, reason)
        return SweepResult(
            parent_id=self.parent.id,
            status=status,
            reason=reason,
            trials=sorted(self.trials.values(), key=lambda t: t.number),
            best=self.best,
            done=self.done,
        )

    def _prepare(self) -> _Proposer:
        """Take in the trials the parent already has (a resume) and set up the proposer."""
        history = sweep_trials(self.registry, self.parent.id, self.spec)
        for trial in history:
            self.trials[trial.run_id] = trial
            self._judge(trial, record=False)
        self.done = sum(t.counts for t in history)
        self.next_number = max((t.number for t in history), default=0) + 1
        try:
            self.elapsed_before = float(self.parent.tags.get(TAG_ELAPSED, "0"))
        except ValueError:
            self.elapsed_before = 0.0
        if self.best is not None:
            # An earlier session may have died between moving the best-trial tags.
            marked = self.registry.search_runs(
                f'parent = "{self.parent.id}" and tags.{TAG_IS_BEST} = "true"', limit=None
            )
            for run_id in marked:
                if run_id != self.best.run_id:
                    self.registry.delete_tag(run_id, TAG_IS_BEST)
            self.registry.set_tags(self.best.run_id, {TAG_IS_BEST: "true"})
            self.registry.set_tags(self.parent.id, {TAG_BEST_TRIAL: self.best.run_id})
        return _proposer(self.spec, history)

    def _loop(
        self, queue: TrialQueue, proposer: _Proposer, started: float
    ) -> tuple[RunStatus, str]:
        budget = self.spec.trial_budget()
        deadline = None
        if self.spec.minutes is not None:
            deadline = started + self.spec.minutes * 60 - self.elapsed_before
        slots = max(1, int(getattr(queue, "max_workers", None) or self.spec.parallel or 1))
        exhausted = False
        beat = time.monotonic()
        while True:
            if self.should_stop():
                self._cancel_active(queue, proposer, STOPPED_REASON)
                return RunStatus.KILLED, STOPPED_REASON
            if deadline is not None and time.monotonic() >= deadline:
                self._cancel_active(queue, proposer, TIME_BUDGET_REASON)
                return RunStatus.FINISHED, ""
            failed_start = self._failed_start()
            if failed_start:
                self._cancel_active(queue, proposer, "the sweep stopped: its trials fail")
                return RunStatus.FAILED, failed_start
            while not exhausted and len(self.active) < slots:
                if budget is not None and self.done + len(self.active) >= budget:
                    break
                params = proposer.propose(self.next_number)
                if params is None:
                    exhausted = True
                    break
                self._start_trial(queue, proposer, params)
            if not self.active:
                return RunStatus.FINISHED, ""
            for event in queue.poll():
                if event.is_end and event.run_id in self.active:
                    self._end_trial(event.run_id, proposer)
            if time.monotonic() - beat > HEARTBEAT_EVERY_S:
                self.registry.heartbeat(self.parent.id)
                beat = time.monotonic()
            time.sleep(self.poll_interval)

    def _failed_start(self) -> str:
        """The reason to give up when a random/Optuna sweep's first trials all failed."""
        if self.spec.method == "grid" or self.done < FAILED_START_LIMIT:
            return ""
        ended = [t for t in self.trials.values() if t.counts]
        if any(t.status == RunStatus.FINISHED for t in ended):
            return ""
        last = max(ended, key=lambda t: t.number)
        first_line = (last.reason or "no reason recorded").splitlines()[0]
        return f"The first {len(ended)} trials all failed; the last one: {first_line}"

    def _start_trial(self, queue: TrialQueue, proposer: _Proposer, params: dict[str, Any]) -> None:
        from desktop_app.training.queue import enqueue_job

        number = self.next_number
        self.next_number += 1
        name = f"trial {number}"
        tags = {TAG_TRIAL: number, TAG_PARAMS: json.dumps(params)}
        try:
            run_id = enqueue_job(
                self.registry, self.spec.trial_job(params), parent_id=self.parent.id, name=name
            )
        except JobSpecError as exc:
            # A combination the job check refuses is a failed trial, not a failed sweep.
            run = self.registry.create_run(
                self.spec.job.experiment,
                name=name,
                status=RunStatus.QUEUED,
                parent_id=self.parent.id,
                source="sweep",
                tags=tags,
            )
            self.registry.set_run_status(run.id, RunStatus.FAILED, exc.message)
            proposer.started(number, run.id)
            trial = TrialRecord(number, run.id, params, RunStatus.QUEUED)
            self.trials[run.id] = self.active[run.id] = trial
            self._emit("trial_started", trial)
            self._end_trial(run.id, proposer)
            return
        self.registry.set_tags(run_id, tags)
        proposer.started(number, run_id)
        trial = TrialRecord(number, run_id, params, RunStatus.QUEUED)
        self.trials[run_id] = self.active[run_id] = trial
        queue.submit(run_id)
        self._emit("trial_started", trial)

    def _end_trial(self, run_id: str, proposer: _Proposer) -> None:
        started = self.active.pop(run_id)
        run = self.registry.get_run(run_id)
        if not run.status.is_terminal:
            # The queue let go of it without ending it: it will never report again.
            self.registry.set_run_status(run_id, RunStatus.FAILED, "the queue lost the trial")
            run = self.registry.get_run(run_id)
        ended = _trial_of(run, self.spec) or replace(started, status=run.status)
        ended = replace(ended, number=started.number, params=started.params)
        self.trials[run_id] = ended
        proposer.ended(ended)
        if ended.counts:
            self.done += 1
        self._judge(ended, record=True)
        if ended.counts and self.best is not None and self.best.value is not None:
            self.registry.log_metric(
                self.parent.id, f"best_{self.spec.metric}", self.best.value, step=self.done
            )
        self._emit("trial_ended", ended)

    def _judge(self, trial: TrialRecord, *, record: bool) -> None:
        """Make ``trial`` the best if it beats the best so far (moving the tags when recording)."""
        if trial.status != RunStatus.FINISHED or trial.value is None:
            return
        best = self.best
        if (
            best is not None
            and best.value is not None
            and not self.spec.better(trial.value, best.value)
        ):
            return
        previous, self.best = self.best, trial
        if not record:
            return
        if previous is not None:
            self.registry.delete_tag(previous.run_id, TAG_IS_BEST)
        self.registry.set_tags(trial.run_id, {TAG_IS_BEST: "true"})
        self.registry.set_tags(self.parent.id, {TAG_BEST_TRIAL: trial.run_id})

    def _cancel_active(self, queue: TrialQueue, proposer: _Proposer, reason: str) -> None:
        """Cancel every trial still queued or running; each ends KILLED with ``reason``."""
        for run_id in list(self.active):
            try:
                queue.cancel(run_id)
            except (ConflictError, NotFoundError):
                pass
        deadline = time.monotonic() + 10.0
        while self.active and time.monotonic() < deadline:
            ended = {e.run_id for e in queue.poll() if e.is_end}
            for run_id in [r for r in list(self.active) if r in ended]:
                self._mark_killed(run_id, reason)
                self._end_trial(run_id, proposer)
            if self.active:
                time.sleep(0.05)
        for run_id in list(self.active):
            self._mark_killed(run_id, reason)
            self._end_trial(run_id, proposer)

    def _mark_killed(self, run_id: str, reason: str) -> None:
        run = self.registry.get_run(run_id)
        if not run.status.is_terminal or run.status == RunStatus.KILLED:
            self.registry.set_run_status(run_id, RunStatus.KILLED, reason)

    def _emit(self, kind: str, trial: TrialRecord) -> None:
        if self.on_event is not None:
            self.on_event(
                SweepEvent(
                    kind=kind,
                    trial=trial,
                    done=self.done,
                    budget=self.spec.trial_budget(),
                    best=self.best,
                    metric=self.spec.metric,
                )
            )
