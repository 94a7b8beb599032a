"""Run a PSALM model over a benchmark and write the prediction files any model would.

The files are the ones FORMATS.md defines (COCO panoptic JSON + PNGs, COCO
results JSON, semantic label PNGs, JSON Lines for referring / interactive,
DAVIS PNG folders), so the evaluators score them with no knowledge of the
model; nothing here imports an evaluator.

One forward pass of the category task gives panoptic, instance and semantic
outputs together, as PSALM's ``SEG_TASK=panoptic`` evaluation does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from psalm_bench.progress import tqdm  # a bar on a terminal, lines in a log

from psalm_bench import masks as mask_ops
from psalm_bench.errors import InputError
from psalm_bench.formats.coco import detection, load_catalog, write_coco_json, write_results
from psalm_bench.formats.interactive import prediction_record as interactive_prediction
from psalm_bench.formats.jsonl import write_jsonl
from psalm_bench.formats.refer import prediction_record as refer_prediction
from psalm_bench.jsonio import output_error
from psalm_bench.paths import output_file
from psalm_bench.pngio import write_label_map, write_panoptic_ids
from psalm_bench.specs import DIRECTIONS, PROMPTS

from .inference import (
    davis_frame_inference,
    gref_inference,
    image_outputs,
    instance_inference,
    interactive_inference,
    interactive_inference_prompt_iou,
    panoptic_inference,
    referring_inference,
    semantic_inference,
    upsample_masks,
)
from .samples import TrainSample, collate

PROMPT_KINDS = PROMPTS  # the task's prompt types, defined once (psalm_bench.specs)


def bundled_model_dir() -> Path:
    """The weights that ship inside the package (model/bundled)."""
    return Path(str(resources.files("psalm_bench.model").joinpath("bundled")))


def resolve_model_dir(model: str | Path) -> Path:
    return bundled_model_dir() if str(model) == "bundled" else Path(model)


def is_official_checkpoint(directory: Path) -> bool:
    """An official PSALM release folder: its config.json says ``model_type: llava_phi``."""
    try:
        return json.loads((Path(directory) / "config.json").read_text()).get("model_type") == "llava_phi"
    except (OSError, ValueError, AttributeError):
        return False


def read_image(path: Path) -> np.ndarray:
    """RGB uint8; an image that does not open is a one-line error."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise InputError("image not found", file=path) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"image does not open ({exc})", file=path) from None


@dataclass
class Predictor:
    """A loaded model plus the eval-time batching around it."""

    model: Any
    tokenizer: Any
    provenance: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 8
    device: str = "cpu"
    progress: bool = True

    @classmethod
    def load(cls, model: str | Path = "bundled", *, device: str = "cpu", batch_size: int = 8, progress: bool = True) -> "Predictor":
        """``bundled``, a folder from ``psalm-bench train``, or an official PSALM
        checkpoint folder (``model_type: llava_phi``; loaded as ``swinb-phi15``
        with the folder's own tokenizer and the official key names mapped)."""
        from .checkpoint import load_model, load_official
        from .config import get_config
        from .tokenizer import load_tokenizer

        directory = resolve_model_dir(model)
        if is_official_checkpoint(directory):
            tok = load_tokenizer(directory)
            net = load_official(directory, get_config("swinb-phi15"), tok, device=device)
            return cls(net, tok, {"source": str(directory), "config_name": "swinb-phi15", "official": True}, batch_size, device, progress)
        net, tok, prov = load_model(directory, device=device)
        return cls(net, tok, prov, batch_size, device, progress)

    @property
    def config(self):
        return self.model.config

    @torch.inference_mode()
    def forward(self, samples: Sequence[TrainSample]) -> list[Any]:
        """Final-layer outputs per sample (``ImageOutputs``)."""
        batch = collate(samples, self.config, self.tokenizer, train=False).to(self.device)
        outputs = self.model(batch)
        return [image_outputs(outputs, batch, b) for b in range(len(samples))]

    def run(self, samples: Iterable[TrainSample], total: int, desc: str, consume: Callable[[TrainSample, Any], None]) -> None:
        """Forward ``samples`` in batches and hand each (sample, outputs) to ``consume``."""
        bar = tqdm(total=total, desc=desc, unit="img", disable=not self.progress, leave=False)
        pending: list[TrainSample] = []

        def flush() -> None:
            for sample, out in zip(pending, self.forward(pending)):
                consume(sample, out)
            bar.update(len(pending))
            pending.clear()

        for sample in samples:
            pending.append(sample)
            if len(pending) == self.batch_size:
                flush()
        if pending:
            flush()
        bar.close()


