"""DAVIS-2017 ground truth and video object segmentation predictions.

Ground truth is a DAVIS root in the official layout:

    ROOT/ImageSets/2017/SPLIT.txt         one sequence name per line
    ROOT/Annotations/480p/SEQ/NNNNN.png   indexed (palette) PNG per frame:
                                          0 background, 1..K objects, 255 void

Predictions are a folder ``PRED/SEQ/NNNNN.png`` in the same layout (indexed,
or grey, PNGs whose values are object ids). Frames are the annotation PNGs of
a sequence in sorted order, as the official ``davis2017-evaluation`` lists
them. The objects of a sequence are the ids of its first annotated frame
(void excluded); a later ground-truth frame holding another id is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.paths import require_folder
from psalm_bench.pngio import read_label_map

VOID = 255
SPLITS_DIR = Path("ImageSets") / "2017"
ANNOTATIONS_DIR = Path("Annotations") / "480p"


@dataclass(frozen=True)
class DavisSequence:
    """One ground-truth sequence: its annotation PNGs, in frame order."""

    name: str
    frames: tuple[Path, ...]

    @property
    def frame_names(self) -> list[str]:
        return [p.stem for p in self.frames]


@dataclass(frozen=True)
class VosSample:
    """What a worker needs to score one sequence: the ground-truth frames,
    the prediction PNG of each (None where the file is missing) and which
    frames are scored (``first`` to ``stop``, exclusive)."""

    name: str
    gt_frames: tuple[Path, ...]
    pred_frames: tuple[Path | None, ...]
    first: int
    stop: int


def read_split(root: str | Path, split: str) -> list[str]:
    """Sequence names of ``ImageSets/2017/SPLIT.txt``, in file order."""
    root = require_folder(root, "DAVIS root")
    path = root / SPLITS_DIR / f"{split}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        available = sorted(p.stem for p in (root / SPLITS_DIR).glob("*.txt")) if (root / SPLITS_DIR).is_dir() else []
        hint = f" (available: {', '.join(available)})" if available else ""
        raise InputError(f"split list for --split {split} not found{hint}", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read split list ({exc})", file=path) from None
    names: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if "/" in name or "\\" in name or name in (".", ".."):
            raise InputError(f"{name!r} is not a sequence name", file=path, record=f"line {number}")
        if name in seen:
            raise InputError(f"sequence {name} listed twice", file=path, record=f"line {number}")
        seen.add(name)
        names.append(name)
    if not names:
        raise InputError("split list names no sequence", file=path)
    return names


def load_davis(root: str | Path, split: str = "val") -> list[DavisSequence]:
    """The split's sequences with their annotation frames."""
    root = Path(root)
    sequences = []
    for name in read_split(root, split):
        folder = root / ANNOTATIONS_DIR / name
        if not folder.is_dir():
            raise InputError("annotation folder of the sequence not found", file=folder, record=f"sequence {name}")
        frames = tuple(sorted((p for p in folder.iterdir() if p.suffix == ".png"), key=lambda p: p.name))
        if not frames:
            raise InputError("annotation folder holds no PNG frames", file=folder, record=f"sequence {name}")
        sequences.append(DavisSequence(name, frames))
    return sequences


def pair_predictions(sequences: list[DavisSequence], pred_dir: str | Path, *, all_frames: bool = False) -> list[VosSample]:
    """A sample per sequence. A missing sequence folder is an error; a missing
    frame is left as None (scored as all objects absent, or an error under
    ``strict``; the caller decides). Only scored frames are looked up."""
    pred_dir = require_folder(pred_dir, "prediction")
    samples = []
    for seq in sequences:
        folder = pred_dir / seq.name
        if not folder.is_dir():
            raise InputError("prediction folder has no folder for this sequence", file=folder, record=f"sequence {seq.name}")
        present = {p.name for p in folder.iterdir()}
        n = len(seq.frames)
        first, stop = (0, n) if all_frames else (1, n - 1)
        preds: list[Path | None] = []
        for index, frame in enumerate(seq.frames):
            scored = first <= index < stop
            preds.append(folder / frame.name if scored and frame.name in present else None)
        samples.append(VosSample(seq.name, seq.frames, tuple(preds), first, max(first, stop)))
    return samples


def read_frame(path: Path, what: str, sequence: str) -> np.ndarray:
    """An HxW uint8 id map (palette indices or grey values)."""
    labels = read_label_map(path)
    if labels.ndim != 2:
        raise InputError(f"{what} PNG must have one channel of ids", file=path, record=f"sequence {sequence}")
    if labels.dtype != np.uint8:
        if labels.size and int(labels.max()) > VOID:
            raise InputError(f"{what} PNG holds id {int(labels.max())}; ids are 8-bit", file=path, record=f"sequence {sequence}")
        labels = labels.astype(np.uint8)
    return labels


def object_ids(first_frame: np.ndarray) -> list[int]:
    """Objects of a sequence: the ids of its first annotated frame, void excluded."""
    present = np.flatnonzero(np.bincount(first_frame.ravel(), minlength=256))
    return [int(i) for i in present if 0 < i < VOID]


def scored_objects(first_frame: np.ndarray) -> list[int]:
    """The objects davis2017-evaluation scores: 1..K, K the largest id of the
    first frame (void excluded), as ``DAVIS.get_all_masks`` builds them
    (``num_objects = int(np.max(masks[0, ...]))``). An id below K missing from
    the first frame is still an object (empty there); an id above K that
    appears later is never scored."""
    present = object_ids(first_frame)
    return list(range(1, present[-1] + 1)) if present else []


__all__ = ["VOID", "DavisSequence", "VosSample", "read_split", "load_davis", "pair_predictions", "read_frame", "object_ids", "scored_objects", "write_frame", "davis_palette"]


def write_frame(path: str | Path, ids: np.ndarray) -> None:
    """One frame as DAVIS ships it and as predictions are read: an indexed PNG
    whose pixel values are the object ids, with the DAVIS colour map."""
    from PIL import Image

    image = Image.frombytes("P", (ids.shape[1], ids.shape[0]), np.ascontiguousarray(ids, dtype=np.uint8).tobytes())
    image.putpalette(_palette())
    image.save(path, format="PNG", compress_level=6)


@lru_cache(maxsize=1)
def _palette() -> tuple[int, ...]:
    return tuple(davis_palette())


def davis_palette() -> list[int]:
    """The VOC/DAVIS colour map: id k gets the colour of its bit pattern."""
    palette = []
    for k in range(256):
        r = g = b = 0
        c = k
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette
