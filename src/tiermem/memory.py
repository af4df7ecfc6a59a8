"""`TieredMemory`: the orchestrator that composes the three tiers.

Each public call is written once, as a flow (see `effects`): it validates its input,
asks the tiers, and yields what needs the outside world (store operations, embedding,
summarising). `blocking` drives a flow synchronously, `awaiting` on the event loop; so
`add_message` and `aadd_message` are one body with one signature, and no event loop
is ever started or nested inside the library.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

import numpy as np
from numpy.typing import NDArray

from . import _validation as v
from . import records as _records  # its `now` looked up per call: the one clock
from .callbacks import (
    CallbackHandler,
    ContextBuilt,
    Event,
    HealthChecked,
    Retrieved,
    StoreMaintained,
    TurnAdded,
    TurnsEvicted,
    emit,
)
from .config import MemoryConfig
from .context import (
    Context,
    ContextBuilder,
    memory_line,
    message_tokens,
    turn_message,
)
from .effects import Effect, Embed, Flow, arun, ask, awaiting, blocking, run
from .embeddings import Embedder
from .errors import InvalidInputError, NotFoundError, StoreError
from .health import HealthReport, adiagnose, diagnose
from .hot.store import HotStore
from .lifecycle import ConsolidationReport, ForgetReport, consolidate_flow, forget_flow
from .long_term import (
    AsyncLanceStore,
    Count,
    Delete,
    Export,
    Fetch,
    Filter,
    Insert,
    LanceStore,
    Optimize,
    Upsert,
    micros,
)
from .maintenance import Maintainer
from .medium_term import ExtractiveSummarizer, Summarizer
from .memories import ExplicitMemories
from .records import Kind, MemoryRecord, Owner, Scope, SearchHit
from .retrieval import alive, hybrid, neighbors
from .sessions import Sessions
from .static_embedding import StaticEmbedder
from .tokens import TiktokenCounter, TokenCounter

__all__ = ["TieredMemory"]

T = TypeVar("T")
Item = tuple[MemoryRecord, NDArray[np.float32]]

logger = logging.getLogger("tiermem")

_PLURAL = {Kind.TURN: "turns", Kind.MEMORY: "memories", Kind.SUMMARY: "summaries"}


class TieredMemory:
    """Short-term turns, medium-term summaries and a long-term LanceDB store.

    ``uri`` is anything `lancedb.connect` takes: a folder, ``memory://``, ``s3://…``.
    """

    def __init__(
        self,
        uri: str | os.PathLike[str],
        *,
        config: MemoryConfig | None = None,
        embedder: Embedder | None = None,
        summarizer: Summarizer | None = None,
        token_counter: TokenCounter | None = None,
        callbacks: Iterable[CallbackHandler] | None = None,
    ) -> None:
        if config is not None and not isinstance(config, MemoryConfig):
            rule = f"must be a MemoryConfig, got {type(config).__name__}"
            raise InvalidInputError("config", rule)
        self.config = config or MemoryConfig()
        self.uri = v.check_uri(uri)
        v.check_part("token_counter", token_counter, ("name", "count", "count_message"))
        v.check_part("embedder", embedder, ("name", "dimensions", "embed"))
        v.check_part("summarizer", summarizer, ("summarize",))
        self.callbacks: list[CallbackHandler] = v.check_callbacks(callbacks)
        self.token_counter = token_counter or TiktokenCounter(self.config.tokenizer)
        self.embedder: Embedder = embedder or StaticEmbedder()
        self.summarizer: Summarizer = summarizer or ExtractiveSummarizer()
        long_term = self.config.long_term
        self._store = LanceStore(
            self.uri,
            table=long_term.table,
            embedder=self.embedder.name,
            dimensions=self.embedder.dimensions,
            storage_options=dict(long_term.storage_options),
            read_consistency_seconds=long_term.read_consistency_seconds,
            write_behind_seconds=(long_term.write_behind_ms or 0) / 1000 or None,
            index_cache_mb=long_term.index_cache_mb,
            metadata_cache_mb=long_term.metadata_cache_mb,
        )
        self._astore = AsyncLanceStore(self._store)
        self._hot = self._hot_store()
        self._lock = threading.RLock()
        self._sessions = Sessions(
            self.config.short_term, self.config.medium_term, self.token_counter, self._lock
        )
        self._memories = ExplicitMemories(self._lock)
        self._contexts = ContextBuilder(self.token_counter, self.config.context)
        self._maintainer = Maintainer(lambda: self._run(self._optimize()), long_term.optimize_every)
        self._closed = False
        self._shut = False

    def _hot_store(self) -> HotStore | None:
        """The in-process index in front of the store, unless configured off or the store
        is too large to hold in memory (then LanceDB serves, as with it off)."""
        hot = self.config.hot
        if not hot.enabled or self._store.behind is not None:
            return None
        rows: int = self._store.run(Count(Filter()))
        if hot.max_rows is not None and rows > hot.max_rows:
            logger.info("%d rows exceed hot.max_rows (%d): LanceDB serves every read",
                        rows, hot.max_rows)  # fmt: skip
            return None
        return HotStore(
            self._store, dimensions=self.embedder.dimensions, fsync=hot.fsync, wal=hot.wal,
            background_rows=hot.background_rows, hnsw_rows=hot.hnsw_rows, rows=rows,
        )  # fmt: skip

    # --- drivers (see `effects`) -----------------------------------------------------

    def _run(self, flow: Flow[T]) -> T:
        self._check_open()
        return run(flow, self)

    async def _arun(self, flow: Flow[T]) -> T:
        self._check_open()
        return await arun(flow, self)

    def _store_run(self, op: Effect[Any]) -> Any:
        """Answer a store operation: the in-process index when on, else LanceDB."""
        return self._hot.run(op) if self._hot is not None else self._store.run(op)  # type: ignore[arg-type]

    async def _store_arun(self, op: Effect[Any]) -> Any:
        if self._hot is not None:
            return await self._hot.arun(op)  # type: ignore[arg-type]
        return await self._astore.run(op)  # type: ignore[arg-type]

    def _check_open(self) -> None:
        if self._shut:
            raise StoreError(f"the store at {self.uri!r} is closed: open a new TieredMemory")

    def _emit(self, event: Event) -> None:
        if self.callbacks:
            emit(self.callbacks, event)

    # --- checks shared by the calls ----------------------------------------------------

    def _filter(
        self,
        owner: Owner,
        tags: Iterable[str] | None = None,
        exact: bool = False,
        kinds: Iterable[Kind | str] | None = None,
    ) -> Filter:
        user_id, agent_id, session_id = owner
        return Filter(
            user_id=user_id, agent_id=agent_id, session_id=session_id,
            tags=v.check_tags(tags) if tags is not None else (),
            exact=v.check_flag("exact", exact),
            kinds=v.check_kinds(kinds) if kinds is not None else (),
        )  # fmt: skip

    @staticmethod
    def _named(scope: Filter) -> Filter:
        """A lifecycle call's scope: it must name at least one owner id."""
        if scope.user_id is None and scope.agent_id is None and scope.session_id is None:
            raise InvalidInputError("scope", "name at least one of user_id, agent_id, session_id")
        return scope

    def _message_limit(self) -> int:
        limit = self.config.short_term.max_message_tokens
        return limit if limit is not None else self.config.context.max_tokens

    def _embedding_text(self, record: MemoryRecord) -> str:
        """What a record's vector encodes: a named speaker too, since questions name people."""
        name = record.metadata.get("name")
        if self.config.retrieval.embed_speaker and isinstance(name, str) and name:
            return f"{name}: {record.text}"
        return record.text

    def _writes_done(self, rows: int) -> None:
        if not self._closed:
            self._maintainer.note_writes(rows)

    def _write(self, drafts: Sequence[MemoryRecord]) -> Flow[list[MemoryRecord]]:
        """Store turns of one session in one write, then let them through the tiers."""
        started = time.perf_counter()
        if not drafts:
            return []
        vectors = yield from ask(Embed([self._embedding_text(d) for d in drafts]))
        session = yield from self._sessions.get(drafts[0].owner)
        first = self._sessions.reserve(session, len(drafts))
        records = [dataclasses.replace(d, seq=first + i) for i, d in enumerate(drafts)]
        yield from ask(Insert(records, vectors))
        evicted, folds = self._sessions.admit(session, records)
        session_id = records[0].session_id or ""
        if evicted:
            self._emit(TurnsEvicted(session_id, len(evicted), sum(r.tokens for r in evicted)))
        if folds:
            yield from session.medium.absorb(folds, self._emit)
        latency = (time.perf_counter() - started) / len(records)
        for record in records:
            self._emit(TurnAdded(session_id, record.role or "", record.tokens, latency))
        self._writes_done(len(records))
        return records

    # --- writes ------------------------------------------------------------------------

    def _add_message(
        self,
        role: str,
        content: str,
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
        timestamp: datetime | float | None = None,
        metadata: Mapping[str, Any] | None = None,
        importance: float = 0.5,
        pinned: bool = False,
        scope: Scope | None = None,
    ) -> Flow[MemoryRecord]:
        """Store a chat turn verbatim and push it into the session's short-term tier.

        A tool turn needs ``metadata["tool_call_id"]``; an assistant turn that calls
        tools lists them in ``metadata["tool_calls"]`` (each with an ``id``).
        ``importance`` weighs the turn when it is found by search; a ``pinned`` turn
        goes into every context of its session while the budget allows.
        """
        owner = v.check_owner(scope, user_id, agent_id, session_id, default_session="default")
        draft = v.check_turn(
            owner, role, content, timestamp, metadata, importance, pinned,
            counter=self.token_counter, limit=self._message_limit(),
        )  # fmt: skip
        return (yield from self._write([draft]))[0]

    add_message = blocking(_add_message)
    aadd_message = awaiting(_add_message)

    def _add_messages(
        self,
        messages: Iterable[Mapping[str, Any]],
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
        scope: Scope | None = None,
    ) -> Flow[list[MemoryRecord]]:
        """Store many turns of one session in one write (bulk ingest).

        Each message is a mapping with ``role``, ``content`` and optionally
        ``timestamp``, ``metadata``, ``importance`` and ``pinned``. All are validated
        before anything is written.
        """
        owner = v.check_owner(scope, user_id, agent_id, session_id, default_session="default")
        drafts = v.check_turns(
            owner, messages, counter=self.token_counter, limit=self._message_limit()
        )
        return (yield from self._write(drafts))

    add_messages = blocking(_add_messages)
    aadd_messages = awaiting(_add_messages)

    def _remember(
        self,
        text: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        importance: float = 0.5,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        deduplicate: bool = True,
        expires_at: datetime | None = None,
        ttl: timedelta | float | None = None,
        scope: Scope | None = None,
    ) -> Flow[MemoryRecord]:
        """Store an explicit long-term memory (a fact, a preference) in a scope.

        The same text again in the same scope (ignoring case and spacing) is the same
        memory: it is returned with the higher importance and both sets of tags, not
        stored twice. ``deduplicate=False`` keeps each call's record (a keyed store).
        A memory with ``expires_at`` (or ``ttl``, a timedelta or seconds from now) is
        no longer seen from then on, and `optimize` deletes it.
        """
        text = v.check_text("text", text)
        user_id, agent_id, session_id = v.check_owner(scope, user_id, agent_id, session_id)
        deduplicate = v.check_flag("deduplicate", deduplicate)
        now = _records.now()
        record = MemoryRecord(
            id=v.new_id(), kind=Kind.MEMORY, text=text, timestamp=now,
            expires_at=v.check_expiry(expires_at, ttl, at=now), user_id=user_id,
            agent_id=agent_id, session_id=session_id, importance=v.check_importance(importance),
            tags=v.check_tags(tags), metadata=v.check_metadata(metadata),
        )  # fmt: skip
        tokens = self.token_counter.count(memory_line(record))
        tokens = v.check_tokens("text", tokens, self._message_limit())
        record = dataclasses.replace(record, tokens=tokens)
        stored = yield from self._memories.remember(record, deduplicate=deduplicate)
        if stored is record:
            self._writes_done(1)
        return stored

    remember = blocking(_remember)
    aremember = awaiting(_remember)

    def _update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        importance: float | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        pinned: bool | None = None,
    ) -> Flow[MemoryRecord]:
        """Change a record in place (its vector follows its text); ``pinned`` pins or
        unpins a turn."""
        changes: dict[str, Any] = {}
        if pinned is not None:
            changes["pinned"] = v.check_flag("pinned", pinned)
        if text is not None:
            changes["text"] = v.check_text("text", text)
        if importance is not None:
            changes["importance"] = v.check_importance(importance)
        if tags is not None:
            changes["tags"] = v.check_tags(tags)
        if metadata is not None:
            changes["metadata"] = v.check_metadata(metadata)
        record = yield from self._get(memory_id)
        updated = dataclasses.replace(record, **changes)
        if updated.kind is Kind.TURN:
            v.check_tool_metadata(updated.role or "user", updated.metadata)
            tokens = message_tokens(self.token_counter, turn_message(updated))
        else:
            tokens = self.token_counter.count(memory_line(updated))
        tokens = v.check_tokens("text", tokens, self._message_limit())
        updated = dataclasses.replace(updated, tokens=tokens)
        vectors = yield from ask(Embed([self._embedding_text(updated)]))
        yield from ask(Upsert([updated], vectors))
        self._memories.drop(Filter.of(updated.owner))  # its text may have changed
        session = self._sessions.find(updated.owner)
        if session is not None and updated.kind is Kind.TURN:
            with self._lock:
                session.window.replace(updated)
        return updated

    update = blocking(_update)
    aupdate = awaiting(_update)

    def _forget(self, memory_id: str) -> Flow[None]:
        """Delete a record from every tier; `NotFoundError` if there is none."""
        record = yield from self._get(memory_id)
        yield from ask(Delete(Filter(ids=(record.id,))))
        self._memories.drop(Filter.of(record.owner))
        session = self._sessions.find(record.owner)
        if session is not None:
            with self._lock:
                session.window.remove(record.id)
            session.medium.drop(record.id)

    forget = blocking(_forget)
    aforget = awaiting(_forget)

    def _forget_scope(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        exact: bool = False,
        scope: Scope | None = None,
    ) -> Flow[int]:
        """Delete every record of a user, agent or session (at least one must be named).

        With ``exact``, an id left None matches only records without that id.
        """
        owner = v.check_owner(scope, user_id, agent_id, session_id)
        where = self._named(self._filter(owner, exact=exact))
        count = yield from ask(Count(where))
        if count:
            yield from ask(Delete(where))
        self._dropped(where)
        return count

    forget_scope = blocking(_forget_scope)
    aforget_scope = awaiting(_forget_scope)

    def _forget_where(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        before: datetime | None = None,
        tags: Iterable[str] | None = None,
        kinds: Iterable[Kind | str] | None = None,
        exact: bool = False,
        dry_run: bool = False,
        scope: Scope | None = None,
    ) -> Flow[ForgetReport]:
        """Delete the records of a scope (at least one id named) that match every rule
        given: older than ``before``, holding any of ``tags``, of one of ``kinds``.

        The summaries covering a forgotten turn go too (they hold its text). With
        ``dry_run`` nothing changes and the report says what would go.
        """
        owner = v.check_owner(scope, user_id, agent_id, session_id)
        where = self._named(self._filter(owner, tags, exact, kinds))
        if before is not None:
            where = dataclasses.replace(where, before=micros(v.check_moment("before", before)))
        dry_run = v.check_flag("dry_run", dry_run)
        report = yield from forget_flow(where, dry_run=dry_run)
        if not dry_run and report.ids:
            self._dropped(where)
        return report

    forget_where = blocking(_forget_where)
    aforget_where = awaiting(_forget_where)

    def _consolidate(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        exact: bool = False,
        text_threshold: float = 0.6,
        vector_threshold: float = 0.85,
        dry_run: bool = False,
        scope: Scope | None = None,
    ) -> Flow[ConsolidationReport]:
        """Merge the explicit memories of a scope that say the same thing (no LLM).

        Two memories of one owner are the same when equal ignoring case, spacing and
        punctuation, or when their words overlap by ``text_threshold`` (Jaccard) and
        their vectors by ``vector_threshold`` (cosine); never when one negates what the
        other says. One is kept, with the highest importance, every tag and
        ``metadata["merged_from"]`` listing the ids merged into it; the rest are deleted.
        """
        owner = v.check_owner(scope, user_id, agent_id, session_id)
        where = self._named(self._filter(owner, exact=exact))
        dry_run = v.check_flag("dry_run", dry_run)
        report = yield from consolidate_flow(
            alive(where),
            text=v.check_fraction("text_threshold", text_threshold),
            vector=v.check_fraction("vector_threshold", vector_threshold),
            dry_run=dry_run,
        )
        if not dry_run and report.merges:
            self._dropped(where)
        return report

    consolidate = blocking(_consolidate)
    aconsolidate = awaiting(_consolidate)

    def _dropped(self, scope: Filter | None = None) -> None:
        """Records of ``scope`` (every one if None) changed under the in-memory tiers:
        rebuild them from the store when next used."""
        self._sessions.drop(scope)
        self._memories.drop(scope)

    # --- reads -------------------------------------------------------------------------

    def _search(
        self,
        query: str,
        *,
        k: int = 10,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        tags: Iterable[str] | None = None,
        exact: bool = False,
        exclude_recent: bool = False,
        scope: Scope | None = None,
    ) -> Flow[list[SearchHit]]:
        """Hybrid full-text and vector search of the long-term tier, within a scope.

        An id left None spans every value (a user's search spans their sessions), unless
        ``exact``: then None matches only records without that id. ``exclude_recent``
        skips the turns held in the scope's short-term windows, which an agent already
        sees in its context (the question just asked is no answer to itself).
        """
        started = time.perf_counter()
        where = self._filter(v.check_owner(scope, user_id, agent_id, session_id), tags, exact)
        query = v.check_text("query", query)
        k = v.check_k(k)
        skip = v.check_flag("exclude_recent", exclude_recent)
        recent = self._sessions.recent_ids(where) if skip else set()
        wanted = min(k + len(recent), v.MAX_K)
        hits, _ = yield from hybrid(query, wanted, where, self.config.retrieval)
        hits = [h for h in hits if h.record.id not in recent][:k]
        top = hits[0].score if hits else 0.0
        self._emit(Retrieved(query, len(hits), top, time.perf_counter() - started))
        return hits

    search = blocking(_search)
    asearch = awaiting(_search)

    def _build_context(
        self,
        query: str | None = None,
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
        max_tokens: int | None = None,
        scope: Scope | None = None,
    ) -> Flow[Context]:
        """The best context for ``query`` that fits ``max_tokens`` (exactly counted).

        Without a query, the session's last user turn is used to find memories.
        """
        started = time.perf_counter()
        budget = v.check_max_tokens(
            self.config.context.max_tokens if max_tokens is None else max_tokens
        )
        owner = v.check_owner(scope, user_id, agent_id, session_id, default_session="default")
        user_id, agent_id, _ = owner
        session_id = v.require_id("session_id", owner[2])
        if query is not None:
            query = v.check_text("query", query)
        # a user's or agent's memory spans their sessions; an anonymous session sees itself
        # alone, not the turns of users who happen to share its session id
        where = (
            Filter(user_id=user_id, agent_id=agent_id) if user_id or agent_id else Filter.of(owner)
        )
        session = yield from self._sessions.get(owner)
        with self._lock:
            units = session.window.units()
            summaries = list(session.medium.summaries)
        if query is None:
            query = next((r.text for u in reversed(units) for r in reversed(u)
                          if r.role == "user"), None)  # fmt: skip
        hits: list[SearchHit] = []
        if query is not None:
            config = self.config.context
            wanted = max(config.max_candidates, budget * config.candidates_per_1k_tokens // 1000)
            wanted = min(wanted, v.MAX_K)  # a 1M-token budget is no bad `k` of the caller's
            retrieval = self.config.retrieval
            hits, named = yield from hybrid(query, wanted, where, retrieval)
            hits = yield from neighbors(hits, where, named, retrieval)
        # pinned turns of this session: in the window or evicted from it long ago
        held = yield from ask(Fetch(Filter.of(owner, kinds=(Kind.TURN,), pinned=True)))
        context = self._contexts.build(
            units=units, summaries=summaries, hits=hits, held=held, budget=budget
        )
        self._emit(
            ContextBuilt(
                session_id, budget, context.token_count, len(context.kept),
                len(context.left_out), context.tokens_per_tier(), time.perf_counter() - started,
            )
        )  # fmt: skip
        return context

    build_context = blocking(_build_context)
    abuild_context = awaiting(_build_context)

    def _get(self, memory_id: str) -> Flow[MemoryRecord]:
        """The record with this id; `NotFoundError` if there is none."""
        memory_id = v.require_id("memory_id", memory_id)
        found = yield from ask(Fetch(alive(Filter(ids=(memory_id,))), limit=1))
        if not found:
            raise NotFoundError(f"memory_id: no record with id {memory_id!r}")
        return found[0]

    get = blocking(_get)
    aget = awaiting(_get)

    def _records(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        kinds: Iterable[Kind | str] | None = None,
        tags: Iterable[str] | None = None,
        exact: bool = False,
        scope: Scope | None = None,
    ) -> Flow[list[MemoryRecord]]:
        """Every record in a scope, no query: by session, then in conversation order.

        With ``exact``, an id left None matches only records without that id: the one
        (user, agent, session) a chat history belongs to, not everyone in that session.
        """
        owner = v.check_owner(scope, user_id, agent_id, session_id)
        found = yield from ask(Fetch(alive(self._filter(owner, tags, exact, kinds))))
        return sorted(found, key=lambda r: (r.session_id or "", r.seq, r.timestamp, r.id))

    records = blocking(_records)
    arecords = awaiting(_records)

    def _stats(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        scope: Scope | None = None,
    ) -> Flow[dict[str, Any]]:
        """Record counts per kind (within a scope when one is named), the loaded
        sessions' short-term windows, and metrics of any `MetricsCallback`."""
        owner = v.check_owner(scope, user_id, agent_id, session_id)
        where = self._filter(owner)
        counts: dict[str, int] = {}
        for kind in Kind:
            counts[_PLURAL[kind]] = yield from ask(
                Count(alive(dataclasses.replace(where, kinds=(kind,))))
            )
        stats: dict[str, Any] = {
            "records": sum(counts.values()), **counts, "sessions": self._sessions.windows(where)
        }  # fmt: skip
        named = dict(zip(("user_id", "agent_id", "session_id"), owner, strict=True))
        if any(named.values()):
            stats["scope"] = {k: value for k, value in named.items() if value is not None}
        for handler in self.callbacks:
            snapshot = getattr(handler, "snapshot", None)
            if callable(snapshot):
                stats["metrics"] = snapshot()
        return stats

    stats = blocking(_stats)
    astats = awaiting(_stats)

    # --- the store ----------------------------------------------------------------------

    def _optimize(self) -> Flow[None]:
        """Compact the store and bring its indexes up to date (off the hot path)."""
        started = time.perf_counter()
        # no count first: a read would make the in-process index catch up on every upkeep
        yield from ask(Delete(Filter(expired_at=micros(_records.now()))))
        long_term = self.config.long_term
        # the in-process index serves vectors: LanceDB's own index would cost minutes of
        # CPU at 100k rows for reads that only a store opened with the hot path off makes
        vector_rows = long_term.vector_index_rows if self._hot is None else None
        yield from ask(Optimize(vector_rows, long_term.keep_versions_seconds))
        self._emit(StoreMaintained("optimize", time.perf_counter() - started))

    optimize = blocking(_optimize)
    aoptimize = awaiting(_optimize)

    def _import_records(self, items: Iterable[Item], *, batch_size: int = 1_000) -> Flow[int]:
        """Write exported records back, ids and vectors unchanged; returns how many."""
        batch_size = v.check_batch_size(batch_size)
        # all of them checked first: a bad one must not follow a write
        checked = v.check_items(items, self.embedder.dimensions)
        for start in range(0, len(checked), batch_size):
            batch = checked[start : start + batch_size]
            # upsert by id: importing the same file twice does not duplicate
            yield from ask(Upsert([r for r, _ in batch], np.stack([vec for _, vec in batch])))
        self._dropped()  # any owner's records may have changed
        return len(checked)

    import_records = blocking(_import_records)
    aimport_records = awaiting(_import_records)

    def _export_page(self, offset: int, limit: int, alive_at: int) -> Flow[list[Item]]:
        return (yield from ask(Export(offset, limit, alive_at)))

    def export_records(self, *, batch_size: int = 1_000) -> Iterator[Item]:
        """Every record with its vector, page by page: what `import_records` takes back."""
        batch_size = v.check_batch_size(batch_size)
        alive_at = micros(_records.now())  # one clock for every page: expiries cannot shift them

        def pages() -> Iterator[Item]:
            for offset in range(0, 2**63, batch_size):
                page = self._run(self._export_page(offset, batch_size, alive_at))
                yield from page
                if len(page) < batch_size:
                    return

        return pages()

    def aexport_records(self, *, batch_size: int = 1_000) -> AsyncIterator[Item]:
        """Async `export_records` (iterate it with ``async for``)."""
        batch_size = v.check_batch_size(batch_size)
        alive_at = micros(_records.now())

        async def pages() -> AsyncIterator[Item]:
            for offset in range(0, 2**63, batch_size):
                page = await self._arun(self._export_page(offset, batch_size, alive_at))
                for item in page:
                    yield item
                if len(page) < batch_size:
                    return

        return pages()

    def health(self) -> HealthReport:
        """Check the store and this process against ``config.health``; never raises."""
        return self._checked(diagnose(self._store, self.config, self.callbacks, self._hot))

    async def ahealth(self) -> HealthReport:
        """Async `health`."""
        found = await adiagnose(self._store, self.config, self.callbacks, self._hot)
        return self._checked(found)

    def _checked(self, found: HealthReport) -> HealthReport:
        statuses = {check.name: check.status.value for check in found.checks}
        self._emit(HealthChecked(found.status.value, statuses, found.seconds))
        return found

    def close(self) -> None:
        """Finish upkeep in flight and release the store; later calls raise `StoreError`."""
        if self._closed:
            return
        self._closed = True
        self._maintainer.wait()
        self._shut = True  # after upkeep in flight has finished its own calls
        if self._hot is not None:
            self._hot.close()
        self._store.close()

    async def aclose(self) -> None:
        """Async `close`."""
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def __repr__(self) -> str:
        return f"TieredMemory({self.uri!r})"
