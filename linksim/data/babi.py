"""bAbI question answering (en-10k) for Mem-DeepSC: loading, download, encoding, dataset.

Sources
-------
* ``official``: facebook bAbI tasks v1.2, ``tasks_1-20_v1-2/en-10k/qa{N}_{name}_{split}.txt``,
  read from a local folder (``path``, ``$LINKSIM_BABI_DIR``, or the cache, which
  :func:`fetch_babi` fills from :data:`BABI_URL` after checking :data:`BABI_SHA256`).
* ``embedded``: linksim's own generator (:mod:`.babi_generator`), offline, *not the
  paper's data*; :meth:`BabiDataset.provenance` says so.

Split (paper: "8k examples for training, 1k for validation, 1k for testing")
---------------------------------------------------------------------------
en-10k has 10000 train and 1000 test questions per task. linksim takes, per task,
train = the first ``num_train`` (8000) questions of the train file, valid = the next
``num_valid`` (1000), test = the first ``num_test`` (1000) of the official test file;
the last 1000 train-file questions are unused. (The paper's sentence could also mean
an 8k/1k/1k split of the train file alone; linksim keeps the official test file as the
test set.) Questions are split in file order, not at story boundaries, so the first
valid questions may share their story (context) with the last train questions.

Encoding
--------
Text is lower-cased and split into words and punctuation (:func:`tokenize`). The
:class:`Vocabulary` (``PAD = 0``, ``UNK = 1``, then sorted tokens) is built from all
splits (the closed bAbI world, as in the reference memory-network code). An answer is
*one* vocabulary token, verbatim and lower-cased, even a list (``"apple,milk"``) or a
path (``"n,w"``): the receiver classifies over the vocabulary, ``num_answers = len(vocab)``.
The memory keeps the last ``T`` context sentences, the latest in row ``T - 1``; a shorter
context is preceded by all-PAD rows (the zero entries of the memory queue for k < 0).
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Literal, Optional, Sequence

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from ..errors import DataUnavailableError, UserError
from ..registry import ParamsModel, datasets
from .babi_format import TASK_NAMES, Story, read_babi_file, task_file_name
from .babi_generator import GENERATOR_VERSION, SUPPORTED_TASKS, generate_babi
from .download import cache_root, download_file, extract_members, safe_members, verify_checksum

BABI_URL = "http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz"
#: SHA-256 of the v1.2 tarball at :data:`BABI_URL` (15719851 bytes).
BABI_SHA256 = "0364ebde659f14d11bc21744516c5ec49d3d06cb692733f66680771244998898"
ARCHIVE_NAME = "tasks_1-20_v1-2.tar.gz"
EN10K_SUBDIR = Path("tasks_1-20_v1-2") / "en-10k"
ENV_VAR = "LINKSIM_BABI_DIR"
SPLITS = ("train", "valid", "test")

#: Questions per task in an official en-10k train file and test file.
OFFICIAL_TRAIN_QUESTIONS = 10000
OFFICIAL_TEST_QUESTIONS = 1000
#: Bounds of the ``babi`` dataset parameters: per-task questions (10x en-10k), memory
#: length T (the longest official story has a few hundred sentences) and the memory
#: rows of all encoded splits, ``tasks x (num_train + num_valid + num_test) x T``
#: (about 1 GB of int32 token ids at the limit).
MAX_QUESTIONS_PER_TASK = 100_000
MAX_MEMORY_LENGTH = 1000
MAX_MEMORY_SLOTS = 2 * 10**7

_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_urlopen = urllib.request.urlopen  # replaced in tests


# --------------------------------------------------------------------------- tokens


def tokenize(text: str) -> List[str]:
    """Lower-case ``text`` and split it into words and single punctuation marks.

    ``"Where is Mary?"`` -> ``["where", "is", "mary", "?"]``.
    """
    return _TOKEN.findall(text.lower())


def answer_token(answer: str) -> str:
    """The single vocabulary token of an answer (lower-cased, lists kept whole)."""
    return answer.strip().lower()


class Vocabulary:
    """Token <-> id table: ``PAD = 0``, ``UNK = 1``, then the given tokens in order."""

    PAD = 0
    UNK = 1
    SPECIALS = ("<pad>", "<unk>")

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens: List[str] = list(self.SPECIALS)
        for token in tokens:
            if token not in self.SPECIALS:
                self.tokens.append(token)
        self._ids = {t: i for i, t in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            raise ValueError("vocabulary tokens must be unique")

    @classmethod
    def build(cls, stories: Iterable[Story]) -> "Vocabulary":
        """Sorted words of every context sentence, question and answer token."""
        stories = list(stories)
        words = {word for sentence in unique_sentences(stories) for word in tokenize(sentence)}
        words.update(answer_token(story.answer) for story in stories)
        return cls(sorted(words))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def id(self, token: str) -> int:
        """Id of ``token`` (``UNK`` if unknown)."""
        return self._ids.get(token, self.UNK)

    def encode(self, text: str, max_words: int) -> np.ndarray:
        """``[max_words]`` int32 ids of ``text``'s tokens, PAD-filled, truncated."""
        ids = [self.id(t) for t in tokenize(text)[:max_words]]
        out = np.zeros(max_words, dtype=np.int32)
        out[: len(ids)] = ids
        return out

    def decode(self, ids: Iterable[int]) -> List[str]:
        """Tokens of ``ids``, PAD dropped."""
        return [self.tokens[i] for i in ids if i != self.PAD]


