"""bAbI: format round trip, located errors, split, download checks, generator logic, encoding."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import urllib.error
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

from linksim.data import babi
from linksim.data.babi import (BabiDataset, Vocabulary, encode_stories, fetch_babi, load_babi, tokenize)
from linksim.data.babi_format import Story, format_babi, parse_babi, read_babi_file, task_file_name
from linksim.data.babi_generator import SUPPORTED_TASKS, generate_babi, write_generated_dataset
from linksim.errors import DataUnavailableError, UserError
from linksim.registry import validate_params

FIXTURES = Path(__file__).parent / "fixtures" / "babi" / "en-10k"
FIXTURE_FILES = sorted(FIXTURES.glob("qa*.txt"))


# --------------------------------------------------------------------------- format


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_fixture_round_trip(path):
    stories = read_babi_file(path)
    assert stories and all(s.task == int(path.name[2:].split("_")[0]) for s in stories)
    text = format_babi(stories)
    assert text == path.read_text()  # the writer reproduces the official layout
    assert parse_babi(text, task=stories[0].task) == stories


def test_context_is_statements_before_question_and_supports_are_positions():
    stories = read_babi_file(FIXTURES / "qa1_single-supporting-fact_train.txt")
    assert len(stories) == 6
    second = stories[1]  # line 6 of the file; question line 3 is not context
    assert second.context == ["Sandra journeyed to the garden.", "Daniel went to the office.",
                              "John travelled to the hallway.", "Sandra moved to the kitchen."]
    assert second.question == "Where is Sandra?" and second.answer == "kitchen"
    assert second.supporting == (4,)  # file line ID 5 is the 4th statement
    assert stories[3].context == ["John moved to the garden.", "Mary went to the hallway."]  # new story


def test_list_and_path_answers_kept_whole():
    lists = read_babi_file(FIXTURES / "qa8_lists-sets_train.txt")
    assert [s.answer for s in lists[:3]] == ["apple", "apple,milk", "milk"]
    assert lists[2].supporting == (2, 3, 5)  # file IDs 2 4 7 -> statement positions
    paths = read_babi_file(FIXTURES / "qa19_path-finding_train.txt")
    assert paths[0].answer == "s,e" and paths[0].task == 19


@pytest.mark.parametrize("text, line, what", [
    ("1 Mary went to the hallway.\nMary moved.\n", 2, "line ID"),
    ("1 Mary went to the hallway.\n3 John went to the office.\n", 2, "does not follow"),
    ("1 Mary went to the hallway.\n2 Where is Mary?\thallway\t1\textra\n", 2, "tab-separated"),
    ("1 Mary went to the hallway.\n2 Where is Mary?\t\t1\n", 2, "empty answer"),
    ("1 Mary went to the hallway.\n2 Where is Mary?\thallway\t2\n", 2, "not an earlier statement"),
    ("1 Mary went to the hallway.\n2 Where is Mary?\thallway\tx\n", 2, "not a number"),
    ("1 Mary went to the hallway.\n2 Where is Mary? \thallway\t1\n3 Where? \tnone\t2\n", 3,
     "not an earlier statement"),
    ("1 Mary went to the hallway.\n2 \n", 2, "empty statement"),
])
def test_malformed_file_names_file_and_line(tmp_path, text, line, what):
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        read_babi_file(path)
    assert f"{path}:{line}:" in str(info.value) and what in str(info.value)


def test_writer_rejects_unwritable_text():
    with pytest.raises(ValueError):
        format_babi([Story(["a\tb"], "q?", "a", (1,), 1)])
    with pytest.raises(ValueError):
        format_babi([Story(["a."], "q?", "a", (2,), 1)])


# --------------------------------------------------------------------------- loading


def test_load_babi_split_8k_1k_1k_shape(tmp_path):
    train_file = read_babi_file(FIXTURES / "qa1_single-supporting-fact_train.txt")
    kwargs = dict(num_train=4, num_valid=2, num_test=2)
    train = load_babi(FIXTURES, [1], "train", **kwargs)
    valid = load_babi(FIXTURES, [1], "valid", **kwargs)
    test = load_babi(FIXTURES, [1], "test", **kwargs)
    assert train == train_file[:4] and valid == train_file[4:6]
    assert test == read_babi_file(FIXTURES / "qa1_single-supporting-fact_test.txt")[:2]
    both = load_babi(FIXTURES.parent, [8, 1], "test", **kwargs)  # root holding en-10k
    assert [s.task for s in both] == [8, 8, 1, 1]
    with pytest.raises(UserError, match="has 6 questions, need 7"):
        load_babi(FIXTURES, [1], "valid", num_train=5, num_valid=2)
    with pytest.raises(DataUnavailableError, match=task_file_name(2, "train")):
        load_babi(FIXTURES, [2], "train")
    with pytest.raises(DataUnavailableError):
        load_babi(tmp_path, [1], "train")


@pytest.mark.parametrize("tasks", [[0], [21], [1, 1], [], ["x"]])
def test_unknown_task_ids_rejected(tasks):
    with pytest.raises(UserError, match="tasks"):
        load_babi(FIXTURES, tasks, "train")
    with pytest.raises(UserError, match=r"data\.tasks"):
        validate_params(BabiDataset, {"tasks": tasks}, field="data")


def test_generator_rejects_unknown_task():
    with pytest.raises(UserError, match="task 21"):
        generate_babi(21, 5, 0)


def test_params_errors_name_the_field():
    with pytest.raises(UserError, match=r"data\.path"):
        validate_params(BabiDataset, {"path": "/x"}, field="data")  # embedded takes no path
    with pytest.raises(UserError, match=r"data\.source"):
        validate_params(BabiDataset, {"source": "web"}, field="data")
    params = validate_params(BabiDataset, {"source": "official", "path": "/x", "tasks": [3, 20]}, field="data")
    assert params.tasks == [3, 20]
    assert BabiDataset.registered_name == "babi"


# --------------------------------------------------------------------------- download


def _tarball(tmp_path: Path) -> bytes:
    """A tiny tar.gz in the official layout (two files of task 1 and a file outside en-10k)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for src, name in [("qa1_single-supporting-fact_train.txt", "en-10k/qa1_single-supporting-fact_train.txt"),
                          ("qa1_single-supporting-fact_test.txt", "en-10k/qa1_single-supporting-fact_test.txt"),
                          ("qa1_single-supporting-fact_test.txt", "en/qa1_single-supporting-fact_test.txt")]:
            tar.add(FIXTURES / src, arcname=f"tasks_1-20_v1-2/{name}")
    return buf.getvalue()


