"""Referring expressions of the benchmark world, checked against the scene.

Every sentence is the rendering of a small query, a noun phrase (category or
a generic noun, with colour, size and texture words) plus at most one
qualifier: an extreme ("on the left"), an ordinal ("the second ... from the
top"), a zone of the image ("in the top left corner"), a relation to another
object ("left of", "above", "in front of", "behind") or the stuff under the
object ("on the grass"). A query is evaluated three-valued on the scene:
each object is clearly in, clearly out, or too close to a margin to say. A
sentence is kept only when its targets are exactly the intended objects and
no object is borderline, so every sentence is unambiguous by construction.
Crowd regions are distractors: a noun phrase that also fits a crowd is never
used.

All words come from the tables below, so ``world_vocabulary`` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Iterator

import numpy as np

from psalm_bench.generators.world_scene import CATEGORIES, COLOURS, SIZE_WORDS, TEXTURES, Scene

# ----------------------------------------------------------------- surface forms

SIZE_FORMS = {"small": ("small", "little"), "medium": ("medium", "medium sized"), "large": ("large", "big")}
TEXTURE_BEFORE = {"solid": ("plain", "solid"), "striped": ("striped",), "dotted": ("dotted", "spotted")}
TEXTURE_AFTER = {"solid": ("without a pattern",), "striped": ("with stripes",), "dotted": ("with dots", "with polka dots")}
GENERIC = ("shape", "object", "one")
GENERIC_PLURAL = {"shape": "shapes", "object": "objects", "one": "ones"}
EXTREME_FORMS = {
    "left": ("{np} on the left", "leftmost {np}"),
    "right": ("{np} on the right", "rightmost {np}"),
    "top": ("{np} at the top", "topmost {np}", "highest {np}"),
    "bottom": ("{np} at the bottom", "lowest {np}", "bottom {np}"),
}
ORDINALS = {2: "second", 3: "third"}
ORDINAL_FORM = "{ordinal} {np} from the {side}"
ZONES = {
    "top left": (0, 0), "top right": (2, 0), "bottom left": (0, 2), "bottom right": (2, 2), "center": (1, 1),
}
ZONE_FORMS = {
    "top left": ("{np} in the top left corner", "{np} in the upper left corner"),
    "top right": ("{np} in the top right corner", "{np} in the upper right corner"),
    "bottom left": ("{np} in the bottom left corner", "{np} in the lower left corner"),
    "bottom right": ("{np} in the bottom right corner", "{np} in the lower right corner"),
    "center": ("{np} in the center", "{np} in the middle of the picture"),
}
RELATION_FORMS = {
    "left": ("{np} to the left of the {lm}", "{np} left of the {lm}"),
    "right": ("{np} to the right of the {lm}", "{np} right of the {lm}"),
    "above": ("{np} above the {lm}", "{np} over the {lm}"),
    "below": ("{np} below the {lm}", "{np} under the {lm}", "{np} beneath the {lm}"),
    "front": ("{np} in front of the {lm}", "{np} covering the {lm}"),
    "behind": ("{np} behind the {lm}", "{np} partly hidden by the {lm}"),
}
STUFF_PREPOSITION = {"sky": "in", "grass": "on", "water": "in", "sand": "on", "wall": "on", "floor": "on", "road": "on", "snow": "in", "carpet": "on"}
STUFF_FORM = "{np} {prep} the {stuff}"
MULTI_FORMS = ("all {pl}", "all the {pl}", "the {count} {pl}", "every {sg}")
PAIR_FORMS = ("both {pl}", "the two {pl}")
CONJUNCTION_FORM = "the {a} and the {b}"
COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
FIXED_WORDS = "the"


def world_vocabulary() -> list[str]:
    """Every word a sentence, category name or attribute of the world can
    produce (held-out categories included), lower case, sorted."""
    words: set[str] = set(FIXED_WORDS.split())
    phrases: list[str] = [*COLOURS, *SIZE_WORDS, *TEXTURES, *GENERIC, *GENERIC_PLURAL.values(), *ORDINALS.values(),
                          *COUNT_WORDS.values(), *ZONES, *STUFF_PREPOSITION.values(), ORDINAL_FORM, STUFF_FORM, CONJUNCTION_FORM,
                          *MULTI_FORMS, *PAIR_FORMS, "left right top bottom center middle"]
    for table in (SIZE_FORMS, TEXTURE_BEFORE, TEXTURE_AFTER, EXTREME_FORMS, ZONE_FORMS, RELATION_FORMS):
        for forms in table.values():
            phrases.extend(forms)
    for cat in CATEGORIES.all:
        phrases += [cat.name, cat.plural, cat.supercategory]
    for phrase in phrases:
        for word in phrase.split():
            if not word.startswith("{"):
                words.add(word.lower())
    return sorted(words)


# ----------------------------------------------------------------- records


@dataclass(frozen=True)
class Expression:
    """A sentence that refers to exactly one object: ``target`` indexes
    ``scene.things``. ``kind``: category, attribute, extreme, ordinal, zone,
    relation or stuff (the construction used)."""

    target: int
    sentence: str
    kind: str


@dataclass(frozen=True)
class GExpression:
    """A generalized referring sentence: ``targets`` index ``scene.things``
    (empty: no target). ``kind``: single, multi or none."""

    targets: tuple[int, ...]
    sentence: str
    kind: str


@dataclass(frozen=True)
class NounPhrase:
    noun: str | None  # category name; None: a generic noun
    colour: str | None = None
    size: str | None = None
    texture: str | None = None

    @property
    def n_attributes(self) -> int:
        return (self.colour is not None) + (self.size is not None) + (self.texture is not None)


# ----------------------------------------------------------------- the scene as bit sets


def _bits(indices: Iterator[int] | list[int]) -> int:
    out = 0
    for i in indices:
        out |= 1 << i
    return out


def _members(bits: int) -> list[int]:
    out, i = [], 0
    while bits:
        if bits & 1:
            out.append(i)
        bits >>= 1
        i += 1
    return out


class _SceneIndex:
    """Attribute bit sets and geometry of a scene's objects, and the
    three-valued (true bits, borderline bits) of every qualifier."""

    def __init__(self, scene: Scene):
        things = scene.things
        self.scene = scene
        self.n = len(things)
        self.width, self.height = scene.width, scene.height
        self.crowd = _bits(i for i, t in enumerate(things) if t.iscrowd)
        self.real = _bits(i for i, t in enumerate(things) if not t.iscrowd)
        self.by: dict[str, dict[str, int]] = {"noun": {}, "colour": {}, "size": {}, "texture": {}}
        for i, t in enumerate(things):
            for key, value in (("noun", t.category), ("colour", t.colour), ("size", t.size), ("texture", t.texture)):
                self.by[key][value] = self.by[key].get(value, 0) | (1 << i)
        self.cx = [t.center[0] for t in things]
        self.cy = [t.center[1] for t in things]
        self.half_w = [t.bbox[2] / 2 for t in things]
        self.half_h = [t.bbox[3] / 2 for t in things]
        self.margin_x = max(8.0, 0.04 * self.width)
        self.margin_y = max(8.0, 0.04 * self.height)
        self._relations: dict[tuple[str, int], tuple[int, int]] = {}
        self._stuff: dict[int, tuple[int, int]] = {}
        self._zones: dict[str, tuple[int, int]] = {}

    def match(self, np_: NounPhrase) -> int:
        bits = (1 << self.n) - 1
        for key, value in (("noun", np_.noun), ("colour", np_.colour), ("size", np_.size), ("texture", np_.texture)):
            if value is not None:
                bits &= self.by[key].get(value, 0)
        return bits

    # qualifiers: each returns (true bits, borderline bits) over all objects

    def relation(self, rel: str, landmark: int) -> tuple[int, int]:
        key = (rel, landmark)
        if key not in self._relations:
            self._relations[key] = self._relation(rel, landmark)
        return self._relations[key]

    def _relation(self, rel: str, lm: int) -> tuple[int, int]:
        true = amb = 0
        things = self.scene.things
        for i in range(self.n):
            if i == lm:
                continue
            if rel in ("left", "right", "above", "below"):
                if rel in ("left", "right"):
                    d = (self.cx[lm] - self.cx[i]) if rel == "left" else (self.cx[i] - self.cx[lm])
                    need = (self.half_w[i] + self.half_w[lm]) / 2
                else:
                    d = (self.cy[lm] - self.cy[i]) if rel == "above" else (self.cy[i] - self.cy[lm])
                    need = (self.half_h[i] + self.half_h[lm]) / 2
                if d >= max(need, 6.0):
                    true |= 1 << i
                elif d > 0:
                    amb |= 1 << i
            else:
                front, back = (i, lm) if rel == "front" else (lm, i)
                overlap = int((things[i].full_mask & things[lm].full_mask).sum())
                if overlap == 0 or things[front].depth < things[back].depth:
                    continue
                hidden = int((things[front].mask & things[back].full_mask).sum())
                if hidden >= 40:
                    true |= 1 << i
                else:
                    amb |= 1 << i
        return true, amb

    def on_stuff(self, k: int) -> tuple[int, int]:
        if k not in self._stuff:
            region = self.scene.stuff[k].full_mask
            true = amb = 0
            for i, t in enumerate(self.scene.things):
                full = t.full_mask
                fraction = float((full & region).sum()) / max(1, int(full.sum()))
                if fraction >= 0.7:
                    true |= 1 << i
                elif fraction > 0.3:
                    amb |= 1 << i
            self._stuff[k] = (true, amb)
        return self._stuff[k]

    def zone(self, name: str) -> tuple[int, int]:
        if name not in self._zones:
            self._zones[name] = self._zone(name)
        return self._zones[name]

    def _zone(self, name: str) -> tuple[int, int]:
        col, row = ZONES[name]
        true = amb = 0
        for i in range(self.n):
            inside = _in_band(self.cx[i], col, self.width, self.margin_x), _in_band(self.cy[i], row, self.height, self.margin_y)
            if inside == (1, 1):
                true |= 1 << i
            elif 0 not in inside:
                amb |= 1 << i
        return true, amb

    def order(self, members: list[int], side: str) -> list[tuple[float, int]]:
        if side in ("left", "right"):
            keyed = [(self.cx[i] if side == "left" else -self.cx[i], i) for i in members]
        else:
            keyed = [(self.cy[i] if side == "top" else -self.cy[i], i) for i in members]
        return sorted(keyed)

    def gap_margin(self, side: str) -> float:
        return self.margin_x if side in ("left", "right") else self.margin_y


def _in_band(value: float, band: int, extent: int, margin: float) -> int:
    """1 clearly inside third ``band``, 0 clearly outside, 2 borderline."""
    lo, hi = band * extent / 3, (band + 1) * extent / 3
    if lo + margin <= value <= hi - margin or (band == 0 and value <= hi - margin) or (band == 2 and value >= lo + margin):
        return 1
    if value < lo - margin or value > hi + margin:
        return 0
    return 2


# ----------------------------------------------------------------- rendering


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(0, len(options)))]


def _np_words(np_: NounPhrase, rng: np.random.Generator, plural: bool = False) -> str:
    before: list[str] = []
    after: list[str] = []
    if np_.size is not None:
        before.append(_pick(rng, SIZE_FORMS[np_.size]))
    if np_.colour is not None:
        before.append(np_.colour)
    if np_.texture is not None:
        if rng.random() < 0.6:
            before.append(_pick(rng, TEXTURE_BEFORE[np_.texture]))
        else:
            after.append(_pick(rng, TEXTURE_AFTER[np_.texture]))
    if np_.noun is not None:
        cat = CATEGORIES.by_name(np_.noun)
        noun = cat.plural if plural else cat.name
    else:
        choices = GENERIC if (before or after) else GENERIC[:2]
        noun = _pick(rng, choices)
        noun = GENERIC_PLURAL[noun] if plural else noun
    return " ".join([*before, noun, *after])


@dataclass(frozen=True)
class _Query:
    np: NounPhrase
    qualifier: tuple  # ("none",) | ("extreme", side) | ("ordinal", k, side) | ("zone", name) | ("relation", rel, lm, lm_np) | ("stuff", k)
    kind: str
    cost: float


def _render(q: _Query, scene: Scene, rng: np.random.Generator) -> str:
    np_text = _np_words(q.np, rng)
    kind = q.qualifier[0]
    if kind == "none":
        phrase = np_text
    elif kind == "extreme":
        phrase = _pick(rng, EXTREME_FORMS[q.qualifier[1]]).format(np=np_text)
    elif kind == "ordinal":
        phrase = ORDINAL_FORM.format(ordinal=ORDINALS[q.qualifier[1]], np=np_text, side=q.qualifier[2])
    elif kind == "zone":
        phrase = _pick(rng, ZONE_FORMS[q.qualifier[1]]).format(np=np_text)
    elif kind == "relation":
        phrase = _pick(rng, RELATION_FORMS[q.qualifier[1]]).format(np=np_text, lm=_np_words(q.qualifier[3], rng))
    else:
        stuff = scene.stuff[q.qualifier[1]].category
        phrase = STUFF_FORM.format(np=np_text, prep=STUFF_PREPOSITION[stuff], stuff=stuff)
    return "the " + phrase


def _noun_phrases(thing, max_attributes: int = 3) -> list[NounPhrase]:
    out = []
    for noun in (thing.category, None):
        for colour in (thing.colour, None):
            for size in (thing.size, None):
                for texture in (thing.texture, None):
                    np_ = NounPhrase(noun, colour, size, texture)
                    if np_.n_attributes <= max_attributes:
                        out.append(np_)
    return out


def _np_cost(np_: NounPhrase) -> float:
    return np_.n_attributes + (0.6 if np_.noun is None else 0.0)


def _landmarks(index: _SceneIndex) -> dict[int, NounPhrase]:
    """Objects that a simple noun phrase names uniquely, with that phrase."""
    out: dict[int, NounPhrase] = {}
    for i, thing in enumerate(index.scene.things):
        if thing.iscrowd:
            continue
        best = None
        for np_ in _noun_phrases(thing, max_attributes=1):
            if np_.noun is None:
                continue
            if index.match(np_) == 1 << i and (best is None or np_.n_attributes < best.n_attributes):
                best = np_
        if best is not None:
            out[i] = best
    return out


def _single_queries(index: _SceneIndex, target: int, landmarks: dict[int, NounPhrase]) -> list[_Query]:
    """Every query whose only (and unambiguous) referent is ``target``."""
    thing = index.scene.things[target]
    bit = 1 << target
    queries: list[_Query] = []
    for np_ in _noun_phrases(thing):
        matched = index.match(np_)
        if matched & index.crowd:
            continue
        cost = _np_cost(np_)
        if matched == bit:
            queries.append(_Query(np_, ("none",), "category" if np_.n_attributes == 0 else "attribute", cost))
            continue
        if np_.n_attributes > 1:
            continue  # qualifiers go with short noun phrases, as people say them
        members = _members(matched)
        for side in ("left", "right", "top", "bottom"):
            ordered = index.order(members, side)
            margin = index.gap_margin(side)
            if ordered[0][1] == target and ordered[1][0] - ordered[0][0] >= margin:
                queries.append(_Query(np_, ("extreme", side), "extreme", cost + 1))
            for k in (2, 3):
                if len(ordered) > k and ordered[k - 1][1] == target and all(ordered[j + 1][0] - ordered[j][0] >= margin for j in range(k)):
                    queries.append(_Query(np_, ("ordinal", k, side), "ordinal", cost + 2))
        for zone in ZONES:
            true, amb = index.zone(zone)
            if matched & true == bit and not matched & amb:
                queries.append(_Query(np_, ("zone", zone), "zone", cost + 1.5))
        for k in range(len(index.scene.stuff)):
            true, amb = index.on_stuff(k)
            if matched & true == bit and not matched & amb:
                queries.append(_Query(np_, ("stuff", k), "stuff", cost + 1.5))
        for lm, lm_np in landmarks.items():
            if lm == target:
                continue
            for rel in RELATION_FORMS:
                true, amb = index.relation(rel, lm)
                if matched & true == bit and not matched & amb:
                    queries.append(_Query(np_, ("relation", rel, lm, lm_np), "relation", cost + 2 + lm_np.n_attributes * 0.5))
    return queries


def _choose(queries: list[_Query], n: int, rng: np.random.Generator) -> list[_Query]:
    """Up to ``n`` queries, mostly concise, of different kinds where possible."""
    if not queries:
        return []
    best = min(q.cost for q in queries)
    pool = [q for q in queries if q.cost <= best + 1.5]
    kinds: dict[str, list[_Query]] = {}
    for q in pool:
        kinds.setdefault(q.kind, []).append(q)
    order = [str(k) for k in rng.permutation(sorted(kinds))]
    chosen: list[_Query] = []
    for step in range(n * 2):
        group = kinds[order[step % len(order)]]
        q = group[int(rng.integers(0, len(group)))]
        if q not in chosen:
            chosen.append(q)
        if len(chosen) == n:
            break
    return chosen


def referring_expressions(scene: Scene, rng: np.random.Generator, *, targets: list[int] | None = None, max_sentences: int = 3) -> list[Expression]:
    """RefCOCO-style sentences, 1 to ``max_sentences`` per object that has one,
    each naming exactly one (non-crowd) object of the scene. ``targets``
    limits the objects referred to (default: all)."""
    index = _SceneIndex(scene)
    landmarks = _landmarks(index)
    out: list[Expression] = []
    seen: set[str] = set()
    for target in range(index.n) if targets is None else targets:
        if scene.things[target].iscrowd:
            continue
        n = 1 + int(rng.choice(max_sentences, p=_sentence_p(max_sentences)))
        for q in _choose(_single_queries(index, target, landmarks), n, rng):
            sentence = _render(q, scene, rng)
            if sentence not in seen:
                seen.add(sentence)
                out.append(Expression(target, sentence, q.kind))
    return out


def _sentence_p(n: int) -> list[float]:
    weights = np.array([0.15, 0.35, 0.5][:n] if n <= 3 else [1.0] * n)
    return list(weights / weights.sum())


# ----------------------------------------------------------------- generalized (gRefCOCO)


def _multi_queries(index: _SceneIndex, landmarks: dict[int, NounPhrase]) -> list[tuple[int, NounPhrase, tuple]]:
    """(target bits, noun phrase, qualifier) for sets of two or more objects."""
    out: list[tuple[int, NounPhrase, tuple]] = []
    seen: set[NounPhrase] = set()
    for thing in index.scene.things:
        if thing.iscrowd:
            continue
        for np_ in _noun_phrases(thing, max_attributes=2):
            if np_ in seen or (np_.noun is None and np_.n_attributes == 0 and index.crowd):
                continue
            seen.add(np_)
            matched = index.match(np_)
            if matched & index.crowd or bin(matched).count("1") < 2:
                continue
            out.append((matched, np_, ("none",)))
            if np_.n_attributes:
                continue
            for k in range(len(index.scene.stuff)):
                true, amb = index.on_stuff(k)
                chosen = matched & true
                if not matched & amb and bin(chosen).count("1") >= 2 and chosen != matched:
                    out.append((chosen, np_, ("stuff", k)))
            for lm, lm_np in landmarks.items():
                for rel in ("left", "right", "above", "below"):
                    true, amb = index.relation(rel, lm)
                    chosen = matched & true
                    if not matched & amb and bin(chosen).count("1") >= 2:
                        out.append((chosen, np_, ("relation", rel, lm, lm_np)))
    return out


def _render_multi(bits: int, np_: NounPhrase, qualifier: tuple, scene: Scene, rng: np.random.Generator) -> str:
    count = bin(bits).count("1")
    if qualifier[0] == "none":
        forms = PAIR_FORMS + MULTI_FORMS[:2] if count == 2 else MULTI_FORMS
        form = _pick(rng, forms)
        return form.format(pl=_np_words(np_, rng, plural=True), sg=_np_words(np_, rng), count=COUNT_WORDS[count])
    head = _pick(rng, ("all the {pl}", "the {pl}")).format(pl=_np_words(np_, rng, plural=True))
    if qualifier[0] == "stuff":
        stuff = scene.stuff[qualifier[1]].category
        return f"{head} {STUFF_PREPOSITION[stuff]} the {stuff}"
    relation = _pick(rng, RELATION_FORMS[qualifier[1]]).format(np="", lm=_np_words(qualifier[3], rng)).strip()
    return f"{head} {relation}"


def _no_target_queries(index: _SceneIndex, rng: np.random.Generator, landmarks: dict[int, NounPhrase]) -> list[_Query]:
    """Queries that fit nothing in the scene but look plausible: one attribute
    of a real object changed, an absent category, or a false placement."""
    out: list[_Query] = []
    things = index.scene.things
    present = {t.category for t in things}
    for cat in CATEGORIES.things:
        if not cat.novel and cat.name not in present:
            out.append(_Query(NounPhrase(cat.name), ("none",), "none", 0))
    values = {"colour": list(COLOURS), "size": list(SIZE_WORDS), "texture": list(TEXTURES)}
    for thing in things:
        if thing.iscrowd:
            continue
        for key in ("colour", "size", "texture"):
            for value in values[key]:
                if value == getattr(thing, key):
                    continue
                np_ = NounPhrase(thing.category, **{key: value})
                if index.match(np_) == 0:
                    out.append(_Query(np_, ("none",), "none", 1))
        np_ = NounPhrase(thing.category)
        matched = index.match(np_)
        if matched & index.crowd:
            continue
        for k in range(len(index.scene.stuff)):
            true, amb = index.on_stuff(k)
            if not matched & (true | amb):
                out.append(_Query(np_, ("stuff", k), "none", 2))
        for lm, lm_np in landmarks.items():
            if matched >> lm & 1:
                continue
            for rel in ("left", "right", "above", "below"):
                true, amb = index.relation(rel, lm)
                if not matched & (true | amb):
                    out.append(_Query(np_, ("relation", rel, lm, lm_np), "none", 2))
    return out


def generalized_expressions(scene: Scene, rng: np.random.Generator, *, n_single: int = 2, n_multi: int = 2, n_none: int = 1) -> list[GExpression]:
    """gRefCOCO-style sentences: about ``n_single`` one-object targets,
    ``n_multi`` target sets of two or more objects (a shared description, a
    placement, or "the A and the B") and ``n_none`` sentences that fit
    nothing; one or two sentences each. Targets never include a crowd."""
    index = _SceneIndex(scene)
    landmarks = _landmarks(index)
    out: list[GExpression] = []
    seen: set[str] = set()

    def add(targets: tuple[int, ...], sentence: str, kind: str) -> None:
        if sentence not in seen:
            seen.add(sentence)
            out.append(GExpression(targets, sentence, kind))

    real = [i for i, t in enumerate(scene.things) if not t.iscrowd]
    singles: dict[int, list[_Query]] = {}
    for target in rng.permutation(real).tolist():
        queries = _single_queries(index, target, landmarks)
        if queries:
            singles[target] = queries
    for target in list(singles)[:n_single]:
        for q in _choose(singles[target], 1 + int(rng.integers(0, 2)), rng):
            add((target,), _render(q, scene, rng), "single")

    multi = _multi_queries(index, landmarks)
    pairs = [(a, b) for a, b in combinations(sorted(singles), 2)]
    n_sets = 0
    used: set[int] = set()
    for k in rng.permutation(len(multi) + min(len(pairs), 3)).tolist():
        if n_sets >= n_multi:
            break
        if k < len(multi):
            bits, np_, qualifier = multi[k]
            if bits in used:
                continue
            used.add(bits)
            for _ in range(1 + int(rng.integers(0, 2))):
                add(tuple(_members(bits)), _render_multi(bits, np_, qualifier, scene, rng), "multi")
        else:
            a, b = pairs[int(rng.integers(0, len(pairs)))]
            bits = (1 << a) | (1 << b)
            if bits in used:
                continue
            used.add(bits)
            # parts without a landmark, so "the A and the B" parses one way
            qa = min((q for q in singles[a] if q.kind != "relation"), key=lambda q: q.cost, default=None)
            qb = min((q for q in singles[b] if q.kind != "relation"), key=lambda q: q.cost, default=None)
            if qa is None or qb is None:
                continue
            add((a, b), CONJUNCTION_FORM.format(a=_render(qa, scene, rng)[4:], b=_render(qb, scene, rng)[4:]), "multi")
        n_sets += 1

    nones = _no_target_queries(index, rng, landmarks)
    for k in rng.permutation(len(nones))[:n_none].tolist():
        for _ in range(1 + int(rng.integers(0, 2))):
            add((), _render(nones[k], scene, rng), "none")
    return out


__all__ = ["Expression", "GExpression", "NounPhrase", "generalized_expressions", "referring_expressions", "world_vocabulary"]
