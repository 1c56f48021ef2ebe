"""The run-filter language: parse a query, compile it to parameterised SQL, or evaluate it.

    metrics.acc > 0.9 and (params.model = "rf" or tags.team in (a, b)) and status = FINISHED
    order by metrics.loss.min asc, start_time desc

Logic is two-valued: a comparison with a missing value (no such metric/param/tag, a NULL or NaN)
is false, except ``!=``, ``not like`` and ``not in``, which are true; ``not X`` negates exactly.
Params and tags compare as numbers when the literal is a number (non-numeric text is then
missing) and as text otherwise. ``order by`` puts missing values last in both directions and
breaks ties by run id. The compiled SQL reads the aliases ``r`` (runs) and ``e`` (experiments)
and holds every user-supplied key and value as a ``?`` parameter.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeAlias

from desktop_app.errors import QuerySyntaxError

FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "status",
    "experiment",
    "start_time",
    "end_time",
    "duration",
    "parent",
    "source",
    "note",
    "lifecycle",
)
AGGREGATES: tuple[str, ...] = ("last", "min", "max")
NAMESPACES: tuple[str, ...] = ("metrics", "params", "tags")
COMPARISONS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")

RefKind: TypeAlias = Literal["attr", "metric", "param", "tag"]

_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "like", "is", "null", "order", "by", "asc", "desc"}
)
# Words that read like an aggregate: `metrics.loss.mean` is more likely a typo for an aggregate
# than a metric called "loss.mean" (which can still be written metrics.`loss.mean`).
_AGGREGATE_LOOKALIKES = frozenset(
    {"mean", "avg", "average", "median", "first", "sum", "count", "std", "stddev", "var"}
    | {"variance", "mode", "p50", "p90", "p95", "p99"}
)
# Compiling and evaluating recurse through the tree: bound it well below Python's stack limit.
MAX_CONDITIONS = 400
MAX_NESTING = 100
_NUMERIC_FIELDS = frozenset({"start_time", "end_time", "duration"})
# Fields whose values are names or ids, so a bare word after `=` is unambiguous text.
_BARE_WORD_FIELDS = frozenset({"status", "lifecycle", "id", "parent"})
_ATTRIBUTE_SQL: dict[str, tuple[str, bool]] = {  # field -> (SQL expression, nullable)
    "id": ("r.id", False),
    "name": ("r.name", False),
    "status": ("r.status", False),
    "experiment": ("e.name", False),
    "start_time": ("r.start_time", True),
    "end_time": ("r.end_time", True),
    "duration": ("(r.end_time - r.start_time)", True),
    "parent": ("r.parent_id", True),
    "source": ("r.source", False),
    "note": ("r.note", False),
    "lifecycle": ("r.lifecycle", False),
}
_TEXT_TABLES = {"param": "params", "tag": "tags"}
_NEGATED_SQL_OP = {"=": "<>", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NUMBER_LITERAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Param and tag text that counts as a number; _numeric_text_sql() is its exact SQL twin.
NUMERIC_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# ---- syntax tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A field: an attribute (``key`` is its name) or a metric, param or tag key."""

    kind: RefKind
    key: str
    aggregate: str = "last"  # metrics only: a column of metric_summary, one of AGGREGATES


@dataclass(frozen=True)
class Value:
    """A literal: ``number`` is set for numeric literals, whose source spelling is ``text``."""

    text: str
    number: float | None = None


@dataclass(frozen=True)
class Compare:
    """``ref op value`` with op one of COMPARISONS."""

    ref: Ref
    op: str
    value: Value


@dataclass(frozen=True)
class Like:
    """``ref [not] like pattern``."""

    ref: Ref
    pattern: str
    negated: bool = False


@dataclass(frozen=True)
class In:
    """``ref [not] in (values)``."""

    ref: Ref
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``ref is [not] null``."""

    ref: Ref
    negated: bool = False


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Expr


@dataclass(frozen=True)
class And:
    """``left and right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    """``left or right``."""

    left: Expr
    right: Expr


