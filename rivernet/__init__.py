"""rivernet: river networks and river/lake chief (河长制) responsibility analysis.

The package top level gathers the public API: the network, the project file, coordinate
conversions and the errors. Analyses (coverage, boundaries, partners) are added by their modules.
"""

from __future__ import annotations

from rivernet.errors import (
    AdminUnitsError,
    CoordinateOffsetWarning,
    CRSError,
    DataQualityWarning,
    InputError,
    NotFoundError,
    OutOfRangeError,
    PolicyError,
    ProjectFileError,
    RivernetError,
    RivernetWarning,
    RosterError,
    SnapWarning,
    TopologyError,
)
from rivernet.network import RiverNetwork
from rivernet.validation import Finding, ValidationReport

__version__ = "0.1.0"

# Analyses are imported on first use, so that `import rivernet` stays light. Each entry maps a
# public name to the module that defines it.
_LAZY = {
    "open_project": "rivernet.project",
    "Project": "rivernet.project",
    "coverage_gaps": "rivernet.coverage",
    "coverage_problems": "rivernet.problems",
    "coverage_summary": "rivernet.coverage",
    "coverage_status": "rivernet.coverage",
    "chiefs_at": "rivernet.chiefs",
    "read_roster": "rivernet.roster",
    "write_roster": "rivernet.roster",
    "Roster": "rivernet.roster",
    "load_policy": "rivernet.policy",
    "CoveragePolicy": "rivernet.policy",
    "responsibility_pieces": "rivernet.pieces",
    "crossings": "rivernet.boundary",
    "boundary_rivers": "rivernet.boundary",
    "jurisdiction_graph": "rivernet.jurisdiction",
    "jurisdiction_table": "rivernet.jurisdiction",
    "partners": "rivernet.joint_control",
    "partner_table": "rivernet.joint_control",
    "partner_summary": "rivernet.joint_control",
    "incident": "rivernet.incidents",
    "attach_names": "rivernet.names",
    "rivers": "rivernet.dossier",
    "resolve_named_roster": "rivernet.named_roster",
    "explore": "rivernet.layers.folium",
    "render": "rivernet.layers.static",
    "unit_report": "rivernet.layers.report",
}


def __getattr__(name: str) -> object:
    """Import a public analysis function from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rivernet' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "AdminUnitsError",
    "CoordinateOffsetWarning",
    "CRSError",
    "DataQualityWarning",
    "Finding",
    "InputError",
    "NotFoundError",
    "OutOfRangeError",
    "PolicyError",
    "ProjectFileError",
    "RiverNetwork",
    "RivernetError",
    "RivernetWarning",
    "RosterError",
    "SnapWarning",
    "TopologyError",
    "ValidationReport",
    "__version__",
    *_LAZY,
]
