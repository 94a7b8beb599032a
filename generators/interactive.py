"""COCO-Interactive: a point, scribble, box and mask prompt for every COCO instance.

``build_interactive`` reads a COCO instances JSON and writes the file the PSALM
authors' code reads (FORMATS.md, "COCO-Interactive"): a JSON list with one
record per image, ``{"image", "image_info", "new_img_id", "anns"}``, each
annotation carrying ``point_visual_prompt_mask``, ``scribble_visual_prompt_mask``,
``box_visual_prompt_mask`` and ``mask_visual_prompt_mask`` as compressed RLE.

How the prompts are drawn (PSALM paper, appendix 8)
---------------------------------------------------
- point: sampled in the disk centred on the object, radius half the short side
  of its box, kept only where it falls on the object;
- scribble: the box's height and width jittered by factors in [0.5, 1.2],
  re-drawn until the IoU with the true box is above 0.5; along one of the
  jittered box's diagonals, a sine curve with amplitude in [10, 20] px,
  frequency in [0.2, 1] periods over the diagonal and phase in [0, 2 pi];
- box: the true box scaled by a factor in [0.9, 1.1];
- mask: the true mask blurred with a Gaussian of sigma 2, then binarised.

``mode="released"`` (the default) follows the authors' released generator
(``datasets/bulid_COCO_Interactivate.py``), which differs from the paper's text:

1. Point, box and scribble are made per 8-connected component of the
   instance mask with more than 5 pixels (``MIN_COMPONENT_AREA``), not once
   per instance; an instance whose components are all that small gets empty
   point, box and scribble prompts. Components are taken in raster order of
   their first pixel (scikit-image's ``label`` order).
2. The blurred mask is binarised at the *mean of the blurred map over the
   whole image* (about area / (H x W)), not at 0.5: the mask prompt is the
   instance dilated by a few pixels, thin parts of big objects excepted.
3. The stored point prompt is one pixel per component (the model's loader
   draws a 10 px disk around it).
4. The stored scribble is one pixel per step of the diagonal's Bresenham line
   (scikit-image's ``line``), each step moved by the sine along the rows only:
   one pixel wide, with gaps where the sine is steep (the loader draws 5 px).

``mode="paper"`` reads the paper instead: one prompt per instance (its whole
mask: tight box, centroid), threshold 0.5, the point stored as a disk of
radius 10 px and the scribble as the same curve drawn connected, 5 px wide.

Details of the released generator that both modes keep:
- point: centre = the centroid; each try draws an angle a and two radii, the
  offset is (U(0, r) cos a, U(0, r) sin a) (inside the disk, but not uniform
  in it; ``mode="paper"`` samples uniformly: r sqrt(u)); the released mode
  truncates to int and clips to the component's box. At most 1000 tries; in
  released mode a component with no hit gets no point; in paper mode the
  object pixel nearest the centroid is taken instead (so no instance is
  left without a point).
- scribble: the jittered box is centred on the centroid, truncated to int and
  clipped to the image; its IoU with the true box counts boxes inclusively
  (+1 px per side). The released generator accepts IoU >= 0.5 (paper mode:
  > 0.5), checks at most 1000 draws and otherwise leaves the component without
  a scribble. The start is one of the four corners (uniform), the end the
  opposite corner. Released: the curve's pixels are clipped onto the image
  (``np.clip``, so a curve leaving the image runs along its border); paper:
  the part outside the image is cut off.
- box: the component's box (max exclusive) grown by (factor - 1) x height /
  width, truncated toward zero and clipped to the image.
- mask: scipy's Gaussian (radius 4 sigma = 8 px, ``reflect`` at the image
  border), over the whole instance mask (not per component) in both modes.

Randomness, determinism and speed
---------------------------------
The authors use Python's unseeded ``random``; here every prompt is a pure
function of (seed, annotation id, mask): one numpy Generator per annotation,
``np.random.default_rng([seed, ann_id])`` (ids taken modulo 2**64), in which
component ``j`` owns the block of ``BLOCK`` draws at ``j * BLOCK``: point tries
at offset 0 (three draws per try: angle, row radius, column radius; paper
mode: angle, radius), box factor at ``BOX_AT``, scribble jitter pairs (height,
width factor) at ``JITTER_AT``, then corner, amplitude, frequency, phase at
``CURVE_AT``. Rejection loops draw in batches and skip unused draws, so the
output is byte-identical for any worker count, order or resume.
(``prompt_stream`` gives the Generator of one block, for reference
implementations.) Within one machine the output is byte-identical; across
machines it is too, unless numpy's sine or cosine, or a float64 sum, rounds
differently in the last bit exactly at a pixel or threshold boundary.

Everything pixel-sized is done on the instance's crop, in column-major
(RLE) order: the mask is decoded from its RLE straight into its bounding box,
components are labelled with OpenCV, the Gaussian runs on the box padded by
8 px (in float32; pixels within 1e-5 of the threshold, relative, are
recomputed in float64, so the result is scipy's), the released threshold
(the mean of the blurred full image) comes from the crop and precomputed
border weights, and the prompts are run-length encoded from their crops,
pixels or boxes. ``benchmarks/reference_interactive.py`` does the same steps
the released generator's way; ``tests/test_build_interactive.py`` checks
both give the same prompts.
"""