Expr: TypeAlias = Compare | Like | In | IsNull | Not | And | Or
Condition: TypeAlias = Compare | Like | In | IsNull


@dataclass(frozen=True)
class OrderItem:
    """One ``order by`` term."""

    ref: Ref
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed query: an optional filter and the ``order by`` terms."""

    where: Expr | None = None
    order: tuple[OrderItem, ...] = ()


@dataclass(frozen=True)
class CompiledQuery:
    """SQL over aliases ``r`` (runs) and ``e`` (experiments); ``params`` fill ``where`` first."""

    where: str
    params: list[object]
    order_by: str
    has_order: bool


@dataclass
class RunFacts:
    """What the reference evaluator knows about a run; ``duration`` is derived from the times."""

    attributes: dict[str, object]
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)


# ---- lexer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    text: str
    quoted: bool
    column: int


@dataclass(frozen=True)
class _Token:
    kind: Literal["word", "string", "number", "op", "(", ")", ",", "end"]
    text: str  # the source spelling
    column: int  # 1-based
    value: str = ""  # decoded content of a string
    segments: tuple[_Segment, ...] = ()  # the dotted parts of a word

    def keyword(self) -> str | None:
        if self.kind != "word" or len(self.segments) != 1:
            return None
        word = self.text.lower()
        return word if word in _KEYWORDS else None

    def describe(self) -> str:
        if self.kind == "end":
            return "end of query"
        return self.text if self.kind == "string" else f"'{self.text}'"


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-/:"


def _read_quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    escapable = "`\\" if quote == "`" else "\"'\\"
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in escapable:
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    what = "quoted name" if quote == "`" else "string"
    raise QuerySyntaxError(
        f"unterminated {what} (missing closing {quote})", column=start + 1, query=text
    )


def _read_word(text: str, start: int) -> tuple[tuple[_Segment, ...], int]:
    segments: list[_Segment] = []
    i = start
    while True:
        if text[i] == "`":
            content, end = _read_quoted(text, i, "`")
            segments.append(_Segment(content, True, i + 1))
            i = end
        else:
            end = i
            while end < len(text) and _is_word_char(text[end]):
                end += 1
            segments.append(_Segment(text[i:end], False, i + 1))
            i = end
        if i < len(text) and text[i] == ".":
            if i + 1 < len(text) and (_is_word_char(text[i + 1]) or text[i + 1] == "`"):
                i += 1
                continue
            raise QuerySyntaxError("expected a name after '.'", column=i + 1, query=text)
        return tuple(segments), i


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        column = i + 1
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            content, end = _read_quoted(text, i, ch)
            tokens.append(_Token("string", text[i:end], column, content))
            i = end
        elif ch in "(),":
            tokens.append(_Token(ch, ch, column))  # type: ignore[arg-type]
            i += 1
        elif ch in "=<>!":
            two = text[i : i + 2]
            if two in ("==", "!=", "<>", "<=", ">="):
                tokens.append(_Token("op", two, column))
                i += 2
            elif ch == "!":
                raise QuerySyntaxError("unexpected character '!'", column=column, query=text)
            else:
                tokens.append(_Token("op", ch, column))
                i += 1
        elif ch.isalnum() or ch == "_" or (ch in "-." and _NUMBER_LITERAL.match(text, i)):
            match = _NUMBER_LITERAL.match(text, i)
            ends_cleanly = (
                match is not None
                and (match.end() == len(text) or not (_is_word_char(text[match.end()])))
                and text[match.end() : match.end() + 1] not in (".", "`")
            )
            if match is not None and ends_cleanly:
                tokens.append(_Token("number", match.group(), column))
                i = match.end()
            elif ch in "-.":
                end = i + 1
                while end < len(text) and (_is_word_char(text[end]) or text[end] == "."):
                    end += 1
                raise QuerySyntaxError(f"invalid number '{text[i:end]}'", column=column, query=text)
            else:
                segments, end = _read_word(text, i)
                tokens.append(_Token("word", text[i:end], column, segments=segments))
                i = end
        elif ch == "`":
            raise QuerySyntaxError(
                "a `quoted name` must follow 'metrics.', 'params.' or 'tags.'",
                column=column,
                query=text,
            )
        else:
            raise QuerySyntaxError(f"unexpected character '{ch}'", column=column, query=text)
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


# ---- parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.conditions = 0
        self.nesting = 0

    def error(self, message: str, column: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, column=column, query=self.text)

    def expected(self, what: str, after: _Token, after_text: str | None = None) -> QuerySyntaxError:
        # At the end of the query the column points at the token the value should follow.
        got = self.peek()
        shown = after.describe() if after_text is None else f"'{after_text}'"
        if got.kind == "end":
            return self.error(f"expected {what} after {shown}", after.column)
        return self.error(f"expected {what} after {shown}, got {got.describe()}", got.column)

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.peek().keyword() in words

    def parse(self) -> Query:
        if self.peek().kind == "end":
            return Query()
        where = None if self.at_keyword("order") else self.parse_or()
        order: tuple[OrderItem, ...] = ()
        if self.at_keyword("order"):
            order = self.parse_order()
        token = self.peek()
        if token.kind != "end":
            hint = " (expected 'and', 'or' or 'order by')" if not order else ""
            raise self.error(f"unexpected {token.describe()}{hint}", token.column)
        return Query(where, order)

    def parse_order(self) -> tuple[OrderItem, ...]:
        order_token = self.advance()
        if not self.at_keyword("by"):
            raise self.expected("'by'", order_token)
        previous = self.advance()
        items: list[OrderItem] = []
        while True:
            if self.peek().kind != "word" or self.peek().keyword() is not None:
                raise self.expected("a field to sort by", previous)
            ref = self.parse_ref(self.advance())
            descending = False
            if self.at_keyword("asc", "desc"):
                descending = self.advance().keyword() == "desc"
            items.append(OrderItem(ref, descending))
            if self.peek().kind != ",":
                return tuple(items)
            previous = self.advance()

    def parse_or(self, previous: _Token | None = None) -> Expr:
        left = self.parse_and(previous)
        while self.at_keyword("or"):
            left = Or(left, self.parse_and(self.advance()))
        return left

    def parse_and(self, previous: _Token | None = None) -> Expr:
        left = self.parse_not(previous)
        while self.at_keyword("and"):
            left = And(left, self.parse_not(self.advance()))
        return left

    def parse_not(self, previous: _Token | None) -> Expr:
        if self.at_keyword("not"):
            token = self.enter()
            operand = self.parse_not(token)
            self.nesting -= 1
            return Not(operand)
        return self.parse_primary(previous)

    def enter(self) -> _Token:
        token = self.advance()
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"nested too deeply (at most {MAX_NESTING} levels)", token.column)
        return token

    def parse_primary(self, previous: _Token | None) -> Expr:
        token = self.peek()
        if token.kind == "(":
            self.enter()
            inner = self.parse_or(token)
            self.nesting -= 1
            closing = self.peek()
            if closing.kind != ")":
                if closing.kind == "end":
                    message = f"missing ')' for the '(' at column {token.column}"
                else:
                    message = (
                        f"expected ')' for the '(' at column {token.column}, "
                        f"got {closing.describe()}"
                    )
                raise self.error(message, closing.column)
            self.advance()
            return inner
        if token.kind == "word" and token.keyword() is None:
            self.conditions += 1
            if self.conditions > MAX_CONDITIONS:
                raise self.error(f"too many conditions (at most {MAX_CONDITIONS})", token.column)
            return self.parse_condition(self.parse_ref(self.advance()), token)
        if previous is not None:
            raise self.expected("a condition", previous)
        raise self.error(f"unexpected {token.describe()}", token.column)

    def parse_ref(self, token: _Token) -> Ref:
        head, *rest = token.segments
        name = head.text.lower()
        if not rest and name in FIELDS:
            return Ref("attr", name)
        if name not in NAMESPACES:
            raise self.error(
                f"unknown field '{token.text}' (use metrics.NAME, params.NAME, tags.NAME "
                f"or one of: {', '.join(FIELDS)})",
                token.column,
            )
        if not rest:
            raise self.error(f"'{head.text}' needs a name: {name}.NAME", token.column)
        kind: RefKind = "metric" if name == "metrics" else "param" if name == "params" else "tag"
        aggregate = "last"
        if kind == "metric" and len(rest) >= 2 and not rest[-1].quoted:
            last = rest[-1].text.lower()
            if last in AGGREGATES:
                aggregate = last
                rest.pop()
            elif rest[-2].quoted or last in _AGGREGATE_LOOKALIKES:
                key = ".".join(s.text for s in rest[:-1])
                hint = "" if rest[-2].quoted else f", or metrics.`{key}.{rest[-1].text}`"
                raise self.error(
                    f"unknown aggregate '{rest[-1].text}' (use last, min or max{hint})",
                    rest[-1].column,
                )
        return Ref(kind, ".".join(s.text for s in rest), aggregate)

    def parse_condition(self, ref: Ref, ref_token: _Token) -> Condition:
        token = self.peek()
        if token.kind == "op":
            self.advance()
            op = {"==": "=", "<>": "!="}.get(token.text, token.text)
            value = self.parse_value(ref, ref_token, token, in_list=False)
            return Compare(ref, op, value)
        word = token.keyword()
        negated = False
        if word == "not":
            not_token = self.advance()
            if not self.at_keyword("like", "in"):
                raise self.expected("'like' or 'in'", not_token)
            token, word, negated = self.peek(), self.peek().keyword(), True
        if word == "like":
            self.advance()
            if _is_numeric_ref(ref):
                raise self.error(
                    f"'like' needs text, but '{ref_token.text}' is a number", token.column
                )
            if self.peek().kind != "string":
                raise self.expected("a quoted pattern", token)
            return Like(ref, self.advance().value, negated)
        if word == "in":
            self.advance()
            if self.peek().kind != "(":
                raise self.expected("'('", token)
            previous = self.advance()
            values: list[Value] = []
            while True:
                values.append(self.parse_value(ref, ref_token, previous, in_list=True))
                if self.peek().kind == ")":
                    self.advance()
                    return In(ref, tuple(values), negated)
                if self.peek().kind != ",":
                    raise self.expected("',' or ')'", self.tokens[self.pos - 1])
                previous = self.advance()
        if word == "is":
            self.advance()
            if self.at_keyword("not"):
                negated = True
                self.advance()
            if not self.at_keyword("null"):
                raise self.expected(
                    "'null'", self.tokens[self.pos - 1], "is not" if negated else "is"
                )
            self.advance()
            return IsNull(ref, negated)
        if token.kind == "end":
            raise self.expected("an operator", ref_token)
        raise self.error(
            f"unexpected {token.describe()} (expected an operator: = != < <= > >= like in is)",
            token.column,
        )

    def parse_value(self, ref: Ref, ref_token: _Token, previous: _Token, *, in_list: bool) -> Value:
        token = self.peek()
        if token.kind == "number":
            self.advance()
            return Value(token.text, float(token.text))
        if token.kind == "string":
            if _is_numeric_ref(ref):
                raise self.error(
                    f"expected a number for '{ref_token.text}', got {token.describe()}",
                    token.column,
                )
            self.advance()
            return Value(token.value)
        if token.kind == "word":
            word = token.keyword()
            if word == "null":
                raise self.error(
                    "use 'is null' or 'is not null' to test for a missing value", token.column
                )
            if in_list or (word is None and ref.kind == "attr" and ref.key in _BARE_WORD_FIELDS):
                if _is_numeric_ref(ref):
                    raise self.error(
                        f"expected a number for '{ref_token.text}', got {token.describe()}",
                        token.column,
                    )
                self.advance()
                return Value(token.text)
            if word is None:
                raise self.error(
                    f"unquoted text '{token.text}' (put text values in quotes)", token.column
                )
        raise self.expected("a value", previous)


def _is_numeric_ref(ref: Ref) -> bool:
    return ref.kind == "metric" or (ref.kind == "attr" and ref.key in _NUMERIC_FIELDS)


def parse_query(text: str) -> Query:
    """Parse a filter query; raises QuerySyntaxError with a 1-based column."""
    return _Parser(text).parse()


# ---- shared semantics ----------------------------------------------------------------------


def _literal(ref: Ref, value: Value) -> float | str:
    # Numbers stay numbers where the field is numeric or dual (params/tags); text fields
    # compare with the number's spelling, so `id = 1234` matches the run "1234".
    if value.number is not None and (_is_numeric_ref(ref) or ref.kind in _TEXT_TABLES):
        return value.number
    if _is_numeric_ref(ref):
        raise ValueError(f"{format_ref(ref)} compares with numbers, not {value.text!r}")
    if ref.kind == "attr" and ref.key == "status":
        return value.text.upper()
    if ref.kind == "attr" and ref.key == "lifecycle":
        return value.text.lower()
    return value.text


# ---- SQL -----------------------------------------------------------------------------------


def _numeric_text_sql(column: str) -> str:
    """SQL twin of NUMERIC_TEXT, built from GLOBs because SQLite has no REGEXP by default."""
    # Allowed characters, a digit and at most one '.' settle plain decimals in three GLOBs;
    # with a sign or an exponent mark, also: a sign only first or right after the mark, one
    # mark, no '.' after it, and a digit before and after it.
    plain = [
        f"{column} NOT GLOB '*[^0-9.eE+-]*'",
        f"{column} GLOB '*[0-9]*'",
        f"{column} NOT GLOB '*.*.*'",
    ]
    signed_or_exponent = [
        f"{column} NOT GLOB '*[^eE][+-]*'",
        f"{column} NOT GLOB '*[eE]*[.eE]*'",
        f"{column} NOT GLOB '[eE]*'",
        f"{column} NOT GLOB '[+.-][eE]*'",
        f"{column} NOT GLOB '[+-].[eE]*'",
        f"{column} NOT GLOB '*[eE]'",
        f"{column} NOT GLOB '*[eE][+-]'",
    ]
    return (
        f"({' AND '.join(plain)} AND ({column} NOT GLOB '*[eE+-]*' "
        f"OR ({' AND '.join(signed_or_exponent)})))"
    )


def _aggregate_column(ref: Ref) -> str:
    if ref.aggregate not in AGGREGATES:  # the name goes into SQL text: whitelist it
        raise ValueError(f"unknown aggregate {ref.aggregate!r}")
    return f'ms."{ref.aggregate}"'


class _SqlBuilder:
    def __init__(self, index_driven: bool) -> None:
        self.params: list[object] = []
        self.index_driven = index_driven

    def param(self, value: object) -> str:
        self.params.append(value)
        return "?"

    def expr(self, node: Expr, positive: bool) -> str:
        # Negations are pushed down to the conditions, so every SQL condition is a plain 0/1
        # test whose missing-value rule is chosen explicitly and no NULL ever reaches a NOT.
        if isinstance(node, Not):
            return self.expr(node.operand, not positive)
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) == positive else " OR "
            left = self.expr(node.left, positive)
            return f"({left}{joiner}{self.expr(node.right, positive)})"
        return self.condition(node, positive)

    def condition(self, node: Condition, positive: bool) -> str:
        # Each condition is "the value is present and passes a test" (or its negation).
        if isinstance(node, Compare):
            op = "=" if node.op == "!=" else node.op
            literal = _literal(node.ref, node.value)
            return self.test(
                node.ref,
                positive != (node.op == "!="),
                lambda col: self.compare(node.ref, col, op, literal),
                negated_sql=lambda col: f"{col} {_NEGATED_SQL_OP[op]} {self.param(literal)}",
            )
        if isinstance(node, Like):
            return self.test(
                node.ref,
                positive != node.negated,
                lambda col: f"{col} LIKE {self.param(node.pattern)}",
                negated_sql=lambda col: f"{col} NOT LIKE {self.param(node.pattern)}",
            )
        if isinstance(node, In):
            return self.test(
                node.ref,
                positive != node.negated,
                lambda col: self.membership(node.ref, col, node.values, negated=False),
                negated_sql=lambda col: self.membership(node.ref, col, node.values, negated=True),
            )
        present = positive == node.negated
        if node.ref.kind == "attr":
            return f"{_ATTRIBUTE_SQL[node.ref.key][0]} IS {'NOT NULL' if present else 'NULL'}"
        return self.test(
            node.ref,
            present,
            lambda col: f"{col} IS NOT NULL",
            negated_sql=lambda col: f"{col} IS NULL",
        )

    def compare(self, ref: Ref, column: str, op: str, literal: float | str) -> str:
        if ref.kind in _TEXT_TABLES and isinstance(literal, float):
            # The cheap comparison first: the text check only runs on the values it lets by.
            cast = f"CAST({column} AS REAL) {op} {self.param(literal)}"
            return f"{cast} AND {_numeric_text_sql(column)}"
        return f"{column} {op} {self.param(literal)}"

    def membership(self, ref: Ref, column: str, values: tuple[Value, ...], *, negated: bool) -> str:
        literals = [_literal(ref, v) for v in values]
        numbers = [x for x in literals if isinstance(x, float)]
        texts = [x for x in literals if isinstance(x, str)]
        if ref.kind not in _TEXT_TABLES:
            keyword = "NOT IN" if negated else "IN"
            return f"{column} {keyword} ({', '.join(self.param(x) for x in literals)})"
        parts = []
        if texts:
            parts.append(f"{column} IN ({', '.join(self.param(x) for x in texts)})")
        if numbers:
            placeholders = ", ".join(self.param(x) for x in numbers)
            parts.append(
                f"({_numeric_text_sql(column)} AND CAST({column} AS REAL) IN ({placeholders}))"
            )
        return "(" + " OR ".join(parts) + ")"

    def test(
        self,
        ref: Ref,
        holds: bool,
        sql: Callable[[str], str],
        negated_sql: Callable[[str], str],
    ) -> str:
        """``holds``: the value is present and passes ``sql``; else the exact opposite."""
        if ref.kind == "attr":
            column, nullable = _ATTRIBUTE_SQL[ref.key]
            if holds:
                return f"({column} IS NOT NULL AND {sql(column)})" if nullable else sql(column)
            negative = negated_sql(column)
            return f"({column} IS NULL OR {negative})" if nullable else negative
        if ref.kind == "metric":
            table, alias, column = "metric_summary", "ms", _aggregate_column(ref)
        else:
            table, alias, column = _TEXT_TABLES[ref.kind], "p", "p.value"
        key = self.param(ref.key)
        if holds and self.index_driven:
            # The list of every matching run in the registry, built from the (key, value)
            # index: SQLite can then drive the scan from it, which wins when few runs match.
            return (
                f"r.id IN (SELECT {alias}.run_id FROM {table} {alias} "
                f"WHERE {alias}.key = {key} AND {sql(column)})"
            )
        # One primary-key lookup per run the scan reaches: the scope's indexes and the
        # newest-first index stay usable and a first page stops early, whatever the registry
        # size. Measured faster than IN lists for scoped and unselective filters.
        exists = "EXISTS" if holds else "NOT EXISTS"
        return (
            f"{exists} (SELECT 1 FROM {table} {alias} WHERE {alias}.run_id = r.id "
            f"AND {alias}.key = {key} AND {sql(column)})"
        )

    def order_term(self, item: OrderItem) -> str:
        ref = item.ref
        if ref.kind == "attr":
            value = _ATTRIBUTE_SQL[ref.key][0]
        elif ref.kind == "metric":
            value = (
                f"(SELECT {_aggregate_column(ref)} FROM metric_summary ms "
                f"WHERE ms.run_id = r.id AND ms.key = {self.param(ref.key)})"
            )
        else:
            # Numeric text sorts as a number before all other text, like SQLite's own ordering
            # of mixed types; the reference sort_key() does the same.
            value = (
                f"(SELECT CASE WHEN {_numeric_text_sql('p.value')} THEN CAST(p.value AS REAL) "
                f"ELSE p.value END FROM {_TEXT_TABLES[ref.kind]} p "
                f"WHERE p.run_id = r.id AND p.key = {self.param(ref.key)})"
            )
        return f"{value} {'DESC' if item.descending else 'ASC'} NULLS LAST"


def compile_parsed(query: Query, *, index_driven: bool = False) -> CompiledQuery:
    """Compile a parsed query to a WHERE expression and an ORDER BY body with parameters."""
    builder = _SqlBuilder(index_driven)
    where = "1" if query.where is None else builder.expr(query.where, True)
    order_by = ""
    if query.order:
        order_by = ", ".join([*(builder.order_term(item) for item in query.order), "r.id"])
    return CompiledQuery(where, builder.params, order_by, bool(query.order))


def compile_query(text: str, *, index_driven: bool = False) -> CompiledQuery:
    """Parse and compile a query; ``index_driven`` suits filters matching few of many runs."""
    return compile_parsed(parse_query(text), index_driven=index_driven)


# ---- reference evaluator -------------------------------------------------------------------


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _stored(ref: Ref, run: RunFacts) -> float | str | None:
    value: object
    if ref.kind == "attr" and ref.key == "duration":
        start = _stored(Ref("attr", "start_time"), run)
        end = _stored(Ref("attr", "end_time"), run)
        value = end - start if isinstance(start, float) and isinstance(end, float) else None
    elif ref.kind == "attr":
        value = run.attributes.get(ref.key)
    elif ref.kind == "metric":
        value = run.metrics.get(ref.key, {}).get(ref.aggregate)
    else:
        value = (run.params if ref.kind == "param" else run.tags).get(ref.key)
    if _missing(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return str(value)


@lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def like(text: str, pattern: str) -> bool:
    """SQLite's LIKE: ``%`` any run, ``_`` one character, case-insensitive for ASCII only."""
    folded = _like_regex(pattern.translate(_ASCII_LOWER))
    return folded.fullmatch(text.translate(_ASCII_LOWER)) is not None


