"""Shard state files: one shard's mergeable evaluator state on disk, and their merge.

A Slurm array or a CI matrix runs ``psalm-bench eval ... --shard K/N
--state-out sK.state`` per job; ``psalm-bench merge s*.state`` folds the
states (in shard order, whatever order the files are named in) and computes
the result, byte-identical to one process.

The file format (version :data:`FORMAT_VERSION`) is a zip of ``.npy``
members, readable with ``numpy.load(path, allow_pickle=False)``:

- ``header.npy``: a uint8 array holding UTF-8 JSON: ``format``
  (``"psalm-bench-shard-state"``), ``version``, ``psalm_bench`` (the
  package version), ``task``, ``options`` (the eval options, encoded as
  below), ``gt`` / ``pred`` (absolute input paths) with ``gt_sha256`` /
  ``pred_sha256``, ``shard`` ``[K, N]`` (1-based K), ``n_samples_total``,
  ``samples`` (the shard's ``[start, stop)``), ``world`` (``[root, task]``
  when the ground truth is the embedded world's, else null or absent: merge
  stamps the result as `eval` does), ``evaluator`` (``module:Class``),
  ``config`` and ``state`` (encoded).
- ``aN.npy``: the numeric arrays the encoded values point at.

Values are encoded as JSON with tags (no pickle, nothing executable):
plain JSON for None/bool/int/float/str/list; ``{"__t": T, ...}`` for
``tuple``, ``dict`` (key/value pairs, so integer keys survive), ``set``,
``path``, ``bytes`` (base64), ``nd`` (a numpy array member), ``np`` (a numpy
scalar), ``arr`` (an ``array.array``), ``dc`` (a dataclass or ``__slots__``
record of the ``psalm_bench`` namespace, as ordered field pairs; only such classes are
ever built on reading). Non-finite floats are ``float`` tags; floats keep full
precision.
"""

from __future__ import annotations

import array
import base64
import dataclasses
import importlib
import io
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.progress import tqdm

FORMAT = "psalm-bench-shard-state"
FORMAT_VERSION = 1
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: same state -> same bytes
_NAMESPACE = "psalm_bench."


