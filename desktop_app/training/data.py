"""Training data: reading tables (CSV, Parquet, Excel, bundled datasets), checks and a profile.

Problems are reported as ``JobSpecError`` naming the job field they belong to, with the column,
an example value and its row where that helps the user fix the file.
"""

from __future__ import annotations

import codecs
import difflib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.training.spec import JobSpec, JobSpecError

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 1000
CLASSIFICATION_MAX_CLASSES = 20
NUMERIC_SHARE_FOR_TEXT_CHECK = 0.8
LEAK_CORRELATION = 0.95
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_BUNDLED_TARGET = "target"


def source_name(spec: JobSpec) -> str:
    """How the data source is named in messages: the file name or the dataset."""
    data = _data(spec)
    if data.dataset is not None:
        return f"the {data.dataset} dataset"
    return Path(str(data.path)).name


def target_column(spec: JobSpec) -> str:
    """The column to predict (``target`` for a dataset shipped with scikit-learn)."""
    data = _data(spec)
    return data.target or _BUNDLED_TARGET


def feature_columns(spec: JobSpec, columns: Iterable[Any]) -> list[str]:
    """The columns used as inputs: those listed, else every column but the target."""
    data = _data(spec)
    if data.features is not None:
        return list(data.features)
    target = target_column(spec)
    return [str(c) for c in columns if str(c) != target]


def _data(spec: JobSpec) -> Any:
    if spec.data is None:
        raise JobSpecError("missing; add a [data] table with path and target", field="data")
    return spec.data


# ---- reading -------------------------------------------------------------------------------


