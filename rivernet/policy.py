"""Coverage policy: which levels of chief each piece of river requires, read from a TOML file.

Which levels a reach needs is configuration, never hard-coded: every province has its own
practice. A policy file looks like this::

    name = "Taihu sample policy"
    default_levels = ["county", "township", "village"]   # every piece of river
    covering_roles = ["河长", "湖长"]                      # roles that count as coverage
    board_update_days = 30                                 # sign boards: days allowed to update

    [[rule]]                      # more levels where a rule matches (all its tests must hold)
    name = "main rivers"
    levels = ["province", "city"]
    min_strahler = 5              # also: max_strahler, min_river_length_km, reach_ids,
                                  # river_ids, column + values, in_lakes
    [[exemption]]                 # pieces not required at these levels (default: all)
    name = "Taihu flow paths"
    in_lakes = [504]
    reason = "covered by the Taihu lake chiefs"

    [[lake]]                      # lakes that need a lake chief (湖长) at these levels
    lake_ids = [504]
    levels = ["province", "city", "county"]

:func:`load_policy` validates the file and reports every unknown key, wrong type and unknown
level at once (:class:`~rivernet.errors.PolicyError`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from rivernet.admin import LEVELS
from rivernet.errors import PolicyError
from rivernet.messages import Lines, Message
from rivernet.messages import items as id_items

__all__ = [
    "CoveragePolicy",
    "ExemptionRule",
    "LakeRule",
    "LevelRule",
    "load_policy",
    "policy_name",
    "reference_problems",
    "requirements",
]

ROLES: tuple[str, ...] = (
    "总河长",
    "副总河长",
    "河长",
    "副河长",
    "湖长",
    "段长",
    "民间河长",
    "巡河员",
)

_MATCH_KEYS: dict[str, type | tuple[type, ...]] = {
    "min_strahler": int,
    "max_strahler": int,
    "min_river_length_km": (int, float),
    "reach_ids": list,
    "river_ids": list,
    "column": str,
    "values": list,
    "in_lakes": (list, bool),
}
_TOP_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "default_levels": list,
    "covering_roles": list,
    "board_update_days": int,
    "rule": list,
    "exemption": list,
    "lake": list,
}
_RULE_KEYS = {"name": str, "levels": list, **_MATCH_KEYS}
_EXEMPTION_KEYS = {"name": str, "levels": list, "reason": str, **_MATCH_KEYS}
_LAKE_KEYS: dict[str, type | tuple[type, ...]] = {"name": str, "lake_ids": list, "levels": list}


@dataclass(frozen=True)
class Match:
    """Tests a piece of river must pass for a rule to apply (all given tests must hold).

    Attributes
    ----------
    min_strahler, max_strahler
        Bounds on the reach's Strahler order.
    min_river_length_km
        Lower bound on the length of the whole river (the reach's main stem).
    reach_ids, river_ids
        Explicit reaches, or rivers named by their main-stem id.
    column, values
        A reach attribute (e.g. a river class column) and the values that match.
    in_lakes
        Pieces lying inside these lakes (lake ids), or inside any lake when True: the parts of
        reaches inside the lake polygons (pieces are cut at lake shores).
    """

    min_strahler: int | None = None
    max_strahler: int | None = None
    min_river_length_km: float | None = None
    reach_ids: tuple[Any, ...] | None = None
    river_ids: tuple[Any, ...] | None = None
    column: str | None = None
    values: tuple[Any, ...] | None = None
    in_lakes: tuple[Any, ...] | bool | None = None


@dataclass(frozen=True)
class LevelRule:
    """Levels required where ``match`` holds (added to the defaults)."""

    name: str
    levels: tuple[str, ...]
    match: Match


@dataclass(frozen=True)
class ExemptionRule:
    """Levels not required where ``match`` holds, and why."""

    name: str
    levels: tuple[str, ...]
    reason: str
    match: Match


@dataclass(frozen=True)
class LakeRule:
    """Lakes that need a lake chief (湖长) at ``levels``."""

    name: str
    lake_ids: tuple[Any, ...]
    levels: tuple[str, ...]


@dataclass(frozen=True)
class CoveragePolicy:
    """Which levels of chief the river pieces and lakes require.

    Attributes
    ----------
    name
        A label for reports.
    default_levels
        Levels every piece of river requires.
    rules
        Extra levels where a rule matches.
    exemptions
        Levels waived where an exemption matches (they win over rules).
    lakes
        Lakes that need lake chiefs.
    covering_roles
        Roles whose assignments count as coverage (deputies and patrollers do not).
    board_update_days
        Days a sign board may lag behind a change of chief before it is stale.
    source
        The file read, if any.
    """

    name: str = "default"
    default_levels: tuple[str, ...] = ("county", "township", "village")
    rules: tuple[LevelRule, ...] = ()
    exemptions: tuple[ExemptionRule, ...] = ()
    lakes: tuple[LakeRule, ...] = ()
    covering_roles: tuple[str, ...] = ("河长", "湖长")
    board_update_days: int = 30
    source: Path | None = field(default=None, compare=False)


def load_policy(path: str | Path) -> CoveragePolicy:
    """Read and validate a coverage policy TOML file.

    Parameters
    ----------
    path
        The ``.toml`` file (see the module docs for its keys).

    Returns
    -------
    CoveragePolicy
        The policy.

    Raises
    ------
    PolicyError
        Listing every problem: unreadable TOML, unknown keys, wrong types, unknown levels or
        roles.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError.from_key("policy.missing_file", file=file) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError.from_key("policy.bad_toml", file=file, error=error) from error
    return policy_from_dict(data, source=file)


def policy_from_dict(data: Mapping[str, Any], *, source: Path | None = None) -> CoveragePolicy:
    """Build a policy from the parsed TOML mapping, validating every key.

    Parameters
    ----------
    data
        The mapping, shaped like the file.
    source
        The file it came from, for messages.

    Returns
    -------
    CoveragePolicy
        The policy.
    """
    problems = _check_keys(data, _TOP_KEYS, "")
    tables = {key: data.get(key, []) for key in ("rule", "exemption", "lake")}
    for key, items in tables.items():
        if isinstance(items, list):
            allowed = {"rule": _RULE_KEYS, "exemption": _EXEMPTION_KEYS, "lake": _LAKE_KEYS}[key]
            for number, item in enumerate(items, start=1):
                if not isinstance(item, dict):
                    problems.append(f"[[{key}]] #{number} must be a table")
                    continue
                problems += _check_keys(item, allowed, f"[[{key}]] #{number} ")
    problems += _range_problems(data, tables)
    default_levels = tuple(data.get("default_levels", CoveragePolicy.default_levels))
    problems += _check_levels(default_levels, "default_levels")
    roles = tuple(data.get("covering_roles", CoveragePolicy.covering_roles))
    unknown_roles = [r for r in roles if r not in ROLES]
    if unknown_roles:
        problems.append(
            f"covering_roles: unknown role(s) {', '.join(map(str, unknown_roles))}; use "
            f"{', '.join(ROLES)}"
        )
    rules, exemptions, lakes = [], [], []
    if not problems:
        for number, item in enumerate(tables["rule"], start=1):
            rules.append(_level_rule(item, number, problems))
        for number, item in enumerate(tables["exemption"], start=1):
            exemptions.append(_exemption(item, number, problems))
        for number, item in enumerate(tables["lake"], start=1):
            lakes.append(_lake_rule(item, number, problems))
    if problems:
        raise PolicyError.from_key("policy.summary", where=policy_name(source),
                                   count=len(problems), lines=Lines(tuple(problems)))  # fmt: skip
    return CoveragePolicy(
        name=str(data.get("name", source.stem if source else "policy")),
        default_levels=default_levels,
        rules=tuple(rules),
        exemptions=tuple(exemptions),
        lakes=tuple(lakes),
        covering_roles=roles,
        board_update_days=int(data.get("board_update_days", CoveragePolicy.board_update_days)),
        source=source,
    )


_MAX_BOARD_UPDATE_DAYS = 366


def _range_problems(data: Mapping[str, Any], tables: Mapping[str, Any]) -> list[str]:
    """Numbers out of range: days, Strahler orders, lengths (every one, with rule and key)."""
    problems: list[str] = []
    days = data.get("board_update_days")
    if _is_number(days) and not 1 <= days <= _MAX_BOARD_UPDATE_DAYS:
        problems.append(Message("policy.board_days", days=days, most=_MAX_BOARD_UPDATE_DAYS))
    for key in ("rule", "exemption"):
        items = tables.get(key)
        for number, item in enumerate(items if isinstance(items, list) else [], start=1):
            if isinstance(item, dict):
                problems += _match_range_problems(item, f"[[{key}]] #{number}")
    return problems


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _match_range_problems(item: Mapping[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    for key in ("min_strahler", "max_strahler"):
        value = item.get(key)
        if _is_number(value) and value < 1:
            problems.append(f"{where} key {key!r} is {value}; Strahler orders start at 1")
    low, high = item.get("min_strahler"), item.get("max_strahler")
    if _is_number(low) and _is_number(high) and low > high:
        problems.append(
            f"{where}: min_strahler {low} is above max_strahler {high}, so nothing matches; "
            "swap them"
        )
    length = item.get("min_river_length_km")
    if _is_number(length) and (not math.isfinite(length) or length < 0):
        problems.append(
            f"{where} key 'min_river_length_km' is {length}; give a length of 0 km or more"
        )
    for key in ("reach_ids", "river_ids", "values"):
        if isinstance(item.get(key), list) and not item[key]:
            problems.append(f"{where} key {key!r} is an empty list, so nothing matches; fill it")
    return problems


def policy_name(source: Path | None) -> Message:
    """How messages name a policy: its file, or "the policy" when it was given as a dict."""
    if source is None:
        return Message("policy.this_policy")
    return Message("policy.named_file", file=source)


def reference_problems(
    policy: CoveragePolicy,
    *,
    reach_ids: Sequence[Any] | pd.Index,
    lake_ids: Sequence[Any] | pd.Index | None,
    river_ids: Sequence[Any] | pd.Index | None = None,
    columns: Sequence[str] = (),
) -> list[str]:
    """Every id and column a policy names that the project does not have.

    Parameters
    ----------
    policy
        The policy.
    reach_ids
        The project's reach ids.
    lake_ids
        The project's lake ids; None when it has no lakes layer.
    river_ids
        The project's river (main-stem) ids; None to skip that check.
    columns
        The reach attribute columns (for ``column`` tests).

    Returns
    -------
    list of str
        One message per problem, naming the rule (``[[rule]] #2``), the key and the fix.
    """
    problems: list[str] = []
    named: list[tuple[str, Match]] = [
        (f"[[rule]] #{number} ({rule.name})", rule.match)
        for number, rule in enumerate(policy.rules, start=1)
    ]
    named += [
        (f"[[exemption]] #{number} ({rule.name})", rule.match)
        for number, rule in enumerate(policy.exemptions, start=1)
    ]
    for where, match in named:
        problems += _match_reference_problems(match, where, reach_ids, lake_ids, river_ids, columns)
    for number, lake_rule in enumerate(policy.lakes, start=1):
        where = f"[[lake]] #{number} ({lake_rule.name})"
        problems += _unknown(where, "lake_ids", lake_rule.lake_ids, lake_ids, "lake")
    return problems


def _match_reference_problems(
    match: Match,
    where: str,
    reach_ids: Sequence[Any] | pd.Index,
    lake_ids: Sequence[Any] | pd.Index | None,
    river_ids: Sequence[Any] | pd.Index | None,
    columns: Sequence[str],
) -> list[str]:
    problems = _unknown(where, "reach_ids", match.reach_ids or (), reach_ids, "reach")
    if river_ids is not None:
        problems += _unknown(where, "river_ids", match.river_ids or (), river_ids, "river")
    if isinstance(match.in_lakes, tuple):
        problems += _unknown(where, "in_lakes", match.in_lakes, lake_ids, "lake")
    elif match.in_lakes is True and lake_ids is not None and len(lake_ids) == 0:
        problems.append(f"{where} key 'in_lakes': the project has no lakes, so nothing matches")
    elif match.in_lakes is True and lake_ids is None:
        problems += _unknown(where, "in_lakes", ("any",), None, "lake")
    if match.column is not None and columns and match.column not in columns:
        problems.append(
            f"{where} key 'column': the reaches have no column {match.column!r} (they have: "
            f"{', '.join(columns)}); name an existing column"
        )
    return problems


def _unknown(
    where: str, key: str, named: Sequence[Any], known: Sequence[Any] | pd.Index | None, what: str
) -> list[str]:
    if not named:
        return []
    if known is None:
        return [Message("policy.no_layer", where=where, key=repr(key))]
    index = pd.Index(known)
    missing = [value for value in named if not _contains(index, value)]
    if not missing:
        return []
    return [
        Message(f"policy.unknown_{what}s", where=where, key=repr(key), ids=id_items(missing),
                count=len(index), examples=id_items(index[:5]))
    ]  # fmt: skip


def _contains(index: pd.Index, value: Any) -> bool:
    if value in index:
        return True
    text = str(value)
    return any(str(item) == text for item in index) if index.dtype == object else False


def _check_keys(
    data: Mapping[str, Any], allowed: Mapping[str, type | tuple[type, ...]], where: str
) -> list[str]:
    problems: list[str] = []
    for key, value in data.items():
        if key not in allowed:
            problems.append(Message("policy.unknown_key", where=where, key=repr(key),
                                    allowed=", ".join(sorted(allowed))))  # fmt: skip
        elif not isinstance(value, allowed[key]) or (
            isinstance(value, bool) and allowed[key] is int
        ):
            problems.append(Message("policy.wrong_type", where=where, key=repr(key),
                                    kind=type(value).__name__))  # fmt: skip
    return problems


def _check_levels(levels: Sequence[Any], where: str) -> list[str]:
    bad = [str(level) for level in levels if level not in LEVELS]
    if bad:
        return [Message("policy.unknown_levels", where=where, levels=", ".join(bad),
                        known=", ".join(LEVELS))]  # fmt: skip
    return []


def _match(item: Mapping[str, Any], where: str, problems: list[str]) -> Match:
    if ("column" in item) != ("values" in item):
        problems.append(f"{where}: 'column' and 'values' go together; give both or neither")
    if not any(key in item for key in _MATCH_KEYS):
        problems.append(
            f"{where}: has no test; give at least one of {', '.join(sorted(_MATCH_KEYS))}"
        )

    def ids(key: str) -> tuple[Any, ...] | None:
        return tuple(item[key]) if key in item else None

    in_lakes = item.get("in_lakes")
    return Match(
        min_strahler=item.get("min_strahler"),
        max_strahler=item.get("max_strahler"),
        min_river_length_km=item.get("min_river_length_km"),
        reach_ids=ids("reach_ids"),
        river_ids=ids("river_ids"),
        column=item.get("column"),
        values=ids("values"),
        in_lakes=tuple(in_lakes) if isinstance(in_lakes, list) else in_lakes,
    )


def _level_rule(item: Mapping[str, Any], number: int, problems: list[str]) -> LevelRule:
    where = f"[[rule]] #{number}"
    if "levels" not in item:
        problems.append(f"{where}: missing 'levels' (the levels it requires)")
    problems += _check_levels(item.get("levels", []), where)
    name = str(item.get("name", f"rule {number}"))
    return LevelRule(name, tuple(item.get("levels", [])), _match(item, where, problems))


def _exemption(item: Mapping[str, Any], number: int, problems: list[str]) -> ExemptionRule:
    where = f"[[exemption]] #{number}"
    levels = tuple(item.get("levels", LEVELS))
    problems += _check_levels(levels, where)
    name = str(item.get("name", f"exemption {number}"))
    reason = str(item.get("reason", name))
    return ExemptionRule(name, levels, reason, _match(item, where, problems))


def _lake_rule(item: Mapping[str, Any], number: int, problems: list[str]) -> LakeRule:
    where = f"[[lake]] #{number}"
    for key in ("lake_ids", "levels"):
        if key not in item:
            problems.append(f"{where}: missing {key!r}")
    problems += _check_levels(item.get("levels", []), where)
    name = str(item.get("name", f"lakes {number}"))
    return LakeRule(name, tuple(item.get("lake_ids", [])), tuple(item.get("levels", [])))


def requirements(
    policy: CoveragePolicy, network: Any, pieces: pd.DataFrame, lakes: gpd.GeoDataFrame
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Levels each piece requires under a policy, and levels waived by an exemption.

    Parameters
    ----------
    policy
        The policy.
    network
        The :class:`rivernet.network.RiverNetwork`.
    pieces
        Pieces with ``position``, ``from_m``, ``to_m`` and ``lake_id``.
    lakes
        Lake polygons with ``lake_id``. ``in_lakes`` tests read the pieces' own ``lake_id``
        (:func:`rivernet.pieces.piece_table`: pieces are cut at lake shores, so a piece is in a
        lake or not as a whole); only a table without that column is matched to ``lakes`` by the
        middle of each piece.

    Returns
    -------
    required, exempt
        Boolean arrays ``(n_pieces, 5)`` over :data:`rivernet.admin.LEVELS`.

    Raises
    ------
    PolicyError
        If a rule names a reach attribute the network does not have.
    """
    n = len(pieces)
    required = np.zeros((n, len(LEVELS)), dtype=bool)
    exempt = np.zeros((n, len(LEVELS)), dtype=bool)
    context = _Context(network, pieces, lakes)
    for level in policy.default_levels:
        required[:, LEVELS.index(level)] = True
    for rule in policy.rules:
        hit = context.matches(rule.match, rule.name)
        for level in rule.levels:
            required[hit, LEVELS.index(level)] = True
    for exemption in policy.exemptions:
        hit = context.matches(exemption.match, exemption.name)
        for level in exemption.levels:
            exempt[hit, LEVELS.index(level)] = True
    exempt &= required
    return required & ~exempt, exempt


class _Context:
    """Per-piece attributes that rules test, computed on demand."""

    def __init__(self, network: Any, pieces: pd.DataFrame, lakes: gpd.GeoDataFrame) -> None:
        self.network = network
        self.pieces = pieces
        self.lakes = lakes
        self.position = pieces["position"].to_numpy()

    def matches(self, match: Match, name: str) -> npt.NDArray[np.bool_]:
        core = self.network.core
        hit = np.ones(len(self.position), dtype=bool)
        if match.min_strahler is not None or match.max_strahler is not None:
            order = core.strahler_order()[self.position]
            hit &= order >= (match.min_strahler or 0)
            hit &= order <= (match.max_strahler if match.max_strahler is not None else 1 << 30)
        stem = core.main_stem()
        if match.min_river_length_km is not None:
            river_length = np.bincount(stem, weights=core.length_m, minlength=len(stem))
            hit &= river_length[stem[self.position]] >= match.min_river_length_km * 1000.0
        if match.reach_ids is not None:
            hit &= np.isin(self.network.ids[self.position], np.asarray(match.reach_ids))
        if match.river_ids is not None:
            river = self.network.ids[stem[self.position]]
            hit &= np.isin(river, np.asarray(match.river_ids))
        if match.column is not None:
            hit &= self._column(match.column, name).isin(list(match.values or ())).to_numpy()
        if match.in_lakes is not None and match.in_lakes is not False:
            hit &= self._in_lakes(match.in_lakes)
        return hit

    def _column(self, column: str, name: str) -> pd.Series:
        reaches = self.network.reaches
        if column not in reaches.columns:
            names = [Message("err_core.code", name=str(c)) for c in reaches.columns]
            raise PolicyError.from_key(
                "err_policy.missing_column", name=repr(name), column=repr(column),
                columns=id_items(names, limit=len(names)),
            )  # fmt: skip
        return reaches[column].iloc[self.position].reset_index(drop=True)

    def _in_lakes(self, lakes: tuple[Any, ...] | bool) -> npt.NDArray[np.bool_]:
        """Pieces inside the chosen lakes, by the pieces' ``lake_id`` (cut at lake shores)."""
        lake_id = self._lake_ids()
        if lakes is True:
            return lake_id.notna().to_numpy()
        return lake_id.isin(list(lakes)).to_numpy()  # type: ignore[arg-type]

    def _lake_ids(self) -> pd.Series:
        """The pieces' ``lake_id``; for a hand-made table without one, the lake at its middle.

        The pieces of :func:`rivernet.pieces.piece_table` carry ``lake_id`` and are cut at lake
        shores, so each lies wholly in or out of a lake. A table without the column (whole
        reaches, say) gets the lake containing each piece's middle, found by the same rule.
        """
        if "lake_id" in self.pieces.columns:
            return self.pieces["lake_id"].reset_index(drop=True)
        from rivernet.pieces import lake_ids_at

        lines = self.network.reaches.geometry.to_numpy()[self.position]
        length = self.network.core.length_m[self.position]
        middle = (self.pieces["from_m"].to_numpy() + self.pieces["to_m"].to_numpy()) / 2
        fraction = np.divide(middle, length, out=np.zeros_like(middle), where=length > 0)
        points = shapely.line_interpolate_point(lines, fraction, normalized=True)
        return pd.Series(lake_ids_at(shapely.get_coordinates(points), self.lakes), dtype=object)
