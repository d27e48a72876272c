"""Embedded, deterministic generator of bAbI-style stories for all 20 task types.

linksim ships no copy of the bAbI data (facebook, CC BY 3.0). When the official files
are not at hand, this module writes stories of the same 20 task types from a small
simulated world, so that scenarios and tests run offline. The stories are *not* the
paper's data: their vocabulary, story lengths and statistics differ, and every result
made from them says so (see :meth:`linksim.data.babi.BabiDataset.provenance`).

World: people ``mary, john, sandra, daniel`` (task 5: ``bill, fred, jeff, mary``),
places ``kitchen, garden, hallway, bathroom, office, bedroom``, objects ``apple,
football, milk``. One :class:`_World` simulates who is where and who holds what, says
one statement per event and remembers which statements establish each fact, so every
question cites exactly the facts its answer follows from. Tasks 1-3, 5-13 run on that
world; the static tasks (4, 14-19) draw a small fact set and ask about it; task 20
follows people from a motivation to a place to an object.

Conventions (documented choices where bAbI leaves room):

* Questions ask about the *current* state; "Where was the O before the L?" is asked
  only when the object has been in L once, so the answer is unique.
* Task 8 lists are written in alphabetical order (``apple,milk``), so a set has one
  answer token; "nothing" for an empty list. Task 7 counts are ``none, one, two, three``.
* Task 17 uses grid semantics: "A is to the left of B" means A is in the cell directly
  left of B (same row); tasks 4 and 19 likewise place locations on a grid.
* Supporting facts are 1-based context positions (see :class:`~.babi_format.Story`).

Determinism: ``generate_babi(task, n, seed)`` draws from ``random.Random`` seeded with a
string (hashed with SHA-512 by Python, independent of ``PYTHONHASHSEED``) and never
iterates over sets, so the same arguments give the same stories on every run and
platform; a shorter request is a prefix of a longer one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple

from ..errors import UserError
from .babi_format import Story, task_file_name, write_babi_file

GENERATOR_VERSION = "embedded generator v1"

PEOPLE = ("mary", "john", "sandra", "daniel")
GIVERS = ("bill", "fred", "jeff", "mary")
PRONOUNS = {"mary": "she", "sandra": "she", "john": "he", "daniel": "he"}
PLACES = ("kitchen", "garden", "hallway", "bathroom", "office", "bedroom")
OBJECTS = ("apple", "football", "milk")

MOVE_VERBS = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
GRAB_VERBS = ("picked up", "grabbed", "took", "got")
DROP_VERBS = ("dropped", "discarded", "put down", "left")
GIVE_VERBS = ("gave", "handed", "passed")
THEN = ("then", "after that", "following that", "afterwards")
NUMBERS = ("none", "one", "two", "three")

# Grid directions: name -> (dx, dy) and the one-letter form used by task 19.
DIRECTIONS = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}

QA = Tuple[str, str, Sequence[int]]  # question, answer, supporting context positions


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _name(person: str) -> str:
    return person.capitalize()


def _names(people: Sequence[str]) -> str:
    return " and ".join(_name(p) for p in people)


# --------------------------------------------------------------------------- episodes


class _Episode:
    """Statements said so far in one story, and the questions asked about them."""

    def __init__(self, task: int) -> None:
        self.task = task
        self.context: List[str] = []
        self.samples: List[Story] = []

    def say(self, text: str) -> int:
        """Append a statement; return its 1-based position in the context."""
        self.context.append(text)
        return len(self.context)

    def ask(self, question: str, answer: str, supporting: Iterable[int]) -> None:
        """Record a question about the statements said so far."""
        support = tuple(sorted(set(supporting)))
        self.samples.append(Story(list(self.context), question, answer, support, self.task))


@dataclass(frozen=True)
class _Belief:
    """What the story says about where a person is.

    :ivar kind: ``"at"`` (at ``places[0]``), ``"not"`` (not at ``places[0]``) or
        ``"either"`` (at one of ``places``).
    :ivar support: Context positions establishing the belief.
    """

    kind: str
    places: Tuple[str, ...]
    support: Tuple[int, ...]

    def is_in(self, place: str) -> str:
        """Answer to "Is X in the <place>?": ``yes``, ``no`` or ``maybe``."""
        if self.kind == "at":
            return "yes" if place == self.places[0] else "no"
        if self.kind == "not":
            return "no" if place == self.places[0] else "maybe"
        return "maybe" if place in self.places else "no"


class _World:
    """People moving between places and handling objects, narrated one event a line.

    Every event method says one statement and records the context positions that
    establish the new state, so questions can cite their supporting facts.
    """

    def __init__(self, rng: random.Random, task: int, people: Sequence[str] = PEOPLE) -> None:
        self.rng = rng
        self.ep = _Episode(task)
        self.people = tuple(people)
        self.belief: Dict[str, _Belief] = {}
        self.holder: Dict[str, Optional[str]] = dict.fromkeys(OBJECTS)
        self.grab_line: Dict[str, int] = {}  # object -> statement that gave it to its holder
        self.dropped_at: Dict[str, Tuple[str, Tuple[int, ...]]] = {}
        # Places each object has been in, with the statements that establish its arrival.
        self.trail: Dict[str, List[Tuple[str, Tuple[int, ...]]]] = {o: [] for o in OBJECTS}
        self.handled: Dict[str, List[int]] = {p: [] for p in self.people}  # possession changes
        self.gives: List[Tuple[str, str, str, int]] = []  # (giver, object, receiver, line)
        self.asked_give = 0
        self._named: Optional[Tuple[Tuple[str, ...], int]] = None  # subjects of the last line

    # ------------------------------------------------------------------ queries
    def place_of(self, person: str) -> Optional[Tuple[str, Tuple[int, ...]]]:
        """``(place, support)`` if the story says where ``person`` is, else None."""
        belief = self.belief.get(person)
        if belief is None or belief.kind != "at":
            return None
        return belief.places[0], belief.support

    def located(self) -> List[str]:
        return [p for p in self.people if self.place_of(p) is not None]

    def carrying(self, person: str) -> List[str]:
        return [o for o in OBJECTS if self.holder[o] == person]

    def object_place(self, obj: str) -> Optional[Tuple[str, Tuple[int, ...]]]:
        """``(place, support)`` of an object that is held or was dropped, else None."""
        holder = self.holder[obj]
        if holder is None:
            return self.dropped_at.get(obj)
        place, support = self.place_of(holder)
        return place, (self.grab_line[obj], *support)

    # ------------------------------------------------------------------ events
    def _say(self, text: str, named: Optional[Tuple[str, ...]] = None) -> int:
        line = self.ep.say(text)
        self._named = (named, line) if named else None
        return line

    def move(self, subjects: Tuple[str, ...], pronoun: bool = False, place: Optional[str] = None) -> int:
        """``subjects`` go to ``place`` (random new place if None); carried objects follow.

        With ``pronoun`` the subject is "she"/"he"/"they" and the statement naming them
        (the previous one) becomes a supporting fact too.
        """
        if place is None:
            current = [self.place_of(p) for p in subjects]
            place = self.rng.choice([pl for pl in PLACES if all(c is None or c[0] != pl for c in current)])
        verb = self.rng.choice(MOVE_VERBS)
        if pronoun:
            assert self._named is not None and self._named[0] == subjects, "a pronoun needs an antecedent"
            antecedent = self._named[1]
            word = "they" if len(subjects) > 1 else PRONOUNS[subjects[0]]
            line = self._say(_cap(f"{self.rng.choice(THEN)} {word} {verb} the {place}."))
            support: Tuple[int, ...] = (antecedent, line)
        else:
            line = self._say(f"{_names(subjects)} {verb} the {place}.", named=subjects)
            support = (line,)
        for person in subjects:
            self._arrive(person, place, support)
        return line

    def _arrive(self, person: str, place: str, support: Tuple[int, ...]) -> None:
        previous = self.place_of(person)
        for obj in self.carrying(person):
            self.trail[obj].append((place, (self.grab_line[obj], *previous[1], *support)))
        self.belief[person] = _Belief("at", (place,), support)

    def negate(self, person: str) -> int:
        """Say that ``person`` (holding nothing) is not, or no longer, in some place."""
        assert not self.carrying(person), "people with objects must stay located"
        current = self.place_of(person)
        if current is not None and self.rng.random() < 0.7:
            place, phrase = current[0], "is no longer in"
        else:
            place, phrase = self.rng.choice(PLACES), "is not in"
        line = self._say(f"{_name(person)} {phrase} the {place}.")
        self.belief[person] = _Belief("not", (place,), (line,))
        return line

    def either(self, person: str) -> int:
        """Say that ``person`` (holding nothing) is in one of two places."""
        assert not self.carrying(person), "people with objects must stay located"
        a, b = self.rng.sample(PLACES, 2)
        line = self._say(f"{_name(person)} is either in the {a} or the {b}.")
        self.belief[person] = _Belief("either", (a, b), (line,))
        return line

    def grab(self, person: str, obj: str) -> int:
        place, support = self.place_of(person)
        there = " there" if self.rng.random() < 0.5 else ""
        line = self._say(f"{_name(person)} {self.rng.choice(GRAB_VERBS)} the {obj}{there}.")
        if not self.trail[obj]:
            self.trail[obj].append((place, (line, *support)))
        self.holder[obj], self.grab_line[obj] = person, line
        self.dropped_at.pop(obj, None)
        self.handled[person].append(line)
        return line

    def drop(self, person: str, obj: str) -> int:
        place, support = self.place_of(person)
        line = self._say(f"{_name(person)} {self.rng.choice(DROP_VERBS)} the {obj}.")
        self.holder[obj] = None
        self.dropped_at[obj] = (place, (line, *support))
        self.handled[person].append(line)
        return line

    def give(self, giver: str, receiver: str, obj: str) -> int:
        verb = self.rng.choice(GIVE_VERBS)
        line = self._say(f"{_name(giver)} {verb} the {obj} to {_name(receiver)}.")
        self.holder[obj], self.grab_line[obj] = receiver, line
        self.handled[giver].append(line)
        self.handled[receiver].append(line)
        self.gives.append((giver, obj, receiver, line))
        return line

    # ------------------------------------------------------------------ random events
    def random_move(self, group: int = 1, pronoun_prob: float = 0.0, company_prob: float = 0.0) -> None:
        """A random group of ``group`` people moves.

        With probability ``pronoun_prob`` the group named by the previous statement moves
        again, referred to by a pronoun (when that statement named ``group`` people);
        with ``company_prob`` the destination is a place where someone else is.
        """
        if self._named is not None and len(self._named[0]) == group and self.rng.random() < pronoun_prob:
            self.move(self._named[0], pronoun=True)
            return
        subjects = tuple(self.rng.sample(self.people, group))
        place = None
        if company_prob and self.rng.random() < company_prob:
            place = self._company(subjects[0])
        self.move(subjects, place=place)

    def _company(self, person: str) -> Optional[str]:
        """A place where someone other than ``person`` is (not where ``person`` is), or None."""
        current = self.place_of(person)
        places = [self.place_of(p)[0] for p in self.located() if p != person]
        places = [pl for pl in places if current is None or pl != current[0]]
        return self.rng.choice(places) if places else None

    def _pickable(self, obj: str, place: str) -> bool:
        if self.holder[obj] is not None:
            return False
        return not self.trail[obj] or self.dropped_at[obj][0] == place

    def object_events(self) -> List[Callable[[], int]]:
        """Every grab and drop possible now."""
        events: List[Callable[[], int]] = []
        for person in self.located():
            place = self.place_of(person)[0]
            for obj in OBJECTS:
                if self._pickable(obj, place):
                    events.append(partial(self.grab, person, obj))
                elif self.holder[obj] == person:
                    events.append(partial(self.drop, person, obj))
        return events

    def hand_overs(self) -> List[Callable[[], int]]:
        """Every hand-over possible now (giver and receiver in the same place)."""
        events: List[Callable[[], int]] = []
        for giver in self.located():
            place = self.place_of(giver)[0]
            receivers = [p for p in self.located() if p != giver and self.place_of(p)[0] == place]
            events.extend(partial(self.give, giver, r, o) for o in self.carrying(giver) for r in receivers
                          if not self._would_hand_back(giver, o, r))
        return events

    def _would_hand_back(self, giver: str, obj: str, receiver: str) -> bool:
        """True if ``receiver`` was the last to hand ``obj`` to ``giver`` (no ping-pong)."""
        last = next((g for g in reversed(self.gives) if g[1] == obj), None)
        return last is not None and last[0] == receiver and last[2] == giver

    def random_object_event(self, give: bool = False) -> bool:
        """Do one random possible object event (hand-overs too with ``give``); False if none."""
        events = self.object_events() + (self.hand_overs() if give else [])
        if not events:
            return False
        self.rng.choice(events)()
        return True


# --------------------------------------------------------------------------- acts


def _act_move(w: _World, group: int = 1, pronoun_prob: float = 0.0) -> None:
    w.random_move(group=group, pronoun_prob=pronoun_prob)


def _act_objects(w: _World, move_prob: float, give: bool = False) -> None:
    if w.rng.random() < move_prob or not w.random_object_event(give):
        w.random_move()


def _act_give(w: _World) -> None:
    """Task 5: a hand-over half the time one is possible; else bring people together, grab, drop."""
    hand_overs = w.hand_overs()
    if hand_overs and w.rng.random() < 0.5:
        w.rng.choice(hand_overs)()
    elif w.rng.random() < 0.5 or not w.random_object_event():
        w.random_move(company_prob=0.7)


def _act_belief(w: _World, kind: str) -> None:
    """Tasks 9/10: a move, or a negated (``kind="not"``) / either-or statement."""
    if w.rng.random() < 0.5:
        w.random_move()
        return
    person = w.rng.choice(w.people)
    w.negate(person) if kind == "not" else w.either(person)


# --------------------------------------------------------------------------- questions


def _ask_where_person(w: _World, prefer_coref: bool = False) -> Optional[QA]:
    people = w.located()
    if prefer_coref:  # ask mostly about people whose location needs a pronoun resolved
        coref = [p for p in people if len(w.belief[p].support) > 1]
        if coref and w.rng.random() < 0.7:
            people = coref
    if not people:
        return None
    person = w.rng.choice(people)
    place, support = w.place_of(person)
    return f"Where is {_name(person)}?", place, support


def _ask_is_in(w: _World, allow_maybe: bool) -> Optional[QA]:
    """"Is X in the P?" with the answer (yes / no / maybe) drawn uniformly first."""
    by_answer: Dict[str, List[Tuple[str, str]]] = {}
    for person in w.people:
        if person in w.belief:
            for place in PLACES:
                by_answer.setdefault(w.belief[person].is_in(place), []).append((person, place))
    if not allow_maybe:
        by_answer.pop("maybe", None)
    if not by_answer:
        return None
    answer = w.rng.choice(sorted(by_answer))
    person, place = w.rng.choice(by_answer[answer])
    return f"Is {_name(person)} in the {place}?", answer, w.belief[person].support


def _ask_where_object(w: _World) -> Optional[QA]:
    objects = [o for o in OBJECTS if w.object_place(o) is not None]
    if not objects:
        return None
    obj = w.rng.choice(objects)
    place, support = w.object_place(obj)
    return f"Where is the {obj}?", place, support


def _ask_where_before(w: _World) -> Optional[QA]:
    def unambiguous(obj: str) -> bool:
        places = [place for place, _ in w.trail[obj]]
        return len(places) >= 2 and places.count(places[-1]) == 1

    objects = [o for o in OBJECTS if unambiguous(o)]
    if not objects:
        return None
    obj = w.rng.choice(objects)
    (previous, _), (current, support) = w.trail[obj][-2:]
    return f"Where was the {obj} before the {current}?", previous, support


def _ask_possessions(w: _World, as_list: bool) -> Optional[QA]:
    people = [p for p in w.people if w.handled[p]]
    if not people:
        return None
    person = w.rng.choice(people)
    held = w.carrying(person)  # alphabetical: OBJECTS is sorted
    if as_list:
        return f"What is {_name(person)} carrying?", ",".join(held) or "nothing", w.handled[person]
    return f"How many objects is {_name(person)} carrying?", NUMBERS[len(held)], w.handled[person]


def _ask_give(w: _World) -> Optional[QA]:
    """Task 5: one question about the latest hand-over (not asked before).

    Question forms whose key matches only this hand-over in the story are preferred;
    otherwise the answer refers to the latest matching hand-over, which is this one.
    """
    if not w.gives or w.gives[-1][3] == w.asked_give:
        return None
    giver, obj, receiver, line = w.gives[-1]
    w.asked_give = line
    g, r = _name(giver), _name(receiver)

    def unique(key: Callable[[Tuple[str, str, str, int]], bool]) -> bool:
        return sum(1 for give in w.gives if key(give)) == 1

    same_obj = unique(lambda e: e[1] == obj)
    forms = [
        (same_obj, f"Who gave the {obj}?", giver),
        (same_obj, f"Who received the {obj}?", receiver),
        (unique(lambda e: e[0] == giver and e[2] == receiver), f"What did {g} give to {r}?", obj),
        (unique(lambda e: e[0] == giver and e[1] == obj), f"Who did {g} give the {obj} to?", receiver),
    ]
    preferred = [f[1:] for f in forms if f[0]] or [f[1:] for f in forms]
    question, answer = w.rng.choice(preferred)
    return question, answer, (line,)


# --------------------------------------------------------------------------- dynamic tasks


@dataclass(frozen=True)
class _Dynamic:
    """A task played on :class:`_World`: ``gap`` random events, then a question, repeated.

    :ivar act: One random event.
    :ivar ask: A question about the current state, or None if none is answerable.
    :ivar questions: Questions per story.
    :ivar gap: Inclusive range of events between questions.
    :ivar max_context: The story stops growing at this many statements.
    """

    act: Callable[[_World], None]
    ask: Callable[[_World], Optional[QA]]
    questions: int = 5
    gap: Tuple[int, int] = (1, 3)
    max_context: int = 15
    people: Tuple[str, ...] = PEOPLE

    def __call__(self, rng: random.Random, task: int) -> List[Story]:
        world = _World(rng, task, self.people)
        while len(world.ep.samples) < self.questions and len(world.ep.context) < self.max_context:
            for _ in range(rng.randint(*self.gap)):
                self.act(world)
            qa = self.ask(world)
            if qa is not None:
                world.ep.ask(*qa)
        return world.ep.samples


_DYNAMIC_TASKS: Dict[int, _Dynamic] = {
    1: _Dynamic(_act_move, _ask_where_person),
    2: _Dynamic(partial(_act_objects, move_prob=0.5), _ask_where_object, questions=4, gap=(2, 4)),
    3: _Dynamic(partial(_act_objects, move_prob=0.6), _ask_where_before, questions=3, gap=(2, 5),
                max_context=20),
    5: _Dynamic(_act_give, _ask_give, questions=4, gap=(1, 3), people=GIVERS),
    6: _Dynamic(partial(_act_objects, move_prob=0.75), partial(_ask_is_in, allow_maybe=False)),
    7: _Dynamic(partial(_act_objects, move_prob=0.35, give=True), partial(_ask_possessions, as_list=False),
                gap=(1, 3)),
    8: _Dynamic(partial(_act_objects, move_prob=0.35, give=True), partial(_ask_possessions, as_list=True),
                gap=(1, 3)),
    9: _Dynamic(partial(_act_belief, kind="not"), partial(_ask_is_in, allow_maybe=False)),
    10: _Dynamic(partial(_act_belief, kind="either"), partial(_ask_is_in, allow_maybe=True)),
    11: _Dynamic(partial(_act_move, pronoun_prob=0.6), partial(_ask_where_person, prefer_coref=True)),
    12: _Dynamic(partial(_act_move, group=2), _ask_where_person),
    13: _Dynamic(partial(_act_move, group=2, pronoun_prob=0.6), partial(_ask_where_person, prefer_coref=True)),
}


# --------------------------------------------------------------------------- static tasks

Fact = Tuple[Hashable, str]  # key, statement
Question = Tuple[str, str, Sequence[Hashable]]  # question, answer, keys of supporting facts


def _static_episode(task: int, facts: Sequence[Fact], questions: Sequence[Question]) -> List[Story]:
    """Say ``facts`` in order, then ask ``questions`` citing facts by key."""
    ep = _Episode(task)
    line_of = {key: ep.say(text) for key, text in facts}
    for question, answer, keys in questions:
        ep.ask(question, answer, [line_of[k] for k in keys])
    return ep.samples


def _relation(rng: random.Random, x: str, direction: str, y: str) -> str:
    """"x is <direction> of y", said either way round."""
    if rng.random() < 0.5:
        return f"The {x} is {direction} of the {y}."
    return f"The {y} is {OPPOSITE[direction]} of the {x}."


def _episode_two_arg(rng: random.Random, task: int) -> List[Story]:
    """Task 4: two places around a third; ask what lies in one direction of one."""
    a, b, c = rng.sample(PLACES, 3)
    d1, d2 = rng.sample(sorted(DIRECTIONS), 2)  # distinct: the answers are unique
    relations = [(a, d1, b), (c, d2, b)]
    facts = [(i, _relation(rng, *rel)) for i, rel in enumerate(relations)]
    i = rng.randrange(2)
    x, d, y = relations[i]
    question, answer = rng.choice([
        (f"What is {d} of the {y}?", x),
        (f"What is the {x} {d} of?", y),
        (f"What is {OPPOSITE[d]} of the {x}?", y),
        (f"What is the {y} {OPPOSITE[d]} of?", x),
    ])
    return _static_episode(task, facts, [(question, answer, [i])])


def _episode_time(rng: random.Random, task: int) -> List[Story]:
    """Task 14: where people were at times of day, said out of order."""
    times = ("yesterday", "this morning", "this afternoon", "this evening")
    people = rng.sample(PEOPLE, 2)
    timelines = {p: rng.sample(PLACES, rng.randint(2, 4)) for p in people}  # one place per time slot
    facts = [((p, t), _cap(f"{times[t]} {_name(p)} {rng.choice(MOVE_VERBS)} the {place}."))
             for p in people for t, place in enumerate(timelines[p])]
    rng.shuffle(facts)
    slots = [(p, t) for p in people for t in range(1, len(timelines[p]))]
    questions = []
    for person, t in rng.sample(slots, min(len(slots), rng.randint(2, 3))):
        timeline = timelines[person]
        questions.append((f"Where was {_name(person)} before the {timeline[t]}?", timeline[t - 1],
                          [(person, t - 1), (person, t)]))
    return _static_episode(task, facts, questions)


def _episode_deduction(rng: random.Random, task: int) -> List[Story]:
    """Task 15: species fear species; people belong to species."""
    plural = {"cat": "cats", "mouse": "mice", "sheep": "sheep", "wolf": "wolves"}
    species = sorted(plural)
    fears = {s: rng.choice([t for t in species if t != s]) for s in species}
    names = ("gertrude", "winona", "jessica", "emily")
    kind = {n: rng.choice(species) for n in names}
    facts: List[Fact] = [(("fear", s), f"{_cap(plural[s])} are afraid of {plural[fears[s]]}.") for s in species]
    facts += [(("is", n), f"{_name(n)} is a {kind[n]}.") for n in names]
    rng.shuffle(facts)
    questions = [(f"What is {_name(n)} afraid of?", fears[kind[n]], [("is", n), ("fear", kind[n])])
                 for n in rng.sample(names, rng.randint(2, 4))]
    return _static_episode(task, facts, questions)


def _episode_induction(rng: random.Random, task: int) -> List[Story]:
    """Task 16: infer a colour from another member of the same species."""
    animals = ("frog", "lion", "rhino", "swan")
    color = dict(zip(animals, rng.sample(("gray", "green", "white", "yellow"), 4)))
    names = ("lily", "bernhard", "greg", "julius", "brian")
    kind = {n: rng.choice(animals) for n in names}
    query = rng.choice(names)
    witness = rng.choice([n for n in names if n != query])
    kind[witness] = kind[query]
    pairs = [[(("is", n), f"{_name(n)} is a {kind[n]}.")] + ([] if n == query else
             [(("color", n), f"{_name(n)} is {color[kind[n]]}.")]) for n in names]
    rng.shuffle(pairs)
    facts = [fact for pair in pairs for fact in pair]
    question = (f"What color is {_name(query)}?", color[kind[query]],
                [("is", query), ("is", witness), ("color", witness)])
    return _static_episode(task, facts, [question])


def _episode_positional(rng: random.Random, task: int) -> List[Story]:
    """Task 17: two shapes next to a third on a grid; yes/no questions about the two."""
    shapes = ("triangle", "red square", "blue square", "red sphere", "pink rectangle", "yellow square")
    offsets = {"to the left of": (-1, 0), "to the right of": (1, 0), "above": (0, 1), "below": (0, -1)}
    inverse = {"to the left of": "to the right of", "to the right of": "to the left of",
               "above": "below", "below": "above"}
    a, b, c = rng.sample(shapes, 3)
    ra, rc = rng.sample(sorted(offsets), 2)
    pos = {a: offsets[ra], b: (0, 0), c: offsets[rc]}

    def said(x: str, rel: str, y: str) -> str:
        return f"The {x} is {rel} the {y}." if rng.random() < 0.5 else f"The {y} is {inverse[rel]} the {x}."

    def holds(x: str, rel: str, y: str) -> bool:
        (dx, dy), (px, py), (qx, qy) = offsets[rel], pos[x], pos[y]
        return (px - qx) * dx > 0 if dx else (py - qy) * dy > 0

    facts = [(0, said(a, ra, b)), (1, said(c, rc, b))]
    candidates = [(x, rel, y) for x, y in ((a, c), (c, a)) for rel in sorted(offsets)]
    rng.shuffle(candidates)
    yes = [q for q in candidates if holds(*q)][:2]
    no = [q for q in candidates if not holds(*q)][:2]
    chosen = yes + no
    rng.shuffle(chosen)
    questions = [(f"Is the {x} {rel} the {y}?", "yes" if holds(x, rel, y) else "no", [0, 1])
                 for x, rel, y in chosen]
    return _static_episode(task, facts, questions)


def _episode_size(rng: random.Random, task: int) -> List[Story]:
    """Task 18: a chain of "fits inside"/"bigger than" facts; yes/no size questions."""
    things = ("box", "box of chocolates", "chest", "chocolate", "container", "suitcase")
    chain = rng.sample(things, rng.randint(4, 5))  # smallest first
    facts = [(i, f"The {chain[i]} fits inside the {chain[i + 1]}." if rng.random() < 0.5
              else f"The {chain[i + 1]} is bigger than the {chain[i]}.") for i in range(len(chain) - 1)]
    rng.shuffle(facts)
    questions = []
    pairs = [(i, j) for i in range(len(chain)) for j in range(len(chain)) if i != j]
    for i, j in rng.sample(pairs, 2):
        x, y = chain[i], chain[j]
        if rng.random() < 0.5:
            question, answer = f"Does the {x} fit in the {y}?", "yes" if i < j else "no"
        else:
            question, answer = f"Is the {x} bigger than the {y}?", "yes" if i > j else "no"
        questions.append((question, answer, list(range(min(i, j), max(i, j)))))
    return _static_episode(task, facts, questions)


def _episode_path(rng: random.Random, task: int) -> List[Story]:
    """Task 19: places on a grid joined by stated adjacencies (a tree); a two-step route."""
    places = rng.sample(PLACES, 5)
    pos = {places[0]: (0, 0)}
    edges: List[Tuple[str, str, str]] = []  # (x, direction, y): x is <direction> of y
    for place in places[1:]:
        while True:
            anchor = rng.choice(list(pos))
            direction = rng.choice(sorted(DIRECTIONS))
            dx, dy = DIRECTIONS[direction]
            cell = (pos[anchor][0] + dx, pos[anchor][1] + dy)
            if cell not in pos.values():
                break
        pos[place] = cell
        edges.append((place, direction, anchor))
    facts = [(i, _relation(rng, *edge)) for i, edge in enumerate(edges)]
    rng.shuffle(facts)
    edge_of = {}
    for i, (x, _, y) in enumerate(edges):
        edge_of[(x, y)] = edge_of[(y, x)] = i
    routes = [(x, y, z) for (x, y) in edge_of for (y2, z) in edge_of if y2 == y and z != x]
    x, y, z = rng.choice(sorted(routes))

    def step(u: str, v: str) -> str:
        delta = (pos[v][0] - pos[u][0], pos[v][1] - pos[u][1])
        return next(d[0] for d, off in DIRECTIONS.items() if off == delta)

    question = (f"How do you go from the {x} to the {z}?", f"{step(x, y)},{step(y, z)}",
                [edge_of[(x, y)], edge_of[(y, z)]])
    return _static_episode(task, facts, [question])


def _episode_motivations(rng: random.Random, task: int) -> List[Story]:
    """Task 20: a motivation sends a person to a place to get an object; ask why/where."""
    motives = {"bored": ("garden", "football"), "hungry": ("kitchen", "apple"),
               "thirsty": ("kitchen", "milk"), "tired": ("bedroom", "pajamas")}
    people = rng.sample(PEOPLE, rng.randint(2, 4))
    motive = {p: rng.choice(sorted(motives)) for p in people}
    lines: Dict[str, List[int]] = {p: [] for p in people}  # motive, move, grab statements
    ep = _Episode(task)
    while any(len(lines[p]) < 3 for p in people):
        person = rng.choice([p for p in people if len(lines[p]) < 3])
        place, obj = motives[motive[person]]
        n = _name(person)
        text = [f"{n} is {motive[person]}.", f"{n} {rng.choice(MOVE_VERBS)} the {place}.",
                f"{n} {rng.choice(GRAB_VERBS)} the {obj} there."][len(lines[person])]
        lines[person].append(ep.say(text))
        if rng.random() < 0.6:
            ep.ask(*_motivation_question(rng, people, motive, motives, lines))
    return ep.samples


def _motivation_question(rng: random.Random, people: Sequence[str], motive: Dict[str, str],
                         motives: Dict[str, Tuple[str, str]], lines: Dict[str, List[int]]) -> QA:
    person = rng.choice([p for p in people if lines[p]])
    place, obj = motives[motive[person]]
    n, said = _name(person), lines[person]
    if len(said) == 1:
        return f"Where will {n} go?", place, said[:1]
    why_go = (f"Why did {n} go to the {place}?", motive[person], said[:2])
    if len(said) == 2:
        return why_go
    return rng.choice([why_go, (f"Why did {n} get the {obj}?", motive[person], [said[0], said[2]])])


_STATIC_TASKS: Dict[int, Callable[[random.Random, int], List[Story]]] = {
    4: _episode_two_arg,
    14: _episode_time,
    15: _episode_deduction,
    16: _episode_induction,
    17: _episode_positional,
    18: _episode_size,
    19: _episode_path,
    20: _episode_motivations,
}

_EPISODES: Dict[int, Callable[[random.Random, int], List[Story]]] = {**_DYNAMIC_TASKS, **_STATIC_TASKS}

#: Task numbers the embedded generator implements.
SUPPORTED_TASKS: Tuple[int, ...] = tuple(sorted(_EPISODES))


# --------------------------------------------------------------------------- public API


def generate_babi(task: int, num_stories: int, seed: int, *, stream: str = "train") -> List[Story]:
    """Generate ``num_stories`` questions (:class:`Story` samples) of bAbI task ``task``.

    Stories hold several questions each, as in bAbI; the output is cut after
    ``num_stories`` questions, so a shorter request is a prefix of a longer one.

    :param task: Task number, one of :data:`SUPPORTED_TASKS`.
    :param seed: Seed; the same ``(task, num_stories, seed, stream)`` always gives the
        same stories.
    :param stream: Independent stream name: ``"train"`` for the train file, ``"test"``
        for the test file.
    :raises UserError: unknown task.
    """
    if task not in _EPISODES:
        raise UserError(f"bAbI task {task!r} is not generated by linksim's embedded generator; "
                        f"it implements tasks {', '.join(map(str, SUPPORTED_TASKS))}")
    rng = random.Random(f"linksim-babi|{GENERATOR_VERSION}|task={task}|seed={seed}|{stream}")
    episode = _EPISODES[task]
    samples: List[Story] = []
    while len(samples) < num_stories:
        samples.extend(episode(rng, task))
    return samples[:num_stories]


def write_generated_dataset(directory: Path, tasks: Sequence[int], num_train: int, num_test: int,
                            seed: int) -> Path:
    """Write generated train/test files in the official layout; return the en-10k folder.

    Files go to ``directory/tasks_1-20_v1-2/en-10k/qa{N}_{name}_{train,test}.txt``, so
    :func:`linksim.data.babi.load_babi` reads them exactly like the official data.

    :param num_train: Questions per task in the train file (the official en-10k has
        10000; the 8k/1k train/valid split is taken from it).
    :param num_test: Questions per task in the test file (official: 1000).
    """
    folder = Path(directory) / "tasks_1-20_v1-2" / "en-10k"
    for task in tasks:
        write_babi_file(folder / task_file_name(task, "train"), generate_babi(task, num_train, seed, stream="train"))
        write_babi_file(folder / task_file_name(task, "test"), generate_babi(task, num_test, seed, stream="test"))
    return folder