# ---- shard selection


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` (1-based K) -> (K, N); one-line InputError otherwise."""
    try:
        k_text, n_text = text.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise InputError(f"--shard {text}: expected K/N, e.g. 3/16") from None
    if n < 1 or not 1 <= k <= n:
        raise InputError(f"--shard {text}: K must be 1..N and N at least 1")
    return k, n


def shard_range(n_items: int, k: int, n: int) -> tuple[int, int]:
    """Contiguous ``[start, stop)`` of shard K of N: sizes differ by at most one."""
    return (k - 1) * n_items // n, k * n_items // n


# ---- value encoding


def _encode(value: Any, arrays: list[np.ndarray], where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, np.integer):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__t": "float", "v": repr(value)}
    if isinstance(value, list):
        return [_encode(v, arrays, where) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"__t": "tuple", "v": [_encode(v, arrays, where) for v in value]}
    if isinstance(value, dict):
        return {"__t": "dict", "v": [[_encode(k, arrays, where), _encode(v, arrays, where)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        items = sorted(value, key=repr)
        return {"__t": "frozenset" if isinstance(value, frozenset) else "set", "v": [_encode(v, arrays, where) for v in items]}
    if isinstance(value, Path):
        return {"__t": "path", "v": str(value)}
    if isinstance(value, bytes):
        return {"__t": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise InputError(f"{where}: an object array cannot go into a shard state file")
        arrays.append(np.ascontiguousarray(value))
        return {"__t": "nd", "k": len(arrays) - 1}
    if isinstance(value, np.generic):
        return {"__t": "np", "dtype": value.dtype.str, "v": _encode(value.item(), arrays, where)}
    if isinstance(value, array.array):
        arrays.append(np.frombuffer(value.tobytes(), dtype=np.dtype(value.typecode)).copy())
        return {"__t": "arr", "typecode": value.typecode, "k": len(arrays) - 1}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith(_NAMESPACE):
            raise InputError(f"{where}: {cls.__module__}.{cls.__qualname__} is not a psalm_bench record")
        fields = [[f.name, _encode(getattr(value, f.name), arrays, where)] for f in dataclasses.fields(value)]
        return {"__t": "dc", "cls": f"{cls.__module__}:{cls.__qualname__}", "v": fields}
    slots = _slots(type(value))
    if slots and type(value).__module__.startswith(_NAMESPACE):
        cls = type(value)
        fields = [[name, _encode(getattr(value, name), arrays, where)] for name in slots if hasattr(value, name)]
        return {"__t": "dc", "cls": f"{cls.__module__}:{cls.__qualname__}", "v": fields}
    raise InputError(f"{where}: a {type(value).__name__} cannot go into a shard state file")


def _slots(cls: type) -> list[str]:
    """The attribute names of a ``__slots__`` record class (empty if it has a ``__dict__``)."""
    if not hasattr(cls, "__slots__") or any("__dict__" in vars(c) for c in cls.__mro__ if c is not object):
        return []
    names: list[str] = []
    for c in reversed(cls.__mro__):
        raw = vars(c).get("__slots__", ())
        names += [raw] if isinstance(raw, str) else list(raw)
    return names


def _record_class(name: str, where: str) -> type:
    module_name, _, qualname = name.partition(":")
    if not module_name.startswith(_NAMESPACE):
        raise InputError(f"{where}: record class {name} is outside psalm_bench")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise InputError(f"{where}: unknown record class {name}") from None
    if not (isinstance(obj, type) and (dataclasses.is_dataclass(obj) or _slots(obj))):
        raise InputError(f"{where}: {name} is not a record class")
    return obj


def _decode(value: Any, arrays: Callable[[int], np.ndarray], where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, where) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get("__t")
    if tag == "float":
        return float(value["v"])
    if tag == "tuple":
        return tuple(_decode(v, arrays, where) for v in value["v"])
    if tag == "dict":
        return {_decode(k, arrays, where): _decode(v, arrays, where) for k, v in value["v"]}
    if tag in ("set", "frozenset"):
        items = [_decode(v, arrays, where) for v in value["v"]]
        return set(items) if tag == "set" else frozenset(items)
    if tag == "path":
        return Path(value["v"])
    if tag == "bytes":
        return base64.b64decode(value["v"])
    if tag == "nd":
        return arrays(value["k"])
    if tag == "np":
        return np.dtype(value["dtype"]).type(_decode(value["v"], arrays, where))
    if tag == "arr":
        return array.array(value["typecode"], arrays(value["k"]).tobytes())
    if tag == "dc":
        cls = _record_class(value["cls"], where)
        obj = cls.__new__(cls)
        for name, v in value["v"]:  # pairs: field order survives sort_keys
            object.__setattr__(obj, name, _decode(v, arrays, where))
        return obj
    raise InputError(f"{where}: unknown value tag {tag!r}")


# ---- the file


@dataclass(frozen=True)
class ShardHeader:
    """What a shard was computed from: merge refuses shards that differ in any of it."""

    task: str
    options: dict[str, Any]
    gt: list[str]
    pred: list[str]
    gt_sha256: str
    pred_sha256: str
    shard: tuple[int, int]
    n_samples_total: int = 0
    samples: tuple[int, int] = (0, 0)
    world: tuple[str, str] | None = None  # (world root, task key) when scored on the embedded world


@dataclass
class ShardState:
    path: Path
    header: ShardHeader
    version: str
    evaluator: Any


def write_state(path: str | Path, header: ShardHeader, evaluator: Any) -> None:
    """Write one shard's header and evaluator state (deterministic bytes)."""
    from psalm_bench import __version__

    cls = type(evaluator)
    arrays: list[np.ndarray] = []
    where = str(path)
    doc = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "psalm_bench": __version__,
        "task": header.task,
        "options": _encode(header.options, arrays, where),
        "gt": header.gt,
        "pred": header.pred,
        "gt_sha256": header.gt_sha256,
        "pred_sha256": header.pred_sha256,
        "shard": list(header.shard),
        "n_samples_total": header.n_samples_total,
        "samples": list(header.samples),
        "world": list(header.world) if header.world is not None else None,
        "evaluator": f"{cls.__module__}:{cls.__qualname__}",
        "config": _encode(evaluator.config(), arrays, where),
        "state": _encode(evaluator.state_dict(), arrays, where),
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    members = [("header.npy", np.frombuffer(text, dtype=np.uint8))] + [(f"a{i}.npy", a) for i, a in enumerate(arrays)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in members:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    tmp.replace(path)


def read_state(path: str | Path) -> ShardState:
    """Read a shard file; anything malformed is a one-line InputError naming it."""
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"not a psalm-bench shard state file ({exc})", file=path) from None
    with npz:
        try:
            doc = json.loads(npz["header.npy"].tobytes())
        except (KeyError, ValueError) as exc:
            raise InputError(f"not a psalm-bench shard state file (no readable header: {exc})", file=path) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError("not a psalm-bench shard state file", file=path)
        if doc.get("version") != FORMAT_VERSION:
            raise InputError(f"shard state format version {doc.get('version')}; this psalm-bench reads version {FORMAT_VERSION}", file=path)
        where = str(path)
        cache: dict[int, np.ndarray] = {}

        def member(k: int) -> np.ndarray:
            if k not in cache:
                try:
                    cache[k] = npz[f"a{k}.npy"]
                except (KeyError, ValueError) as exc:
                    raise InputError(f"array a{k} is missing or unreadable ({exc})", file=path) from None
            return cache[k]

        try:
            header = ShardHeader(
                task=doc["task"],
                options=_decode(doc["options"], member, where),
                gt=list(doc["gt"]),
                pred=list(doc["pred"]),
                gt_sha256=doc["gt_sha256"],
                pred_sha256=doc["pred_sha256"],
                shard=(int(doc["shard"][0]), int(doc["shard"][1])),
                n_samples_total=int(doc["n_samples_total"]),
                samples=(int(doc["samples"][0]), int(doc["samples"][1])),
                world=_world(doc.get("world")),
            )
            module_name, _, name = doc["evaluator"].partition(":")
            if not module_name.startswith(_NAMESPACE):
                raise InputError(f"evaluator {doc['evaluator']} is outside psalm_bench", file=path)
            cls = getattr(importlib.import_module(module_name), name)
            evaluator = cls.from_state(_decode(doc["config"], member, where), _decode(doc["state"], member, where))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ImportError) as exc:
            raise InputError(f"malformed shard state ({type(exc).__name__}: {exc})", file=path) from None
    return ShardState(path, header, str(doc["psalm_bench"]), evaluator)


# ---- engines for run_sharded


@dataclass
class ShardEngine:
    """Score shard K of N of the samples (optionally in a local pool) and write its state."""

    header: ShardHeader
    state_out: Path
    workers: int = 1

    def run(self, evaluator: Any, samples: Sequence[Any], load: Any, *, desc: str, progress: bool, chunk_size: int | None) -> Any:
        from psalm_bench.parallel import run_sharded

        k, n = self.header.shard
        start, stop = shard_range(len(samples), k, n)
        run_sharded(evaluator, samples[start:stop], load, workers=self.workers, desc=f"{desc} shard {k}/{n}", progress=progress, chunk_size=chunk_size)
        header = dataclasses.replace(self.header, n_samples_total=len(samples), samples=(start, stop))
        write_state(self.state_out, header, evaluator)
        return evaluator


@dataclass
class ReplayEngine:
    """Instead of scoring, fold stored shard states into the evaluator (in shard order)."""

    states: list[ShardState]

    def run(self, evaluator: Any, samples: Sequence[Any], load: Any, *, desc: str, progress: bool, chunk_size: int | None) -> Any:
        first = self.states[0]
        expected = first.header.n_samples_total
        if len(samples) != expected:
            raise InputError(f"the inputs now give {len(samples)} samples; the shards were scored over {expected}", file=first.path)
        covered = 0
        for state in self.states:
            start, stop = state.header.samples
            if start != covered or stop > expected:
                raise InputError(f"shard {state.header.shard[0]} covers samples {start}..{stop}, expected to start at {covered}", file=state.path)
            covered = stop
            if type(state.evaluator) is not type(evaluator) or _canon(state.evaluator.config()) != _canon(evaluator.config()):
                raise InputError("its evaluator or configuration differs from what the inputs give now", file=state.path)
        if covered != expected:
            raise InputError(f"the shards cover {covered} of {expected} samples", file=self.states[-1].path)
        for state in tqdm(self.states, desc=f"{desc} merge", unit="shard", disable=not progress, leave=False):
            evaluator.merge(state.evaluator)
        return evaluator


def _world(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError(f"world must be [root, task] or null, got {value!r}")
    return value[0], value[1]


def _canon(value: Any) -> str:
    arrays: list[np.ndarray] = []
    text = json.dumps(_encode(value, arrays, "config"), sort_keys=True)
    return text + "".join(a.dtype.str + a.tobytes().hex() for a in arrays)


def check_compatible(states: list[ShardState]) -> list[ShardState]:
    """Refuse shards of different runs, a missing or a duplicated shard; return them in shard order."""
    if not states:
        raise InputError("no shard state files given")
    first = states[0]
    h0 = first.header
    for state in states[1:]:
        h = state.header
        for what, a, b in (
            ("task", h.task, h0.task),
            ("psalm-bench version", state.version, first.version),
            ("ground truth (sha256)", h.gt_sha256, h0.gt_sha256),
            ("predictions (sha256)", h.pred_sha256, h0.pred_sha256),
            ("shard count N", h.shard[1], h0.shard[1]),
            ("number of samples", h.n_samples_total, h0.n_samples_total),
            ("world", h.world, h0.world),
        ):
            if a != b:
                raise InputError(f"{what} {a} differs from {b} in {first.path}", file=state.path)
        if _canon(h.options) != _canon(h0.options):
            raise InputError(f"options {_describe(h.options)} differ from {_describe(h0.options)} in {first.path}", file=state.path)
    seen: dict[int, ShardState] = {}
    for state in states:
        k = state.header.shard[0]
        if k in seen:
            raise InputError(f"shard {k}/{h0.shard[1]} given twice (also {seen[k].path})", file=state.path)
        seen[k] = state
    n = h0.shard[1]
    missing = [k for k in range(1, n + 1) if k not in seen]
    if missing:
        shown = ", ".join(f"{k}/{n}" for k in missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise InputError(f"{len(missing)} of {n} shards missing: {shown}")
    return [seen[k] for k in range(1, n + 1)]


def _describe(options: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(options.items())) + "}"
