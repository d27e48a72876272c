"""The bAbI text format (facebook bAbI tasks v1.2): parser, writer and task names.

A bAbI file is a sequence of *stories*. Every line starts with a line ID; the ID
restarts at 1 where a new story starts. A statement line is ``ID text``; a question
line is ``ID question<TAB>answer<TAB>supporting IDs``, e.g.::

    1 Mary moved to the bathroom.
    2 John went to the hallway.
    3 Where is Mary? \tbathroom\t1

Answers may be comma-separated lists (task 8 ``apple,milk``, task 19 ``n,w``); they
are kept verbatim as one string.

One :class:`Story` is one question with its context: the statements of its story
seen before the question (question lines are not part of the context), the standard
way bAbI QA samples are built. ``Story.supporting`` holds **1-based positions in
``Story.context``**, not the file's line IDs (which also count question lines); the
parser and the writer translate between the two, so ``parse_babi(format_babi(x)) == x``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from ..errors import UserError

#: Official file-name stem of each task of bAbI v1.2 (``qa{N}_{name}_{split}.txt``).
TASK_NAMES = {
    1: "single-supporting-fact",
    2: "two-supporting-facts",
    3: "three-supporting-facts",
    4: "two-arg-relations",
    5: "three-arg-relations",
    6: "yes-no-questions",
    7: "counting",
    8: "lists-sets",
    9: "simple-negation",
    10: "indefinite-knowledge",
    11: "basic-coreference",
    12: "conjunction",
    13: "compound-coreference",
    14: "time-reasoning",
    15: "basic-deduction",
    16: "basic-induction",
    17: "positional-reasoning",
    18: "size-reasoning",
    19: "path-finding",
    20: "agents-motivations",
}

_TASK_FROM_NAME = re.compile(r"^qa(\d+)_")


@dataclass(frozen=True)
class Story:
    """One bAbI question with the context it is asked in.

    :ivar context: The story's statements before the question, oldest first.
    :ivar question: The question text (e.g. ``"Where is Mary?"``).
    :ivar answer: The answer, verbatim (lists stay comma-joined: ``"apple,milk"``).
    :ivar supporting: 1-based positions in ``context`` of the supporting facts.
    :ivar task: bAbI task number 1..20 (0 when unknown).
    """

    context: List[str]
    question: str
    answer: str
    supporting: Tuple[int, ...]
    task: int


def task_file_name(task: int, split: str) -> str:
    """Official file name of ``task`` (1..20) and ``split`` (``"train"``/``"test"``)."""
    return f"qa{task}_{TASK_NAMES[task]}_{split}.txt"


def task_from_file_name(path: Path) -> Optional[int]:
    """Task number from an official file name (``qa12_conjunction_train.txt`` -> 12)."""
    match = _TASK_FROM_NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- parsing


class _StoryState:
    """Statements of the story being parsed, keyed by their line IDs."""

    def __init__(self) -> None:
        self.context: List[str] = []
        self.position_of_id: dict = {}  # statement line ID -> 1-based context position
        self.last_id = 0


def _fail(source: str, lineno: int, what: str) -> UserError:
    return UserError(f"{source}:{lineno}: {what}")


def _parse_supporting(field: str, state: _StoryState, source: str, lineno: int) -> Tuple[int, ...]:
    positions = []
    for token in field.split():
        if not token.isdigit():
            raise _fail(source, lineno, f"supporting fact ID {token!r} is not a number")
        position = state.position_of_id.get(int(token))
        if position is None:
            raise _fail(source, lineno, f"supporting fact ID {token} is not an earlier statement of this story")
        positions.append(position)
    return tuple(positions)


def _parse_question(rest: str, state: _StoryState, task: int, source: str, lineno: int) -> Story:
    fields = rest.split("\t")
    if len(fields) not in (2, 3):
        raise _fail(source, lineno, f"a question line needs 'question<TAB>answer<TAB>supporting IDs', "
                                    f"found {len(fields)} tab-separated fields")
    question, answer = fields[0].strip(), fields[1].strip()
    if not question:
        raise _fail(source, lineno, "empty question")
    if not answer:
        raise _fail(source, lineno, "empty answer")
    supporting = _parse_supporting(fields[2] if len(fields) == 3 else "", state, source, lineno)
    return Story(list(state.context), question, answer, supporting, task)


def parse_babi(text: str, *, source: str = "<string>", task: int = 0) -> List[Story]:
    """Parse bAbI-format ``text`` into one :class:`Story` per question line.

    :param source: File name used in error messages.
    :param task: Task number stored in every story.
    :raises UserError: ``source:line: what is wrong`` for malformed input (missing or
        non-consecutive line ID, wrong number of tab fields, empty text, supporting
        IDs that are not earlier statements of the same story).
    """
    stories: List[Story] = []
    state = _StoryState()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip("\r\n")
        if not line.strip():
            continue
        id_text, _, rest = line.partition(" ")
        if not id_text.isdigit():
            raise _fail(source, lineno, f"expected a line ID (a number) at the start, found {id_text[:20]!r}")
        line_id = int(id_text)
        if line_id == 1:
            state = _StoryState()
        elif line_id != state.last_id + 1:
            raise _fail(source, lineno, f"line ID {line_id} does not follow ID {state.last_id} "
                                        "(IDs count up by one and restart at 1 for a new story)")
        state.last_id = line_id
        if "\t" in rest:
            stories.append(_parse_question(rest, state, task, source, lineno))
            continue
        statement = rest.strip()
        if not statement:
            raise _fail(source, lineno, "empty statement")
        state.context.append(statement)
        state.position_of_id[line_id] = len(state.context)
    return stories


def read_babi_file(path: Path, task: Optional[int] = None) -> List[Story]:
    """Read one bAbI file; ``task`` defaults to the number in the official file name.

    :raises UserError: unreadable or malformed file (message names file and line).
    """
    path = Path(path)
    if task is None:
        task = task_from_file_name(path) or 0
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read bAbI file: {exc}") from None
    return parse_babi(text, source=str(path), task=task)


# --------------------------------------------------------------------------- writing


def _continues(previous: Optional[Story], story: Story) -> bool:
    """True if ``story`` can be written as a later question of ``previous``'s story."""
    if previous is None or previous.task != story.task:
        return False
    n = len(previous.context)
    return len(story.context) >= n and story.context[:n] == previous.context


