"""`TieredMemoryStore`: tiermem as a LangGraph `BaseStore` (long-term memory of agents).

How items map onto tiermem:

- every item is one explicit memory (`remember`), scoped to the store's
  ``user_id`` / ``agent_id``, so it also shows up in that user's contexts;
- its text is what search ranks and contexts show: the value as JSON, or the
  fields named by ``fields`` (LangGraph's index paths, e.g. ``["text"]``);
- its metadata holds the namespace, key, JSON value and timestamps under
  ``"langgraph_store"``, so a get returns the value exactly as it was put;
- its tags mark it as a store item, name each prefix of its namespace (for
  ``namespace_prefix`` searches) and its (namespace, key) pair (for get, put
  and delete); tags are digests, so any namespace or key string is safe.

A put of an existing (namespace, key) updates that memory in place; a put of
``None`` forgets it. Operations of a batch run in order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path

import tiermem
from tiermem import Kind, MemoryRecord
from tiermem.effects import Flow, awaiting, blocking

__all__ = ["TieredMemoryStore"]

T = TypeVar("T")

#: Metadata key under which an item's namespace, key, value and times are kept.
META_KEY = "langgraph_store"
_STORE_TAG = "langgraph-store"
_KINDS = (Kind.MEMORY,)  # items are explicit memories; turns and summaries never are
_MAX_TAGS = 64  # the core's limit: the store tag, the item tag, one per namespace level
_MAX_DEPTH = _MAX_TAGS - 2
_MAX_K = 10_000  # the largest k the core's search takes


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()[:40]


def _namespace_tag(prefix: Sequence[str]) -> str:
    return f"lgs-ns:{_digest(list(prefix))}"


def _item_tag(namespace: Sequence[str], key: str) -> str:
    return f"lgs-item:{_digest([list(namespace), key])}"


def _tags(namespace: tuple[str, ...], key: str) -> tuple[str, ...]:
    prefixes = (_namespace_tag(namespace[:depth]) for depth in range(1, len(namespace) + 1))
    return (_STORE_TAG, _item_tag(namespace, key), *prefixes)


def _check(namespace: tuple[str, ...], key: str | None = None) -> None:
    if not namespace or any(not isinstance(p, str) or not p for p in namespace):
        raise InvalidNamespaceError(f"namespace must be non-empty strings, got {namespace!r}")
    if len(namespace) > _MAX_DEPTH:
        raise InvalidNamespaceError(f"namespace may have at most {_MAX_DEPTH} levels")
    if key is not None and (not isinstance(key, str) or not key):
        raise ValueError(f"key must be a non-empty string, got {key!r}")


def _item_of(record: MemoryRecord) -> Item | None:
    meta = record.metadata.get(META_KEY)
    if not isinstance(meta, Mapping):
        return None  # tagged like a store item but not written by this store
    return Item(
        value=dict(meta["value"]),
        key=str(meta["key"]),
        namespace=tuple(meta["namespace"]),
        created_at=datetime.fromisoformat(meta["created_at"]),
        updated_at=datetime.fromisoformat(meta["updated_at"]),
    )


def _search_item(item: Item, score: float | None) -> SearchItem:
    return SearchItem(
        namespace=item.namespace, key=item.key, value=item.value,
        created_at=item.created_at, updated_at=item.updated_at, score=score,
    )  # fmt: skip


# --- filters and namespace matching (LangGraph's documented semantics) ------------


def _compare(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator in {"$gt", "$gte", "$lt", "$lte"}:
        try:
            left, right = float(value), float(operand)
        except (TypeError, ValueError):
            return False
        return {
            "$gt": left > right,
            "$gte": left >= right,
            "$lt": left < right,
            "$lte": left <= right,
        }[operator]
    raise ValueError(f"filter: unsupported operator {operator!r}")


def _matches(value: Any, condition: Any) -> bool:
    if isinstance(condition, Mapping):
        if any(str(k).startswith("$") for k in condition):
            return all(_compare(value, op, operand) for op, operand in condition.items())
        return isinstance(value, Mapping) and all(
            _matches(value.get(k), v) for k, v in condition.items()
        )
    return bool(value == condition)


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    pairs = (
        zip(namespace, path, strict=False)
        if condition.match_type == "prefix"
        else zip(reversed(namespace), reversed(path), strict=False)
    )
    return all(p in {"*", n} for n, p in pairs)


class TieredMemoryStore(BaseStore):
    """A LangGraph store whose items are tiermem memories (see the module docstring).

    ``fields`` are the value paths whose text is searched (LangGraph's index
    syntax: ``"text"``, ``"a.b"``, ``"items[*].name"``); default: the whole value.
    """

    def __init__(
        self,
        memory: tiermem.TieredMemory,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        fields: Sequence[str] | None = None,
        importance: float = 0.5,
    ) -> None:
        self.memory = memory
        self.user_id = user_id
        self.agent_id = agent_id
        self.fields = tuple(fields) if fields is not None else ("$",)
        self.importance = importance

    @property
    def scope(self) -> tiermem.Scope:
        """Whose memories the store's items are (no session: items outlive chats)."""
        return tiermem.Scope(self.user_id, self.agent_id)

    # --- one body for batch and abatch: the store's flows compose the core's ------------

    def _run(self, flow: Flow[T]) -> T:
        return self.memory._run(flow)

    async def _arun(self, flow: Flow[T]) -> T:
        return await self.memory._arun(flow)

    def _batch(self, ops: Iterable[Op]) -> Flow[list[Result]]:
        """Run each operation in turn (a put is seen by the get after it)."""
        results: list[Result] = []
        for op in ops:
            results.append((yield from self._op(op)))
        return results

    batch = blocking(_batch)
    abatch = awaiting(_batch)

    # --- flows -----------------------------------------------------------------------

    def _op(self, op: Op) -> Flow[Result]:
        if isinstance(op, GetOp):
            return (yield from self._get(op))
        if isinstance(op, PutOp):
            yield from self._put(op)
            return None
        if isinstance(op, SearchOp):
            return (yield from self._search(op))
        if isinstance(op, ListNamespacesOp):
            return (yield from self._list_namespaces(op))
        raise TypeError(f"unknown store operation {op!r}")

    def _all(self, tag: str) -> Flow[list[tuple[MemoryRecord, Item]]]:
        """Every item carrying ``tag`` in the store's scope, with its record."""
        records = yield from self.memory._records(
            kinds=_KINDS, tags=(tag,), scope=self.scope, exact=True
        )
        found = []
        for record in records:
            item = _item_of(record)
            if item is not None:
                found.append((record, item))
        return found

    def _find(self, namespace: tuple[str, ...], key: str) -> Flow[list[MemoryRecord]]:
        """The records holding (namespace, key), newest first (one unless puts raced)."""
        found = yield from self._all(_item_tag(namespace, key))
        exact = [(r, i) for r, i in found if i.namespace == namespace and i.key == key]
        exact.sort(key=lambda pair: pair[1].updated_at, reverse=True)
        return [record for record, _ in exact]

    def _get(self, op: GetOp) -> Flow[Item | None]:
        _check(op.namespace, op.key)
        records = yield from self._find(op.namespace, op.key)
        return _item_of(records[0]) if records else None

    def _text(self, op: PutOp, value: Mapping[str, Any]) -> str:
        paths = self.fields if op.index is None else tuple(op.index or ())
        texts: list[str] = []
        for path in paths:
            if path == "$":
                texts.append(json.dumps(value, ensure_ascii=False))
            else:
                texts.extend(get_text_at_path(value, tokenize_path(path)))
        text = "\n".join(t for t in texts if t.strip())
        # not indexed, or nothing at the paths: the item is still stored, under its name
        return text or f"{'/'.join(op.namespace)}/{op.key}"

    def _put(self, op: PutOp) -> Flow[None]:
        _check(op.namespace, op.key)
        existing = yield from self._find(op.namespace, op.key)
        if op.value is None:
            for record in existing:
                yield from self.memory._forget(record.id)
            return
        now = datetime.now(UTC).isoformat()
        previous = _item_of(existing[0]) if existing else None
        meta = {
            META_KEY: {
                "namespace": list(op.namespace),
                "key": op.key,
                "value": dict(op.value),
                "created_at": previous.created_at.isoformat() if previous else now,
                "updated_at": now,
            }
        }
        text = self._text(op, op.value)
        tags = _tags(op.namespace, op.key)
        if existing:
            yield from self.memory._update(existing[0].id, text=text, tags=tags, metadata=meta)
            for duplicate in existing[1:]:  # left by racing puts: the newest one wins
                yield from self.memory._forget(duplicate.id)
        else:
            yield from self.memory._remember(
                text, tags=tags, metadata=meta, scope=self.scope, importance=self.importance,
                deduplicate=False,  # an item is its namespace and key, not its text
            )  # fmt: skip

    def _search(self, op: SearchOp) -> Flow[list[SearchItem]]:
        prefix = tuple(op.namespace_prefix)
        if len(prefix) > _MAX_DEPTH:
            return []
        tag = _namespace_tag(prefix) if prefix else _STORE_TAG
        wanted = max(op.offset, 0) + max(op.limit, 0)
        if wanted == 0:
            return []
        scored: list[tuple[Item, float | None]] = []
        if op.query and op.query.strip():
            # a filter applies after ranking: rank as many as the core returns
            k = _MAX_K if op.filter else min(wanted, _MAX_K)
            hits = yield from self.memory._search(
                op.query, k=k, tags=(tag,), scope=self.scope, exact=True
            )
            for hit in hits:
                item = _item_of(hit.record)
                if item is not None:
                    scored.append((item, hit.score))
        else:
            found = yield from self._all(tag)
            items = sorted((i for _, i in found), key=lambda i: i.updated_at, reverse=True)
            scored = [(item, None) for item in items]
        if op.filter:
            conditions = op.filter
            scored = [
                (item, score)
                for item, score in scored
                if all(_matches(item.value.get(k), v) for k, v in conditions.items())
            ]
        page = scored[max(op.offset, 0) : wanted]
        return [_search_item(item, score) for item, score in page]

    def _list_namespaces(self, op: ListNamespacesOp) -> Flow[list[tuple[str, ...]]]:
        found = yield from self._all(_STORE_TAG)
        namespaces = {item.namespace for _, item in found}
        if op.match_conditions:
            namespaces = {
                ns
                for ns in namespaces
                if all(_namespace_matches(c, ns) for c in op.match_conditions)
            }
        if op.max_depth is not None:
            namespaces = {ns[: op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset : op.offset + op.limit]

    def __repr__(self) -> str:
        return f"TieredMemoryStore({self.memory!r}, user_id={self.user_id!r})"
