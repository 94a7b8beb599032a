"""Multi-target benchmarks of psalm-bench's peers, one module each: MUSE (PixelLM) in
:mod:`psalm_bench.evaluators.muse`, GCG (GLaMM, MGLMM) in :mod:`psalm_bench.evaluators.gcg`.

This module keeps the names both had when they shared one file, so existing imports work.
"""

from __future__ import annotations

from psalm_bench.evaluators.gcg import (  # noqa: F401
    COCO_IOU_THRS,
    COCO_MAX_DETS,
    COCO_REC_THRS,
    GCG_METRICS,
    GCG_PROTOCOLS,
    GCG_SPEC,
    GCG_SUMS,
    GLAMM_IOU_THRESHOLD,
    GLAMM_TEXT_THRESHOLD,
    GcgEvaluator,
    GcgInput,
    GcgRecord,
    MINILM,
    MiniLMEmbedder,
    caption_metrics,
    coco_ap,
    coco_image_order,
    default_text_model,
    evaluate_gcg,
    gcg_metrics,
    glamm_miou_pairs,
    glamm_recall_matches,
    image_ap_matches,
)
from psalm_bench.evaluators.muse import (  # noqa: F401
    BCE_LOG_CLAMP,
    MASK_ONLY,
    MUSE_METRICS,
    MUSE_PROTOCOLS,
    MUSE_SPEC,
    MUSE_SUMS,
    MuseEvaluator,
    MuseInput,
    MuseRecord,
    PIXELLM_CIOU_EPS,
    PIXELLM_COUNT_EPS,
    PIXELLM_IOU_EPS,
    evaluate_muse,
    muse_cost,
    muse_metrics,
)