def _serve(monkeypatch, payload: bytes) -> List[str]:
    calls: List[str] = []

    def opener(url, timeout=None):
        calls.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(babi, "_urlopen", opener)
    return calls


def test_fetch_verifies_checksum_and_extracts(tmp_path, monkeypatch):
    payload = _tarball(tmp_path)
    calls = _serve(monkeypatch, payload)
    folder = fetch_babi(tmp_path / "cache", sha256=hashlib.sha256(payload).hexdigest())
    assert folder == tmp_path / "cache" / "tasks_1-20_v1-2" / "en-10k"
    assert sorted(p.name for p in folder.iterdir()) == ["qa1_single-supporting-fact_test.txt",
                                                        "qa1_single-supporting-fact_train.txt"]
    assert not (tmp_path / "cache" / "tasks_1-20_v1-2" / "en").exists()  # only en-10k is extracted
    assert load_babi(folder, [1], "train", num_train=3, num_valid=0)[0].answer == "garden"
    assert fetch_babi(tmp_path / "cache") == folder and len(calls) == 1  # cached: no second download


def test_fetch_checksum_mismatch_raises_and_deletes(tmp_path, monkeypatch):
    _serve(monkeypatch, _tarball(tmp_path))
    with pytest.raises(DataUnavailableError, match="checksum mismatch") as info:
        fetch_babi(tmp_path / "cache", sha256="0" * 64)
    assert str(tmp_path / "cache" / "tasks_1-20_v1-2" / "en-10k") in str(info.value)
    assert not (tmp_path / "cache" / babi.ARCHIVE_NAME).exists()