def _passes(ref: Ref, stored: float | str, op: str, literal: float | str) -> bool:
    if isinstance(literal, float) and isinstance(stored, str):
        if not NUMERIC_TEXT.fullmatch(stored):
            return False
        stored = float(stored)
    return _PY_OPS[op](stored, literal)


def _holds(node: Condition, run: RunFacts) -> bool:
    stored = _stored(node.ref, run)
    if isinstance(node, IsNull):
        return (stored is None) != node.negated
    if isinstance(node, Compare):
        op = "=" if node.op == "!=" else node.op
        passed = stored is not None and _passes(
            node.ref, stored, op, _literal(node.ref, node.value)
        )
        return passed != (node.op == "!=")
    if isinstance(node, Like):
        passed = isinstance(stored, str) and like(stored, node.pattern)
        return passed != node.negated
    passed = stored is not None and any(
        _passes(node.ref, stored, "=", _literal(node.ref, v)) for v in node.values
    )
    return passed != node.negated


def _evaluate(node: Expr, run: RunFacts) -> bool:
    if isinstance(node, Not):
        return not _evaluate(node.operand, run)
    if isinstance(node, And):
        return _evaluate(node.left, run) and _evaluate(node.right, run)
    if isinstance(node, Or):
        return _evaluate(node.left, run) or _evaluate(node.right, run)
    return _holds(node, run)