def _empty_targets(image: np.ndarray) -> np.ndarray:
    return np.zeros((0, *image.shape[:2]), bool)


def _rle(mask: np.ndarray) -> dict[str, Any]:
    return mask_ops.encode(mask.astype(np.uint8))


# --------------------------------------------------------------- category tasks


@dataclass
class CategoryOutputs:
    """Where ``predict_categories`` wrote each task's predictions."""

    panoptic_json: Path
    instance_json: Path
    semantic_dir: Path


def predict_task(predictor: Predictor, task: str, gt: Path, images: Path | None, out: Path, *, split: str = "val", no_target: bool = False) -> str:
    """`psalm-bench predict --task TASK`: the model over one ground truth, into the
    files `eval` reads; returns the line saying what was written. ``ov`` is the
    category task on the held-out categories; ``no_target`` (gref) answers
    no-target when no proposal passes 0.6."""
    from psalm_bench.formats.refer import find_grefer_files, find_refer_files

    if task in ("panoptic", "ov"):
        written = predict_categories(predictor, gt, images, out)
        return f"wrote {written.panoptic_json} (+ PNGs), {written.instance_json}, {written.semantic_dir}/"
    if task == "refcoco":
        refs, instances = find_refer_files(gt)
        return f"wrote {predict_referring(predictor, refs, instances, images, split, out)[0]}"
    if task == "gref":
        refs, instances = find_grefer_files(gt)
        return f"wrote {predict_referring(predictor, refs, instances, images, split, {out: no_target}, generalized=True)[0]}"
    if task == "interactive":
        return f"wrote {predict_interactive(predictor, gt, images, out)}"
    if task == "correspondence":
        return f"wrote {predict_correspondence(predictor, gt, images, out)}"
    if task == "vos":
        return f"wrote {predict_vos(predictor, gt, out, split=split)}/"
    raise InputError(f"predict has no task {task!r}")


def predict_categories(
    predictor: Predictor,
    instances_json: Path,
    images_dir: Path,
    out_dir: Path,
    *,
    semantic_classes: Sequence[str] | None = None,
    object_mask_threshold: float = 0.8,
    overlap_threshold: float = 0.8,
    topk: int = 100,
) -> CategoryOutputs:
    """Panoptic (JSON + PNGs), instance (COCO results) and semantic (label PNGs)
    predictions from one pass per image, with the GT file's categories as the
    condition (so held-out categories are named for open-vocabulary sets).

    ``instances_json`` is a COCO instances or panoptic JSON: its ``images`` and
    ``categories`` (with ``isthing``; absent means thing) are what is used.
    """
    gt = load_catalog(instances_json)
    categories = gt["categories"]
    class_names = [c["name"] for c in categories]
    isthing = [bool(c.get("isthing", 1)) for c in categories]
    cat_ids = [c["id"] for c in categories]
    semantic_index = {name: k for k, name in enumerate(semantic_classes or class_names)}
    to_semantic = np.array([semantic_index.get(name, 255) for name in class_names] + [255], np.uint8)

    pan_dir = out_dir / "panoptic"
    sem_dir = out_dir / "semantic"
    pan_dir.mkdir(parents=True, exist_ok=True)
    sem_dir.mkdir(parents=True, exist_ok=True)
    pan_annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    images = sorted(gt["images"], key=lambda im: im["id"])

    def samples() -> Iterator[TrainSample]:
        for im in images:
            image = read_image(images_dir / im["file_name"])
            sample = TrainSample("panoptic", image, _empty_targets(image), class_names=class_names)
            sample.image_record = im  # type: ignore[attr-defined]
            yield sample

    def consume(sample: TrainSample, out: Any) -> None:
        im = sample.image_record  # type: ignore[attr-defined]
        logits = upsample_masks(out.mask_logits, out.geometry)
        stem = Path(im["file_name"]).stem
        pan = panoptic_inference(out.class_logits, logits, isthing, object_mask_threshold=object_mask_threshold, overlap_threshold=overlap_threshold)
        write_panoptic_ids(pan_dir / f"{stem}.png", pan.seg)
        pan_annotations.append({
            "image_id": im["id"], "file_name": f"{stem}.png",
            "segments_info": [{"id": s.id, "category_id": cat_ids[s.category], "iscrowd": 0, "area": s.area} for s in pan.segments],
        })
        inst = instance_inference(out.class_logits, logits, topk=topk, isthing=isthing)
        for m, score, label in zip(inst.masks, inst.scores, inst.labels):
            if m.any():
                results.append(detection(im["id"], cat_ids[int(label)], _rle(m), float(score)))
        sem = semantic_inference(out.class_logits, logits).argmax(0).numpy()
        write_label_map(sem_dir / f"{stem}.png", to_semantic[sem])

    predictor.run(samples(), len(images), "category tasks", consume)
    pan_json = write_coco_json(out_dir / "panoptic.json", {
        "images": images, "annotations": sorted(pan_annotations, key=lambda a: a["image_id"]),
        "categories": [{"id": c["id"], "name": c["name"], "isthing": int(bool(c.get("isthing", 1)))} for c in categories],
    })
    inst_json = write_results(out_dir / "instances_results.json", results)
    return CategoryOutputs(pan_json, inst_json, sem_dir)