def read_table(
    spec: JobSpec, *, nrows: int | None = None, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The data source as a DataFrame, optionally only its first rows or some columns."""
    data = _data(spec)
    if data.dataset is not None:
        frame = bundled_dataset(data.dataset)
    else:
        path = spec.resolve_path(str(data.path))
        frame = _read_file(path, data.path, data.sheet, data.encoding, nrows, columns)
    if columns is not None:
        frame = frame[list(columns)]
    if nrows is not None:
        frame = frame.head(nrows)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def bundled_dataset(name: str) -> pd.DataFrame:
    """A dataset shipped inside scikit-learn as one frame; class codes become class names."""
    import numpy as np
    from sklearn import datasets

    from desktop_app.training.spec import BUNDLED_DATASETS, DOWNLOADED_DATASETS

    if name not in BUNDLED_DATASETS:
        why = (
            "is downloaded from the internet by scikit-learn and ModelDesk works offline"
            if name in DOWNLOADED_DATASETS
            else "is not shipped with scikit-learn"
        )
        raise JobSpecError(
            f"{name} {why}; choose one of {', '.join(BUNDLED_DATASETS)}", field="data.dataset"
        )
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    names = getattr(bunch, "target_names", None)
    if names is not None and name != "digits":
        frame[_BUNDLED_TARGET] = np.asarray(names, dtype=object)[frame[_BUNDLED_TARGET].to_numpy()]
    return frame


def _read_file(
    path: Path,
    shown: str,
    sheet: str | None,
    encoding: str | None,
    nrows: int | None,
    columns: Sequence[str] | None,
) -> pd.DataFrame:
    import pandas as pd

    name = path.name
    if not path.exists():
        raise JobSpecError(f"no such file: {path}", field="data.path")
    if path.is_dir():
        raise JobSpecError(f"{path} is a folder; name a data file", field="data.path")
    if not os.access(path, os.R_OK):
        raise JobSpecError(f"cannot read {path}: permission denied", field="data.path")
    suffix = path.suffix.lower()
    try:
        if suffix in _CSV_SUFFIXES:
            frame = _read_csv(path, encoding, nrows, columns)
        elif suffix in _PARQUET_SUFFIXES:
            frame = _read_parquet(path, nrows, columns)
        elif suffix in _EXCEL_SUFFIXES:
            frame = _read_excel(path, sheet, nrows)
        elif suffix == ".xls":
            raise JobSpecError(
                f"{name} is an old Excel file (.xls); save it as .xlsx or CSV", field="data.path"
            )
        else:
            raise JobSpecError(
                f"cannot read {suffix or 'extension-less'} files like {name}; "
                "use CSV, TSV, Parquet or Excel (.xlsx)",
                field="data.path",
            )
    except PermissionError:
        raise JobSpecError(f"cannot read {path}: permission denied", field="data.path") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JobSpecError(f"cannot read {name}: {first_line}", field="data.path") from None
    if frame.shape[1] == 0 or (frame.shape[0] == 0 and nrows != 0):
        raise JobSpecError(f"{name} has no data rows", field="data.path")
    return frame


def _read_csv(
    path: Path, encoding: str | None, nrows: int | None, columns: Sequence[str] | None
) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(
            path,
            sep=_separator(path, encoding),
            encoding=encoding or "utf-8-sig",
            nrows=nrows,
            usecols=list(columns) if columns is not None else None,
            low_memory=False,
        )
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, encoding, exc) from None
    except pd.errors.EmptyDataError:
        raise JobSpecError(f"{path.name} is empty", field="data.path") from None


def _separator(path: Path, encoding: str | None) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    with open(path, "rb") as handle:
        header = handle.readline(1 << 16).decode(encoding or "utf-8", errors="replace")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _encoding_error(path: Path, encoding: str | None, exc: UnicodeDecodeError) -> JobSpecError:
    """Where the first undecodable byte is, found by decoding the file from the start."""
    codec = encoding or "utf-8"
    label = "UTF-8" if codec.lower().replace("_", "-") in ("utf-8", "utf8") else codec
    where = _first_bad_byte(path, codec)
    if where is None:
        position = f"{exc.reason}"
    else:
        offset, byte, line = where
        position = f"byte 0x{byte:02x} at position {offset}, line {line}"
    return JobSpecError(
        f"cannot read {path.name} as {label} text ({position}); save it as UTF-8 or set "
        'data.encoding (for example "latin-1")',
        field="data.path",
    )


def _first_bad_byte(path: Path, codec: str) -> tuple[int, int, int] | None:
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    lines = 1
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                inside = max(exc.start - pending, 0)
                return offset + inside, exc.object[exc.start], lines + chunk[:inside].count(b"\n")
            offset += len(chunk)
            lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset - len(exc.object) + exc.start, exc.object[exc.start], lines
    return None


def _read_parquet(path: Path, nrows: int | None, columns: Sequence[str] | None) -> pd.DataFrame:
    import pandas as pd

    if nrows is None:
        return pd.read_parquet(path, columns=list(columns) if columns is not None else None)
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(path).iter_batches(batch_size=max(nrows, 1))
    first = next(batches, None)
    if first is None:
        return pd.read_parquet(path)
    return first.to_pandas()


def _read_excel(path: Path, sheet: str | None, nrows: int | None) -> pd.DataFrame:
    import pandas as pd

    with pd.ExcelFile(path) as book:
        names = [str(n) for n in book.sheet_names]
        if sheet is not None and sheet not in names:
            raise JobSpecError(
                f"no sheet {sheet!r} in {path.name} (sheets: {', '.join(names)})",
                field="data.sheet",
            )
        return pd.read_excel(book, sheet_name=sheet if sheet is not None else 0, nrows=nrows)


# ---- checks --------------------------------------------------------------------------------


def column_problems(columns: Sequence[str], spec: JobSpec, source: str) -> list[str]:
    """Target or feature columns that the data does not have."""
    problems: list[str] = []
    present = [str(c) for c in columns]
    listed = _shorten(present)
    target = target_column(spec)
    if target not in present:
        problems.append(
            f"data.target: column {target!r} not in {source} (columns: {listed})"
            + _did_you_mean(target, present)
        )
    data = _data(spec)
    for feature in data.features or ():
        if feature not in present:
            problems.append(
                f"data.features: column {feature!r} not in {source} (columns: {listed})"
                + _did_you_mean(feature, present)
            )
    return problems


def _shorten(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def _did_you_mean(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def text_in_numeric(frame: pd.DataFrame, source: str, *, csv: bool = False) -> list[str]:
    """Columns that hold numbers with a few text cells mixed in, each with an example cell."""
    import pandas as pd
    from pandas.api import types

    problems: list[str] = []
    for column in frame.columns:
        series = frame[column]
        if not (types.is_object_dtype(series) or types.is_string_dtype(series)):
            continue
        present = series.dropna()
        if present.empty:
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        parsed = numbers.notna()
        count = int(parsed.sum())
        if count == len(present) or count < NUMERIC_SHARE_FOR_TEXT_CHECK * len(present):
            continue
        bad = present[~parsed]
        row = int(frame.index.get_loc(bad.index[0])) + 1
        line = f" (line {row + 1} of the file)" if csv else ""
        others = f"; {len(bad)} such cells" if len(bad) > 1 else ""
        problems.append(
            f"data.path: column {column!r} of {source} holds numbers but also text, e.g. "
            f"{bad.iloc[0]!r} in row {row}{line}{others}; correct those cells or leave them "
            "empty to mark a missing value"
        )
    return problems


def detect_task(target: pd.Series) -> str:
    """``classification`` for text, true/false or a few whole numbers; else ``regression``."""
    import numpy as np
    from pandas.api import types

    values = target.dropna()
    if types.is_bool_dtype(values) or not types.is_numeric_dtype(values):
        return "classification"
    array = values.to_numpy(dtype=float)
    if not np.all(np.mod(array, 1) == 0):
        return "regression"
    return "classification" if values.nunique() <= CLASSIFICATION_MAX_CLASSES else "regression"


def resolve_task(declared: str | None, target: pd.Series, estimator_kind: str | None) -> str:
    """The task as declared, else detected; a regressor on a numeric target means regression."""
    from pandas.api import types

    if declared is not None:
        return declared
    detected = detect_task(target)
    numeric = types.is_numeric_dtype(target) and not types.is_bool_dtype(target)
    if detected == "classification" and estimator_kind == "regressor" and numeric:
        return "regression"
    return detected


def target_problems(target: pd.Series, task: str, column: str, source: str) -> list[str]:
    """Why this target column cannot be learned for the task (single class, wrong kind)."""
    import numpy as np
    from pandas.api import types

    values = target.dropna()
    if values.empty:
        return [f"data.target: column {column!r} of {source} has no values"]
    numeric = types.is_numeric_dtype(values) and not types.is_bool_dtype(values)
    if task == "classification":
        if numeric and types.is_float_dtype(values):
            array = values.to_numpy(dtype=float)
            fractional = array[np.mod(array, 1) != 0]
            if fractional.size:
                return [
                    f"data.target: column {column!r} of {source} holds continuous numbers "
                    f"(e.g. {fractional[0]:g}); a classifier needs classes, so set "
                    'task = "regression"'
                ]
        classes = values.unique()
        if len(classes) < 2:
            return [
                f"data.target: column {column!r} of {source} has a single class "
                f"({_plain(classes[0])!r}); a classifier needs at least two"
            ]
        return []
    if not numeric:
        return [
            f"data.target: column {column!r} of {source} holds text (e.g. "
            f"{_plain(values.iloc[0])!r}); regression needs numbers, so set "
            'task = "classification" or choose another target'
        ]
    if values.nunique() < 2:
        return [
            f"data.target: column {column!r} of {source} has a single value "
            f"({_plain(values.iloc[0])!r}); there is nothing to predict"
        ]
    return []


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def split_problems(spec: JobSpec, target: pd.Series, task: str) -> list[str]:
    """Whether the data has rows enough for the split asked."""
    rows = int(target.notna().sum())
    split = spec.split
    if split.kind == "kfold" and rows < split.folds:
        return [
            f"split.folds: {split.folds} folds need at least {split.folds} rows with a target; "
            f"{source_name(spec)} has {rows}"
        ]
    if split.kind == "holdout":
        test_rows = int(rows * split.test_size + 0.999999)
        if test_rows < 1 or rows - test_rows < 1:
            return [
                f"split.test_size: {split.test_size} of {rows} rows leaves no rows to "
                "train or to test on"
            ]
    return []


# ---- loading for training ------------------------------------------------------------------


def load_frame(spec: JobSpec) -> pd.DataFrame:
    """The used columns (features, then the target) of the whole data, checked."""
    source = source_name(spec)
    frame = read_table(spec)
    problems = column_problems(list(frame.columns), spec, source)
    if problems:
        raise JobSpecError(problems[0], detail="\n".join(problems))
    columns = [*feature_columns(spec, frame.columns), target_column(spec)]
    frame = frame.loc[:, columns]
    csv = spec.data is not None and spec.data.path is not None
    csv = csv and Path(str(_data(spec).path)).suffix.lower() in _CSV_SUFFIXES
    problems = text_in_numeric(frame, source, csv=csv)
    if problems:
        raise JobSpecError(problems[0], detail="\n".join(problems))
    return frame.reset_index(drop=True)


def split_xy(frame: pd.DataFrame, spec: JobSpec) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Inputs and target, leaving out rows without a target; also the notes about it."""
    target = target_column(spec)
    keep = frame[target].notna()
    notes = []
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"{dropped} rows without a target value left out")
    features = [c for c in frame.columns if c != target]
    x = frame.loc[keep, features].reset_index(drop=True)
    y = frame.loc[keep, target].reset_index(drop=True)
    return x, y, notes