def evaluate(query: Query, run: RunFacts) -> bool:
    """Whether ``run`` matches the query's filter, computed in Python (the SQL's reference)."""
    return query.where is None or _evaluate(query.where, run)


class _Descending:
    """Inverts the order of a sort-key part."""

    __slots__ = ("part",)

    def __init__(self, part: tuple[int, Any]) -> None:
        self.part = part

    def __lt__(self, other: _Descending) -> bool:
        return other.part < self.part

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.part == other.part

    def __hash__(self) -> int:
        return hash(self.part)


def sort_key(query: Query, run: RunFacts) -> tuple[Any, ...]:
    """The key that sorts runs in the query's order: missing values last, then by run id."""
    parts: list[Any] = []
    for item in query.order:
        value = _stored(item.ref, run)
        if (
            isinstance(value, str)
            and item.ref.kind in _TEXT_TABLES
            and NUMERIC_TEXT.fullmatch(value)
        ):
            value = float(value)
        if value is None:
            parts.append((1,))
            continue
        typed = (0, value) if isinstance(value, float) else (1, value)
        parts.append((0, _Descending(typed) if item.descending else typed))
    parts.append(str(run.attributes.get("id", "")))
    return tuple(parts)


# ---- introspection and rendering -----------------------------------------------------------


def _conditions(node: Expr | None) -> Iterator[Condition]:
    if node is None:
        return
    if isinstance(node, Not):
        yield from _conditions(node.operand)
    elif isinstance(node, And | Or):
        yield from _conditions(node.left)
        yield from _conditions(node.right)
    else:
        yield node


