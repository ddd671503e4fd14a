"""The items a beets query matches, as the export reads them, without building a beets
`Item` for each.

`list(lib.items(query))` builds one Item per row: a dict of every column (~100) and the
model's bookkeeping, and beets' Results takes each row off the front of a list, which
costs time in proportion to the rows left. For 100,000 items that is most of an export
whose files are unchanged (measured on a busy machine: 23 s, the SQL query 4.6 s). The
export reads a dozen fields, so for the usual query (answered by SQL alone) the rows
beets fetched are wrapped as `StoredItem`s instead: the same values, converted by the
same field types on access.

beets still parses the query and runs its SQL, so the matches, their order and the
plugin fields are beets' own. Where beets would filter or sort in Python (a query or sort
on a field it cannot express in SQL), or a plugin computes one of the fields the export
reads (an `item_fields` template field named like one), the real Items are returned.
beets is imported inside the function: only the plugin and the worker's library export
call it.
"""

from __future__ import annotations

from typing import Any

# Every field files/export.py reads from an item.
EXPORT_FIELDS = (
    "id",
    "path",
    "title",
    "artist",
    "album",
    "genres",
    "genre",
    "length",
    "bpm",
    "initial_key",
    "energy",
    "bpm_precise",
    "djset_structure",
    "key_confidence",
)


def matching_items(lib: Any, query: Any) -> list[Any]:
    """The items `query` (a beets query: string, words or Query) matches in `lib`, in
    beets' order: StoredItems for a query and sort beets answers in SQL, else beets Items.
    beets' query errors propagate as they are."""
    from beets.library import Item

    results = lib.items(query)
    rows, flex_rows = getattr(results, "rows", None), getattr(results, "flex_rows", None)
    computed = Item._getters()
    if (
        rows is None
        or flex_rows is None
        or getattr(results, "query", None) is not None  # a filter in Python
        or getattr(results, "sort", None) is not None  # a sort in Python
        or getattr(results, "limit", None) is not None
        or any(name in computed for name in EXPORT_FIELDS)
    ):
        return list(results)
    flex: dict[int, dict[str, Any]] = {}
    for row in flex_rows:
        flex.setdefault(row["entity_id"], {})[row["key"]] = row["value"]
    schema = _Schema(Item)
    return [StoredItem(row, flex.get(row["id"], {}), schema) for row in rows]


class _Schema:
    """The item model's fixed field names and each field's type, looked up once per
    export instead of once per value (beets looks them up through class properties)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.fixed = frozenset(model._fields)
        self._types: dict[str, Any] = {}

    def type_of(self, key: str) -> Any:
        found = self._types.get(key)
        if found is None:
            found = self._types[key] = self.model._type(key)
        return found


class StoredItem:
    """One item's stored values, read like beets' `Item.get(key, default,
    with_album=False)`: a fixed field converted by its type (its null when the row lacks
    it), else a flexible field (by exact name, then ignoring case, as beets does),
    converted by the type a plugin declared for it, else `default`. Read-only (a value is
    converted once); no album fallback."""

    __slots__ = ("_flex", "_row", "_schema", "_values")

    def __init__(self, row: Any, flex: dict[str, Any], schema: _Schema) -> None:
        self._row = row
        self._flex = flex
        self._schema = schema
        self._values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None, with_album: bool = False) -> Any:
        try:
            return self._values[key]
        except KeyError:
            pass
        schema = self._schema
        if key in schema.fixed:
            try:
                raw = self._row[key]
            except (IndexError, KeyError):
                value = schema.type_of(key).null
            else:
                value = schema.type_of(key).from_sql(raw)
        else:
            name = key
            if name not in self._flex:
                name = next((n for n in self._flex if n.lower() == key.lower()), "")
                if not name:
                    return default
            value = schema.type_of(name).from_sql(self._flex[name])
        self._values[key] = value
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)