# --------------------------------------------------------------- referring


@dataclass(frozen=True)
class Sentence:
    sent_id: int
    text: str
    image_file: str


def refer_sentences(refs_file: Path, instances_json: Path, split: str) -> list[Sentence]:
    """Every sentence of ``split`` with its image's file name (REFER or gRefCOCO)."""
    from psalm_bench.formats.refer import load_refs_file

    images = {im["id"]: im["file_name"] for im in load_catalog(instances_json)["images"]}
    out = []
    for ref in load_refs_file(refs_file):
        if ref.get("split") != split:
            continue
        for s in ref["sentences"]:
            out.append(Sentence(int(s["sent_id"]), str(s.get("sent") or s.get("raw")), images[ref["image_id"]]))
    if not out:
        raise InputError(f"no sentences in split {split!r}", file=refs_file)
    return sorted(out, key=lambda s: s.sent_id)


def predict_referring(
    predictor: Predictor,
    refs_file: Path,
    instances_json: Path,
    images_dir: Path,
    split: str,
    out: Path | dict[Path, bool],
    *,
    generalized: bool = False,
    threshold: float = 0.6,
) -> list[Path]:
    """One JSONL line per sentence: the top-1 proposal (RefCOCO), or (gRefCOCO)
    the union of proposals scoring above ``threshold``.

    For gRefCOCO, ``out`` maps each output file to its ``no_target`` choice:
    False is the released protocol (fall back to the top-1 proposal when none
    passes), True answers "no target" instead. Both come from one forward pass.
    """
    variants = out if isinstance(out, dict) else {Path(out): False}
    sentences = refer_sentences(refs_file, instances_json, split)
    lines: dict[Path, list[dict[str, Any]]] = {path: [] for path in variants}
    cache: dict[str, np.ndarray] = {}

    def image_of(name: str) -> np.ndarray:
        if name not in cache:
            cache.clear()
            cache[name] = read_image(images_dir / name)
        return cache[name]

    def samples() -> Iterator[TrainSample]:
        for s in sorted(sentences, key=lambda s: (s.image_file, s.sent_id)):  # an image's sentences together
            image = image_of(s.image_file)
            sample = TrainSample("referring", image, _empty_targets(image), sentence=s.text)
            sample.sent_id = s.sent_id  # type: ignore[attr-defined]
            yield sample

    def consume(sample: TrainSample, out_: Any) -> None:
        logits = upsample_masks(out_.mask_logits, out_.geometry)
        sent_id = sample.sent_id  # type: ignore[attr-defined]
        for path, no_target in variants.items():
            if generalized:
                res = gref_inference(out_.seg_logits, logits, threshold=threshold, no_target=no_target)
                lines[path].append(refer_prediction(sent_id, _rle(res.mask), bool(res.no_target)))
            else:
                res = referring_inference(out_.seg_logits, logits)
                lines[path].append(refer_prediction(sent_id, _rle(res.mask)))

    predictor.run(samples(), len(sentences), f"{'gref' if generalized else 'refcoco'} {split}", consume)
    return [write_jsonl(path, lines[path]) for path in variants]


# --------------------------------------------------------------- interactive


INTERACTIVE_RULES = ("released", "prompt-iou")  # model/inference.py: top-1 score; IoU with a box/mask prompt