def referenced_keys(query: Query) -> dict[str, set[str]]:
    """The metric, param and tag keys the query mentions, by namespace."""
    keys: dict[str, set[str]] = {"metrics": set(), "params": set(), "tags": set()}
    refs = [c.ref for c in _conditions(query.where)] + [item.ref for item in query.order]
    for ref in refs:
        if ref.kind != "attr":
            keys[f"{ref.kind}s"].add(ref.key)
    return keys


def _quote_name(key: str) -> str:
    return "`" + key.replace("\\", "\\\\").replace("`", "\\`") + "`"


def format_ref(ref: Ref) -> str:
    """The ref as query text that parses back to it."""
    if ref.kind == "attr":
        return ref.key
    plain = all(part and all(_is_word_char(c) for c in part) for part in ref.key.split("."))
    if ref.kind == "metric" and "." in ref.key:
        plain = False  # a trailing part could read as an aggregate
    name = ref.key if plain else _quote_name(ref.key)
    suffix = "" if ref.kind != "metric" or ref.aggregate == "last" else f".{ref.aggregate}"
    return f"{ref.kind}s.{name}{suffix}"


def _format_value(value: Value) -> str:
    if value.number is not None:
        return value.text
    return '"' + value.text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _precedence(node: Expr) -> int:
    return 1 if isinstance(node, Or) else 2 if isinstance(node, And) else 3


