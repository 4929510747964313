"""Reading empirical data from survey tables (CSV files or pandas DataFrames).

`EmpiricalTableReader` is the part of `SimulationExperimentEmpiricalValidator` that
makes a `SimulationExperimentDataset` from a table with one row per person, in one of
`EXPERIMENTAL_DATA_TYPES`: ``single_value_per_agent`` (one value column),
``ranking_per_agent`` (one rank column per option) and ``ordinal_ranking_per_agent``
(one column like ``"A-C-B"``). pandas is imported when a table is read; without it the
call raises ImportError naming the extra (``pip install 'tinytroupe[analysis]'``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinytroupe import sanitize
from tinytroupe.experimentation.empirical_dataset import SimulationExperimentDataset
from tinytroupe.extras import require

if TYPE_CHECKING:  # pandas is optional: only the table readers import it
    import pandas as pd

    from tinytroupe.experimentation.empirical_validator import (
        SimulationExperimentEmpiricalValidator,
    )

#: The table layouts the CSV and DataFrame readers accept.
EXPERIMENTAL_DATA_TYPES = ("single_value_per_agent", "ranking_per_agent",
                           "ordinal_ranking_per_agent")


def _import_pandas() -> Any:
    """The `pandas` module; ImportError naming the extra if it is missing."""
    return require("pandas", "analysis", "reading empirical data tables")


class EmpiricalTableReader:
    """Mixin of `SimulationExperimentEmpiricalValidator`: datasets read from tables."""

    @classmethod
    def read_empirical_data_from_csv(cls, file_path: str | Path,
                                     experimental_data_type: str = "single_value_per_agent",
                                     agent_id_column: str | None = None,
                                     agent_comments_column: str | None = None,
                                     agent_attributes_columns: list[str] | None = None,
                                     value_column: str | None = None,
                                     ranking_columns: list[str] | None = None,
                                     ordinal_ranking_column: str | None = None,
                                     ordinal_ranking_separator: str = "-",
                                     ordinal_ranking_options: list[str] | None = None,
                                     dataset_name: str | None = None,
                                     dataset_description: str | None = None,
                                     encoding: str = "utf-8") -> SimulationExperimentDataset:
        """A dataset from a CSV file, one row per person (module doc for the layouts).

        Undecodable bytes become U+FFFD. Raises FileNotFoundError, ValueError (no rows,
        a named column missing, no column to use), pandas' EmptyDataError for an empty
        file, ImportError (naming the extra) without pandas.
        """
        pd = _import_pandas()
        path = Path(file_path)
        if not path.exists():
            raise FileNotFoundError(f"CSV file not found: {path}")
        try:
            df = pd.read_csv(path, encoding=encoding, encoding_errors="replace")
        except pd.errors.EmptyDataError:
            raise pd.errors.EmptyDataError(f"CSV file is empty: {path}") from None
        if df.empty:
            raise ValueError(f"CSV file contains no data: {path}")
        return cls._process_empirical_data_from_dataframe(
            df, experimental_data_type, agent_id_column, agent_comments_column,
            agent_attributes_columns, value_column, ranking_columns, ordinal_ranking_column,
            ordinal_ranking_separator, ordinal_ranking_options,
            dataset_name or f"Empirical_Data_{path.stem}",
            dataset_description or f"Empirical data loaded from {path.name}")

    @classmethod
    def read_empirical_data_from_dataframe(cls, df: pd.DataFrame,
                                           experimental_data_type: str = "single_value_per_agent",
                                           agent_id_column: str | None = None,
                                           agent_comments_column: str | None = None,
                                           agent_attributes_columns: list[str] | None = None,
                                           value_column: str | None = None,
                                           ranking_columns: list[str] | None = None,
                                           ordinal_ranking_column: str | None = None,
                                           ordinal_ranking_separator: str = "-",
                                           ordinal_ranking_options: list[str] | None = None,
                                           dataset_name: str | None = None,
                                           dataset_description: str | None = None
                                           ) -> SimulationExperimentDataset:
        """A dataset from a pandas DataFrame, as `read_empirical_data_from_csv`.

        Raises TypeError if `df` is not a DataFrame, ValueError as the CSV reader.
        """
        pd = _import_pandas()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"Expected pandas DataFrame, got {type(df)}")
        if df.empty:
            raise ValueError("DataFrame contains no data")
        return cls._process_empirical_data_from_dataframe(
            df, experimental_data_type, agent_id_column, agent_comments_column,
            agent_attributes_columns, value_column, ranking_columns, ordinal_ranking_column,
            ordinal_ranking_separator, ordinal_ranking_options,
            dataset_name or "Empirical_Data_from_DataFrame",
            dataset_description or "Empirical data loaded from pandas DataFrame")

    @classmethod
    def create_from_csv(cls, file_path: str | Path, *args: Any, **kwargs: Any
                        ) -> tuple[SimulationExperimentEmpiricalValidator,
                                   SimulationExperimentDataset]:
        """A validator, and the dataset `read_empirical_data_from_csv` reads (same arguments)."""
        return cls(), cls.read_empirical_data_from_csv(file_path, *args, **kwargs)

    @classmethod
    def create_from_dataframe(cls, df: pd.DataFrame, *args: Any, **kwargs: Any
                              ) -> tuple[SimulationExperimentEmpiricalValidator,
                                         SimulationExperimentDataset]:
        """A validator, and the dataset `read_empirical_data_from_dataframe` reads (same args)."""
        return cls(), cls.read_empirical_data_from_dataframe(df, *args, **kwargs)

    @classmethod
    def _process_empirical_data_from_dataframe(
            cls, df: pd.DataFrame, experimental_data_type: str, agent_id_column: str | None,
            agent_comments_column: str | None, agent_attributes_columns: list[str] | None,
            value_column: str | None, ranking_columns: list[str] | None,
            ordinal_ranking_column: str | None, ordinal_ranking_separator: str,
            ordinal_ranking_options: list[str] | None, dataset_name: str,
            dataset_description: str) -> SimulationExperimentDataset:
        if experimental_data_type not in EXPERIMENTAL_DATA_TYPES:
            raise ValueError(f"Unsupported experimental_data_type: {experimental_data_type}. "
                             f"Supported types: {', '.join(EXPERIMENTAL_DATA_TYPES)}")
        pd = _import_pandas()
        key_results: dict[str, Any] = {}
        result_types: dict[str, str] = {}
        data_types: dict[str, str] = {}
        ranking_info: dict[str, dict[str, Any]] = {}
        if experimental_data_type == "single_value_per_agent":
            column = value_column or cls._guess_column(
                df, ("vote", "score", "rating", "value", "response", "answer"), numeric=True)
            cls._require_columns(df, [column], "Value column")
            key_results[column] = [cls._cell_value(v) for v in df[column]]
            result_types[column] = "per_agent"
        elif experimental_data_type == "ranking_per_agent":
            if ranking_columns is None:
                ranking_columns = [c for c in df.select_dtypes(include=["number"]).columns
                                   if c != agent_id_column]
                if len(ranking_columns) < 2:
                    raise ValueError("No suitable ranking columns found. Please specify "
                                     "ranking_columns parameter.")
            cls._require_columns(df, ranking_columns, "Ranking columns")
            for column in ranking_columns:
                key_results[column] = [cls._rank(v) for v in df[column]]
                result_types[column], data_types[column] = "per_agent", "ranking"
        else:
            column = ordinal_ranking_column or cls._guess_ordinal_column(
                df, ordinal_ranking_separator, agent_id_column, agent_comments_column)
            cls._require_columns(df, [column], "Ordinal ranking column")
            options = ordinal_ranking_options or cls._auto_detect_ranking_options(
                df[column], ordinal_ranking_separator)
            parsed = cls._parse_ordinal_rankings(df[column], ordinal_ranking_separator, options)
            for option in options:
                key = f"{option}_rank"
                key_results[key] = parsed[option]
                result_types[key], data_types[key] = "per_agent", "ranking"
                ranking_info[key] = {"direction": "ascending", "original_options": options,
                                     "separator": ordinal_ranking_separator,
                                     "source_column": column, "min_rank": 1,
                                     "max_rank": len(options), "num_ranks": 0,
                                     "rank_values": []}
        names = ([None if pd.isna(v) else sanitize.clean_text(str(v))
                  for v in df[agent_id_column]]
                 if agent_id_column and agent_id_column in df.columns
                 else [f"Agent_{i + 1}" for i in range(len(df))])
        justifications: list[str | dict[str, str | int]] = []
        if agent_comments_column and agent_comments_column in df.columns:
            for i, comment in enumerate(df[agent_comments_column]):
                text = "" if pd.isna(comment) else sanitize.clean_text(str(comment)).strip()
                justifications.append({"agent_name": names[i] or f"Agent_{i + 1}",
                                       "agent_index": i, "justification": text})
        attributes = {column: [None if pd.isna(v) else sanitize.clean_text(str(v)).strip()
                               for v in df[column]]
                      for column in agent_attributes_columns or [] if column in df.columns}
        return SimulationExperimentDataset(
            name=dataset_name, description=dataset_description, key_results=key_results,
            result_types=result_types, data_types=data_types, ranking_info=ranking_info,
            agent_names=names, agent_justifications=justifications,
            agent_attributes=attributes)

    @staticmethod
    def _require_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{what} not found in CSV: {missing}. "
                             f"Available columns: {list(df.columns)}")

    @staticmethod
    def _guess_column(df: pd.DataFrame, keywords: tuple[str, ...], numeric: bool) -> str:
        """The shortest column named like one of `keywords`, else the first numeric one."""
        candidates = [c for c in df.columns if any(k in str(c).lower() for k in keywords)]
        if candidates:
            return min(candidates, key=lambda c: len(str(c)))
        numeric_columns = list(df.select_dtypes(include=["number"]).columns) if numeric else []
        if numeric_columns:
            return numeric_columns[0]
        raise ValueError("No suitable value column found. Please specify value_column "
                         "parameter.")

    @classmethod
    def _guess_ordinal_column(cls, df: pd.DataFrame, separator: str, agent_id_column: str | None,
                              agent_comments_column: str | None) -> str:
        keywords = ("ranking", "rank", "order", "preference", "choice")
        candidates = [c for c in df.columns if any(k in str(c).lower() for k in keywords)]
        if candidates:
            return min(candidates, key=lambda c: len(str(c)))
        for column in df.select_dtypes(include=["object"]).columns:
            if column in (agent_id_column, agent_comments_column):
                continue
            if df[column].astype(str).str.contains(separator, regex=False, na=False).any():
                return column
        raise ValueError("No suitable ordinal ranking column found. Please specify "
                         "ordinal_ranking_column parameter.")

    @staticmethod
    def _cell_value(value: Any) -> Any:
        """A table cell as None, a number (whole numbers as int) or stripped text."""
        pd = _import_pandas()
        if pd.isna(value):
            return None
        if isinstance(value, str):
            text = sanitize.clean_text(value).strip()
            try:
                number = float(text)
            except ValueError:
                return text
            if not math.isfinite(number):
                return text
            return int(number) if number.is_integer() else number
        if hasattr(value, "item"):  # numpy scalar
            value = value.item()
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @staticmethod
    def _rank(value: Any) -> int | None:
        pd = _import_pandas()
        if pd.isna(value):
            return None
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None

    @classmethod
    def _auto_detect_ranking_options(cls, ranking_series: pd.Series, separator: str
                                     ) -> list[str]:
        """The options named in ordinal ranking strings, sorted; ValueError if none."""
        options: set[str] = set()
        for cell in ranking_series.dropna():
            text = sanitize.clean_text(str(cell)).strip()
            if separator in text:
                options.update(part.strip() for part in text.split(separator))
        options.discard("")
        if not options:
            raise ValueError(f"No ranking options found in data using separator '{separator}'")
        return sorted(options)

    @classmethod
    def _parse_ordinal_rankings(cls, ranking_series: pd.Series, separator: str,
                                options: list[str]) -> dict[str, list[int | None]]:
        """Each option's rank (1 = first) per row; None where the row does not rank it."""
        pd = _import_pandas()
        result: dict[str, list[int | None]] = {option: [] for option in options}
        for cell in ranking_series:
            text = "" if pd.isna(cell) else sanitize.clean_text(str(cell)).strip()
            ranked = [p.strip() for p in text.split(separator)] if separator in text else []
            positions: dict[str, int] = {}
            for rank, option in enumerate(ranked, 1):
                positions.setdefault(option, rank)
            for option in options:
                result[option].append(positions.get(option))
        return result