from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import orjson
from psalm_bench.progress import tqdm  # a bar on a terminal, lines in a log

from psalm_bench.errors import InputError
from psalm_bench.formats.interactive import PROMPTS
from psalm_bench.jsonio import sha256_of
from psalm_bench.parallel import worker_pool
from psalm_bench.paths import output_file

# The parts, re-exported: this module is the builder's public face.
from psalm_bench.generators.interactive_rle import (  # noqa: F401
    SKIP_REASONS, Crop, _compress, _compress_many, _Skip, box_counts, crop_counts, encode_crop, pixel_counts,
)
from psalm_bench.generators.coco_reader import _is_number, instance_mask, read_instances  # noqa: F401
from psalm_bench.generators.prompt_drawers import (  # noqa: F401
    AMPLITUDE, BLOCK, BOX_AT, BOX_SCALE, CURVE_AT, FREQUENCY, JITTER, JITTER_AT, MAX_TRIES, MIN_COMPONENT_AREA, MODES,
    PHASE, POINT_AT, POINT_DISK, PROMPT_KEYS, RADIUS, SCRIBBLE_WIDTH, SIGMA, TRUNCATE, BoxDraw, Component,
    InstancePrompts, PointDraw, ScribbleDraw, annotation_rng, box_iou, bresenham, make_prompts, mask_threshold,
    prompt_stream, scribble_curve,
)
from psalm_bench.generators.interactive_writer import (  # noqa: F401
    _ann_record, _checkpoint, _chunks, _image_anns, _one_thread, _record_head, _sidecars, _work, iter_records,
)
from psalm_bench.generators.interactive_hf import _require_datasets, _write_hf  # noqa: F401
from psalm_bench.generators.interactive_preview import render_preview, write_previews  # noqa: F401

FORMATS = ("psalm", "hf")
OUTPUT_VERSION = 1


@dataclass
class BuildSummary:
    """What ``build_interactive`` wrote."""

    out: Path
    format: str
    mode: str
    seed: int
    images: int = 0                 # image records written
    instances: int = 0              # annotations written
    skipped: dict[str, int] = field(default_factory=lambda: {r: 0 for r in SKIP_REASONS})
    images_without_instances: int = 0
    empty_prompts: dict[str, int] = field(default_factory=lambda: {p: 0 for p in PROMPTS})
    resumed_at: int = 0             # input images already done when the run started
    previews: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def lines(self) -> list[str]:
        """A short human-readable report (what the CLI prints)."""
        text = [f"wrote {self.out}: {self.images} images, {self.instances} instances ({self.mode} prompts, seed {self.seed}, {self.seconds:.1f} s)"]
        if self.resumed_at:
            text.append(f"resumed after {self.resumed_at} input images")
        if self.skipped_total:
            reasons = ", ".join(f"{k} {v}" for k, v in self.skipped.items() if v)
            text.append(f"skipped {self.skipped_total} annotations: {reasons}")
        if self.images_without_instances:
            text.append(f"{self.images_without_instances} images have no usable annotation (left out)")
        empty = {k: v for k, v in self.empty_prompts.items() if v}
        if empty:
            text.append("instances with an empty prompt (PSALM's evaluation skips them): " + ", ".join(f"{k} {v}" for k, v in empty.items()))
        if self.previews:
            text.append(f"{len(self.previews)} previews in {self.previews[0].parent}")
        return text