def _format_expr(node: Expr) -> str:
    if isinstance(node, And | Or):
        level = _precedence(node)
        left, right = _format_expr(node.left), _format_expr(node.right)
        if _precedence(node.left) < level:
            left = f"({left})"
        if _precedence(node.right) <= level:
            right = f"({right})"
        return f"{left} {'and' if isinstance(node, And) else 'or'} {right}"
    if isinstance(node, Not):
        inner = _format_expr(node.operand)
        return f"not ({inner})" if isinstance(node.operand, And | Or) else f"not {inner}"
    ref = format_ref(node.ref)
    if isinstance(node, Compare):
        return f"{ref} {node.op} {_format_value(node.value)}"
    if isinstance(node, Like):
        return (
            f"{ref} {'not like' if node.negated else 'like'} {_format_value(Value(node.pattern))}"
        )
    if isinstance(node, In):
        values = ", ".join(_format_value(v) for v in node.values)
        return f"{ref} {'not in' if node.negated else 'in'} ({values})"
    return f"{ref} is {'not null' if node.negated else 'null'}"


def format_query(query: Query) -> str:
    """The query as text that parses back to an equal Query."""
    parts = [] if query.where is None else [_format_expr(query.where)]
    if query.order:
        items = ", ".join(
            f"{format_ref(i.ref)} {'desc' if i.descending else 'asc'}" for i in query.order
        )
        parts.append(f"order by {items}")
    return " ".join(parts)
