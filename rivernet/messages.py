"""The message catalogue: every user-facing string in Chinese (the default) and English.

The strings live in data files shipped with the package: ``rivernet/locale/messages.toml`` and
one file per further area (``rivernet/locale/*.toml``, read in name order; a key defined twice
is an error); keys are ``"<section>.<name>"`` (``"kind.expired"``, ``"report.title"``) and
placeholders are named (``{name}``). Machine-readable codes stay in data columns
(``kind="expired"``, ``level="county"``); whatever a person reads is rendered here:

>>> from rivernet import messages
>>> messages.text("report.title", lang="en", name="虎丘区")
'River chief report: 虎丘区'
>>> messages.level("township"), messages.boolean(False, lang="en")
('乡', 'no')

:func:`check_catalogue` lists keys lacking a language or whose placeholders differ between
languages (the tests require none).

Messages that travel (validation findings, roster problems, errors) are :class:`Message`
objects: a ``str`` holding the English text, so logs and ``str(error)`` stay as they were, that
remembers its key and values and renders in either language with :func:`render`:

>>> found = messages.Message("error.unknown_chief", chief="'P9'")
>>> str(found)
"no chief 'P9' in the roster (give a person_id or a name)"
>>> found.text("zh")
"名录中没有河长 'P9'（请给出 person_id 或姓名）"
>>> messages.items(range(1, 13)).text("zh")
'1、2、3、4、5、6、7、8、9、10 等，另有 2 个'

Values that themselves render per language (a :class:`Message`, :class:`Code`, :class:`Items`)
are rendered in the language of the message that holds them.
"""

from __future__ import annotations

import errno
import functools
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rivernet.errors import InputError, NotFoundError

__all__ = [
    "LANGS",
    "Clauses",
    "Code",
    "Items",
    "Lines",
    "Localized",
    "Message",
    "boolean",
    "catalogue",
    "check_catalogue",
    "check_lang",
    "choices",
    "column",
    "counted",
    "items",
    "kind",
    "label",
    "level",
    "level_of",
    "placeholders",
    "relation",
    "render",
    "rule",
    "section",
    "status",
    "text",
]

LANGS: tuple[str, ...] = ("zh", "en")
"""The languages of the catalogue; the first is the default."""
LOCALE = Path(__file__).resolve().parent / "locale"
"""The folder of the catalogue files."""
CATALOGUE = LOCALE / "messages.toml"
"""The main catalogue file."""