def data_problems(spec: JobSpec) -> tuple[list[str], str | None]:
    """Problems with the data of a job, from its header, a sample and its target column.

    Also returns the task the job would run as (None when the data could not be read).
    """
    from desktop_app.training.catalog import estimator_kind

    source = source_name(spec)
    try:
        sample = read_table(spec, nrows=SAMPLE_ROWS)
    except JobSpecError as exc:
        return [exc.message], spec.task
    problems = column_problems(list(sample.columns), spec, source)
    if problems:
        return problems, spec.task
    target = target_column(spec)
    data = _data(spec)
    csv = data.path is not None and Path(str(data.path)).suffix.lower() in _CSV_SUFFIXES
    used = sample.loc[:, feature_columns(spec, sample.columns)]
    problems.extend(text_in_numeric(used, source, csv=csv))
    try:
        y = read_table(spec, columns=[target])[target]
    except JobSpecError as exc:
        return [*problems, exc.message], spec.task
    if data.features is None and len(sample.columns) < 2:
        problems.append(f"data.features: {source} has no column besides the target {target!r}")
    kind = None
    if spec.model is not None:
        try:
            kind = estimator_kind(spec.model.estimator)
        except JobSpecError:
            kind = None
    target_text = text_in_numeric(y.to_frame(), source, csv=csv)
    if target_text:
        return [*problems, *target_text], spec.task
    task = resolve_task(spec.task, y, kind)
    problems.extend(target_problems(y, task, target, source))
    problems.extend(split_problems(spec, y, task))
    return problems, task