def _check_writable(story: Story) -> None:
    for text in [*story.context, story.question, story.answer]:
        if not text or text != text.strip() or any(c in text for c in "\t\r\n"):
            raise ValueError(f"bAbI text must be non-empty and stripped, without tabs or newlines: {text!r}")
    if any(not 1 <= p <= len(story.context) for p in story.supporting):
        raise ValueError(f"supporting positions {story.supporting} outside the context of {story.question!r}")


def format_babi(stories: Iterable[Story]) -> str:
    """Write ``stories`` in the bAbI format (inverse of :func:`parse_babi`).

    Consecutive stories of one task whose contexts extend each other are written as
    one bAbI story with several questions, as in the official files; question lines
    end the question with ``" \\t"`` like the official files do.

    :raises ValueError: text with tabs/newlines, or supporting positions out of range.
    """
    lines: List[str] = []
    previous: Optional[Story] = None
    statement_ids: List[int] = []  # line IDs of the current story's statements
    next_id = 1
    for story in stories:
        _check_writable(story)
        if not _continues(previous, story):
            statement_ids, next_id = [], 1
        for text in story.context[len(statement_ids):]:
            lines.append(f"{next_id} {text}")
            statement_ids.append(next_id)
            next_id += 1
        supporting = " ".join(str(statement_ids[p - 1]) for p in story.supporting)
        lines.append(f"{next_id} {story.question} \t{story.answer}\t{supporting}")
        next_id += 1
        previous = story
    return "".join(line + "\n" for line in lines)


def write_babi_file(path: Path, stories: Sequence[Story]) -> None:
    """Write ``stories`` to ``path`` in the bAbI format (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_babi(stories), encoding="utf-8")