def check_lang(lang: str) -> str:
    """The language code, checked.

    Raises
    ------
    InputError
        If ``lang`` is not ``"zh"`` or ``"en"``.
    """
    if lang not in LANGS:
        raise InputError(f"lang must be 'zh' (中文, the default) or 'en' (English), not {lang!r}.")
    return lang


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every key of the catalogue -> ``{"zh": ..., "en": ...}`` (read once)."""
    flat: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALE.glob("*.toml")):
        with path.open("rb") as file:
            data = tomllib.load(file)
        for name, entries in data.items():
            for key, value in entries.items():
                if f"{name}.{key}" in flat:
                    raise RuntimeError(f"{path.name}: message {name}.{key} is defined twice")
                flat[f"{name}.{key}"] = dict(value)
    return flat


def text(key: str, /, lang: str = "zh", **values: Any) -> str:
    """The message ``key`` in ``lang``, with its placeholders filled from ``values``.

    Parameters
    ----------
    key
        ``"<section>.<name>"``, e.g. ``"report.title"``.
    lang
        ``"zh"`` or ``"en"``.
    **values
        One value per placeholder of the message.

    Returns
    -------
    str
        The text.

    Raises
    ------
    InputError
        For an unknown language, or a placeholder without a value.
    NotFoundError
        If the catalogue has no such key.
    """
    check_lang(lang)
    values = {name: render(value, lang) if isinstance(value, Localized) else value
              for name, value in values.items()}  # fmt: skip
    entry = catalogue().get(key)
    if entry is None:
        raise NotFoundError(f"no message {key!r} in {CATALOGUE.name}; add it with zh and en text.")
    try:
        return entry[lang].format(**values)
    except KeyError as error:
        raise InputError(f"message {key!r} needs a value for {error.args[0]!r}.") from None


def label(section_name: str, value: Any, lang: str = "zh") -> str:
    """The display text of a code in a section (``label("kind", "expired")``).

    Unknown codes (and missing values) are shown as they are, so data from elsewhere stays
    readable.
    """
    check_lang(lang)
    if value is None:
        return ""
    entry = catalogue().get(f"{section_name}.{value}")
    return str(value) if entry is None else entry[lang]


def section(section_name: str, lang: str = "zh") -> dict[str, str]:
    """Every code of a section -> its text in ``lang`` (``section("web", "en")``)."""
    check_lang(lang)
    prefix = f"{section_name}."
    return {
        key[len(prefix) :]: entry[lang]
        for key, entry in catalogue().items()
        if key.startswith(prefix)
    }


def level(value: Any, lang: str = "zh") -> str:
    """An admin level in words: ``"county"`` -> ``"县"`` / ``"county"``."""
    return label("level", value, lang)


def level_of(value: Any, lang: str = "zh") -> str:
    """An admin level as an adjective: ``"county"`` -> ``"县级"`` / ``"county level"``."""
    return text("level_of.text", lang, level=level(value, lang))


def status(value: Any, lang: str = "zh") -> str:
    """A coverage status or category (``"covered"``, ``"gap"``) in words."""
    return label("status", value, lang)


def kind(value: Any, lang: str = "zh") -> str:
    """A problem kind (``"expired"``, ``"broken_chain"``) in words."""
    return label("kind", value, lang)


def rule(value: Any, lang: str = "zh") -> str:
    """A boundary-river responsibility rule (``"split_by_bank"``) in words."""
    return label("rule", value, lang)


def relation(value: Any, lang: str = "zh") -> str:
    """A partner relation (``"upstream"``, ``"main_stem"``) in words."""
    return label("relation", value, lang)


def boolean(value: Any, lang: str = "zh") -> str:
    """A yes/no value: 是/否 or yes/no."""
    return text("bool.true" if bool(value) else "bool.false", lang)


def column(name: str, lang: str = "zh") -> str:
    """The heading of a column or property (its name when the catalogue has none).

    ``chiefs_<level>`` columns read "县级河长" / "county chiefs".
    """
    if name.startswith("chiefs_") and f"level.{name[7:]}" in catalogue():
        return text("level_of.chiefs", lang, level=level(name[7:], lang))
    return label("column", name, lang)


def placeholders(template: str) -> set[str]:
    """The names of the placeholders of a message template."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def check_catalogue(entries: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """Problems of the catalogue: keys lacking a language, or with other placeholders in one.

    Parameters
    ----------
    entries
        Key -> language -> text; default :func:`catalogue`.

    Returns
    -------
    list of str
        One line per problem; empty when the catalogue is complete.
    """
    problems = []
    for key, entry in (catalogue() if entries is None else entries).items():
        missing = [lang for lang in LANGS if not str(entry.get(lang, "")).strip()]
        if missing:
            problems.append(f"{key}: no {' or '.join(missing)} text")
            continue
        extra = sorted(set(entry) - set(LANGS))
        if extra:
            problems.append(f"{key}: unknown language {', '.join(extra)}")
        fields = {lang: placeholders(entry[lang]) for lang in LANGS}
        if fields["zh"] != fields["en"]:
            problems.append(
                f"{key}: placeholders differ (zh {sorted(fields['zh'])}, en {sorted(fields['en'])})"
            )
    return problems


@runtime_checkable
class Localized(Protocol):
    """Anything that renders itself in a language of the catalogue."""

    def text(self, lang: str = "zh") -> str:
        """The text in ``lang``."""
        ...


def render(value: Any, lang: str = "zh") -> str:
    """A message, code or plain value as text in ``lang`` (plain values as they are)."""
    check_lang(lang)
    return value.text(lang) if isinstance(value, Localized) else str(value)


class Message(str):
    """A catalogue message that keeps its key and values: ``str`` is the English text.

    Parameters
    ----------
    key
        ``"<section>.<name>"`` of the catalogue.
    **values
        One value per placeholder; :class:`Localized` values render in the message's language.
    """

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, /, **values: Any) -> Message:
        """Render the English text once (it is the ``str`` value) and keep key and values."""
        self = super().__new__(cls, text(key, "en", **values))
        self.key = key
        self.values = values
        return self

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang``."""
        return text(self.key, lang, **self.values)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_message, (self.key, self.values))


