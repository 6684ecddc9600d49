"""Display names of feature properties and report columns, in Chinese and English.

The catalog (:mod:`~rivernet.layers.catalog`) declares which properties each layer shows; this
table says
how a property is called in a tooltip, a popup or a report table. Unknown names are shown as they
are.
"""

from __future__ import annotations

from rivernet.admin import LEVEL_LABELS_ZH, LEVELS

_NAMES: dict[str, tuple[str, str]] = {
    "reach_id": ("河段编号", "Reach"),
    "status": ("覆盖状态", "Status"),
    "level": ("层级", "Level"),
    "chiefs": ("河长", "Chiefs"),
    "unit_name": ("行政区", "Unit"),
    "unit_code": ("行政区代码", "Unit code"),
    "length_m": ("长度 (米)", "Length (m)"),
    "length_km": ("长度 (公里)", "Length (km)"),
    "ORD_STRA": ("河流等级 (Strahler)", "Strahler order"),
    "name": ("名称", "Name"),
    "name_zh": ("中文名", "Chinese name"),
    "code": ("代码", "Code"),
    "upstream_name": ("上游行政区", "Upstream unit"),
    "downstream_name": ("下游行政区", "Downstream unit"),
    "left_name": ("左岸行政区", "Left bank unit"),
    "right_name": ("右岸行政区", "Right bank unit"),
    "rule": ("判定规则", "Rule"),
    "partners": ("上下游河长", "Partner chiefs"),
    "kind": ("问题类型", "Problem"),
    "message": ("说明", "Details"),
    "required_m": ("应覆盖 (公里)", "Required (km)"),
    "covered_m": ("已覆盖 (公里)", "Covered (km)"),
    "coverage_pct": ("覆盖率 (%)", "Coverage (%)"),
    "gaps": ("缺失", "Gaps"),
    "overlaps": ("重复", "Overlaps"),
    "expired": ("过期", "Expired"),
}

_LEVELS_EN = {level: level.capitalize() for level in LEVELS}


def property_label(name: str, lang: str = "zh") -> str:
    """The display name of a property or column (the name itself when unknown)."""
    if name.startswith("chiefs_") and name[7:] in LEVELS:
        level = name[7:]
        return f"{LEVEL_LABELS_ZH[level]}级河长" if lang == "zh" else f"{_LEVELS_EN[level]} chiefs"
    names = _NAMES.get(name)
    if names is None:
        return name
    return names[0] if lang == "zh" else names[1]


def level_label(level: str, lang: str = "zh") -> str:
    """The display name of an admin level (``"county"`` -> ``"县"`` or ``"County"``)."""
    if lang == "zh":
        return LEVEL_LABELS_ZH.get(level, level)
    return _LEVELS_EN.get(level, level)
