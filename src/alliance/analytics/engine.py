"""Where the metrics run: an Ibis backend on DuckDB (embedded, the default) or Apache Spark (``local[2]`` here).

The metrics in :mod:`alliance.analytics.metrics` are Ibis expressions; this module only opens a backend and puts
the four contract tables (:mod:`alliance.analytics.schema`) into it with the contract's types, whether they come
from files or from pandas frames.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from alliance.analytics.schema import TABLES, Column, arrow_schema, find_table_file

__all__ = ["ENGINES", "Engine", "connect", "load_tables", "tables_from_frames"]

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")

_IBIS_TYPES: dict[str, dt.DataType] = {
    "str": dt.string,
    "int": dt.int64,
    "float": dt.float64,
    "date": dt.date,
}


_BLANKS = " \t\r\n"


def connect(engine: str = "duckdb", *, threads: int | None = None) -> BaseBackend:
    """Open an Ibis backend: ``"duckdb"`` (in memory) or ``"spark"`` (a local Spark session, ``local[2]``).

    ``threads`` caps DuckDB's worker threads (default: DuckDB's own choice, every core).
    """
    if engine == "duckdb":
        config: dict[str, Any] = {} if threads is None else {"threads": threads}
        return ibis.duckdb.connect(**config)
    if engine == "spark":
        return _spark_backend()
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")


def _spark_backend() -> BaseBackend:
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the optional extra
        raise RuntimeError("the Spark engine needs PySpark: pip install 'alliance[spark]'") from None
    # PySpark 4 warns that pandas 3 is not fully supported; only small aggregated results cross over.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("alliance-analytics")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Tables created from pandas go to a temporary warehouse, not ./spark-warehouse.
        .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="alliance-spark-"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


def typed(table: ibis.Table, name: str, *, text: bool = False) -> ibis.Table:
    """Select the contract's columns of ``name`` from ``table``, cast to the contract's types.

    ``text=True`` (a CSV read as text): surrounding blanks are dropped and an empty cell is a missing value.
    """
    columns = {}
    for column, rule in TABLES[name].items():
        value = table[column]
        columns[column] = _cast(value, rule, text=text)
    return table.select(**columns)


def _cast(value: ibis.Value, rule: Column, *, text: bool) -> ibis.Value:
    target = _IBIS_TYPES[rule.kind]
    if text and value.type().is_string():
        # Not Ibis's strip(): on PySpark it compiles to a TRIM whose character list turns "\f" into "f", so
        # "female" became "emale". Two anchored regular expressions behave the same on both engines.
        value = value.re_replace(f"^[{_BLANKS}]+", "").re_replace(f"[{_BLANKS}]+$", "").nullif("")
    if value.type().is_string() and rule.kind == "int":
        # "3.0" (a whole number written as a float) is a whole number.
        return value.cast(dt.float64).cast(target)
    return value.cast(target)


def load_tables(con: BaseBackend, directory: str | Path) -> dict[str, ibis.Table]:
    """Read the four contract tables (``<table>.parquet`` or ``<table>.csv``) from ``directory`` into ``con``.

    The engine reads the files itself (nothing passes through pandas); validate them first with
    :func:`alliance.analytics.schema.iter_table_file` for errors that name the row.
    """
    tables = {}
    for name in TABLES:
        path = find_table_file(directory, name)
        if path.suffix == ".csv":
            tables[name] = typed(_read_csv_as_text(con, path, name), name, text=True)
        else:
            tables[name] = typed(con.read_parquet(str(path), table_name=f"raw_{name}"), name)
    return tables


def _read_csv_as_text(con: BaseBackend, path: Path, name: str) -> ibis.Table:
    """Read a CSV file with every column as text (ids such as "007" must not become numbers)."""
    if con.name == "duckdb":
        return con.read_csv(str(path), table_name=f"raw_{name}", all_varchar=True, header=True)
    return con.read_csv(str(path), table_name=f"raw_{name}", header=True, inferSchema=False)


def tables_from_frames(con: BaseBackend, frames: Mapping[str, pd.DataFrame]) -> dict[str, ibis.Table]:
    """Put pandas frames (one per contract table) into ``con`` with the contract's types (empty frames too)."""
    import pyarrow as pa

    tables = {}
    for name in TABLES:
        if name not in frames:
            raise ValueError(f"missing table {name!r} (need: {', '.join(TABLES)})")
        frame = frames[name]
        missing = [column for column in TABLES[name] if column not in frame.columns]
        if missing:
            raise ValueError(f"table {name!r} lacks columns: {', '.join(missing)}")
        schema = arrow_schema(name)
        arrays = []
        for column, rule in TABLES[name].items():
            values = frame[column]
            absent = values.isna().to_numpy(dtype=bool)
            if rule.kind == "date":
                days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
                arrays.append(pa.array(days, mask=absent, type=pa.date32()))
            elif rule.kind == "str":
                arrays.append(pa.array(values.astype(object).where(~absent, None).tolist(), type=pa.string()))
            else:
                numbers = pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)
                kind = pa.int64() if rule.kind == "int" else pa.float64()
                arrays.append(pa.array(np.where(absent, 0, numbers).astype(kind.to_pandas_dtype()), mask=absent))
        raw = con.create_table(f"input_{name}", pa.Table.from_arrays(arrays, schema=schema), overwrite=True)
        tables[name] = typed(raw, name)
    return tables