def predict_interactive(predictor: Predictor, interactive_json: Path, images_dir: Path, out: Path, *, kinds: Sequence[str] = PROMPT_KINDS,
                        also: dict[Path, str] | None = None) -> Path:
    """One JSONL line per (instance, prompt type): all of an image's prompts of
    one type go in together (one <region> slot each) and each takes its top-1 query
    (the released rule, written to ``out``). ``also`` maps more output files to
    other selection rules (``INTERACTIVE_RULES``), written from the same forward pass."""
    from psalm_bench.generators.interactive import iter_records

    rules = {Path(out): "released", **{Path(k): v for k, v in (also or {}).items()}}
    bad = sorted(set(rules.values()) - set(INTERACTIVE_RULES))
    if bad:
        raise InputError(f"unknown interactive selection rule {bad[0]!r} (known: {', '.join(INTERACTIVE_RULES)})")
    records = list(iter_records(Path(interactive_json)))
    files: dict[Path, list[dict[str, Any]]] = {path: [] for path in rules}

    def samples() -> Iterator[TrainSample]:
        for record in records:
            info = record["image_info"]
            image = read_image(images_dir / info["file_name"])
            for kind in kinds:
                anns = [a for a in record["anns"] if mask_ops.area(a[f"{kind}_visual_prompt_mask"]) > 0]
                empty = [a for a in record["anns"] if a not in anns]
                for a in empty:  # nothing to pool: an empty prediction, scored as such
                    h, w = info["height"], info["width"]
                    for lines in files.values():
                        lines.append(interactive_prediction(info["id"], a["id"], kind, _rle(np.zeros((h, w), bool))))
                if not anns:
                    continue
                prompts = np.stack([mask_ops.decode(a[f"{kind}_visual_prompt_mask"]).astype(bool) for a in anns])
                sample = TrainSample("interactive", image, _empty_targets(image), prompt_masks=prompts, prompt_kinds=[kind] * len(anns))
                sample.meta = (info["id"], [a["id"] for a in anns], kind)  # type: ignore[attr-defined]
                yield sample

    def consume(sample: TrainSample, out_: Any) -> None:
        image_id, ann_ids, kind = sample.meta  # type: ignore[attr-defined]
        logits = upsample_masks(out_.mask_logits, out_.geometry)
        for path, rule in rules.items():
            if rule == "prompt-iou":
                prompts = torch.from_numpy(sample.prompt_masks)
                res = interactive_inference_prompt_iou(out_.region_logits, logits, prompts, sample.prompt_kinds)
            else:
                res = interactive_inference(out_.region_logits, logits)
            for ann_id, m in zip(ann_ids, res.masks):
                files[path].append(interactive_prediction(image_id, ann_id, kind, _rle(m)))

    predictor.run(samples(), len(records) * len(kinds), "interactive", consume)
    written = [write_jsonl(path, lines) for path, lines in files.items()]
    return written[0]


# --------------------------------------------------------------- video


def predict_vos(predictor: Predictor, davis_root: Path, out_dir: Path, *, split: str = "val", topk: int = 10, memory_iou: float = 0.4) -> Path:
    """Semi-supervised VOS as PSALM's DAVIS evaluation does it: frame 0's GT
    masks are the first visual prompts ("mask" kind), pooled from the prompt
    image; each later frame is segmented with the previous frame and its
    predicted masks as prompts, unless two predicted masks overlap (IoU >
    ``memory_iou``): then the older prompts are kept. An object whose mask
    comes out empty keeps its previous prompt."""
    from psalm_bench.formats.davis import load_davis, object_ids, write_frame

    sequences = load_davis(davis_root, split)
    bar = tqdm(total=sum(len(s.frames) for s in sequences), desc="vos", unit="frame", disable=not predictor.progress, leave=False)
    for seq in sequences:
        folder = out_dir / seq.name
        folder.mkdir(parents=True, exist_ok=True)
        first = np.asarray(Image.open(seq.frames[0]))
        ids = object_ids(first)
        frames = [davis_root / "JPEGImages" / "480p" / seq.name / f"{name}.jpg" for name in seq.frame_names]
        prompt_image = read_image(frames[0])
        prompts = np.stack([first == i for i in ids]) if ids else np.zeros((0, *first.shape), bool)
        write_frame(folder / f"{seq.frame_names[0]}.png", first)
        bar.update(1)
        for t in range(1, len(frames)):
            image = read_image(frames[t])
            label = np.zeros(image.shape[:2], np.uint8)
            if ids:
                sample = TrainSample("interactive", image, _empty_targets(image), prompt_masks=prompts, prompt_kinds=["mask"] * len(ids), prompt_image=prompt_image)
                out = predictor.forward([sample])[0]
                res = davis_frame_inference(out.region_logits, upsample_masks(out.mask_logits, out.geometry), topk=topk, memory_iou=memory_iou)
                for k, obj in enumerate(ids):
                    label[res.label_map == k + 1] = obj
                if res.update_memory:
                    keep = res.masks.reshape(len(ids), -1).any(1)
                    prompts = np.where(keep[:, None, None], res.masks, prompts)
                    prompt_image = image
            write_frame(folder / f"{seq.frame_names[t]}.png", label)
            bar.update(1)
    bar.close()
    return out_dir


