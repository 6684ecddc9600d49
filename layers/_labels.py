"""Display names and display values of feature properties and report columns.

The catalog (:mod:`~rivernet.layers.catalog`) declares which properties each layer shows; the
message catalogue (:mod:`rivernet.messages`) says how a property is called in a tooltip, a
popup or a report table, and how coded values read (``"township"`` -> 乡, ``False`` -> 否,
``"split_by_bank"`` -> 按岸分管). Unknown names and codes are shown as they are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rivernet import messages

# Columns whose values are codes of a catalogue section.
CODED: dict[str, str] = {
    "level": "level",
    "missing_level": "level",
    "status": "status",
    "kind": "kind",
    "rule": "rule",
    "relation": "relation",
    "cause": "cause",
}


def property_label(name: str, lang: str = "zh") -> str:
    """The display name of a property or column (the name itself when unknown)."""
    return messages.column(name, lang)


def level_label(level: str, lang: str = "zh") -> str:
    """The display name of an admin level (``"county"`` -> ``"县"`` or ``"county"``)."""
    return messages.level(level, lang)


def display_value(name: str, value: Any, lang: str = "zh") -> Any:
    """A property value as a reader sees it: codes in words, booleans as 是/否, floats rounded.

    Parameters
    ----------
    name
        The column name (``level``, ``status``, ``in_lake``, ...).
    value
        The value.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    object
        Text for coded values and booleans, a float rounded to 0.1 for measures, else the value.
    """
    if value is None or (not isinstance(value, list | tuple | dict) and _isna(value)):
        return value
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return messages.boolean(value, lang)
    section = CODED.get(name)
    if section is not None:
        return messages.label(section, value, lang)
    if isinstance(value, float):
        return round(value, 1)
    return value


def display_frame(frame: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """A copy of ``frame`` with every coded or boolean column in words (see
    :func:`display_value`)."""
    shown = frame.copy()
    for name in shown.columns:
        column = shown[name]
        if name in CODED or pd.api.types.is_bool_dtype(column.dtype):
            shown[name] = [display_value(name, v, lang) for v in column]
    return shown


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
