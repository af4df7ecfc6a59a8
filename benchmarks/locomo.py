"""LoCoMo for benchmarks: loading, evidence-id normalisation, and evidence recall.

LoCoMo (Maharana et al., ACL 2024) is a set of very long two-person conversations
with questions whose answers sit in given turns (``evidence`` = their ``dia_id``s).
The data is CC BY-NC 4.0 and is never copied into this repository: benchmarks take
its path as an argument. Import this module from any script in ``benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORIES",
    "DEFAULT_BUDGETS",
    "DOWNLOAD",
    "Conversation",
    "Dataset",
    "Question",
    "Turn",
    "contains",
    "evidence_found",
    "load",
    "normalise_evidence",
    "normalise_space",
    "parse_args",
    "parse_session_date",
    "parser",
]

#: Where users get the full set (this project never ships it).
DOWNLOAD = "https://github.com/snap-research/LoCoMo (file data/locomo10.json, CC BY-NC 4.0)"

#: The scored categories; 5 (adversarial) wants an abstention, so it has no evidence recall.
CATEGORIES: dict[int, str] = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}

#: context budgets in tokens that the benchmarks measure unless told otherwise
DEFAULT_BUDGETS = (500, 1000, 2000, 4000)

_SESSION_KEY = re.compile(r"session_(\d+)")
# "D11:26", plus the malformed "D:11:26" and zero-padded "D30:05" seen in the original
_EVIDENCE_ID = re.compile(r"D:?(\d+):(\d+)")
_SESSION_DATE = "%I:%M %p on %d %B, %Y"


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance, as a memory system sees it (``content``) and as evidence (``text``)."""

    dia_id: str
    session: int
    index: int
    speaker: str
    role: str
    text: str
    content: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Question:
    """A scored question: category 1-4, with at least one evidence turn that exists."""

    question: str
    category: int
    evidence: tuple[str, ...]
    #: the evidence turns' ``text``, whitespace-normalised, in ``evidence`` order
    evidence_texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    speaker_a: str
    speaker_b: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    """Conversations, and what the evidence clean-up had to drop (categories 1-4 only)."""

    conversations: tuple[Conversation, ...]
    dropped_ids: int
    questions_without_evidence: int
    dropped_examples: tuple[str, ...]


def normalise_space(text: str) -> str:
    """Runs of whitespace become one space, ends are stripped."""
    return " ".join(text.split())


def contains(context: str, text: str) -> bool:
    """Whether ``text`` is in ``context``, both whitespace-normalised by the caller."""
    return bool(text) and text in context


def parse_session_date(value: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` as an aware UTC datetime."""
    return datetime.strptime(normalise_space(value), _SESSION_DATE).replace(tzinfo=UTC)


def normalise_evidence(raw: Iterable[str]) -> tuple[list[str], list[str]]:
    """Readable ids in canonical form (``D11:26``) and the pieces that cannot be read.

    Splits on ``;`` and whitespace (``"D8:6; D9:17"``), repairs ``"D:11:26"`` and drops
    leading zeros (``"D30:05"`` is ``"D30:5"``); order is kept, duplicates removed.
    """
    ids: list[str] = []
    unreadable: list[str] = []
    for item in raw:
        for piece in str(item).replace(";", " ").split():
            match = _EVIDENCE_ID.fullmatch(piece)
            if match is None:
                unreadable.append(piece)
                continue
            canonical = f"D{int(match[1])}:{int(match[2])}"
            if canonical not in ids:
                ids.append(canonical)
    return ids, unreadable


def _turns(conversation: dict[str, Any]) -> list[Turn]:
    speaker_a = conversation["speaker_a"]
    sessions = sorted(
        int(m[1]) for key in conversation if (m := _SESSION_KEY.fullmatch(key)) is not None
    )
    turns: list[Turn] = []
    for number in sessions:
        started = parse_session_date(conversation[f"session_{number}_date_time"])
        for index, raw in enumerate(conversation[f"session_{number}"]):
            text = raw["text"]
            caption = raw.get("blip_caption")
            # the photo is part of what was said; the evidence text stays verbatim inside
            content = f"{text} [shares a photo: {caption}]" if caption else text
            turns.append(
                Turn(
                    dia_id=raw["dia_id"],
                    session=number,
                    index=index,
                    speaker=raw["speaker"],
                    role="user" if raw["speaker"] == speaker_a else "assistant",
                    text=text,
                    content=content,
                    # one second per turn keeps the order within a session
                    timestamp=started + timedelta(seconds=index),
                )
            )
    return turns


def load(path: str | os.PathLike[str]) -> Dataset:
    """Read a LoCoMo JSON file (a list of conversations); only turns and scored questions.

    ``event_summary``, ``observation`` and ``session_summary`` are never read: a memory
    system under test sees the turns only.
    """
    with open(path, encoding="utf-8") as handle:
        records: list[dict[str, Any]] = json.load(handle)
    conversations: list[Conversation] = []
    dropped = 0
    without = 0
    examples: list[str] = []
    for record in records:
        conversation = record["conversation"]
        turns = _turns(conversation)
        known = {t.dia_id: t for t in turns}
        questions: list[Question] = []
        for qa in record.get("qa", []):
            category = int(qa["category"])
            if category not in CATEGORIES:
                continue
            ids, unreadable = normalise_evidence(qa.get("evidence", []))
            missing = [i for i in ids if i not in known]
            lost = [*unreadable, *missing]
            dropped += len(lost)
            examples.extend(f"{record['sample_id']}:{piece}" for piece in lost)
            evidence = tuple(i for i in ids if i in known)
            if not evidence:
                without += 1
                continue
            texts = tuple(normalise_space(known[i].text) for i in evidence)
            questions.append(Question(str(qa["question"]), category, evidence, texts))
        conversations.append(
            Conversation(
                sample_id=str(record["sample_id"]),
                speaker_a=conversation["speaker_a"],
                speaker_b=conversation["speaker_b"],
                turns=tuple(turns),
                questions=tuple(questions),
            )
        )
    return Dataset(tuple(conversations), dropped, without, tuple(examples))


def evidence_found(question: Question, context: str) -> int:
    """How many of the question's evidence turns appear verbatim (whitespace-normalised)."""
    haystack = normalise_space(context)
    return sum(contains(haystack, text) for text in question.evidence_texts)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """What every LoCoMo benchmark takes: the data file, the budgets, a cap on questions."""
    made = argparse.ArgumentParser(
        prog=prog, description=description, epilog=f"Get the full LoCoMo from {DOWNLOAD}."
    )
    made.add_argument("data", type=Path, help="a LoCoMo JSON file, e.g. locomo10.json")
    made.add_argument(
        "--budgets", type=int, nargs="+", default=list(DEFAULT_BUDGETS), metavar="B",
        help="context budgets in tokens (default: %(default)s)",
    )  # fmt: skip
    made.add_argument(
        "--questions", type=int, default=None, metavar="N",
        help="only the first N scored questions of each conversation",
    )  # fmt: skip
    return made


def parse_args(made: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``made``'s arguments, with the budgets positive, sorted and each once."""
    args = made.parse_args(argv)
    if any(b <= 0 for b in args.budgets):
        made.error("--budgets must be positive")
    args.budgets = sorted(set(args.budgets))
    return args
