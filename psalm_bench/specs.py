"""Each task's metric definition (MetricSpec): what it reports, its printed rows, which
way a number is better, its protocols, sampling unit and constants, declared once.

The evaluator modules take their ``SPEC`` (and the constants their formulas use) from
here; the task registry, the store, the tables and the site read the same objects
without importing any evaluator, so `leaderboard add` or a site render does not load
numpy, pycocotools or cv2 to learn a task's metric names. Plain data only: this module
imports nothing but the errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from psalm_bench.errors import InputError


@dataclass(frozen=True)
class MetricSpec:
    """What a task reports and how its numbers compare (the report, tables and site read it).

    ``unit`` names the sampling unit the report's bootstrap resamples (None:
    the task keeps no per-sample records); ``eps`` are the protocol constants
    its formulas use; ``corpus`` maps a metric that per-sample records cannot
    resample to the reason; ``records_optional``: records only with
    ``eval --records``.
    """

    task: str
    metrics: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    protocols: tuple[str, ...]
    unit: str | None
    lower_is_better: frozenset[str] = frozenset()
    eps: Mapping[str, float] = field(default_factory=dict)
    corpus: Mapping[str, str] = field(default_factory=dict)
    records_optional: bool = False

    @property
    def headline(self) -> tuple[str, ...]:
        """The printed metrics in row order (a board's columns, what a stored result must carry)."""
        return tuple(m for row in self.rows for m in row)

    def higher_is_better(self, name: str) -> bool:
        return name not in self.lower_is_better

    def check_protocol(self, protocol: str) -> str:
        """``protocol`` if this task defines it; else the one-line InputError every entry gives."""
        return check_protocol(self.task, protocol, self.protocols)


def check_protocol(task: str, protocol: str, protocols: Sequence[str]) -> str:
    """The one protocol check (evaluate_* and the evaluator classes alike): an
    InputError, so a Python caller and the CLI see the same line."""
    if protocol not in protocols:
        raise InputError(f"unknown protocol {protocol!r} for {task}: --protocol must be one of {', '.join(protocols)}")
    return protocol


# --------------------------------------------------------------------------- shared names and constants

PROMPTS = ("point", "scribble", "box", "mask")  # COCO-Interactive's prompt types, in the paper's order
DIRECTIONS = ("ego-exo", "exo-ego")  # Ego-Exo4D correspondence: query view -> target view

PSALM_EPS = 1e-5  # PSALM: acc_iou = I / (U + 1e-5)
PSALM_CIOU_EPS = 1e-10  # PSALM: ciou = sum I / (sum U + 1e-10)
PIXELLM_IOU_EPS = 1e-5  # acc_iou += I / (U + 1e-5)
PIXELLM_CIOU_EPS = 1e-10  # ciou = sum I / (sum U + 1e-10)
PIXELLM_COUNT_EPS = 1e-5  # AverageMeter.all_reduce: avg = sum / (count + 1e-5)
GLAMM_IOU_THRESHOLD = 0.5
GLAMM_TEXT_THRESHOLD = 0.5
BOUND_TH = 0.008  # davis2017-evaluation: boundary tolerance, a fraction of the image diagonal
CONF_THRESH = 0.5  # Ego-Exo4D: a predicted mask's confidence threshold
LOCATION_NORM = math.sqrt(480 ** 2 + 480 ** 2)  # location_score(size=(480, 480)), whatever the frame size

_COCO = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
_SEMANTIC = ("mIoU", "fwIoU", "mACC", "pACC")
_SEMANTIC_PROTOCOLS = ("detectron2", "mmseg")
_PSALM = {"iou": PSALM_EPS, "cIoU": PSALM_CIOU_EPS}
_INTERACTIVE = tuple(f"{p}_{m}" for p in PROMPTS for m in ("mIoU", "cIoU")) + ("mIoU", "cIoU")
CORRESPONDENCE_PREFIX = {"ego-exo": "EgoExo", "exo-ego": "ExoEgo"}
CORRESPONDENCE_MEASURES = ("IoU", "VA", "LE", "CA")

PANOPTIC = MetricSpec(
    task="panoptic", metrics=("PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"),
    rows=(("PQ", "PQ_th", "PQ_st", "SQ", "SQ_th", "SQ_st", "RQ", "RQ_th", "RQ_st"),), protocols=("panopticapi",), unit="images",
)
INSTANCE = MetricSpec(task="instance", metrics=_COCO, rows=(_COCO[:6], _COCO[6:]), protocols=("pycocotools",), unit="images",
                      records_optional=True)
SEMANTIC = MetricSpec(task="semantic", metrics=_SEMANTIC, rows=(_SEMANTIC,), protocols=_SEMANTIC_PROTOCOLS, unit="images")
REFCOCO = MetricSpec(
    task="refcoco", metrics=("cIoU", "gIoU", "Pr@0.5", "Pr@0.6", "Pr@0.7", "Pr@0.8", "Pr@0.9"),
    rows=(("cIoU", "gIoU", "Pr@0.5", "Pr@0.6", "Pr@0.7", "Pr@0.8", "Pr@0.9"),), protocols=("lisa", "mmdet", "psalm"),
    unit="sentences", eps=_PSALM,
)
GREF = MetricSpec(task="gref", metrics=("cIoU", "gIoU", "N-acc", "T-acc"), rows=(("cIoU", "gIoU", "N-acc", "T-acc"),),
                  protocols=("rela", "gsva", "psalm"), unit="sentences", eps=_PSALM)
INTERACTIVE = MetricSpec(
    task="interactive", metrics=_INTERACTIVE,
    rows=(tuple(f"{p}_mIoU" for p in PROMPTS) + ("mIoU",), tuple(f"{p}_cIoU" for p in PROMPTS) + ("cIoU",)),
    protocols=("all-instances", "psalm"), unit="(instance, prompt) pairs", eps=_PSALM,
)
VOS = MetricSpec(
    task="vos", metrics=("J&F", "J", "J-recall", "J-decay", "F", "F-recall", "F-decay"),
    rows=(("J&F", "J", "J-recall", "J-decay", "F", "F-recall", "F-decay"),), protocols=("davis2017", "all-frames"), unit="objects",
    lower_is_better=frozenset({"J-decay", "F-decay"}), eps={"bound_th": BOUND_TH},
)
# ov-semantic: compared as point values (its result keeps no records the report reads);
# ov-instance: the instance metrics, resampled per image with `eval --records`
OV_SEMANTIC = MetricSpec(task="ov-semantic", metrics=_SEMANTIC, rows=(_SEMANTIC,), protocols=_SEMANTIC_PROTOCOLS, unit=None)
OV_INSTANCE = MetricSpec(task="ov-instance", metrics=_COCO, rows=(_COCO[:6], _COCO[6:]), protocols=("pycocotools",), unit="images",
                         records_optional=True)
MUSE = MetricSpec(
    task="muse", metrics=("gIoU", "cIoU"), rows=(("gIoU", "cIoU"),), protocols=("pixellm", "per-image"), unit="items",
    eps={"iou": PIXELLM_IOU_EPS, "cIoU": PIXELLM_CIOU_EPS, "count": PIXELLM_COUNT_EPS},
)
GCG = MetricSpec(
    task="gcg", metrics=("AP50", "AP", "mIoU", "Recall", "METEOR", "CIDEr"), rows=(("AP50", "mIoU", "Recall", "METEOR", "CIDEr"),),
    protocols=("glamm",), unit="images", eps={"iou_threshold": GLAMM_IOU_THRESHOLD, "text_threshold": GLAMM_TEXT_THRESHOLD},
    corpus={"METEOR": "corpus-level METEOR (one score over all captions)",
            "CIDEr": "corpus-level CIDEr-D (IDF from the evaluated references)"},
)
# compared as point values by the report (no per-sample layout there); LE is an error
CORRESPONDENCE = MetricSpec(
    task="correspondence", metrics=tuple(f"{CORRESPONDENCE_PREFIX[d]}_{m}" for d in DIRECTIONS for m in CORRESPONDENCE_MEASURES),
    rows=tuple(tuple(f"{CORRESPONDENCE_PREFIX[d]}_{m}" for m in CORRESPONDENCE_MEASURES) for d in DIRECTIONS),
    protocols=("egoexo", "native"), unit=None, lower_is_better=frozenset(f"{CORRESPONDENCE_PREFIX[d]}_LE" for d in DIRECTIONS),
    eps={"conf_thresh": CONF_THRESH, "location_norm": LOCATION_NORM},
)

SPECS: dict[str, MetricSpec] = {spec.task: spec for spec in (
    PANOPTIC, INSTANCE, SEMANTIC, REFCOCO, GREF, INTERACTIVE, VOS, OV_SEMANTIC, OV_INSTANCE, MUSE, GCG, CORRESPONDENCE)}
