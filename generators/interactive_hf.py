"""build-interactive's ``--format hf``: the written records as a Hugging Face
``datasets`` folder with a dataset card."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from psalm_bench.errors import InputError
from psalm_bench.generators.coco_reader import _is_number
from psalm_bench.generators.interactive_writer import iter_records
from psalm_bench.generators.prompt_drawers import PROMPT_KEYS

if TYPE_CHECKING:
    from psalm_bench.generators.interactive import BuildSummary


def _hf_features():
    import datasets

    rle = {"size": datasets.List(datasets.Value("int32")), "counts": datasets.Value("string")}
    ann = {
        "id": datasets.Value("int64"),
        "category_id": datasets.Value("int64"),
        "iscrowd": datasets.Value("int64"),
        "area": datasets.Value("float64"),
        "bbox": datasets.List(datasets.Value("float64")),
        "segmentation": datasets.Value("string"),
        "annotation": datasets.Value("string"),
        **{key: rle for key in PROMPT_KEYS},
    }
    return datasets.Features({
        "image": datasets.Value("string"),
        "new_img_id": datasets.Value("int64"),
        "image_id": datasets.Value("int64"),
        "height": datasets.Value("int32"),
        "width": datasets.Value("int32"),
        "image_info": datasets.Value("string"),
        "anns": datasets.List(ann),
    })


def _int_or_none(v: Any) -> int | None:
    return v if type(v) is int and -(1 << 63) <= v < (1 << 63) else None


def _hf_row(record: dict[str, Any]) -> dict[str, Any]:
    info = record["image_info"]
    anns = []
    for ann in record["anns"]:
        base = {k: v for k, v in ann.items() if k not in PROMPT_KEYS}
        bbox = ann.get("bbox")
        area = ann.get("area")
        anns.append({
            "id": ann["id"],
            "category_id": _int_or_none(ann.get("category_id")),
            "iscrowd": _int_or_none(ann.get("iscrowd")),
            "area": float(area) if _is_number(area) else None,
            "bbox": [float(v) for v in bbox] if isinstance(bbox, list) and all(_is_number(v) for v in bbox) else None,
            "segmentation": orjson.dumps(ann.get("segmentation")).decode(),
            "annotation": orjson.dumps(base).decode(),
            **{key: ann[key] for key in PROMPT_KEYS},
        })
    return {"image": record["image"], "new_img_id": record["new_img_id"], "image_id": info["id"],
            "height": info["height"], "width": info["width"], "image_info": orjson.dumps(info).decode(), "anns": anns}


def _hf_rows(path: str) -> Iterator[dict[str, Any]]:
    for record in iter_records(Path(path)):
        yield _hf_row(record)


def _dataset_card(summary: BuildSummary, signature: dict[str, Any], source: str) -> str:
    from psalm_bench import __version__

    skipped = ", ".join(f"{k}: {v}" for k, v in summary.skipped.items() if v) or "none"
    return f"""---
pretty_name: COCO-Interactive ({summary.mode} prompts, seed {summary.seed})
license: cc-by-4.0
task_categories:
- image-segmentation
tags:
- interactive-segmentation
- visual-prompts
- coco
- psalm
---

# COCO-Interactive

Visual prompts (point, scribble, box, mask) for every instance of `{source}`,
the benchmark of PSALM (Zhang et al., "PSALM: Pixelwise SegmentAtion with Large
Multi-Modal Model", ECCV 2024), written by `psalm-bench build-interactive`
(psalm-bench {__version__}).

- prompts: `{summary.mode}` (`released` = the authors' released generator,
  `paper` = the paper's appendix 8; see `psalm_bench.generators.interactive`)
- seed: {summary.seed}; every prompt is a pure function of (seed, annotation id, mask)
- source sha256: `{signature["input_sha256"]}`
- {summary.images} images, {summary.instances} instances; skipped annotations: {skipped}

## Load

```python
import datasets
from pycocotools import mask
ds = datasets.load_from_disk("PATH")
prompt = ds[0]["anns"][0]["point_visual_prompt_mask"]
point = mask.decode({{"size": prompt["size"], "counts": prompt["counts"].encode()}})  # H x W uint8
```

## Columns

One row per image, in the order of the JSON file PSALM reads
(`psalm-bench build-interactive --format psalm`):

- `image` (file name), `new_img_id` (running index), `image_id`, `height`, `width`;
  `image_info`: the COCO image record as JSON text;
- `anns`: list of instances: `id`, `category_id`, `iscrowd`, `area`, `bbox`
  (COCO xywh), `segmentation` (COCO polygons or RLE, as JSON text),
  `annotation` (the whole COCO annotation as JSON text) and the four prompts
  `point_visual_prompt_mask`, `scribble_visual_prompt_mask`,
  `box_visual_prompt_mask`, `mask_visual_prompt_mask`: COCO compressed RLE
  (`size` = [height, width], `counts` string).

## License

The annotations derive from COCO (CC BY 4.0); images are not included.
"""


def _require_datasets():
    try:
        import datasets
    except ImportError:
        raise InputError("--format hf needs the 'datasets' package (pip install datasets)") from None
    return datasets


def _write_hf(partial: Path, out: Path, summary: BuildSummary, signature: dict[str, Any], source: str, progress: bool) -> None:
    datasets = _require_datasets()
    work = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    bars = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        ds = datasets.Dataset.from_generator(_hf_rows, gen_kwargs={"path": str(partial)}, features=_hf_features(),
                                             cache_dir=str(work / "cache"))
        staged = work / "dataset"
        ds.save_to_disk(str(staged))
        (staged / "README.md").write_text(_dataset_card(summary, signature, source))
        del ds
        if out.exists():
            shutil.rmtree(out)
        os.replace(staged, out)
    finally:
        if bars:
            datasets.enable_progress_bars()
        shutil.rmtree(work, ignore_errors=True)