def _message(key: str, values: dict[str, Any]) -> Message:
    return Message(key, **values)


@dataclass(frozen=True)
class Code:
    """A coded value (``Code("level", "county")``) that reads as words in each language."""

    section: str
    value: Any

    def text(self, lang: str = "zh") -> str:
        """The label of the code in ``lang`` (the code itself when the catalogue has none)."""
        return label(self.section, self.value, lang)

    def __str__(self) -> str:
        return self.text("en")


@dataclass(frozen=True)
class Items:
    """A list for a message: the first ``limit`` items and how many more.

    Items may be plain values (ids) or :class:`Localized` ones; Chinese separates them with
    "、", English with ", ". With ``last="or"`` the last two are joined by 或 / or (a list of
    choices, always shown whole).
    """

    items: tuple[Any, ...]
    limit: int = 10
    last: str = ""

    def text(self, lang: str = "zh") -> str:
        """The list in ``lang``: ``"12、15 等，另有 4 个"`` / ``"12, 15 and 4 more"``."""
        words = [render(item, lang) for item in self.items]
        comma = "、" if lang == "zh" else ", "
        if self.last and len(words) > 1:
            return text(f"list.{self.last}", lang, first=comma.join(words[:-1]), last=words[-1])
        shown = comma.join(words[: self.limit])
        rest = len(words) - self.limit
        return text("list.more", lang, shown=shown, rest=rest) if rest > 0 else shown

    def __str__(self) -> str:
        return self.text("en")


@dataclass(frozen=True)
class Lines:
    """Problems as the lines of a message, ``- `` before each, in the message's language."""

    items: tuple[Any, ...]

    def text(self, lang: str = "zh") -> str:
        """One line per item."""
        return "\n".join(f"- {render(item, lang)}" for item in self.items)

    def __str__(self) -> str:
        return self.text("en")


@dataclass(frozen=True)
class Clauses:
    """Parts of a message joined by semicolons ("；" in Chinese, "; " in English), each in the
    message's language; with ``brackets`` each part is shown as ``[part]``."""

    parts: tuple[Any, ...]
    brackets: bool = False

    def text(self, lang: str = "zh") -> str:
        """The parts in ``lang``."""
        words = [render(part, lang) for part in self.parts]
        if self.brackets:
            words = [f"[{word}]" for word in words]
        return ("；" if lang == "zh" else "; ").join(words)

    def __str__(self) -> str:
        return self.text("en")


def os_reason(error: OSError) -> Code | str:
    """Why an operating-system call failed, for a message's ``reason``: the common errors
    (no such file, permission denied, disk full...) in words of either language (catalogue
    section ``os_error``, keyed by the errno name), others in the system's own words.

    Parameters
    ----------
    error
        The error.

    Returns
    -------
    Code or str
        A :class:`Code` rendered in the message's language, or the system's text.
    """
    name = errno.errorcode.get(error.errno or -1, "")
    if name in section("os_error", "en"):
        return Code("os_error", name)
    return str(error.strerror or error)


def counted(noun: str, n: int) -> Message:
    """``n`` things in words, singular when ``n`` is 1: ``counted("rivers", 1)`` reads "1 river"
    / "1 条河流" (keys ``count.<noun>`` and, for one, ``count.<noun>_one``)."""
    one = f"count.{noun}_one"
    return Message(one if n == 1 and one in catalogue() else f"count.{noun}", n=n)


def items(values: Any, *, limit: int = 10) -> Items:
    """:class:`Items` of any iterable (ids, codes), shown up to ``limit``."""
    return Items(tuple(values), limit)


def choices(values: Any) -> Items:
    """:class:`Items` of alternatives: ``".csv、.xlsx 或 .gpkg"`` / ``".csv, .xlsx or .gpkg"``."""
    return Items(tuple(values), last="or")