def build_interactive(
    instances: Path,
    out: Path,
    *,
    seed: int = 0,
    workers: int = 1,
    format: str = "psalm",
    preview: int = 0,
    preview_dir: Path | None = None,
    images: Path | None = None,
    resume: bool = False,
    mode: str = "released",
    progress: bool = True,
    executor: Executor | None = None,
) -> BuildSummary:
    """Write COCO-Interactive for a COCO instances JSON; see the module docstring.

    ``format="psalm"`` writes the JSON list PSALM reads; ``"hf"`` a Hugging Face
    ``datasets`` folder (``datasets.load_from_disk``) with a dataset card.
    Records are streamed to ``OUT.partial`` with a small ``OUT.progress`` file;
    ``resume=True`` continues from them, and the result is byte-identical to an
    uninterrupted run. ``preview=N`` renders the first N image records to PNGs
    in ``preview_dir`` (default ``OUT_preview``), over the image file when it
    is found in ``images`` or beside the instances JSON. ``executor`` replaces
    the local pool (e.g. ``psalm_bench.ray_engine.RayExecutor``); ``workers``
    then sizes the window of chunks in flight.
    """
    started = time.perf_counter()
    instances, out = Path(instances), Path(out)
    _check_options(out, seed=seed, format=format, mode=mode)
    images_list, per_image, pre_skipped = read_instances(instances)
    summary = BuildSummary(out=out, format=format, mode=mode, seed=seed)
    signature = {"version": OUTPUT_VERSION, "input_sha256": sha256_of(instances), "seed": seed, "mode": mode}
    partial, progress_file = _sidecars(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state, resumed = _start_state(signature, partial, progress_file, resume)
    handle = open(partial, "r+b" if resumed else "wb")
    try:
        if resumed:
            handle.truncate(state["bytes"])
            handle.seek(state["bytes"])
        else:
            handle.write(b"[\n")
            state["bytes"] = handle.tell()
            _checkpoint(progress_file, state)
        summary.resumed_at = state["images_done"]
        skipped, empty = _write_records(handle, state, progress_file, images_list, per_image, seed=seed, mode=mode,
                                        workers=workers, executor=executor, progress=progress)
        handle.write(b"\n]\n")
    finally:
        handle.close()

    summary.images, summary.instances = state["new_img_id"], state["instances"]
    summary.images_without_instances = state["images_without_instances"]
    total_skipped = Counter(pre_skipped) + skipped
    summary.skipped = {r: total_skipped.get(r, 0) for r in SKIP_REASONS}
    summary.empty_prompts = {p: empty.get(p, 0) for p in PROMPTS}
    if preview:
        target = preview_dir if preview_dir is not None else out.with_name(out.stem + "_preview")
        summary.previews = write_previews(partial, target, preview, instances=instances, images=images, mode=mode)
    if format == "psalm":
        os.replace(partial, out)
    elif not summary.images:  # datasets can neither generate nor reload an empty dataset
        partial.unlink()
        progress_file.unlink(missing_ok=True)
        raise InputError(f"no image has a usable annotation ({summary.skipped_total} skipped): nothing to write", file=instances)
    else:
        _write_hf(partial, out, summary, signature, instances.name, progress)
        partial.unlink()
    progress_file.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _check_options(out: Path, *, seed: int, format: str, mode: str) -> None:
    """Refuse bad options before the input is read or anything is written."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if type(seed) is not int or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if format == "psalm" and out.is_dir():
        raise InputError("is a directory; give the JSON file to write", file=out)
    if format == "psalm":
        output_file(out)  # a FIFO or device would be replaced by the final rename
    if format == "hf":
        _require_datasets()
        if out.exists() and not (out.is_dir() and (out / "state.json").is_file()):
            raise InputError("exists and is not a datasets folder; give a new folder for --format hf", file=out)


def _start_state(signature: dict[str, Any], partial: Path, progress_file: Path, resume: bool) -> tuple[dict[str, Any], bool]:
    """A fresh run's state, or the saved one when resuming the same input, seed and mode."""
    state = {"signature": signature, "images_done": 0, "bytes": 0, "new_img_id": 0, "instances": 0,
             "skipped": {}, "images_without_instances": 0, "empty_prompts": {}}
    if resume and progress_file.is_file() and partial.is_file():
        try:
            saved = orjson.loads(progress_file.read_bytes())
        except orjson.JSONDecodeError:
            saved = None
        if saved is not None and saved.get("signature") != signature:
            raise InputError("was written for another input, seed or mode; delete it or run without --resume", file=progress_file)
        if saved is not None and partial.stat().st_size >= saved["bytes"]:
            return saved, True
    return state, False


def _results(pool: Any, seed: int, mode: str, workers: int, chunks: Iterator[range], images_list: list[dict[str, Any]],
             per_image: list[list[dict[str, Any]]]) -> Iterator[tuple[range, list[tuple[bytes, int, Counter, Counter]]]]:
    """Each chunk's serialised images, in order; with a pool, a bounded window of chunks in flight."""
    if pool is None:
        for chunk in chunks:
            yield chunk, _work(seed, mode, [(images_list[i], per_image[i]) for i in chunk])
        return
    pending: list[tuple[range, Any]] = []
    for chunk in chunks:
        pending.append((chunk, pool.submit(_work, seed, mode, [(images_list[i], per_image[i]) for i in chunk])))
        if len(pending) >= 2 * workers:
            chunk0, future = pending.pop(0)
            yield chunk0, future.result()
    for chunk0, future in pending:
        yield chunk0, future.result()


def _write_records(handle: Any, state: dict[str, Any], progress_file: Path, images_list: list[dict[str, Any]],
                   per_image: list[list[dict[str, Any]]], *, seed: int, mode: str, workers: int,
                   executor: Executor | None, progress: bool) -> tuple[Counter, Counter]:
    """Append the remaining image records to ``handle``, checkpointing ``state``
    after each chunk; returns the skipped and empty-prompt counts so far."""
    skipped, empty = Counter(state["skipped"]), Counter(state["empty_prompts"])
    n = len(images_list)
    workers = max(1, min(int(workers), n or 1) if executor is not None else min(int(workers), os.cpu_count() or 1, n or 1))
    size = max(1, min(32, (n - state["images_done"]) // (workers * 8) or 1))
    bar = tqdm(total=n, initial=state["images_done"], desc="build-interactive", unit="img",
               disable=not progress, leave=False, dynamic_ncols=True)
    pool = executor if executor is not None else worker_pool(workers, _one_thread) if workers > 1 else None
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        chunks = _chunks(state["images_done"], n, size)
        for chunk, chunk_results in _results(pool, seed, mode, workers, chunks, images_list, per_image):
            for i, (anns_bytes, count, sk, em) in zip(chunk, chunk_results):
                skipped.update(sk)
                empty.update(em)
                if count == 0:
                    state["images_without_instances"] += 1
                    continue
                if state["new_img_id"]:
                    handle.write(b",\n")
                handle.write(_record_head(images_list[i], state["new_img_id"]) + anns_bytes + b"}")
                state["new_img_id"] += 1
                state["instances"] += count
            handle.flush()
            state.update(images_done=chunk[-1] + 1, bytes=handle.tell(), skipped=dict(skipped), empty_prompts=dict(empty))
            _checkpoint(progress_file, state)
            bar.update(len(chunk))
    finally:
        cv2.setNumThreads(cv_threads)
        bar.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return skipped, empty

