/* psalm_bench._native: the few per-pixel loops that numpy cannot do fast.
 * Each group below is a file of csrc/ (named in brackets); this
 * file holds the module's method table; native.h the shared declarations.
 *
 * 1. [png_unfilter.c] Undo PNG row filters (PNG spec, section 9) on an inflated 8-bit image.
 * psalm-bench inflates segmentation PNGs with zlib-ng, which is many times
 * faster than the zlib that libpng/libspng/PIL link for these highly
 * compressible images; this is the remaining per-byte step, which numpy can
 * only do at a few ns per byte.
 * 2. [panoptic.c] Map segment ids to dense per-image indices (0 unknown, 1 void, 2 + k for
 * the k-th segment of segments_info), from an id map (`dense_index`) or
 * straight from a PNG's scanlines (`panoptic_dense`).
 * 3. [label_pairs.c] Count (a, b) label pairs (`joint_histogram`): the confusion matrix of
 * mIoU and the intersection table of PQ.
 * 4. [rle.c] Read integer fields out of a large JSON text without parsing it
 * (`scan_ints`): the screen of a COCO results file.
 * 5. [rle.c] Check an RLE counts string exactly as pycocotools decodes it
 * (`rle_check`) before pycocotools trusts it, one at a time or every counts
 * string of a results file in one pass (`rle_scan_check`).
 * 6. [rle.c] Intersect two compressed RLEs on their runs (`rle_inter_union`).
 * 7. [label_pairs.c] Count (a, b) label pairs of two PNG label maps straight from their
 * inflated scanlines (`label_pair_counts`): mIoU's confusion, no image;
 * `label_confusion_rows` counts them a block of rows at a time into a
 * caller's reused table (no 512 KB calloc, no 300 KB of scanlines per map:
 * page faults) and `label_confusion_cells` gives the confusion's cells,
 * range checked.
 * 8. [panoptic.c] The same for two panoptic PNGs' dense segment indices, a block of rows
 * at a time (`panoptic_pair_rows`): PQ's intersection table, no index map.
 * 8b. [panoptic.c] PQ's matching of one image from that table (`panoptic_match`): what
 * the evaluator's numpy steps do, in one call per image.
 * 9. [coco_results.c] Read a plain COCO mask results file into columns in one pass
 * (`coco_results_columns`): what the COCOeval engine takes, parsed once.
 * 10. [json_spans.c] Split a large JSON array or object into its children's byte spans
 * (`json_spans`), so each is parsed alone and no whole document tree exists.
 */
#include "native.h"


static PyMethodDef methods[] = {
    {"unfilter", unfilter, METH_VARARGS,
     "unfilter(raw, height, width, bpp[, out]) -> bytes: undo PNG row filters (into `out`, returning None, if given)."},
    {"panoptic_dense", panoptic_dense, METH_VARARGS,
     "panoptic_dense(raw, height, width, bpp, segment_ids, itemsize) -> bytes: scanlines to dense segment indices."},
    {"panoptic_pair_rows", panoptic_pair_rows, METH_VARARGS,
     "panoptic_pair_rows(block_a, block_b, y0, width, bpp_a, bpp_b, segments_a, segments_b, rows, counts) -> None: add "
     "to int64 (n_a + 2) x (n_b + 2) `counts` the dense index pairs of a block of two inflated panoptic PNGs' rows."},
    {"panoptic_match", panoptic_match, METH_VARARGS,
     "panoptic_match(table, gt_cat, gt_crowd, gt_area, pred_cat, cat_ids, image_id, tp, fp, fn, iou) -> 1 | 2 | "
     "(gt_unlisted, gt_absent, n_tp, n_fp, n_fn, n_ignored, images, categories, outcomes, ious): one image's PQ matching."},
    {"joint_histogram", joint_histogram, METH_VARARGS,
     "joint_histogram(a, b, itemsize_a, itemsize_b, n_b, n_cells[, out]) -> bytes: uint64 counts of a * n_b + b "
     "(written into `out`, returning None, when a writable uint64 buffer is given)."},
    {"label_pair_counts", label_pair_counts, METH_VARARGS,
     "label_pair_counts(raw_a, raw_b, height, width) -> (cells, counts): int64 bytes of the ascending cells a * 256 + b "
     "of the (a, b) pixel pairs of two inflated 8-bit one-channel PNGs, and their counts; no image materialised."},
    {"label_confusion_rows", label_confusion_rows, METH_VARARGS,
     "label_confusion_rows(block_a, block_b, y, width, rows, scratch): add the (a, b) pixel pairs of a block of two "
     "label maps' inflated scanlines (rows y..) to the count table in scratch."},
    {"label_confusion_cells", label_confusion_cells, METH_VARARGS,
     "label_confusion_cells(n, ignore, scratch) -> (cells, counts, bad_a, bad_b): the n x (n + 1) confusion cells "
     "(int64 bytes, ascending) and counts of the pairs counted, range checked; the table left zero."},
    {"scan_ints", scan_ints, METH_VARARGS,
     "scan_ints(data, key, width) -> bytes of int64: the integer (or [width] integers) after every \"key\": in data."},
    {"dense_index", dense_index, METH_VARARGS,
     "dense_index(ids, segment_ids, itemsize) -> bytes: 0 unknown id, 1 void, 2 + k for segment_ids[k]."},
    {"rle_check", rle_check, METH_VARARGS,
     "rle_check(counts, height, width) -> (code, total): 0 when the RLE counts string decodes exactly to h*w pixels."},
    {"rle_inter_union", rle_inter_union, METH_VARARGS,
     "rle_inter_union(a, b) -> (intersection, area_a, area_b), or None: two compressed RLE counts strings swept run by run."},
    {"rle_scan_check", rle_scan_check, METH_VARARGS,
     "rle_scan_check(data, sizes) -> (n, index, code, total): rle_check on every \"counts\" string of a JSON text."},
    {"coco_results_columns", coco_results_columns, METH_VARARGS,
     "coco_results_columns(data) -> (image_id, category_id, score, size, area, bbox, masks) or None: a plain COCO "
     "mask results JSON read into columns in one pass."},
    {"json_spans", json_spans, METH_VARARGS,
     "json_spans(data, start, whole) -> (end, offsets) or None: int64 start/end pairs of the children of the JSON "
     "array (values) or object (key, value) at data[start:], unparsed; whole: only blanks may follow."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", "Per-pixel loops: PNG unfiltering, segment-id indexing.", -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