# --------------------------------------------------------------- Ego-Exo4D correspondence


def predict_correspondence(predictor: Predictor, gt_json: Path, frames_root: Path, out: Path, *, directions: Sequence[str] = DIRECTIONS) -> Path:
    """Ego-Exo4D correspondence as PSALM's appendix does it, zero-shot: the
    query view's GT mask is a "mask" visual prompt pooled from the query
    frame, the model segments the synchronised frame of the other view, and
    the top-1 query is the answer; its score (sigmoid(region) x mask score) is
    the visibility confidence. Frames are read from
    ``frames_root/TAKE/CAM/FRAME.jpg`` (the benchmark's processed layout);
    masks are resized to the frame and the answer to the evaluation size
    (longer side 480), nearest neighbour. Writes both directions in one file."""
    import cv2

    from psalm_bench.formats.egoexo import eval_size, is_ego, load_egoexo_gt, write_egoexo_predictions

    gt = load_egoexo_gt(gt_json)
    results: dict[str, dict[str, Any]] = {d: {} for d in directions}
    jobs: list[tuple[str, str, str, str, str, str, dict[str, Any], tuple[int, int]]] = []
    for take, record in gt.takes.items():
        sizes = {cam: tuple(rle["size"]) for cams in record.masks.values() for cam, frames in cams.items() for rle in frames.values()}
        for d in directions:
            results[d][take] = {"masks": {obj: {} for obj in record.masks}, "subsample_idx": list(record.subsample_idx)}
            for obj, cams in record.masks.items():
                ego = next((cam for cam in cams if is_ego(cam)), None)
                if ego is None:
                    continue
                for exo in (cam for cam in cams if cam != ego):
                    query, target = (ego, exo) if d == "ego-exo" else (exo, ego)
                    results[d][take]["masks"][obj][f"{query}_{target}"] = {}
                    for frame, rle in cams[query].items():
                        results[d][take]["masks"][obj][f"{query}_{target}"][frame] = None  # filled in job order, whatever the batching
                        jobs.append((d, take, obj, query, target, frame, rle, sizes.get(target, tuple(rle["size"]))))

    def frame_image(take: str, cam: str, frame: str) -> np.ndarray:
        return read_image(Path(frames_root) / take / cam / f"{frame}.jpg")

    def answer(job: tuple, mask: np.ndarray, confidence: float) -> None:
        d, take, obj, query, target, frame, _rle_q, target_size = job
        h, w = eval_size(*target_size)
        resized = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        results[d][take]["masks"][obj][f"{query}_{target}"][frame] = {"pred_mask": _rle(resized), "confidence": round(float(confidence), 6)}

    def samples() -> Iterator[TrainSample]:
        for job in jobs:
            _d, take, _obj, query, target, frame, rle, _size = job
            query_image = frame_image(take, query, frame)
            target_image = frame_image(take, target, frame)
            prompt = mask_ops.decode(mask_ops.to_rle(rle, rle["size"][0], rle["size"][1]))
            if prompt.shape != query_image.shape[:2]:
                prompt = cv2.resize(prompt, (query_image.shape[1], query_image.shape[0]), interpolation=cv2.INTER_NEAREST)
            if not prompt.any():  # nothing to pool from: not visible, empty mask
                answer(job, np.zeros(target_image.shape[:2], bool), 0.0)
                continue
            sample = TrainSample("interactive", target_image, _empty_targets(target_image), prompt_masks=prompt[None].astype(bool),
                                 prompt_kinds=["mask"], prompt_image=query_image)
            sample.meta = job  # type: ignore[attr-defined]
            yield sample

    def consume(sample: TrainSample, out_: Any) -> None:
        res = interactive_inference(out_.region_logits, upsample_masks(out_.mask_logits, out_.geometry))
        answer(sample.meta, res.masks[0], float(res.scores[0]))  # type: ignore[attr-defined]

    predictor.run(samples(), len(jobs), "correspondence", consume)
    path = output_file(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_egoexo_predictions(path, results)
    except OSError as exc:
        raise output_error(path, exc) from None
    return path
