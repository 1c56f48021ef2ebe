"""The run-filter language: its SQL on a real registry, checked against the Python reference."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.errors import QuerySyntaxError
from desktop_app.registry.migrations import migrate
from desktop_app.registry.query import (
    AGGREGATES,
    FIELDS,
    MAX_CONDITIONS,
    MAX_NESTING,
    NUMERIC_TEXT,
    And,
    Compare,
    CompiledQuery,
    Expr,
    In,
    IsNull,
    Like,
    Not,
    Or,
    OrderItem,
    Query,
    Ref,
    RunFacts,
    Value,
    compile_parsed,
    compile_query,
    evaluate,
    format_query,
    like,
    parse_query,
    referenced_keys,
    sort_key,
)

NAN = float("nan")
Summary = tuple[float | None, float | None, float | None]  # last, min, max


@dataclass
class Run:
    """A run to insert: attributes plus metric summaries, params and tags."""

    id: str
    name: str = "run"
    status: str = "FINISHED"
    experiment: str = "alpha"
    start_time: float | None = None
    end_time: float | None = None
    parent: str | None = None
    source: str = ""
    note: str = ""
    lifecycle: str = "active"
    metrics: dict[str, Summary] | None = None
    params: dict[str, str] | None = None
    tags: dict[str, str] | None = None

    def facts(self) -> RunFacts:
        attributes: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "experiment": self.experiment,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "parent": self.parent,
            "source": self.source,
            "note": self.note,
            "lifecycle": self.lifecycle,
        }
        metrics = {
            key: {"last": last, "min": low, "max": high}
            for key, (last, low, high) in (self.metrics or {}).items()
        }
        return RunFacts(attributes, dict(self.params or {}), dict(self.tags or {}), metrics)


class Registry:
    """A migrated registry database with runs inserted directly, and their reference facts."""

    def __init__(self, conn: sqlite3.Connection, runs: list[Run]) -> None:
        self.conn = conn
        self.facts = [run.facts() for run in runs]
        experiments = sorted({run.experiment for run in runs})
        exp_ids = {name: i + 1 for i, name in enumerate(experiments)}
        with conn:
            conn.executemany(
                "INSERT INTO experiments (id, name, created_at) VALUES (?, ?, 0)",
                [(exp_ids[name], name) for name in experiments],
            )
            # Parents first is not needed: foreign keys are off on this bare connection.
            for run in runs:
                conn.execute(
                    "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, "
                    "created_at, parent_id, source, note, lifecycle) "
                    "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                    (
                        run.id,
                        exp_ids[run.experiment],
                        run.name,
                        run.status,
                        run.start_time,
                        run.end_time,
                        run.parent,
                        run.source,
                        run.note,
                        run.lifecycle,
                    ),
                )
                for key, (last, low, high) in (run.metrics or {}).items():
                    # NaN is bound as is: sqlite3 stores it as NULL, as the real writer does.
                    conn.execute(
                        "INSERT INTO metric_summary (run_id, key, last, last_step, "
                        "last_timestamp, min, max, count) VALUES (?, ?, ?, 0, 0, ?, ?, 1)",
                        (run.id, key, last, low, high),
                    )
                for table, values in (("params", run.params), ("tags", run.tags)):
                    conn.executemany(
                        f"INSERT INTO {table} (run_id, key, value) VALUES (?, ?, ?)",
                        [(run.id, k, v) for k, v in (values or {}).items()],
                    )

    def select(self, compiled: CompiledQuery) -> list[str]:
        """Run ids the compiled query selects, the way the search module embeds it."""
        sql = (
            "SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id "
            f"WHERE ({compiled.where}) ORDER BY {compiled.order_by or 'r.id'}"
        )
        return [row[0] for row in self.conn.execute(sql, compiled.params)]

    def reference(self, query: Query) -> list[str]:
        """Run ids the Python evaluator selects, in the reference order."""
        matching = [f for f in self.facts if evaluate(query, f)]
        if query.order:
            matching.sort(key=lambda facts: sort_key(query, facts))
        else:
            matching.sort(key=lambda facts: str(facts.attributes["id"]))
        return [str(f.attributes["id"]) for f in matching]

    def ids(self, text: str) -> list[str]:
        """Run ids selected by ``text`` in SQL, asserted equal to the Python reference."""
        selected = self.select(compile_query(text))
        assert selected == self.reference(parse_query(text)), text
        return selected


def new_connection(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    migrate(conn, Path(path))
    return conn


# ---- a small hand-made registry -----------------------------------------------------------

RUNS = [
    Run(
        "r1",
        name="cv-rf",
        start_time=100,
        end_time=160,
        source="train.py",
        metrics={"acc": (0.95, 0.5, 0.95), "f1": (0.8, 0.8, 0.8), "loss": (0.2, 0.1, 0.9)},
        params={"model": "rf", "lr": "0.1", "depth": "10"},
        tags={"team": "x"},
    ),
    Run(
        "r2",
        name="svm-cv",
        status="FAILED",
        start_time=200,
        end_time=230,
        source="train.py",
        metrics={"acc": (0.85, 0.6, 0.85), "f1": (0.9, 0.9, 0.9), "loss": (NAN, NAN, NAN)},
        params={"model": "svm", "lr": "0.01", "depth": "9"},
        tags={"team": "y"},
    ),
    Run(
        "r3",
        name="mlp",
        status="RUNNING",
        experiment="beta",
        start_time=300,
        parent="r1",
        source="nb.ipynb",
        metrics={"acc": (0.97, 0.1, 0.97), "loss": (0.5, 0.3, 0.7)},
        params={"model": "mlp", "lr": "1e-3", "depth": "deep"},
    ),
    Run(
        "r4",
        name="Baseline",
        status="KILLED",
        experiment="beta",
        note='it\'s "quoted"',
        lifecycle="deleted",
        params={"model": "RF", "lr": "0.10"},
        tags={"team": "x", "release note": "v1"},
    ),
    Run(
        "r5",
        name="x' OR 1=1 --",
        start_time=50,
        end_time=55,
        note="C:\\data",
        metrics={
            "f1": (0.9, 0.9, 0.9),
            "val loss": (0.3, 0.25, 0.4),
            "val.loss": (0.7, 0.6, 0.8),
            "train/acc": (0.6, 0.6, 0.6),
        },
        params={"model/type": "tree", "optimizer.lr": "3e-4"},
    ),
]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    conn = new_connection(tmp_path_factory.mktemp("query") / "registry.db")
    yield Registry(conn, RUNS)
    conn.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metrics.acc > 0.9", ["r1", "r3"]),
        ("metrics.acc >= 0.95", ["r1", "r3"]),
        ("metrics.acc < 0.9", ["r2"]),
        ("metrics.acc <= 0.85", ["r2"]),
        ("metrics.acc = 0.85", ["r2"]),
        ("metrics.acc == 0.85", ["r2"]),
        ("metrics.acc != 0.85", ["r1", "r3", "r4", "r5"]),
        ("metrics.acc <> 0.85", ["r1", "r3", "r4", "r5"]),
        ("metrics.acc in (0.85, 0.97)", ["r2", "r3"]),
        ("metrics.acc not in (0.85, 0.97)", ["r1", "r4", "r5"]),
        ('name like "%cv%"', ["r1", "r2"]),
        ('name like "CV%"', ["r1"]),
        ('name like "_lp"', ["r3"]),
        ('name not like "%cv%"', ["r3", "r4", "r5"]),
        ("status in (FINISHED, failed)", ["r1", "r2", "r5"]),
        ('status not in ("finished")', ["r2", "r3", "r4"]),
        ("status = running", ["r3"]),
        ("status like 'fail%'", ["r2"]),
        ("lifecycle = DELETED", ["r4"]),
        ('experiment = "beta"', ["r3", "r4"]),
        ("parent is not null", ["r3"]),
        ("parent is null", ["r1", "r2", "r4", "r5"]),
        ("parent = r1", ["r3"]),
        ("parent != r1", ["r1", "r2", "r4", "r5"]),
        ("id in (r1, r5)", ["r1", "r5"]),
        ("id > 'r3'", ["r4", "r5"]),
        ('source = "train.py"', ["r1", "r2"]),
        ("duration > 20", ["r1", "r2"]),
        ("duration is null", ["r3", "r4"]),
        ("not duration > 20", ["r3", "r4", "r5"]),
        ("duration in (5, 30)", ["r2", "r5"]),
        ("start_time >= 100 and start_time < 300", ["r1", "r2"]),
        ("end_time is null", ["r3", "r4"]),
        ("end_time != 160", ["r2", "r3", "r4", "r5"]),
    ],
)
def test_operators(registry: Registry, query: str, expected: list[str]) -> None:
    assert registry.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metrics.loss.min < 0.2", ["r1"]),
        ("metrics.loss.max >= 0.7", ["r1", "r3"]),
        ("metrics.loss.last = 0.5", ["r3"]),
        ("metrics.loss = 0.5", ["r3"]),
        ("metrics.loss.MIN < 0.2", ["r1"]),
        ("metrics.loss is null", ["r2", "r4", "r5"]),
        ("metrics.loss.max is not null", ["r1", "r3"]),
        ("metrics.`val loss`.min = 0.25", ["r5"]),
        ("metrics.`val loss` > 0.2", ["r5"]),
        ("metrics.val.loss > 0.65", ["r5"]),
        ("metrics.val.loss.max = 0.8", ["r5"]),
        ("metrics.`val.loss`.max = 0.8", ["r5"]),
        ("metrics.train/acc = 0.6", ["r5"]),
        ('params.`model/type` = "tree"', ["r5"]),
        ('params.model/type = "tree"', ["r5"]),
        ("params.optimizer.lr < 0.001", ["r5"]),
        ('tags.`release note` = "v1"', ["r4"]),
        ('tags.`release note` != "v1"', ["r1", "r2", "r3", "r5"]),
    ],
)
def test_aggregates_and_keys(registry: Registry, query: str, expected: list[str]) -> None:
    assert registry.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metrics.f1 < 100", ["r1", "r2", "r5"]),
        ("not metrics.f1 < 100", ["r3", "r4"]),
        ("metrics.f1 != 0.8", ["r2", "r3", "r4", "r5"]),
        ("not metrics.f1 != 0.8", ["r1"]),
        ("tags.team in (x)", ["r1", "r4"]),
        ("tags.team not in (x)", ["r2", "r3", "r5"]),
        ("not tags.team not in (x)", ["r1", "r4"]),
        ('tags.team not like "x"', ["r2", "r3", "r5"]),
        ('tags.team != "x"', ["r2", "r3", "r5"]),
        ("metrics.loss > -1", ["r1", "r3"]),  # NaN is stored as NULL: missing
        ("not metrics.loss > -1", ["r2", "r4", "r5"]),
    ],
)
def test_missing_values(registry: Registry, query: str, expected: list[str]) -> None:
    assert registry.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("params.lr < 0.05", ["r2", "r3"]),
        ("params.lr = 0.1", ["r1", "r4"]),
        ('params.lr = "0.1"', ["r1"]),
        ("params.depth > 9", ["r1"]),
        ('params.depth > "9"', ["r3"]),
        ("params.depth != 10", ["r2", "r3", "r4", "r5"]),
        ("params.depth < 100", ["r1", "r2"]),
        ("not params.depth < 100", ["r3", "r4", "r5"]),
        ('params.model = "rf"', ["r1"]),
        ('params.model like "rf"', ["r1", "r4"]),
        ('params.lr in (0.1, "1e-3")', ["r1", "r3", "r4"]),
        ("params.lr in (1e-1)", ["r1", "r4"]),
        ("params.lr not in (0.1, 0.01)", ["r3", "r5"]),
    ],
)
def test_numeric_and_text_params(registry: Registry, query: str, expected: list[str]) -> None:
    assert registry.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('metrics.acc > 0.9 or status = failed and experiment = "beta"', ["r1", "r3"]),
        ('(metrics.acc > 0.9 or status = failed) and experiment = "beta"', ["r3"]),
        ('not status = finished and experiment = "alpha"', ["r2"]),
        ('not (status = finished and experiment = "alpha")', ["r2", "r3", "r4"]),
        ("not not status = running", ["r3"]),
        ("((status = running))", ["r3"]),
        ('status = failed or status = running and experiment = "alpha"', ["r2"]),
        ('(status = failed or status = running) and experiment = "alpha"', ["r2"]),
        ("METRICS.acc > 0.9 AND Status = Finished ORDER BY Metrics.acc DESC", ["r1"]),
        ('name LIKE "%CV%" And Not parent IS NOT NULL', ["r1", "r2"]),
        ('Name Not Like "%cv%" oR STATUS NOT IN (finished)', ["r2", "r3", "r4", "r5"]),
    ],
)
def test_precedence_and_keywords(registry: Registry, query: str, expected: list[str]) -> None:
    assert registry.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('note = "it\'s \\"quoted\\""', ["r4"]),
        ("note = 'it\\'s \"quoted\"'", ["r4"]),
        ('note = "C:\\\\data"', ["r5"]),
        ('note = "C:\\data"', ["r5"]),  # an unknown escape keeps its backslash
        ("note like '%\"%'", ["r4"]),
        ('tags.`release note` like "V_"', ["r4"]),
    ],
)
def test_quoting_and_escapes(registry: Registry, query: str, expected: list[str]) -> None:
    assert registry.ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("order by metrics.f1 desc", ["r2", "r5", "r1", "r3", "r4"]),
        ("order by metrics.f1", ["r1", "r2", "r5", "r3", "r4"]),
        ("order by metrics.loss.min asc", ["r1", "r3", "r2", "r4", "r5"]),
        ("order by params.depth", ["r2", "r1", "r3", "r4", "r5"]),
        ("order by params.depth desc", ["r3", "r1", "r2", "r4", "r5"]),
        ("order by start_time desc", ["r3", "r2", "r1", "r5", "r4"]),
        ("order by duration", ["r5", "r2", "r1", "r3", "r4"]),
        ("order by experiment desc, name", ["r4", "r3", "r1", "r2", "r5"]),
        ("order by tags.team desc, id desc", ["r2", "r4", "r1", "r5", "r3"]),
        ("status = finished order by metrics.acc desc", ["r1", "r5"]),
        ("order by id desc", ["r5", "r4", "r3", "r2", "r1"]),
    ],
)
def test_order_by(registry: Registry, query: str, expected: list[str]) -> None:
    assert registry.ids(query) == expected


def test_order_by_compiles_to_nulls_last_and_an_id_tiebreaker() -> None:
    compiled = compile_query("metrics.acc > 0.5 order by metrics.f1 desc, start_time")
    assert compiled.has_order
    assert compiled.order_by.endswith("r.start_time ASC NULLS LAST, r.id")
    assert compiled.params == ["acc", 0.5, "f1"]
    assert compiled.where.count("?") == 2  # the search module splits params on this


def test_empty_query_is_no_filter(registry: Registry) -> None:
    for text in ("", "   \t\n"):
        compiled = compile_query(text)
        assert compiled == CompiledQuery("1", [], "", False)
        assert registry.ids(text) == ["r1", "r2", "r3", "r4", "r5"]


def test_index_driven_form_selects_the_same_runs(registry: Registry) -> None:
    text = "metrics.acc > 0.9 or params.lr < 0.05 and not tags.team = 'x'"
    compiled = compile_query(text, index_driven=True)
    assert "r.id IN (SELECT" in compiled.where and "r.id IN" not in compile_query(text).where
    assert compiled.params == compile_query(text).params
    assert registry.select(compiled) == registry.ids(text) == ["r1", "r2", "r3"]


def test_order_only_query() -> None:
    compiled = compile_query("order by name")
    assert (compiled.where, compiled.has_order) == ("1", True)
    assert compiled.order_by == "r.name ASC NULLS LAST, r.id"


def test_injection_attempts_are_parameters(registry: Registry) -> None:
    assert registry.ids('name = "x\' OR 1=1 --"') == ["r5"]
    assert registry.ids("name = 'x\\' OR 1=1 --'") == ["r5"]
    hostile = "params.`x'); DROP TABLE runs; --` = \"'; DROP TABLE runs; --\""
    assert registry.ids(hostile) == []
    compiled = compile_query(hostile)
    assert "DROP" not in compiled.where and "'" not in compiled.where
    assert registry.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == len(RUNS)


@pytest.mark.parametrize(
    ("query", "column", "reason"),
    [
        ("metrics.accuracy >", 18, "expected a value after '>'"),
        (
            "colour = 1",
            1,
            "unknown field 'colour' (use metrics.NAME, params.NAME, tags.NAME or one of: id, "
            "name, status, experiment, start_time, end_time, duration, parent, source, note, "
            "lifecycle)",
        ),
        ('name = "abc', 8, 'unterminated string (missing closing ")'),
        ("name = 'abc\\'", 8, "unterminated string (missing closing ')"),
        ("params.`abc = 1", 8, "unterminated quoted name (missing closing `)"),
        ("`abc` = 1", 1, "a `quoted name` must follow 'metrics.', 'params.' or 'tags.'"),
        (
            "metrics.x.median > 1",
            11,
            "unknown aggregate 'median' (use last, min or max, or metrics.`x.median`)",
        ),
        ("metrics.`x`.best > 1", 13, "unknown aggregate 'best' (use last, min or max)"),
        ("metrics.x > 1 name = 'a'", 15, "unexpected 'name' (expected 'and', 'or' or 'order by')"),
        ("metrics.x > 1 and", 15, "expected a condition after 'and'"),
        ("not", 1, "expected a condition after 'not'"),
        ("(metrics.x > 1", 15, "missing ')' for the '(' at column 1"),
        ("(metrics.x > 1 name", 16, "expected ')' for the '(' at column 1, got 'name'"),
        ("name = foo", 8, "unquoted text 'foo' (put text values in quotes)"),
        ("metrics.x like 'a%'", 11, "'like' needs text, but 'metrics.x' is a number"),
        ('metrics.x = "a"', 13, "expected a number for 'metrics.x', got \"a\""),
        ("duration in (1, x)", 17, "expected a number for 'duration', got 'x'"),
        ("status is nul", 11, "expected 'null' after 'is', got 'nul'"),
        ("status is not", 11, "expected 'null' after 'is not'"),
        ("name in (1 2)", 12, "expected ',' or ')' after '1', got '2'"),
        ("name in ()", 10, "expected a value after '(', got ')'"),
        ("name in 1", 9, "expected '(' after 'in', got '1'"),
        ("name like", 6, "expected a quoted pattern after 'like'"),
        ("order metrics.x", 7, "expected 'by' after 'order', got 'metrics.x'"),
        ("order by", 7, "expected a field to sort by after 'by'"),
        ("order by name,", 14, "expected a field to sort by after ','"),
        ("order by name sideways", 15, "unexpected 'sideways'"),
        ("metrics.x", 1, "expected an operator after 'metrics.x'"),
        (
            "metrics.x 1",
            11,
            "unexpected '1' (expected an operator: = != < <= > >= like in is)",
        ),
        ("metrics.x = null", 13, "use 'is null' or 'is not null' to test for a missing value"),
        ("metrics = 1", 1, "'metrics' needs a name: metrics.NAME"),
        ("metrics.a. = 1", 10, "expected a name after '.'"),
        ("name ! 1", 6, "unexpected character '!'"),
        ("name = 'a'; drop", 11, "unexpected character ';'"),
        ("start_time > -x", 14, "unexpected character '-'"),
        ("start_time > -1x", 14, "invalid number '-1x'"),
        ("status not 1", 12, "expected 'like' or 'in' after 'not', got '1'"),
        ("and", 1, "unexpected 'and'"),
        (")", 1, "unexpected ')'"),
        ("metrics.x >> 1", 12, "expected a value after '>', got '>'"),
        ("metrics.x > and", 13, "expected a value after '>', got 'and'"),
    ],
)
def test_syntax_errors(query: str, column: int, reason: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        compile_query(query)
    assert (caught.value.column, caught.value.reason) == (column, reason)
    assert str(caught.value) == f"column {column}: {reason}"
    assert caught.value.detail == query
    assert caught.value.code == "QUERY_SYNTAX"


def test_size_limits_are_syntax_errors() -> None:
    chain = " or ".join(["status = running"] * MAX_CONDITIONS)
    assert compile_query(chain).params == ["RUNNING"] * MAX_CONDITIONS
    with pytest.raises(QuerySyntaxError, match="too many conditions"):
        compile_query(chain + " or status = failed")
    nested = "(" * MAX_NESTING + "name = 'a'" + ")" * MAX_NESTING
    assert compile_query(nested).where == "r.name = ?"
    with pytest.raises(QuerySyntaxError, match="nested too deeply") as caught:
        compile_query("not " * (MAX_NESTING + 1) + "name = 'a'")
    assert caught.value.column == 4 * MAX_NESTING + 1


def test_referenced_keys_and_fields() -> None:
    query = parse_query(
        "metrics.acc.min > 1 and not (params.lr = 1 or tags.`a b` is null) "
        "and name like 'x' order by metrics.f1, params.depth"
    )
    assert referenced_keys(query) == {
        "metrics": {"acc", "f1"},
        "params": {"lr", "depth"},
        "tags": {"a b"},
    }
    assert referenced_keys(parse_query("")) == {"metrics": set(), "params": set(), "tags": set()}
    assert "start_time" in FIELDS and "duration" in FIELDS and len(set(FIELDS)) == len(FIELDS)


def test_evaluate_on_plain_facts() -> None:
    facts = RunFacts({"id": "a", "start_time": 10, "end_time": 12.5}, {"lr": "1e-2"})
    assert evaluate(parse_query("duration = 2.5 and params.lr < 0.1"), facts)
    assert evaluate(parse_query("metrics.acc != 1 and tags.t not like '%'"), facts)
    assert not evaluate(parse_query("metrics.acc < 1 or status = 'FINISHED'"), facts)
    nan_facts = RunFacts({"id": "b"}, metrics={"acc": {"last": NAN, "min": 0.0, "max": 1.0}})
    assert evaluate(parse_query("metrics.acc is null and metrics.acc.min = 0"), nan_facts)


# ---- property tests: the SQL agrees with the Python reference -----------------------------

_NUMBER_TEXTS = ["0", "-0", "0.1", "0.10", "1e-3", "-1", "9", "10", "2.5", ".5", "1.", "1e300"]
_TEXTS = ["", "rf", "RF", "cv-rf", "x' OR 1=1 --", "a%_b", "é", "É", "9", "10", "0.1", "1e5"]
_PARAM_VALUES = [*_NUMBER_TEXTS, *_TEXTS, "+3", "1e", "e5", "1-2", " 1", "nan", "inf", "1E+2"]
_PATTERNS = ["%", "", "r%", "%F", "_", "__", "%1%", "C_%", "a%_b", "%'%", "é%", "%E", "1e_"]
_METRIC_KEYS = ["acc", "val.loss", "a b"]
_TEXT_KEYS = ["lr", "x.y"]
_RUN_IDS = ["a1", "b2", "1234", "1e5", "r-9", "Z", "zz"]
_STATUSES = ["QUEUED", "RUNNING", "FINISHED", "FAILED", "KILLED"]

_metric_values = st.sampled_from(
    [None, NAN, 0.0, -0.0, 0.1, 0.5, 1.0, -1.0, 2.5, 9.0, 10.0, 1e300, math.inf, -math.inf]
)
_times = st.none() | st.sampled_from([0.0, 1.5, 10.0, 100.0, -3.0])


@st.composite
def registries(draw: st.DrawFn) -> list[Run]:
    ids = draw(st.lists(st.sampled_from(_RUN_IDS), min_size=2, max_size=6, unique=True))
    runs = []
    for run_id in ids:
        metrics = draw(
            st.dictionaries(
                st.sampled_from(_METRIC_KEYS),
                st.tuples(_metric_values, _metric_values, _metric_values),
                min_size=1,
                max_size=3,
            )
        )
        text_values = st.dictionaries(
            st.sampled_from(_TEXT_KEYS), st.sampled_from(_PARAM_VALUES), max_size=2
        )
        runs.append(
            Run(
                run_id,
                name=draw(st.sampled_from(_TEXTS)),
                status=draw(st.sampled_from(_STATUSES)),
                experiment=draw(st.sampled_from(["alpha", "Beta"])),
                start_time=draw(_times),
                end_time=draw(_times),
                parent=draw(st.none() | st.sampled_from(ids)),
                source=draw(st.sampled_from(_TEXTS)),
                note=draw(st.sampled_from(_TEXTS)),
                lifecycle=draw(st.sampled_from(["active", "deleted"])),
                metrics=metrics,
                params=draw(text_values),
                tags=draw(text_values),
            )
        )
    return runs


_numbers = st.sampled_from(_NUMBER_TEXTS).map(lambda text: Value(text, float(text)))
_texts = st.sampled_from([*_TEXTS, *_STATUSES, "finished", "active", "DELETED", "a1", "1234"])
_text_values = _texts.map(Value)
_any_values = _numbers | _text_values
_numeric_refs = st.sampled_from(
    [Ref("metric", k, a) for k in _METRIC_KEYS for a in AGGREGATES]
    + [Ref("attr", f) for f in ("start_time", "end_time", "duration")]
)
_text_refs = st.sampled_from(
    [Ref("attr", f) for f in FIELDS if f not in ("start_time", "end_time", "duration")]
    + [Ref("param", k) for k in _TEXT_KEYS]
    + [Ref("tag", k) for k in _TEXT_KEYS]
)
_ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


def _conditions_on(
    refs: st.SearchStrategy[Ref], values: st.SearchStrategy[Value]
) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(Compare, refs, _ops, values),
        st.builds(In, refs, st.lists(values, min_size=1, max_size=3).map(tuple), st.booleans()),
        st.builds(IsNull, refs, st.booleans()),
    )


_conditions = st.one_of(
    _conditions_on(_numeric_refs, _numbers),
    _conditions_on(_text_refs, _any_values),
    st.builds(Like, _text_refs, st.sampled_from(_PATTERNS), st.booleans()),
)
_expressions = st.recursive(
    _conditions,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.builds(And, children, children),
        st.builds(Or, children, children),
    ),
    max_leaves=6,
)
_orders = st.lists(st.builds(OrderItem, _numeric_refs | _text_refs, st.booleans()), max_size=3).map(
    tuple
)
_queries = st.builds(Query, _expressions, _orders)


@settings(max_examples=200, deadline=None)
@given(runs=registries(), query=_queries, index_driven=st.booleans())
def test_sql_matches_reference(runs: list[Run], query: Query, index_driven: bool) -> None:
    text = format_query(query)
    assert parse_query(text) == query
    conn = new_connection(":memory:")
    try:
        registry = Registry(conn, runs)
        compiled = compile_query(text, index_driven=index_driven)
        assert compiled == compile_parsed(query, index_driven=index_driven)
        assert registry.select(compiled) == registry.reference(query), (text, compiled)
    finally:
        conn.close()


@settings(max_examples=60, deadline=None)
@given(runs=registries(), order=_orders)
def test_sql_order_matches_reference(runs: list[Run], order: tuple[OrderItem, ...]) -> None:
    query = Query(None, order)
    conn = new_connection(":memory:")
    try:
        registry = Registry(conn, runs)
        assert registry.select(compile_query(format_query(query))) == registry.reference(query)
    finally:
        conn.close()


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789.eE+- x", max_size=7))
def test_numeric_text_check_matches_sql(text: str) -> None:
    conn = new_connection(":memory:")
    try:
        conn.execute("INSERT INTO experiments (id, name, created_at) VALUES (1, 'e', 0)")
        conn.execute(
            "INSERT INTO runs (id, experiment_id, name, status, created_at) "
            "VALUES ('r', 1, 'n', 'FINISHED', 0)"
        )
        conn.execute("INSERT INTO params (run_id, key, value) VALUES ('r', 'k', ?)", (text,))
        registry_facts = [RunFacts({"id": "r"}, {"k": text})]
        for number in ("0", "1", "-2.5", "1e3"):
            query = parse_query(f"params.k >= {number}")
            compiled = compile_parsed(query)
            sql = f"SELECT r.id FROM runs r WHERE {compiled.where}"
            in_sql = [row[0] for row in conn.execute(sql, compiled.params)]
            expected = [f.attributes["id"] for f in registry_facts if evaluate(query, f)]
            assert in_sql == expected, (text, number)
        if NUMERIC_TEXT.fullmatch(text):
            cast = conn.execute("SELECT CAST(? AS REAL)", (text,)).fetchone()[0]
            assert cast == float(text)
    finally:
        conn.close()


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="aAbB%_é\n", max_size=6),
    pattern=st.text(alphabet="aAbB%_éÉ", max_size=5),
)
def test_like_matches_sqlite(text: str, pattern: str) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        in_sql = conn.execute("SELECT ? LIKE ?", (text, pattern)).fetchone()[0]
    finally:
        conn.close()
    assert bool(in_sql) == like(text, pattern)


@settings(max_examples=200, deadline=None)
@given(query=_queries)
def test_placeholders_match_params(query: Query) -> None:
    compiled = compile_parsed(query)
    order_placeholders = compiled.order_by.count("?")
    assert compiled.where.count("?") + order_placeholders == len(compiled.params)
    assert referenced_keys(query).keys() == {"metrics", "params", "tags"}
