"""`TieredMemory`: the one orchestrator that composes the three tiers.

Every public call is written once, as a flow: a generator that validates its input,
changes in-memory state, and yields what it needs from outside (store operations,
a summary) as plain values. `_drive` runs a flow on the synchronous LanceDB client,
`_adrive` on the asynchronous one; so `add_message` and `aadd_message` are the same
code, and no event loop is ever started or nested inside the library.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

import numpy as np
from numpy.typing import NDArray

from . import records as v
from .callbacks import (
    CallbackHandler,
    ContextBuilt,
    Event,
    HealthChecked,
    Retrieved,
    StoreMaintained,
    Summarized,
    TurnAdded,
    TurnsEvicted,
    emit,
)
from .config import MemoryConfig
from .context import (
    Candidate,
    Context,
    Tier,
    chat_message,
    fit,
    memory_candidate,
    memory_line,
    memory_section_cost,
    message_tokens,
    pack,
    turn_message,
)
from .embeddings import Embedder
from .errors import InvalidInputError, MessageTooLargeError, NotFoundError, StoreError
from .health import HealthReport, adiagnose, diagnose
from .hot.store import HotStore
from .lifecycle import (
    ConsolidationReport,
    ForgetReport,
    consolidate_flow,
    forget_flow,
    lasting,
)
from .long_term import (
    AsyncLanceStore,
    Count,
    Delete,
    Export,
    Fetch,
    Insert,
    LanceStore,
    Operation,
    Optimize,
    Scope,
    Search,
    Upsert,
    micros,
)
from .maintenance import Maintainer
from .medium_term import ExtractiveSummarizer, MediumTerm, Summarizer
from .records import Kind, MemoryRecord, Owner, ScoreParts, SearchHit
from .retrieval import fuse, has_terms, named_speakers, neighbor_positions, with_neighbors
from .short_term import ShortTermWindow
from .static_embedding import StaticEmbedder
from .tokens import CachedCounter, TiktokenCounter, TokenCounter

__all__ = ["TieredMemory"]

T = TypeVar("T")


def _normal(text: str) -> str:
    """What makes two memories the same fact: their words, ignoring case and spacing."""
    return " ".join(text.casefold().split())


logger = logging.getLogger("tiermem")

_LINE_CACHE = 100_000
_MESSAGE_KEYS = frozenset({"role", "content", "timestamp", "metadata", "importance", "pinned"})
#: the score parts of a candidate no search found (frozen: one serves them all)
_NO_PARTS = ScoreParts()
_PLURAL = {Kind.TURN: "turns", Kind.MEMORY: "memories", Kind.SUMMARY: "summaries"}
_WINDOW_STATS = ("short_term_turns", "short_term_tokens", "pending_turns", "summaries")
Flow = Generator["Operation | Summarize", Any, T]


@dataclass(frozen=True, slots=True)
class Summarize:
    """Ask the summarizer (which may be an LLM, hence I/O) to fold records."""

    records: Sequence[MemoryRecord]
    max_tokens: int


@dataclass(slots=True)
class _Session:
    window: ShortTermWindow
    medium: MediumTerm
    next_seq: int


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
        self.embedder = embedder or StaticEmbedder()
        self.summarizer = summarizer or ExtractiveSummarizer()
        self._store = LanceStore(
            self.uri,
            table=self.config.long_term.table,
            embedder=self.embedder.name,
            dimensions=self.embedder.dimensions,
            storage_options=dict(self.config.long_term.storage_options),
            read_consistency_seconds=self.config.long_term.read_consistency_seconds,
            write_behind_seconds=(self.config.long_term.write_behind_ms or 0) / 1000 or None,
            index_cache_mb=self.config.long_term.index_cache_mb,
            metadata_cache_mb=self.config.long_term.metadata_cache_mb,
        )
        self._astore = AsyncLanceStore(self._store)
        self._hot = self._hot_store()
        #: one window per owner: two users who share a session id share nothing
        self._sessions: dict[Owner, _Session] = {}
        self._lock = threading.RLock()
        # the same turns and memory lines come back context after context: count each once
        self._counting = CachedCounter(self.token_counter, _LINE_CACHE)
        self._priced: dict[tuple[Any, ...], Candidate] = {}
        self._priced_records: dict[tuple[str, Tier], Candidate] = {}
        #: each owner's explicit memories by normalised text: `remember` keeps one of each
        self._facts: dict[Owner, dict[str, str]] = {}
        self._maintainer = Maintainer(
            lambda: self._drive(self._optimize()), self.config.long_term.optimize_every
        )
        self._closed = False
        self._shut = False

    def _hot_store(self) -> HotStore | None:
        """The in-process index in front of the store, unless configured off or the store
        is too large to hold in memory (then LanceDB serves, as with it off)."""
        hot = self.config.hot
        if not hot.enabled or self._store.behind is not None:
            return None
        rows: int = self._store.run(Count(Scope()))
        if hot.max_rows is not None and rows > hot.max_rows:
            logger.info("%d rows exceed hot.max_rows (%d): LanceDB serves every read",
                        rows, hot.max_rows)  # fmt: skip
            return None
        return HotStore(
            self._store, dimensions=self.embedder.dimensions, fsync=hot.fsync, wal=hot.wal,
            background_rows=hot.background_rows, hnsw_rows=hot.hnsw_rows, rows=rows,
        )  # fmt: skip

    # --- drivers -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._shut:
            raise StoreError(f"the store at {self.uri!r} is closed: open a new TieredMemory")

    def _drive(self, flow: Flow[T]) -> T:
        self._check_open()
        result: Any = None
        while True:
            try:
                op = flow.send(result)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(op, Summarize):
                result = self.summarizer.summarize(
                    op.records, max_tokens=op.max_tokens, token_counter=self.token_counter
                )
            elif self._hot is not None:
                result = self._hot.run(op)
            else:
                result = self._store.run(op)

    async def _adrive(self, flow: Flow[T]) -> T:
        self._check_open()
        store = self._astore
        result: Any = None
        while True:
            try:
                op = flow.send(result)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(op, Summarize):
                asummarize = getattr(self.summarizer, "asummarize", None)
                call = asummarize or self.summarizer.summarize
                result = call(
                    op.records, max_tokens=op.max_tokens, token_counter=self.token_counter
                )
                if asummarize is not None:
                    result = await result
            elif self._hot is not None:
                result = await self._hot.arun(op)
            else:
                result = await store.run(op)

    def _emit(self, event: Event) -> None:
        if self.callbacks:
            emit(self.callbacks, event)

    # --- sessions --------------------------------------------------------------------

    def _session(self, owner: Owner) -> Flow[_Session]:
        """The in-memory tiers of one (user, agent, session), restored on first use."""
        with self._lock:
            session = self._sessions.get(owner)
        if session is not None:
            return session
        summaries: list[MemoryRecord] = yield Fetch(Scope.of(owner, kinds=(Kind.SUMMARY,)))
        medium = MediumTerm(summaries=sorted(summaries, key=lambda s: s.seq))
        covered = medium.covered_seq()
        turns: list[MemoryRecord] = yield Fetch(
            Scope.of(owner, kinds=(Kind.TURN,), after_seq=covered)
        )
        window = ShortTermWindow(max_tokens=self.config.short_term.max_tokens)
        for turn in sorted(turns, key=lambda t: t.seq):
            evicted = window.append(turn)
            if self.config.medium_term.enabled:
                medium.pending.extend(evicted)
        next_seq = max([covered, *(t.seq for t in turns)]) + 1
        with self._lock:
            # another thread may have restored it meanwhile: the first one wins
            return self._sessions.setdefault(owner, _Session(window, medium, next_seq))

    # --- flows -----------------------------------------------------------------------

    def _message_limit(self) -> int:
        limit = self.config.short_term.max_message_tokens
        return limit if limit is not None else self.config.context.max_tokens

    def _draft(
        self,
        role: str,
        content: str,
        session_id: str,
        user_id: str | None,
        agent_id: str | None,
        timestamp: datetime | float | None,
        metadata: Mapping[str, Any] | None,
        importance: float = 0.5,
        pinned: bool = False,
    ) -> MemoryRecord:
        """A validated turn with its token cost, not yet sequenced or stored."""
        role = v.check_role(role)
        importance = v.check_importance(importance)
        pinned = v.check_flag("pinned", pinned)
        meta = v.check_metadata(metadata)
        v.check_tool_metadata(role, meta)
        # a turn that only calls tools, or a tool with no output, has nothing to say
        may_be_empty = role == "tool" or bool(meta.get("tool_calls"))
        content = v.check_text("content", content, allow_empty=may_be_empty)
        tokens = message_tokens(self.token_counter, chat_message(role, content, meta))
        if tokens > self._message_limit():
            raise MessageTooLargeError(
                "content",
                f"has {tokens} tokens, more than the largest context ({self._message_limit()}); "
                "split it or raise short_term.max_message_tokens",
            )
        return MemoryRecord(
            id=v.new_id(), kind=Kind.TURN, text=content, timestamp=v.check_timestamp(timestamp),
            role=role, session_id=v.require_id("session_id", session_id),
            user_id=v.check_id("user_id", user_id), agent_id=v.check_id("agent_id", agent_id),
            metadata=meta, tokens=tokens, importance=importance, pinned=pinned,
        )  # fmt: skip

    def _add_messages(self, drafts: Sequence[MemoryRecord]) -> Flow[list[MemoryRecord]]:
        """Store turns of one session in one write, then let them through the tiers."""
        started = time.perf_counter()
        if not drafts:
            return []
        session_id = drafts[0].session_id or ""
        vectors = self.embedder.embed([self._embedding_text(d) for d in drafts])
        session = yield from self._session(drafts[0].owner)
        with self._lock:
            first = session.next_seq
            session.next_seq += len(drafts)
        records = [dataclasses.replace(d, seq=first + i) for i, d in enumerate(drafts)]
        yield Insert(records, vectors)
        folds: list[list[MemoryRecord]] = []
        evicted: list[MemoryRecord] = []
        with self._lock:
            for record in records:
                out = session.window.append(record)
                evicted.extend(out)
                if self.config.medium_term.enabled:
                    session.medium.pending.extend(out)
                    if session.medium.due(self.config.medium_term.trigger_tokens):
                        folds.append(session.medium.take_pending())
        if evicted:
            self._emit(TurnsEvicted(session_id, len(evicted), sum(r.tokens for r in evicted)))
        if folds:
            yield from self._fold(session, folds)
        latency = (time.perf_counter() - started) / len(records)
        for record in records:
            self._emit(TurnAdded(session_id, record.role or "", record.tokens, latency))
        self._writes_done(len(records))
        return records

    def _drafts(
        self,
        messages: Iterable[Mapping[str, Any]],
        session_id: str,
        user_id: str | None,
        agent_id: str | None,
    ) -> list[MemoryRecord]:
        # the scope first: a bad session_id is that argument's fault, not a message's
        v.require_id("session_id", session_id)
        v.check_id("user_id", user_id)
        v.check_id("agent_id", agent_id)
        drafts = []
        for i, message in enumerate(v.check_messages(messages)):
            if not isinstance(message, Mapping):
                raise InvalidInputError(f"messages[{i}]", "must be a mapping with role and content")
            unknown = set(message) - _MESSAGE_KEYS
            if unknown:
                raise InvalidInputError(f"messages[{i}]", f"has unknown keys {sorted(unknown)}")
            try:
                drafts.append(
                    self._draft(
                        message.get("role"), message.get("content"), session_id,  # type: ignore[arg-type]
                        user_id, agent_id, message.get("timestamp"), message.get("metadata"),
                        message.get("importance", 0.5), message.get("pinned", False),
                    )
                )  # fmt: skip
            except InvalidInputError as exc:
                raise type(exc)(f"messages[{i}].{exc.argument}", exc.rule) from None
        return drafts

    def _embedding_text(self, record: MemoryRecord) -> str:
        """What a record's vector encodes: a named speaker too, since questions name people."""
        name = record.metadata.get("name")
        if self.config.retrieval.embed_speaker and isinstance(name, str) and name:
            return f"{name}: {record.text}"
        return record.text

    def _writes_done(self, rows: int) -> None:
        if not self._closed:
            self._maintainer.note_writes(rows)

    def _summary(
        self, text: str, sources: Sequence[MemoryRecord], covers: Sequence[str], first_seq: int
    ) -> MemoryRecord:
        """A summary of ``sources``, standing for the session's turns ``first_seq`` on."""
        last = sources[-1]
        summary = MemoryRecord(
            id=v.new_id(), kind=Kind.SUMMARY, text=text, timestamp=last.timestamp,
            role=None, session_id=last.session_id, user_id=last.user_id,
            agent_id=last.agent_id, seq=max(r.seq for r in sources), covers=tuple(covers),
            metadata={v.COVERS_SEQ: [first_seq, max(r.seq for r in sources)]},
        )  # fmt: skip
        tokens = self.token_counter.count(memory_line(summary))
        return dataclasses.replace(summary, tokens=tokens)

    def _fold(self, session: _Session, folds: list[list[MemoryRecord]]) -> Flow[None]:
        """Summarise evicted turns; merge the oldest summaries when there are too many.

        The summaries of every fold are written together, then the merged-away ones
        deleted: insert before delete, so a crash leaves a duplicate, never a gap.
        """
        limit = self.config.medium_term.summary_tokens
        created: list[MemoryRecord] = []
        merged_away: list[MemoryRecord] = []
        for turns in folds:
            started = time.perf_counter()
            text: str = yield Summarize(turns, limit)
            if not text.strip():
                continue
            summary = self._summary(text, turns, [t.id for t in turns], turns[0].seq)
            created.append(summary)
            with self._lock:
                session.medium.summaries.append(summary)
                oldest = session.medium.over(self.config.medium_term.max_summaries)
            self._emit(
                Summarized(
                    summary.session_id or "", len(turns), sum(t.tokens for t in turns),
                    summary.tokens, time.perf_counter() - started,
                )
            )  # fmt: skip
            if not oldest:
                continue
            merged_text: str = yield Summarize(oldest, limit)
            if not merged_text.strip():
                continue
            # a span, not every id: the oldest summary stands for most of a long session
            first = min(s.covered_seqs.start for s in oldest)
            merged = self._summary(merged_text, oldest, (), first)
            created.append(merged)
            merged_away.extend(oldest)
            with self._lock:
                session.medium.replace(oldest, merged)
        gone = {s.id for s in merged_away}
        fresh = [s for s in created if s.id not in gone]
        if fresh:
            yield Insert(fresh, self.embedder.embed([s.text for s in fresh]))
        stored = [s.id for s in merged_away if s not in created]
        if stored:
            yield Delete(Scope(ids=tuple(stored)))

    def _remember(
        self,
        text: str,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        importance: float,
        tags: Iterable[str],
        metadata: Mapping[str, Any] | None,
        deduplicate: bool = True,
        expires_at: datetime | None = None,
        ttl: timedelta | float | None = None,
    ) -> Flow[MemoryRecord]:
        text = v.check_text("text", text)
        deduplicate = v.check_flag("deduplicate", deduplicate)
        now = v.now()
        expiry = v.check_expiry(expires_at, ttl, at=now)
        record = MemoryRecord(
            id=v.new_id(), kind=Kind.MEMORY, text=text, timestamp=now, expires_at=expiry,
            user_id=v.check_id("user_id", user_id), agent_id=v.check_id("agent_id", agent_id),
            session_id=v.check_id("session_id", session_id),
            importance=v.check_importance(importance), tags=v.check_tags(tags),
            metadata=v.check_metadata(metadata),
        )  # fmt: skip
        tokens = self.token_counter.count(memory_line(record))
        if tokens > self._message_limit():
            raise MessageTooLargeError(
                "text", f"has {tokens} tokens, more than the largest context"
            )
        record = dataclasses.replace(record, tokens=tokens)
        known: dict[str, str] = {}
        if deduplicate:
            known = yield from self._known_memories(record.owner)
        same = known.get(_normal(text))
        if same is not None:
            found: list[MemoryRecord] = yield Fetch(self._alive(Scope(ids=(same,))), limit=1)
            if found:  # the same fact again: one memory, holding what both said
                return (yield from self._merge_memory(found[0], record))
        yield Insert([record], self.embedder.embed([text]))
        with self._lock:
            known[_normal(text)] = record.id
        self._writes_done(1)
        return record

    def _known_memories(self, owner: Owner) -> Flow[dict[str, str]]:
        """An owner's explicit memories by normalised text, read once per process."""
        with self._lock:
            known = self._facts.get(owner)
        if known is None:
            found: list[MemoryRecord] = yield Fetch(Scope.of(owner, kinds=(Kind.MEMORY,)))
            with self._lock:
                known = self._facts.setdefault(owner, {_normal(r.text): r.id for r in found})
        return known

    def _merge_memory(self, old: MemoryRecord, new: MemoryRecord) -> Flow[MemoryRecord]:
        merged = dataclasses.replace(
            old,
            importance=max(old.importance, new.importance),
            tags=tuple(dict.fromkeys((*old.tags, *new.tags))),
            metadata={**old.metadata, **new.metadata},
            expires_at=lasting((old.expires_at, new.expires_at)),  # said again: the longer
        )
        if merged != old:
            yield Upsert([merged], self.embedder.embed([merged.text]))
        return merged

    def _search(
        self, query: str, k: int, scope: Scope, exclude_recent: bool = False
    ) -> Flow[list[SearchHit]]:
        started = time.perf_counter()
        query = v.check_text("query", query)
        k = v.check_k(k)
        recent = (
            self._recent_ids(scope) if v.check_flag("exclude_recent", exclude_recent) else set()
        )
        hits, _ = yield from self._hybrid(query, min(k + len(recent), v.MAX_K), scope)
        hits = [h for h in hits if h.record.id not in recent][:k]
        top = hits[0].score if hits else 0.0
        self._emit(Retrieved(query, len(hits), top, time.perf_counter() - started))
        return hits

    def _recent_ids(self, scope: Scope) -> set[str]:
        """Turns in the short-term windows of ``scope``: what an agent there already sees."""
        with self._lock:
            return {r.id for owner, session in self._sessions.items() if scope.holds(owner)
                    for r in session.window}  # fmt: skip

    def _hybrid(
        self, query: str, k: int, scope: Scope
    ) -> Flow[tuple[list[SearchHit], frozenset[str]]]:
        """The best ``k`` fused hits, and the speakers the query names among what was found."""
        limit = max(self.config.retrieval.candidates, k)
        vector = self.embedder.embed([query])[0]
        found: tuple[list[tuple[MemoryRecord, float]], list[tuple[MemoryRecord, float]]] = (
            yield Search(
                query if has_terms(query) else None, vector if np.any(vector) else None,
                self._alive(scope), limit,
            )
        )  # fmt: skip
        text_hits, vector_hits = found
        named = named_speakers(query, (r for r, _ in vector_hits))
        hits = fuse(text_hits, vector_hits, config=self.config.retrieval, named=named)
        return hits[:k], named

    def _scope(
        self,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        tags: Iterable[str] | None = None,
        exact: bool = False,
    ) -> Scope:
        return Scope(
            user_id=v.check_id("user_id", user_id),
            agent_id=v.check_id("agent_id", agent_id),
            session_id=v.check_id("session_id", session_id),
            tags=v.check_tags(tags) if tags is not None else (),
            exact=v.check_flag("exact", exact),
        )

    def _listing(
        self,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        kinds: Iterable[Kind | str] | None,
        tags: Iterable[str] | None,
        exact: bool = False,
    ) -> Scope:
        scope = self._scope(user_id, agent_id, session_id, tags, exact)
        if kinds is None:
            return scope
        return dataclasses.replace(scope, kinds=v.check_kinds(kinds))

    def _build_context(
        self,
        query: str | None,
        session_id: str,
        user_id: str | None,
        agent_id: str | None,
        max_tokens: int | None,
    ) -> Flow[Context]:
        started = time.perf_counter()
        budget = v.check_max_tokens(
            self.config.context.max_tokens if max_tokens is None else max_tokens
        )
        session_id = v.require_id("session_id", session_id)
        if query is not None:
            query = v.check_text("query", query)
        user_id, agent_id = v.check_id("user_id", user_id), v.check_id("agent_id", agent_id)
        owner: Owner = (user_id, agent_id, session_id)
        # a user's or agent's memory spans their sessions; an anonymous session sees itself
        # alone, not the turns of users who happen to share its session id
        scope = (
            Scope(user_id=user_id, agent_id=agent_id) if user_id or agent_id else Scope.of(owner)
        )
        session = yield from self._session(owner)
        with self._lock:
            units = session.window.units()
            summaries = list(session.medium.summaries)
        if query is None:
            query = next((r.text for u in reversed(units) for r in reversed(u)
                          if r.role == "user"), None)  # fmt: skip
        hits: list[SearchHit] = []
        if query is not None:
            wanted = max(self.config.context.max_candidates,
                         budget * self.config.context.candidates_per_1k_tokens // 1000)  # fmt: skip
            wanted = min(wanted, v.MAX_K)  # a 1M-token budget is no bad `k` of the caller's
            hits, named = yield from self._hybrid(query, wanted, scope)
            hits = yield from self._neighbors(hits, scope, named)
        # pinned turns of this session: in the window or evicted from it long ago
        held: list[MemoryRecord] = yield Fetch(Scope.of(owner, kinds=(Kind.TURN,), pinned=True))
        candidates = self._candidates(units, summaries, hits, held)
        packing = pack(
            candidates=candidates,
            budget=budget,
            pinned_budget=int(budget * self.config.context.recent_share),
            section_costs={"memory": memory_section_cost(self._counting)},
            token_exponent=self.config.context.token_exponent,
        )
        context = fit(packing.decisions, budget=budget, counter=self._counting)
        self._emit(
            ContextBuilt(
                session_id, budget, context.token_count, len(context.kept),
                len(context.left_out), context.tokens_per_tier(), time.perf_counter() - started,
            )
        )  # fmt: skip
        return context

    def _neighbors(
        self, hits: list[SearchHit], scope: Scope, named: frozenset[str]
    ) -> Flow[list[SearchHit]]:
        """Hits with the turns around the best of them: an answer often follows its question."""
        config = self.config.retrieval
        positions = neighbor_positions(hits, config) if config.neighbors else []
        fetched: list[MemoryRecord] = []
        if positions:
            # a few turns named by (session, seq): sifting them for the scope here beats
            # LanceDB intersecting a scope filter that, for a whole agent, holds every row
            found: list[MemoryRecord] = yield Fetch(Scope(turns_at=tuple(positions)))
            fetched = [r for r in found if scope.owns(r)]
        return with_neighbors(hits, fetched, config=config, named=named)

    def _candidates(
        self,
        units: list[list[MemoryRecord]],
        summaries: list[MemoryRecord],
        hits: list[SearchHit],
        held: Sequence[MemoryRecord] = (),
    ) -> list[Candidate]:
        by_id = {h.record.id: h for h in hits}
        candidates: list[Candidate] = []
        in_window: set[str] = set()
        for unit in reversed(units):  # newest first: the order pinning wants
            in_window.update(r.id for r in unit)
            hit = max((by_id[r.id] for r in unit if r.id in by_id), key=lambda h: h.score,
                      default=None)  # fmt: skip
            candidates.append(
                Candidate(
                    key=unit[0].id, tier=Tier.SHORT_TERM, records=tuple(unit),
                    tokens=sum(r.tokens for r in unit),
                    score=hit.score if hit else 0.0, parts=hit.parts if hit else None,
                    pinned=True, held=any(r.pinned for r in unit),
                )
            )  # fmt: skip
        summary_ids = {s.id for s in summaries}
        for summary in summaries:
            hit = by_id.get(summary.id)
            candidates.append(self._memory_candidate(summary, Tier.MEDIUM_TERM, hit))
        for record in held:
            if record.id not in in_window:
                candidate = self._memory_candidate(record, Tier.LONG_TERM, by_id.get(record.id))
                candidates.append(dataclasses.replace(candidate, held=True))
        taken = in_window | summary_ids | {r.id for r in held}
        for hit in hits:
            record = hit.record
            if record.id in taken:
                continue
            candidates.append(self._memory_candidate(record, Tier.LONG_TERM, hit))
        return candidates

    def _memory_candidate(
        self, record: MemoryRecord, tier: Tier, hit: SearchHit | None
    ) -> Candidate:
        # the same memories come back query after query: price each once; the hot index
        # hands back the very same record objects, so identity is the cheap first check
        known = self._priced_records.get((record.id, tier))
        if known is not None and known.records[0] is record:
            priced = known
        else:
            priced = self._price(record, tier)
            self._priced_records[(record.id, tier)] = priced
        # built directly: `dataclasses.replace` costs 2.7x as much, a few hundred times a context
        return Candidate(
            priced.key, priced.tier, priced.records, priced.tokens,
            hit.score if hit else 0.0, hit.parts if hit else _NO_PARTS, priced.pinned,
            priced.heading,
        )  # fmt: skip

    def _price(self, record: MemoryRecord, tier: Tier) -> Candidate:
        key = (
            record.id,
            record.text,
            record.timestamp,
            record.speaker,
            len(record.covered_seqs),
            tier,
        )
        priced = self._priced.get(key)
        if priced is None:
            if len(self._priced) >= _LINE_CACHE:
                self._priced.clear()
                self._priced_records.clear()
            priced = self._priced[key] = memory_candidate(
                record, tier=tier, score=0.0, parts=None, count=self._counting.count
            )
        return priced

    def _get(self, memory_id: str) -> Flow[MemoryRecord]:
        memory_id = v.require_id("memory_id", memory_id)
        found: list[MemoryRecord] = yield Fetch(self._alive(Scope(ids=(memory_id,))), limit=1)
        if not found:
            raise NotFoundError(f"memory_id: no record with id {memory_id!r}")
        return found[0]

    def _update(
        self,
        memory_id: str,
        text: str | None,
        importance: float | None,
        tags: Iterable[str] | None,
        metadata: Mapping[str, Any] | None,
        pinned: bool | None = None,
    ) -> Flow[MemoryRecord]:
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
        if tokens > self._message_limit():
            raise MessageTooLargeError(
                "text", f"has {tokens} tokens, more than the largest context"
            )
        updated = dataclasses.replace(updated, tokens=tokens)
        yield Upsert([updated], self.embedder.embed([self._embedding_text(updated)]))
        with self._lock:
            self._facts.pop(updated.owner, None)  # its text may have changed: read again
            session = self._sessions.get(updated.owner)
            if session is not None and updated.kind is Kind.TURN:
                session.window.replace(updated)
        return updated

    def _forget(self, memory_id: str) -> Flow[None]:
        record = yield from self._get(memory_id)
        yield Delete(Scope(ids=(record.id,)))
        with self._lock:
            self._facts.pop(record.owner, None)
            session = self._sessions.get(record.owner)
            if session is not None:
                session.window.remove(record.id)
                session.medium.pending = [r for r in session.medium.pending if r.id != record.id]
                session.medium.summaries = [
                    s for s in session.medium.summaries if s.id != record.id
                ]

    def _records(self, scope: Scope) -> Flow[list[MemoryRecord]]:
        found: list[MemoryRecord] = yield Fetch(self._alive(scope))
        return sorted(found, key=lambda r: (r.session_id or "", r.seq, r.timestamp, r.id))

    def _forget_scope(self, scope: Scope) -> Flow[int]:
        if scope.user_id is None and scope.agent_id is None and scope.session_id is None:
            raise InvalidInputError("scope", "name at least one of user_id, agent_id, session_id")
        count: int = yield Count(scope)
        if count:
            yield Delete(scope)
        with self._lock:
            # the in-memory tiers are rebuilt from the store when next used
            for owner in [o for o in self._sessions if scope.holds(o)]:
                del self._sessions[owner]
            self._facts.clear()
        return count

    @staticmethod
    def _alive(scope: Scope) -> Scope:
        """``scope`` without what has expired, by the clock read now."""
        return dataclasses.replace(scope, alive_at=micros(v.now()))

    def _rule(
        self,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        before: datetime | None,
        tags: Iterable[str] | None,
        kinds: Iterable[Kind | str] | None,
        exact: bool,
    ) -> Scope:
        """The scope a lifecycle call works on: at least one owner id, and its rules."""
        scope = self._listing(user_id, agent_id, session_id, kinds, tags, exact)
        if scope.user_id is None and scope.agent_id is None and scope.session_id is None:
            raise InvalidInputError("scope", "name at least one of user_id, agent_id, session_id")
        if before is not None:
            scope = dataclasses.replace(scope, before=micros(v.check_moment("before", before)))
        return scope

    def _forget_where(self, scope: Scope, dry_run: bool) -> Flow[ForgetReport]:
        report = yield from forget_flow(scope, dry_run=v.check_flag("dry_run", dry_run))
        if not dry_run and report.ids:
            self._dropped(scope)
        return report

    def _dropped(self, scope: Scope) -> None:
        """Records of ``scope`` changed under the in-memory tiers: rebuild them when used."""
        with self._lock:
            for owner in [o for o in self._sessions if scope.holds(o)]:
                del self._sessions[owner]
            for owner in [o for o in self._facts if scope.holds(o)]:
                del self._facts[owner]

    def _consolidate(
        self, scope: Scope, text_threshold: float, vector_threshold: float, dry_run: bool
    ) -> Flow[ConsolidationReport]:
        report = yield from consolidate_flow(
            self._alive(scope), self.embedder.embed,
            text=v.check_fraction("text_threshold", text_threshold),
            vector=v.check_fraction("vector_threshold", vector_threshold),
            dry_run=v.check_flag("dry_run", dry_run),
        )  # fmt: skip
        if not dry_run and report.merges:
            self._dropped(scope)
        return report

    def _stats(self, scope: Scope) -> Flow[dict[str, Any]]:
        counts: dict[str, int] = {}
        for kind in Kind:
            of_kind = dataclasses.replace(scope, kinds=(kind,))
            counts[_PLURAL[kind]] = yield Count(self._alive(of_kind))
        sessions: dict[str, dict[str, int]] = {}
        with self._lock:
            for owner, s in self._sessions.items():
                if not scope.holds(owner):
                    continue  # another user's window: not even its size
                # by session id, adding up the windows of the owners in this scope
                shown = sessions.setdefault(owner[2] or "", dict.fromkeys(_WINDOW_STATS, 0))
                shown["short_term_turns"] += len(s.window)
                shown["short_term_tokens"] += s.window.tokens
                shown["pending_turns"] += len(s.medium.pending)
                shown["summaries"] += len(s.medium.summaries)
        stats: dict[str, Any] = {"records": sum(counts.values()), **counts, "sessions": sessions}
        named = {"user_id": scope.user_id, "agent_id": scope.agent_id,
                 "session_id": scope.session_id}  # fmt: skip
        if any(named.values()):
            stats["scope"] = {k: value for k, value in named.items() if value is not None}
        for handler in self.callbacks:
            snapshot = getattr(handler, "snapshot", None)
            if callable(snapshot):
                stats["metrics"] = snapshot()
        return stats

    def _export_page(
        self, offset: int, limit: int, alive_at: int
    ) -> Flow[list[tuple[MemoryRecord, NDArray[np.float32]]]]:
        page: list[tuple[MemoryRecord, NDArray[np.float32]]] = yield Export(offset, limit, alive_at)
        return page

    def _import(
        self, items: Iterable[tuple[MemoryRecord, NDArray[np.float32]]], batch_size: int
    ) -> Flow[int]:
        batch_size = v.check_batch_size(batch_size)
        checked = self._checked_items(items)  # all of them: a bad one must not follow a write
        batch: list[tuple[MemoryRecord, NDArray[np.float32]]] = []
        total = 0
        for item in [*checked, None]:
            if item is not None:
                batch.append(item)
            if batch and (item is None or len(batch) >= batch_size):
                # upsert by id: importing the same file twice does not duplicate
                yield Upsert([r for r, _ in batch], np.stack([vec for _, vec in batch]))
                total += len(batch)
                batch = []
        with self._lock:
            self._sessions.clear()  # restored from the store on next use
            self._facts.clear()
        return total

    def _checked_items(
        self, items: Iterable[tuple[MemoryRecord, NDArray[np.float32]]]
    ) -> list[tuple[MemoryRecord, NDArray[np.float32]]]:
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
            raise InvalidInputError("items", "must be an iterable of (record, vector) pairs")
        dim = self.embedder.dimensions
        checked = []
        for i, item in enumerate(items):
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise InvalidInputError(f"items[{i}]", "must be a (record, vector) pair")
            record = v.check_record(f"items[{i}]", item[0])
            try:
                vector = np.asarray(item[1], dtype=np.float32)
            except (TypeError, ValueError, OverflowError):
                vector = np.zeros(0, dtype=np.float32)
            if vector.shape != (dim,) or not np.all(np.isfinite(vector)):
                raise InvalidInputError(f"items[{i}].vector", f"must be {dim} finite numbers")
            checked.append((record, vector))
        return checked

    def _optimize(self) -> Flow[int]:
        started = time.perf_counter()
        # no count first: a read would make the in-process index catch up on every upkeep
        yield Delete(Scope(expired_at=micros(v.now())))
        long_term = self.config.long_term
        # the in-process index serves vectors: LanceDB's own index would cost minutes of
        # CPU at 100k rows for reads that only a store opened with the hot path off makes
        vector_rows = long_term.vector_index_rows if self._hot is None else None
        rows: int = yield Optimize(vector_rows, long_term.keep_versions_seconds)
        self._emit(StoreMaintained("optimize", time.perf_counter() - started))
        return rows

    # --- public API: sync -----------------------------------------------------------

    def add_message(
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
    ) -> MemoryRecord:
        """Store a chat turn verbatim and push it into the session's short-term tier.

        A tool turn needs ``metadata["tool_call_id"]``; an assistant turn that calls
        tools lists them in ``metadata["tool_calls"]`` (each with an ``id``).
        ``importance`` weighs the turn when it is found by search; a ``pinned`` turn
        goes into every context of its session while the budget allows.
        """
        draft = self._draft(role, content, session_id, user_id, agent_id, timestamp, metadata,
                            importance, pinned)  # fmt: skip
        return self._drive(self._add_messages([draft]))[0]

    def add_messages(
        self,
        messages: Iterable[Mapping[str, Any]],
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> list[MemoryRecord]:
        """Store many turns of one session in one write (bulk ingest).

        Each message is a mapping with ``role``, ``content`` and optionally
        ``timestamp``, ``metadata``, ``importance`` and ``pinned``. All are validated
        before anything is written.
        """
        drafts = self._drafts(messages, session_id, user_id, agent_id)
        return self._drive(self._add_messages(drafts))

    def remember(
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
    ) -> MemoryRecord:
        """Store an explicit long-term memory (a fact, a preference) in a scope.

        The same text again in the same scope (ignoring case and spacing) is the same
        memory: it is returned with the higher importance and both sets of tags, not
        stored twice. ``deduplicate=False`` keeps each call's record (a keyed store).
        A memory with ``expires_at`` (or ``ttl``, a timedelta or seconds from now) is
        no longer seen from then on, and `optimize` deletes it.
        """
        return self._drive(
            self._remember(
                text, user_id, agent_id, session_id, importance, tags, metadata, deduplicate,
                expires_at, ttl,
            )
        )  # fmt: skip

    def search(
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
    ) -> list[SearchHit]:
        """Hybrid full-text and vector search of the long-term tier, within a scope.

        An id left None spans every value (a user's search spans their sessions), unless
        ``exact``: then None matches only records without that id. ``exclude_recent``
        skips the turns held in the scope's short-term windows, which an agent already
        sees in its context (the question just asked is no answer to itself).
        """
        scope = self._scope(user_id, agent_id, session_id, tags, exact)
        return self._drive(self._search(query, k, scope, exclude_recent))

    def build_context(
        self,
        query: str | None = None,
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
        max_tokens: int | None = None,
    ) -> Context:
        """The best context for ``query`` that fits ``max_tokens`` (exactly counted).

        Without a query, the session's last user turn is used to find memories.
        """
        return self._drive(self._build_context(query, session_id, user_id, agent_id, max_tokens))

    def get(self, memory_id: str) -> MemoryRecord:
        """The record with this id; `NotFoundError` if there is none."""
        return self._drive(self._get(memory_id))

    def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        importance: float | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        pinned: bool | None = None,
    ) -> MemoryRecord:
        """Change a record in place (its vector follows its text); ``pinned`` pins or
        unpins a turn."""
        return self._drive(self._update(memory_id, text, importance, tags, metadata, pinned))

    def forget(self, memory_id: str) -> None:
        """Delete a record from every tier; `NotFoundError` if there is none."""
        self._drive(self._forget(memory_id))

    def records(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        kinds: Iterable[Kind | str] | None = None,
        tags: Iterable[str] | None = None,
        exact: bool = False,
    ) -> list[MemoryRecord]:
        """Every record in a scope, no query: by session, then in conversation order.

        With ``exact``, an id left None matches only records without that id: the one
        (user, agent, session) a chat history belongs to, not everyone in that session.
        """
        scope = self._listing(user_id, agent_id, session_id, kinds, tags, exact)
        return self._drive(self._records(scope))

    def forget_scope(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        exact: bool = False,
    ) -> int:
        """Delete every record of a user, agent or session (at least one must be named).

        With ``exact``, an id left None matches only records without that id.
        """
        scope = self._scope(user_id, agent_id, session_id, exact=exact)
        return self._drive(self._forget_scope(scope))

    def forget_where(
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
    ) -> ForgetReport:
        """Delete the records of a scope (at least one id named) that match every rule
        given: older than ``before``, holding any of ``tags``, of one of ``kinds``.

        The summaries covering a forgotten turn go too (they hold its text). With
        ``dry_run`` nothing changes and the report says what would go.
        """
        scope = self._rule(user_id, agent_id, session_id, before, tags, kinds, exact)
        return self._drive(self._forget_where(scope, dry_run))

    def consolidate(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        exact: bool = False,
        text_threshold: float = 0.6,
        vector_threshold: float = 0.85,
        dry_run: bool = False,
    ) -> ConsolidationReport:
        """Merge the explicit memories of a scope that say the same thing (no LLM).

        Two memories of one owner are the same when equal ignoring case, spacing and
        punctuation, or when their words overlap by ``text_threshold`` (Jaccard) and
        their vectors by ``vector_threshold`` (cosine); never when one negates what the
        other says. One is kept, with the highest importance, every tag and
        ``metadata["merged_from"]`` listing the ids merged into it; the rest are deleted.
        """
        scope = self._rule(user_id, agent_id, session_id, None, None, None, exact)
        return self._drive(self._consolidate(scope, text_threshold, vector_threshold, dry_run))

    def stats(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Record counts per kind (within a scope when one is named), the loaded
        sessions' short-term windows, and metrics of any `MetricsCallback`."""
        return self._drive(self._stats(self._scope(user_id, agent_id, session_id)))

    def optimize(self) -> None:
        """Compact the store and bring its indexes up to date (off the hot path)."""
        self._drive(self._optimize())

    def export_records(
        self, *, batch_size: int = 1_000
    ) -> Iterator[tuple[MemoryRecord, NDArray[np.float32]]]:
        """Every record with its vector, page by page: what `import_records` takes back."""
        return self._pages(v.check_batch_size(batch_size))

    def _pages(self, batch_size: int) -> Iterator[tuple[MemoryRecord, NDArray[np.float32]]]:
        offset = 0
        alive_at = micros(v.now())  # one clock for every page: expiries cannot shift them
        while True:
            page = self._drive(self._export_page(offset, batch_size, alive_at))
            yield from page
            if len(page) < batch_size:
                return
            offset += batch_size

    def import_records(
        self, items: Iterable[tuple[MemoryRecord, NDArray[np.float32]]], *, batch_size: int = 1_000
    ) -> int:
        """Write exported records back, ids and vectors unchanged; returns how many."""
        return self._drive(self._import(items, batch_size))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._maintainer.wait()
        self._shut = True  # after upkeep in flight has finished its own calls
        if self._hot is not None:
            self._hot.close()
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    # --- public API: async ----------------------------------------------------------

    async def aadd_message(
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
    ) -> MemoryRecord:
        """Async `add_message`."""
        draft = self._draft(role, content, session_id, user_id, agent_id, timestamp, metadata,
                            importance, pinned)  # fmt: skip
        return (await self._adrive(self._add_messages([draft])))[0]

    async def aadd_messages(
        self,
        messages: Iterable[Mapping[str, Any]],
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> list[MemoryRecord]:
        """Async `add_messages`."""
        drafts = self._drafts(messages, session_id, user_id, agent_id)
        return await self._adrive(self._add_messages(drafts))

    async def aremember(
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
    ) -> MemoryRecord:
        """Async `remember`."""
        return await self._adrive(
            self._remember(
                text, user_id, agent_id, session_id, importance, tags, metadata, deduplicate,
                expires_at, ttl,
            )
        )  # fmt: skip

    async def asearch(
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
    ) -> list[SearchHit]:
        """Async `search`."""
        scope = self._scope(user_id, agent_id, session_id, tags, exact)
        return await self._adrive(self._search(query, k, scope, exclude_recent))

    async def abuild_context(
        self,
        query: str | None = None,
        *,
        session_id: str = "default",
        user_id: str | None = None,
        agent_id: str | None = None,
        max_tokens: int | None = None,
    ) -> Context:
        """Async `build_context`."""
        return await self._adrive(
            self._build_context(query, session_id, user_id, agent_id, max_tokens)
        )

    async def aget(self, memory_id: str) -> MemoryRecord:
        """Async `get`."""
        return await self._adrive(self._get(memory_id))

    async def aupdate(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        importance: float | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        pinned: bool | None = None,
    ) -> MemoryRecord:
        """Async `update`."""
        return await self._adrive(self._update(memory_id, text, importance, tags, metadata, pinned))

    async def aforget(self, memory_id: str) -> None:
        """Async `forget`."""
        await self._adrive(self._forget(memory_id))

    async def arecords(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        kinds: Iterable[Kind | str] | None = None,
        tags: Iterable[str] | None = None,
        exact: bool = False,
    ) -> list[MemoryRecord]:
        """Async `records`."""
        scope = self._listing(user_id, agent_id, session_id, kinds, tags, exact)
        return await self._adrive(self._records(scope))

    async def aforget_scope(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        exact: bool = False,
    ) -> int:
        """Async `forget_scope`."""
        scope = self._scope(user_id, agent_id, session_id, exact=exact)
        return await self._adrive(self._forget_scope(scope))

    async def aforget_where(
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
    ) -> ForgetReport:
        """Async `forget_where`."""
        scope = self._rule(user_id, agent_id, session_id, before, tags, kinds, exact)
        return await self._adrive(self._forget_where(scope, dry_run))

    async def aconsolidate(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        exact: bool = False,
        text_threshold: float = 0.6,
        vector_threshold: float = 0.85,
        dry_run: bool = False,
    ) -> ConsolidationReport:
        """Async `consolidate`."""
        scope = self._rule(user_id, agent_id, session_id, None, None, None, exact)
        return await self._adrive(
            self._consolidate(scope, text_threshold, vector_threshold, dry_run)
        )

    async def astats(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Async `stats`."""
        return await self._adrive(self._stats(self._scope(user_id, agent_id, session_id)))

    async def aoptimize(self) -> None:
        """Async `optimize`."""
        await self._adrive(self._optimize())

    def aexport_records(
        self, *, batch_size: int = 1_000
    ) -> AsyncIterator[tuple[MemoryRecord, NDArray[np.float32]]]:
        """Async `export_records` (iterate it with ``async for``)."""
        return self._apages(v.check_batch_size(batch_size))

    async def _apages(
        self, batch_size: int
    ) -> AsyncIterator[tuple[MemoryRecord, NDArray[np.float32]]]:
        offset = 0
        alive_at = micros(v.now())  # one clock for every page: expiries cannot shift them
        while True:
            page = await self._adrive(self._export_page(offset, batch_size, alive_at))
            for item in page:
                yield item
            if len(page) < batch_size:
                return
            offset += batch_size

    async def aimport_records(
        self, items: Iterable[tuple[MemoryRecord, NDArray[np.float32]]], *, batch_size: int = 1_000
    ) -> int:
        """Async `import_records`."""
        return await self._adrive(self._import(items, batch_size))

    async def aclose(self) -> None:
        """Async `close`."""
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

    # --- health (the checks live in health.py) ----------------------------------------

    def health(self) -> HealthReport:
        """Check the store and this process against ``config.health``; never raises."""
        found = diagnose(self._store, self.config, self.callbacks, self._hot)
        self._emit(HealthChecked(found.status.value, _statuses(found), found.seconds))
        return found

    async def ahealth(self) -> HealthReport:
        """Async `health`."""
        found = await adiagnose(self._store, self.config, self.callbacks, self._hot)
        self._emit(HealthChecked(found.status.value, _statuses(found), found.seconds))
        return found


def _statuses(found: HealthReport) -> dict[str, str]:
    return {check.name: check.status.value for check in found.checks}