def test_fetch_offline_names_folder_and_settings(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(babi, "_urlopen", offline)
    with pytest.raises(DataUnavailableError) as info:
        fetch_babi(tmp_path / "cache")
    message = str(info.value)
    assert str(tmp_path / "cache" / "tasks_1-20_v1-2" / "en-10k") in message
    assert babi.ENV_VAR in message and "data.path" in message and babi.BABI_URL in message
    monkeypatch.delenv(babi.ENV_VAR, raising=False)
    data = BabiDataset(BabiDataset.Params(source="official", tasks=[1]), cache_dir=tmp_path / "cache")
    with pytest.raises(DataUnavailableError):
        data.split("train")


# --------------------------------------------------------------------------- generator


def _digest(stories: List[Story]) -> str:
    return hashlib.sha256(format_babi(stories).encode()).hexdigest()


def test_generator_is_deterministic_and_seeded():
    for task in SUPPORTED_TASKS:
        first = generate_babi(task, 40, seed=5)
        assert len(first) == 40 and first == generate_babi(task, 40, seed=5)
        assert first != generate_babi(task, 40, seed=6)
        assert generate_babi(task, 15, seed=5) == first[:15]  # shorter request = prefix
        assert first != generate_babi(task, 40, seed=5, stream="test")


def test_generator_independent_of_hash_seed():
    code = ("import hashlib; from linksim.data.babi_generator import generate_babi; "
            "from linksim.data.babi_format import format_babi; "
            "print(hashlib.sha256(''.join(format_babi(generate_babi(t, 20, 3)) for t in range(1, 21))"
            ".encode()).hexdigest())")
    expected = hashlib.sha256("".join(format_babi(generate_babi(t, 20, 3)) for t in range(1, 21)).encode()).hexdigest()
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == expected


@pytest.mark.parametrize("task", SUPPORTED_TASKS)
def test_generated_stories_are_well_formed(task):
    stories = generate_babi(task, 300, seed=1)
    assert parse_babi(format_babi(stories), task=task) == stories  # generator -> writer -> parser
    for s in stories:
        assert s.task == task and s.question.endswith("?") and s.answer and " " not in s.answer
        assert 1 <= len(s.context) <= 25
        assert s.supporting and all(1 <= p <= len(s.context) for p in s.supporting)


# Independent re-derivation of answers from the sentences alone (no generator code).

_MOVE = re.compile(r"^(\w+) (?:moved|went back|went|journeyed|travelled) to the (\w+)\.$")
_GRAB = re.compile(r"^(\w+) (?:picked up|grabbed|took|got) the (\w+)(?: there)?\.$")
_DROP = re.compile(r"^(\w+) (?:dropped|discarded|put down|left) the (\w+)\.$")
_GIVE = re.compile(r"^(\w+) (?:gave|handed|passed) the (\w+) to (\w+)\.$")


def _replay(context: List[str]) -> Tuple[Dict[str, Tuple[str, int]], Dict[str, str], Dict[str, str]]:
    """People's (place, line), objects' holders and objects' places after ``context``."""
    where: Dict[str, Tuple[str, int]] = {}
    holder: Dict[str, str] = {}
    lying: Dict[str, str] = {}
    for line, sentence in enumerate(context, start=1):
        if m := _MOVE.match(sentence):
            where[m[1].lower()] = (m[2], line)
        elif m := _GRAB.match(sentence):
            holder[m[2]] = m[1].lower()
        elif m := _DROP.match(sentence):
            lying[m[2]] = where[holder.pop(m[2])][0]
        elif m := _GIVE.match(sentence):
            assert holder[m[2]] == m[1].lower()
            assert where[m[1].lower()][0] == where[m[3].lower()][0]  # hand-overs happen face to face
            holder[m[2]] = m[3].lower()
        else:
            raise AssertionError(f"unexpected sentence {sentence!r}")
    return where, holder, lying


def test_task1_answer_is_last_location_of_person():
    for s in generate_babi(1, 400, seed=2):
        person = re.match(r"Where is (\w+)\?", s.question)[1].lower()
        where, _, _ = _replay(s.context)
        assert s.answer == where[person][0] and s.supporting == (where[person][1],)


def test_task2_answer_is_place_of_object():
    for s in generate_babi(2, 400, seed=2):
        obj = re.match(r"Where is the (\w+)\?", s.question)[1]
        where, holder, lying = _replay(s.context)
        expected = where[holder[obj]][0] if obj in holder else lying[obj]
        assert s.answer == expected and len(s.supporting) == 2
        assert any(obj in s.context[p - 1] for p in s.supporting)


@pytest.mark.parametrize("task", [7, 8])
def test_tasks7_8_count_and_list_what_person_carries(task):
    numbers = ["none", "one", "two", "three"]
    for s in generate_babi(task, 400, seed=3):
        person = re.search(r"is (\w+) carrying\?", s.question)[1].lower()
        _, holder, _ = _replay(s.context)
        held = sorted(o for o, p in holder.items() if p == person)
        expected = numbers[len(held)] if task == 7 else (",".join(held) or "nothing")
        assert s.answer == expected
        assert all(person in s.context[p - 1].lower() for p in s.supporting)


def test_task3_answer_is_previous_place_of_object():
    for s in generate_babi(3, 200, seed=7):
        obj, current = re.match(r"Where was the (\w+) before the (\w+)\?", s.question).groups()
        places: List[str] = []  # the object's places over time
        for end in range(1, len(s.context) + 1):
            where, holder, lying = _replay(s.context[:end])
            place = where[holder[obj]][0] if obj in holder else lying.get(obj)
            if place and (not places or places[-1] != place):
                places.append(place)
        assert places[-1] == current and places.count(current) == 1
        assert s.answer == places[-2] and len(s.supporting) == 3


_PAIR_MOVE = re.compile(r"^(\w+) and (\w+) (?:moved|went back|went|journeyed|travelled) to the (\w+)\.$")
_PRONOUN_MOVE = re.compile(r"^(?:Then|After that|Following that|Afterwards) (she|he|they) [a-z ]+ the (\w+)\.$")


@pytest.mark.parametrize("task", [11, 12, 13])
def test_coreference_and_conjunction(task):
    gender = {"mary": "she", "sandra": "she", "john": "he", "daniel": "he"}
    for s in generate_babi(task, 300, seed=6):
        where: Dict[str, Tuple[str, Tuple[int, ...]]] = {}
        named = None  # subjects named by the previous statement, and its line
        for line, sentence in enumerate(s.context, start=1):
            if m := _PAIR_MOVE.match(sentence):
                subjects, place, support = (m[1].lower(), m[2].lower()), m[3], (line,)
            elif m := _MOVE.match(sentence):
                subjects, place, support = (m[1].lower(),), m[2], (line,)
            else:
                m = _PRONOUN_MOVE.match(sentence)
                subjects, place, support = named[0], m[2], (named[1], line)
                assert m[1] == ("they" if len(subjects) == 2 else gender[subjects[0]])
            named = None if len(support) == 2 else (subjects, line)
            where.update({p: (place, support) for p in subjects})
        person = re.match(r"Where is (\w+)\?", s.question)[1].lower()
        assert (s.answer, s.supporting) == where[person]


def test_task15_deduction():
    plural = {"mice": "mouse", "sheep": "sheep", "wolves": "wolf", "cats": "cat"}
    for s in generate_babi(15, 200, seed=4):
        member = dict(re.match(r"(\w+) is a (\w+)\.$", c).groups() for c in s.context if " is a " in c)
        fears = {plural[m[1].lower()]: plural[m[2]]
                 for m in (re.match(r"(\w+) are afraid of (\w+)\.$", c) for c in s.context) if m}
        name = re.match(r"What is (\w+) afraid of\?", s.question)[1]
        assert s.answer == fears[member[name]]


def test_task19_path_follows_stated_adjacencies():
    step = {"n": (0, 1), "s": (0, -1), "e": (1, 0), "w": (-1, 0)}
    for s in generate_babi(19, 200, seed=5):
        offset: Dict[Tuple[str, str], Tuple[int, int]] = {}  # (a, b): position of b minus position of a
        for c in s.context:
            a, d, b = re.match(r"The (\w+) is (\w+) of the (\w+)\.$", c).groups()
            dx, dy = step[d[0]]
            offset[(b, a)], offset[(a, b)] = (dx, dy), (-dx, -dy)
        start, goal = re.match(r"How do you go from the (\w+) to the (\w+)\?", s.question).groups()
        here, used = start, []
        for letter in s.answer.split(","):
            here_next = [b for (a, b), off in offset.items() if a == here and off == step[letter]]
            assert len(here_next) == 1
            used.append(next(i for i, c in enumerate(s.context, 1) if here in c and here_next[0] in c))
            here = here_next[0]
        assert here == goal and tuple(sorted(used)) == s.supporting


# --------------------------------------------------------------------------- dataset & encoding


def test_tokenize_and_vocabulary():
    assert tokenize("Where is Mary?") == ["where", "is", "mary", "?"]
    assert tokenize("The box of chocolates fits inside the chest.")[-2:] == ["chest", "."]
    vocab = Vocabulary.build(read_babi_file(FIXTURES / "qa8_lists-sets_train.txt"))
    assert vocab.tokens[:2] == ["<pad>", "<unk>"] and vocab.id("<pad>") == 0
    assert "apple,milk" in vocab and vocab.id("zebra") == Vocabulary.UNK
    assert vocab.decode(vocab.encode("Mary got the milk.", 8)) == ["mary", "got", "the", "milk", "."]


def test_encoding_shapes_memory_and_answers():
    params = BabiDataset.Params(tasks=[1, 19], num_train=40, num_valid=10, num_test=12, memory_length=3, seed=9)
    data = BabiDataset(params)
    w = data.max_words
    train, valid, test = data.split("train"), data.split("valid"), data.split("test")
    assert train.context.shape == (80, 3, w) and train.question.shape == (80, w) and train.answer.shape == (80,)
    assert len(valid) == 20 and len(test) == 24 and train.context.dtype == np.int32
    assert data.num_answers == len(data.vocab) and set(train.task) == {1, 19}
    stories = data.stories("train")
    for i, story in enumerate(stories):
        assert data.vocab.tokens[train.answer[i]] == story.answer  # one token, even "n,w"
        kept = story.context[-3:]
        assert train.num_sentences[i] == len(kept)
        assert not train.context[i, : 3 - len(kept)].any()  # older slots are PAD
        assert data.vocab.decode(train.context[i, -1]) == tokenize(kept[-1])  # latest sentence last
    encoded = encode_stories(stories, data.vocab, 3, w)
    assert np.array_equal(encoded.context, train.context)
    assert data.provenance()["source"].startswith("embedded generator v1")
    assert "not the paper's data" in data.provenance()["source"] and data.provenance()["seed"] == 9


def test_written_dataset_loads_like_embedded(tmp_path):
    folder = write_generated_dataset(tmp_path, [1, 8], num_train=30, num_test=10, seed=4)
    assert folder == tmp_path / "tasks_1-20_v1-2" / "en-10k"
    params = dict(tasks=[1, 8], num_train=20, num_valid=10, num_test=10, seed=4)
    embedded = BabiDataset(BabiDataset.Params(**params))
    official = BabiDataset(BabiDataset.Params(source="official", path=str(tmp_path),
                                              **{k: v for k, v in params.items() if k != "seed"}))
    for split in ("train", "valid", "test"):
        assert official.stories(split) == embedded.stories(split)
        assert np.array_equal(official.split(split).context, embedded.split(split).context)
    assert "official" in official.provenance()["source"]


def test_official_folder_from_environment(monkeypatch):
    monkeypatch.setenv(babi.ENV_VAR, str(FIXTURES))
    data = BabiDataset(BabiDataset.Params(source="official", tasks=[8], num_train=5, num_valid=1, num_test=2))
    assert data.official_folder() == FIXTURES
    assert data.stories("test")[0].answer == "football,milk"
    monkeypatch.setenv(babi.ENV_VAR, "/nonexistent/babi")
    with pytest.raises(DataUnavailableError, match=babi.ENV_VAR):
        BabiDataset(BabiDataset.Params(source="official", tasks=[8])).split("train")