@dataclass(frozen=True)
class EncodedSplit:
    """One split as padded integer arrays (N samples, T memory slots, W words).

    :ivar context: ``[N, T, W]`` int32: the last T context sentences, latest in row
        ``T - 1``, earlier rows all PAD when the context is shorter.
    :ivar question: ``[N, W]`` int32.
    :ivar answer: ``[N]`` int32 vocabulary id of the answer token.
    :ivar num_sentences: ``[N]`` int32 number of non-empty memory rows (<= T).
    :ivar task: ``[N]`` int32 bAbI task number.
    """

    context: np.ndarray
    question: np.ndarray
    answer: np.ndarray
    num_sentences: np.ndarray
    task: np.ndarray

    def __len__(self) -> int:
        return int(self.answer.shape[0])


def unique_sentences(stories: Iterable[Story]) -> List[str]:
    """Every distinct context sentence and question, in first-seen order."""
    seen: Dict[str, None] = {}
    for story in stories:
        seen.update(dict.fromkeys(story.context))
        seen[story.question] = None
    return list(seen)


def max_sentence_words(stories: Iterable[Story]) -> int:
    """Longest context sentence or question, in tokens."""
    return max((len(tokenize(s)) for s in unique_sentences(stories)), default=0)


def encode_stories(stories: Sequence[Story], vocab: Vocabulary, memory_length: int,
                   max_words: int) -> EncodedSplit:
    """Encode ``stories`` into :class:`EncodedSplit` arrays (T = ``memory_length``)."""
    n = len(stories)
    context = np.zeros((n, memory_length, max_words), dtype=np.int32)
    question = np.zeros((n, max_words), dtype=np.int32)
    answer = np.zeros(n, dtype=np.int32)
    num_sentences = np.zeros(n, dtype=np.int32)
    task = np.zeros(n, dtype=np.int32)
    cache: Dict[str, np.ndarray] = {}

    def encoded(sentence: str) -> np.ndarray:
        if sentence not in cache:
            cache[sentence] = vocab.encode(sentence, max_words)
        return cache[sentence]

    for i, story in enumerate(stories):
        recent = story.context[-memory_length:] if memory_length else []
        offset = memory_length - len(recent)
        for j, sentence in enumerate(recent):
            context[i, offset + j] = encoded(sentence)
        question[i] = encoded(story.question)
        answer[i] = vocab.id(answer_token(story.answer))
        num_sentences[i] = len(recent)
        task[i] = story.task
    return EncodedSplit(context, question, answer, num_sentences, task)


# --------------------------------------------------------------------------- local files


def check_tasks(tasks: Iterable[Any], field: str = "tasks") -> List[int]:
    """Validate bAbI task ids (integers 1..20, no repeats).

    :raises UserError: naming ``field`` and the bad id.
    """
    seen: List[int] = []
    for task in tasks:
        if isinstance(task, bool) or not isinstance(task, int) or not 1 <= task <= 20:
            raise UserError(f"{field}: {task!r} is not a bAbI task id (1..20)")
        if task in seen:
            raise UserError(f"{field}: task {task} is listed twice")
        seen.append(task)
    if not seen:
        raise UserError(f"{field}: name at least one bAbI task (1..20)")
    return seen


def find_en10k(root: Path) -> Optional[Path]:
    """The en-10k folder under ``root`` (``root`` itself, ``root/en-10k`` or
    ``root/tasks_1-20_v1-2/en-10k``), or None if none holds bAbI train files."""
    root = Path(root)
    for candidate in (root, root / "en-10k", root / EN10K_SUBDIR):
        if candidate.is_dir() and any(candidate.glob("qa*_*_train.txt")):
            return candidate
    return None