# ---- profile -------------------------------------------------------------------------------


def profile_frame(frame: pd.DataFrame, target: str, task: str | None = None) -> dict[str, Any]:
    """A data-quality profile: missing values, constant columns, duplicates, balance, leaks.

    ``warnings`` holds short sentences about what deserves a look before trusting the scores.
    """
    from pandas.api import types

    rows = len(frame)
    y = frame[target]
    task = task or detect_task(y)
    features = [c for c in frame.columns if c != target]
    missing = {str(c): int(n) for c, n in frame.isna().sum().items() if n}
    constant = [str(c) for c in features if frame[c].nunique(dropna=False) <= 1]
    duplicates = int(frame.duplicated().sum())
    warnings: list[str] = []
    for column in constant:
        warnings.append(f"constant column {column!r}")
    if duplicates:
        warnings.append(f"{duplicates} duplicate rows")
    for column, count in missing.items():
        if rows and count / rows > 0.5:
            warnings.append(f"{column!r} is {count / rows:.0%} missing")
    balance: dict[str, int] | None = None
    if task == "classification":
        counts = y.value_counts()
        balance = {str(_plain(k)): int(v) for k, v in counts.items()}
        if len(counts) >= 2 and counts.iloc[-1] < 0.1 * counts.iloc[0]:
            warnings.append(
                f"imbalanced classes: {_plain(counts.index[-1])!r} has {int(counts.iloc[-1])} "
                f"of {int(counts.sum())} rows"
            )
    leaks = _leaks(frame, target, [c for c in features if c not in constant], task)
    for leak in leaks:
        warnings.append(f"{leak['column']!r} {leak['reason']}")
    for column in features:
        series = frame[column]
        if (
            rows >= 20
            and not types.is_numeric_dtype(series)
            and series.nunique() == rows
            and column not in constant
        ):
            warnings.append(f"{column!r} differs in every row (an identifier?)")
    return {
        "rows": rows,
        "columns": len(features),
        "target": target,
        "task": task,
        "missing": missing,
        "constant_columns": constant,
        "duplicate_rows": duplicates,
        "class_balance": balance,
        "target_leaks": leaks,
        "warnings": warnings,
    }


def _leaks(
    frame: pd.DataFrame, target: str, features: Sequence[str], task: str
) -> list[dict[str, Any]]:
    """Columns that give the target away: near-perfect correlation or a perfect mapping."""
    import numpy as np
    from pandas.api import types

    y = frame[target]
    numeric_y = None
    if task == "regression" and types.is_numeric_dtype(y):
        numeric_y = y.astype(float)
    elif task == "classification" and y.nunique() == 2:
        classes = sorted(y.dropna().unique(), key=str)
        numeric_y = (y == classes[1]).astype(float).where(y.notna())
    leaks: list[dict[str, Any]] = []
    for column in features:
        series = frame[column]
        numeric = types.is_numeric_dtype(series) and not types.is_bool_dtype(series)
        if numeric and numeric_y is not None and series.nunique() > 1:
            with np.errstate(all="ignore"):
                corr = series.astype(float).corr(numeric_y)
            if corr == corr and abs(corr) > LEAK_CORRELATION:
                leaks.append(
                    {
                        "column": str(column),
                        "reason": f"correlates with the target ({corr:.3f})",
                        "correlation": float(corr),
                    }
                )
                continue
        if task == "classification":
            pairs = frame[[column, target]].dropna()
            groups = pairs[column].nunique()
            if (
                len(pairs) >= 10
                and 1 < groups <= len(pairs) / 2
                and int(pairs.groupby(column, observed=True)[target].nunique().max()) == 1
            ):
                leaks.append(
                    {
                        "column": str(column),
                        "reason": "predicts the target perfectly",
                        "correlation": None,
                    }
                )
    return leaks
