"""Synthetic chat turns for the hot index tests: deterministic, with real stop words."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np

from tiermem.records import Kind, MemoryRecord

_CONTENT = """lisbon porto kyoto oslo nairobi lima montreal seville bergen hanoi tickets apartment
guitar invoice passport bicycle laptop garden wedding dentist flight recipe concert lease
puppy kitten insurance piano camera marathon thesis interview promotion painting sofa kayak
tent backpack visa contract birthday roof boiler gym pottery novel podcast vaccine mortgage
budget salary bonus scooter train hotel museum festival workshop deadline report cake dinner
picnic hiking vacation refund warranty charger headphones sneakers jacket umbrella balcony
booked bought sold moved cancelled visited fixed painted borrowed returned ordered planned
started finished running runs runner ran organised organising maya liam sofia noah aiko mateo
zara omar elena jonas priya lucas café naïve résumé""".split()
_FILLER = """the a an and or but so because then also really just maybe quite very still already
again soon later today tomorrow yesterday i you we they he she it my your our their this that
these those there here what when where how why which who is was were be been being have has
had do did does will would can could should might must about after before with from into
over under between through for of on in at to by up down out off not no yes ourselves
themselves yourselves once only any above during""".split()
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def sentence(rng: random.Random) -> str:
    words = [rng.choice(_CONTENT) if rng.random() < 0.4 else rng.choice(_FILLER)
             for _ in range(rng.randint(4, 30))]  # fmt: skip
    return " ".join(words).capitalize() + rng.choice([".", "?", "!", ""])


def turns(
    count: int, *, seed: int = 1, user_id: str | None = "u1", agent_id: str | None = None,
    session_id: str = "s1", prefix: str = "r",
) -> list[MemoryRecord]:  # fmt: skip
    rng = random.Random(seed)
    return [
        MemoryRecord(
            id=f"{prefix}{i:06d}",
            kind=Kind.TURN,
            text=sentence(rng),
            timestamp=BASE + timedelta(minutes=i),
            role="user" if i % 2 == 0 else "assistant",
            session_id=session_id,
            user_id=user_id,
            agent_id=agent_id,
            seq=i,
            tokens=10 + i % 7,
        )
        for i in range(count)
    ]


def queries(count: int, *, seed: int = 99) -> list[str]:
    rng = random.Random(seed)
    return [sentence(rng) for _ in range(count)]


def embedded(rows: int, *, seed: int, queries_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of ``rows`` synthetic turns and of ``queries_count`` questions, by the
    default embedder."""
    from tiermem.static_embedding import StaticEmbedder

    embedder = StaticEmbedder()
    matrix = embedder.embed([r.text for r in turns(rows, seed=seed)])
    asked = embedder.embed(queries(queries_count))
    return np.asarray(matrix, np.float32), np.asarray(asked, np.float32)


def exact_top(matrix: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
    """The ``k`` rows nearest ``query`` by cosine, by brute force, best first."""
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    sims = unit[rows] @ (query / np.linalg.norm(query))
    return rows[np.argsort(-sims, kind="stable")[:k]].tolist()