def _task_file(folder: Path, task: int, split: str) -> Path:
    matches = sorted(folder.glob(f"qa{task}_*_{split}.txt"))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DataUnavailableError(f"{folder}: no bAbI file for task {task} {split} "
                                   f"(expected {task_file_name(task, split)})")
    raise UserError(f"{folder}: several files for task {task} {split}: {', '.join(m.name for m in matches)}")


def _take(stories: List[Story], start: int, count: int, path: Path) -> List[Story]:
    if len(stories) < start + count:
        raise UserError(f"{path}: has {len(stories)} questions, need {start + count} "
                        f"(questions {start + 1}..{start + count}); lower num_train/num_valid/num_test")
    return stories[start:start + count]


def load_babi(root: Path, tasks: Sequence[int], split: Literal["train", "valid", "test"],
              num_train: int = 8000, num_valid: int = 1000, num_test: int = 1000) -> List[Story]:
    """Questions of ``split`` for ``tasks`` from a local en-10k folder (official layout).

    train = questions ``[0, num_train)`` of each train file, valid = the next
    ``num_valid``, test = the first ``num_test`` of each test file (see module doc).

    :param root: The en-10k folder, or a folder holding ``en-10k`` or
        ``tasks_1-20_v1-2/en-10k``.
    :returns: The stories, task by task in the order of ``tasks``.
    :raises DataUnavailableError: no bAbI files under ``root``.
    :raises UserError: bad task id or split, malformed file, too few questions.
    """
    tasks = check_tasks(tasks)
    if split not in SPLITS:
        raise UserError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    folder = find_en10k(Path(root))
    if folder is None:
        raise DataUnavailableError(f"{root}: no bAbI en-10k files (qa1_{TASK_NAMES[1]}_train.txt, ...) "
                                   f"there, nor under {Path(root) / EN10K_SUBDIR}")
    out: List[Story] = []
    for task in tasks:
        path = _task_file(folder, task, "test" if split == "test" else "train")
        stories = read_babi_file(path, task)
        if split == "train":
            out += _take(stories, 0, num_train, path)
        elif split == "valid":
            out += _take(stories, num_train, num_valid, path)
        else:
            out += _take(stories, 0, num_test, path)
    return out


# --------------------------------------------------------------------------- download


def default_cache_dir() -> Path:
    """Where downloaded bAbI lives: ``$LINKSIM_CACHE/babi`` or ``~/.cache/linksim/babi``."""
    return cache_root() / "babi"


def _unavailable(cache_dir: Path, why: str) -> DataUnavailableError:
    return DataUnavailableError(
        f"bAbI en-10k is not available: {why}. Download {BABI_URL} (SHA-256 {BABI_SHA256}) and "
        f"extract it so that {Path(cache_dir) / EN10K_SUBDIR} holds the qa*_train.txt/qa*_test.txt "
        f"files, or point ${ENV_VAR} or the scenario field data.path (with data.source: official) "
        "at an en-10k folder; data.source: embedded runs offline on generated stories"
    )


def _download(url: str, target: Path, cache_dir: Path) -> None:
    download_file(url, target, opener=_urlopen, unavailable=lambda why: _unavailable(cache_dir, why))


def _safe_members(tar: tarfile.TarFile, prefix: str) -> List[tarfile.TarInfo]:
    """Regular files and folders under ``prefix``; links and escaping paths rejected."""
    return safe_members(tar, [prefix])


def _extract_en10k(archive: Path, cache_dir: Path) -> Path:
    staging = cache_dir / f".extract-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            extract_members(tar, staging, _safe_members(tar, f"{EN10K_SUBDIR.as_posix()}/"))
        extracted = staging / EN10K_SUBDIR
        if find_en10k(extracted) != extracted:
            raise _unavailable(cache_dir, f"{archive} has no {EN10K_SUBDIR} folder with bAbI files")
        final = cache_dir / EN10K_SUBDIR
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(extracted, final)
        return final
    except tarfile.TarError as exc:
        raise _unavailable(cache_dir, f"{archive} is not a readable tar.gz ({exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_babi(cache_dir: Optional[Path] = None, *, url: str = BABI_URL, sha256: str = BABI_SHA256) -> Path:
    """Make sure bAbI en-10k is in ``cache_dir``; return its en-10k folder.

    Uses an already extracted folder, else the tarball ``cache_dir/tasks_1-20_v1-2.tar.gz``
    (downloaded from ``url`` if absent), whose SHA-256 must equal ``sha256``.

    :raises DataUnavailableError: download impossible (offline) or checksum mismatch;
        the message names the folder to fill by hand and the settings that point
        linksim at it.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = find_en10k(cache_dir / EN10K_SUBDIR)
    if folder is not None:
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / ARCHIVE_NAME
    if not archive.exists():
        _download(url, archive, cache_dir)
    verify_checksum(archive, sha256, "sha256", what=url, unavailable=lambda why: _unavailable(cache_dir, why))
    return _extract_en10k(archive, cache_dir)


# --------------------------------------------------------------------------- dataset


@datasets.register("babi")
class BabiDataset:
    """bAbI QA tasks (en-10k, 8k/1k/1k per task), official files or embedded generator.

    ``split(name)`` gives :class:`EncodedSplit` arrays for ``"train"``, ``"valid"``,
    ``"test"``; ``vocab``, ``num_answers``, ``max_words`` and ``memory_length``
    describe them. Data are loaded (or generated) on first use.
    """

    class Params(ParamsModel):
        """Parameters of the ``babi`` dataset (counts are per task)."""

        source: Literal["embedded", "official"] = "embedded"
        path: Optional[str] = Field(None, description="en-10k folder (source: official); "
                                                      f"default ${ENV_VAR}, else the cache")
        tasks: List[int] = Field(default_factory=lambda: list(range(1, 21)))
        num_train: int = Field(8000, ge=1, le=MAX_QUESTIONS_PER_TASK,
                               description="per task; official: num_train + num_valid <= 10000 (en-10k), "
                                           f"embedded: <= {MAX_QUESTIONS_PER_TASK}")
        num_valid: int = Field(1000, ge=0, le=MAX_QUESTIONS_PER_TASK, description="per task (see num_train)")
        num_test: int = Field(1000, ge=1, le=MAX_QUESTIONS_PER_TASK,
                              description="per task; official: <= 1000 (en-10k test file), "
                                          f"embedded: <= {MAX_QUESTIONS_PER_TASK}")
        memory_length: int = Field(10, ge=1, le=MAX_MEMORY_LENGTH,
                                   description=f"T: context sentences kept (1..{MAX_MEMORY_LENGTH}; "
                                               f"tasks x questions x T <= {MAX_MEMORY_SLOTS:.0e})")
        seed: int = Field(0, description="generator seed (source: embedded)")

        @field_validator("path")
        @classmethod
        def _path_only_official(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
            if value is not None and info.data.get("source") != "official":
                raise ValueError("only used with source: official")
            return value

        @field_validator("tasks")
        @classmethod
        def _known_tasks(cls, value: List[int], info: ValidationInfo) -> List[int]:
            try:
                check_tasks(value, field="tasks")
            except UserError as exc:
                raise ValueError(str(exc).removeprefix("tasks: ")) from None
            missing = [t for t in value if t not in SUPPORTED_TASKS]
            if info.data.get("source") == "embedded" and missing:
                raise ValueError(f"the embedded generator has no task {missing[0]}; it implements "
                                 f"{', '.join(map(str, SUPPORTED_TASKS))} (or use source: official)")
            return value

        @field_validator("num_valid")
        @classmethod
        def _official_train_file(cls, value: int, info: ValidationInfo) -> int:
            num_train = info.data.get("num_train")
            if info.data.get("source") == "official" and num_train is not None \
                    and num_train + value > OFFICIAL_TRAIN_QUESTIONS:
                raise ValueError(f"num_train + num_valid = {num_train + value} exceeds the "
                                 f"{OFFICIAL_TRAIN_QUESTIONS} questions of an en-10k train file")
            return value

        @field_validator("num_test")
        @classmethod
        def _official_test_file(cls, value: int, info: ValidationInfo) -> int:
            if info.data.get("source") == "official" and value > OFFICIAL_TEST_QUESTIONS:
                raise ValueError(f"{value} exceeds the {OFFICIAL_TEST_QUESTIONS} questions of an en-10k test file")
            return value

        @field_validator("memory_length")
        @classmethod
        def _memory_fits(cls, value: int, info: ValidationInfo) -> int:
            counts = [info.data.get(name) for name in ("tasks", "num_train", "num_valid", "num_test")]
            if any(c is None for c in counts):
                return value
            tasks, *splits = counts
            slots = len(tasks) * sum(splits) * value
            if slots > MAX_MEMORY_SLOTS:
                raise ValueError(f"{len(tasks)} tasks x {sum(splits)} questions x T = {value} gives {slots} "
                                 f"memory rows, more than {MAX_MEMORY_SLOTS:.0e} (10x the paper's 20 tasks x "
                                 "10000 questions x T = 10); use fewer questions or a shorter memory")
            return value

    def __init__(self, params: Optional["BabiDataset.Params"] = None, *,
                 cache_dir: Optional[Path] = None) -> None:
        self.params = params if params is not None else self.Params()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._stories: Optional[Dict[str, List[Story]]] = None
        self._folder: Optional[Path] = None
        self._vocab: Optional[Vocabulary] = None
        self._max_words = 0
        self._encoded: Dict[str, EncodedSplit] = {}

    # ------------------------------------------------------------------ loading
    def official_folder(self) -> Path:
        """The en-10k folder used for ``source: official`` (downloaded if needed)."""
        if self._folder is None:
            given = self.params.path or os.environ.get(ENV_VAR)
            if given:
                folder = find_en10k(Path(given).expanduser())
                if folder is None:
                    origin = "data.path" if self.params.path else f"${ENV_VAR}"
                    raise DataUnavailableError(f"{origin}: {given} holds no bAbI en-10k files "
                                               f"(qa1_{TASK_NAMES[1]}_train.txt, ...)")
                self._folder = folder
            else:
                self._folder = fetch_babi(self.cache_dir)
        return self._folder

    def _load(self) -> Dict[str, List[Story]]:
        p = self.params
        if p.source == "official":
            folder = self.official_folder()
            return {s: load_babi(folder, p.tasks, s, p.num_train, p.num_valid, p.num_test) for s in SPLITS}
        out: Dict[str, List[Story]] = {s: [] for s in SPLITS}
        for task in p.tasks:  # same questions as write_generated_dataset + load_babi
            train_file = generate_babi(task, p.num_train + p.num_valid, p.seed, stream="train")
            out["train"] += train_file[:p.num_train]
            out["valid"] += train_file[p.num_train:]
            out["test"] += generate_babi(task, p.num_test, p.seed, stream="test")
        return out

    def stories(self, split: str) -> List[Story]:
        """The :class:`Story` samples of ``split`` (``"train"``, ``"valid"``, ``"test"``)."""
        if split not in SPLITS:
            raise UserError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
        if self._stories is None:
            self._stories = self._load()
        return self._stories[split]

    def _prepare(self) -> None:
        if self._vocab is None:
            every = [s for split in SPLITS for s in self.stories(split)]
            self._vocab = Vocabulary.build(every)
            self._max_words = max_sentence_words(every)

    # ------------------------------------------------------------------ arrays
    @property
    def vocab(self) -> Vocabulary:
        """Vocabulary of all splits (answers included as single tokens)."""
        self._prepare()
        return self._vocab

    @property
    def num_answers(self) -> int:
        """Size of the answer classifier: answers are vocabulary ids, so ``len(vocab)``."""
        return len(self.vocab)

    @property
    def max_words(self) -> int:
        """W: tokens of the longest sentence or question (no truncation)."""
        self._prepare()
        return self._max_words

    @property
    def memory_length(self) -> int:
        """T: context sentences kept per sample."""
        return self.params.memory_length

    def split(self, name: str) -> EncodedSplit:
        """Encoded arrays of split ``name``: context ``[N, T, W]``, question ``[N, W]``,
        answer ``[N]`` (see :class:`EncodedSplit`)."""
        if name not in self._encoded:
            self._encoded[name] = encode_stories(self.stories(name), self.vocab, self.memory_length, self.max_words)
        return self._encoded[name]

    def provenance(self) -> Dict[str, Any]:
        """What the data are, for results and figures (says when it is not the paper's data)."""
        p = self.params
        info: Dict[str, Any] = {"dataset": "babi", "tasks": list(p.tasks), "num_train": p.num_train,
                                "num_valid": p.num_valid, "num_test": p.num_test,
                                "memory_length": p.memory_length}
        if p.source == "embedded":
            info.update(source=f"{GENERATOR_VERSION} (linksim-generated bAbI-style stories, not the paper's data)",
                        seed=p.seed)
        else:
            info.update(source="facebook bAbI tasks v1.2, en-10k (official)",
                        split="train: first num_train questions of each train file; valid: the next num_valid; "
                              "test: first num_test of each test file")
        return info
