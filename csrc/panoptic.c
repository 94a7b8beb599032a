/* Panoptic PNGs: segment ids to dense indices, PQ's intersection table and one image's matching. (psalm_bench._native; the list of kernels: module.c) */
#include "native.h"

typedef struct {
    uint32_t id;
    uint32_t index;
} id_entry;

static int compare_entries(const void *left, const void *right) {
    uint32_t a = ((const id_entry *)left)->id, b = ((const id_entry *)right)->id;
    return (a > b) - (a < b);
}

/* A sorted (id, 2 + k) table of an image's segments; NULL when out of memory. */
static id_entry *build_table(const uint32_t *segment_ids, Py_ssize_t n_segments) {
    id_entry *table = malloc((n_segments + 1) * sizeof(id_entry));
    if (table == NULL) return NULL;
    for (Py_ssize_t k = 0; k < n_segments; k++) {
        table[k].id = segment_ids[k];
        table[k].index = (uint32_t)(k + 2);
    }
    qsort(table, n_segments, sizeof(id_entry), compare_entries);
    return table;
}

/* 0 for an unknown id, 1 for void, 2 + k for the k-th segment. */
static inline uint32_t lookup(const id_entry *table, Py_ssize_t n_segments, uint32_t id) {
    if (id == 0) return 1;
    Py_ssize_t lo = 0, hi = n_segments;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (table[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return (lo < n_segments && table[lo].id == id) ? table[lo].index : 0;
}

/* Narrow a row of uint32 indices to the output's item size. */
static inline void store_indices(const uint32_t *indices, unsigned char *out, Py_ssize_t count, Py_ssize_t itemsize) {
    Py_ssize_t i;
    if (itemsize == 1) for (i = 0; i < count; i++) out[i] = (unsigned char)indices[i];
    else if (itemsize == 2) for (i = 0; i < count; i++) ((uint16_t *)out)[i] = (uint16_t)indices[i];
    else memcpy(out, indices, count * 4);
}

/* dense_index(ids, segment_ids, itemsize) -> bytes: per pixel of the uint32 id
 * map, 0 for an id not in segment_ids, 1 for void (id 0), 2 + k for
 * segment_ids[k]; written as unsigned ints of `itemsize` bytes (1, 2 or 4).
 * Neighbouring pixels mostly share an id, so the last lookup is reused and
 * only id changes pay a binary search over the image's few segments. */
PyObject *dense_index(PyObject *self, PyObject *args) {
    Py_buffer ids, segments;
    Py_ssize_t itemsize;
    if (!PyArg_ParseTuple(args, "y*y*n", &ids, &segments, &itemsize)) return NULL;
    if ((itemsize != 1 && itemsize != 2 && itemsize != 4) || ids.len % 4 || segments.len % 4) {
        PyBuffer_Release(&ids);
        PyBuffer_Release(&segments);
        PyErr_SetString(PyExc_ValueError, "ids and segment_ids must be uint32 buffers; itemsize 1, 2 or 4");
        return NULL;
    }
    Py_ssize_t n_pixels = ids.len / 4, n_segments = segments.len / 4;
    id_entry *table = build_table((const uint32_t *)segments.buf, n_segments);
    uint32_t *chunk = malloc(4096 * sizeof(uint32_t));
    PyObject *result = (table && chunk) ? PyBytes_FromStringAndSize(NULL, n_pixels * itemsize) : NULL;
    if (result == NULL) {
        int no_memory = !(table && chunk);
        free(table);
        free(chunk);
        PyBuffer_Release(&ids);
        PyBuffer_Release(&segments);
        return no_memory ? PyErr_NoMemory() : NULL;
    }
    const uint32_t *pixels = (const uint32_t *)ids.buf;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    uint32_t last_id = 0, last_index = 1;
    for (Py_ssize_t start = 0; start < n_pixels; start += 4096) {
        Py_ssize_t count = n_pixels - start < 4096 ? n_pixels - start : 4096;
        for (Py_ssize_t i = 0; i < count; i++) {
            uint32_t id = pixels[start + i];
            if (id != last_id) {
                last_id = id;
                last_index = lookup(table, n_segments, id);
            }
            chunk[i] = last_index;
        }
        store_indices(chunk, out + start * itemsize, count, itemsize);
    }
    Py_END_ALLOW_THREADS
    free(table);
    free(chunk);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&segments);
    return result;
}

static inline void fill_indices(unsigned char *out, Py_ssize_t from, Py_ssize_t count, Py_ssize_t itemsize, uint32_t value) {
    Py_ssize_t i;
    if (itemsize == 1) memset(out + from, (int)value, count);
    else if (itemsize == 2) for (i = 0; i < count; i++) ((uint16_t *)out)[from + i] = (uint16_t)value;
    else for (i = 0; i < count; i++) ((uint32_t *)out)[from + i] = value;
}

/* A Sub-filtered RGB(A) row straight to dense indices in `out` (item size
 * 1, 2 or 4). In flat regions the filtered bytes are zero (each pixel equals
 * its left neighbour): such runs are found eight bytes at a time and filled
 * with one memset. The reconstructed bytes are written to `row` only when
 * the next row's filter needs them (row != NULL). */
static void sub_row_to_indices(const unsigned char *src, unsigned char *row, Py_ssize_t width, Py_ssize_t bpp,
                               const id_entry *table, Py_ssize_t n_segments,
                               uint32_t *last_id, uint32_t *last_index, unsigned char *out, Py_ssize_t itemsize) {
    unsigned char channel[4] = {0, 0, 0, 0};
    uint32_t id_now = *last_id, index_now = *last_index;
    Py_ssize_t stride = width * bpp;
    Py_ssize_t x = 0;
    while (x < width) {
        /* a run of zero bytes from pixel x on: whole pixels equal to pixel x - 1 */
        if (x > 0) {
            Py_ssize_t byte = x * bpp, stop = byte;
            while (stop + 8 <= stride) {
                uint64_t word;
                memcpy(&word, src + stop, 8);
                if (word) break;
                stop += 8;
            }
            while (stop < stride && src[stop] == 0) stop++;
            Py_ssize_t run = (stop - byte) / bpp;
            if (run > 0) {
                fill_indices(out, x, run, itemsize, index_now);
                if (row) {
                    for (Py_ssize_t k = 0; k < run; k++) memcpy(row + (x + k) * bpp, channel, bpp);
                }
                x += run;
                if (x >= width) break;
            }
        }
        const unsigned char *s = src + x * bpp;
        for (Py_ssize_t c = 0; c < bpp; c++) channel[c] = (unsigned char)(channel[c] + s[c]);
        if (row) memcpy(row + x * bpp, channel, bpp);
        uint32_t id = (uint32_t)channel[0] | ((uint32_t)channel[1] << 8) | ((uint32_t)channel[2] << 16);
        if (id != id_now) {
            id_now = id;
            index_now = lookup(table, n_segments, id);
        }
        fill_indices(out, x, 1, itemsize, index_now);
        x++;
    }
    *last_id = id_now;
    *last_index = index_now;
}

/* panoptic_dense(raw, height, width, bpp, segment_ids, itemsize) -> bytes: a
 * panoptic PNG's inflated scanlines straight to dense indices (as
 * dense_index), with no id map in between. */
PyObject *panoptic_dense(PyObject *self, PyObject *args) {
    Py_buffer raw, segments;
    Py_ssize_t height, width, bpp, itemsize;
    if (!PyArg_ParseTuple(args, "y*nnny*n", &raw, &height, &width, &bpp, &segments, &itemsize)) return NULL;
    if (height <= 0 || width <= 0 || (bpp != 3 && bpp != 4) || raw.len < height * (width * bpp + 1)
        || (itemsize != 1 && itemsize != 2 && itemsize != 4) || segments.len % 4) {
        PyBuffer_Release(&raw);
        PyBuffer_Release(&segments);
        PyErr_SetString(PyExc_ValueError, "bad geometry, pixel format or item size");
        return NULL;
    }
    Py_ssize_t stride = width * bpp, n_segments = segments.len / 4;
    id_entry *table = build_table((const uint32_t *)segments.buf, n_segments);
    unsigned char *rows = malloc(2 * stride);
    uint32_t *indices = malloc(width * sizeof(uint32_t));
    PyObject *result = (table && rows && indices) ? PyBytes_FromStringAndSize(NULL, height * width * itemsize) : NULL;
    if (result == NULL) {
        int no_memory = !(table && rows && indices);
        free(table);
        free(rows);
        free(indices);
        PyBuffer_Release(&raw);
        PyBuffer_Release(&segments);
        return no_memory ? PyErr_NoMemory() : NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *in = (const unsigned char *)raw.buf;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    uint32_t last_id = 0, last_index = 1;
    for (Py_ssize_t y = 0; y < height && !failed; y++) {
        const unsigned char *src = in + y * (stride + 1);
        unsigned char *row = rows + (y % 2) * stride;
        const unsigned char *up = y > 0 ? rows + ((y + 1) % 2) * stride : NULL;
        int next_needs_row = y + 1 < height && in[(y + 1) * (stride + 1)] >= 2;
        if (src[0] == 1) {
            sub_row_to_indices(src + 1, next_needs_row ? row : NULL, width, bpp, table, n_segments, &last_id, &last_index,
                               out + y * width * itemsize, itemsize);
            continue;
        } else {
            failed = unfilter_row(src[0], src + 1, row, up, stride, bpp);
            for (Py_ssize_t x = 0; x < width; x++) {
                const unsigned char *pixel = row + x * bpp;
                uint32_t id = (uint32_t)pixel[0] | ((uint32_t)pixel[1] << 8) | ((uint32_t)pixel[2] << 16);
                if (id != last_id) {
                    last_id = id;
                    last_index = lookup(table, n_segments, id);
                }
                indices[x] = last_index;
            }
        }
        store_indices(indices, out + y * width * itemsize, width, itemsize);
    }
    Py_END_ALLOW_THREADS
    free(table);
    free(rows);
    free(indices);
    PyBuffer_Release(&raw);
    PyBuffer_Release(&segments);
    if (failed) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
        return NULL;
    }
    return result;
}

/* One panoptic PNG read row by row as runs of dense indices (0 unknown id,
 * 1 void, 2 + k segment k), for pair counting with no index map. */
typedef struct {
    const unsigned char *in;
    Py_ssize_t width, bpp, stride;
    const id_entry *table;
    Py_ssize_t n_segments;
    unsigned char *rows; /* previous and current reconstructed row, when a filter needs them */
    uint32_t last_id, last_index;
    uint32_t *run_index, *run_length; /* this row's runs */
    Py_ssize_t y_offset; /* the image row of in's first row: `in` may be a block of rows */
    int keep_last; /* the block's last row is reconstructed for the next block's filter */
} index_runs;

static inline void push_run(uint32_t *run_index, uint32_t *run_length, Py_ssize_t *n_runs, uint32_t index, uint32_t length) {
    if (*n_runs && run_index[*n_runs - 1] == index) {
        run_length[*n_runs - 1] += length;
    } else {
        run_index[*n_runs] = index;
        run_length[*n_runs] = length;
        (*n_runs)++;
    }
}

/* The first non-zero byte of s[from, end) (end if none): 64 (SSE2: 0.80 -> 0.70
 * ms per 480x640 pair with its inflate), 32, then 8 bytes at a time, the last
 * word's first non-zero byte by count-trailing-zeros. */
static inline Py_ssize_t zero_bytes_end(const unsigned char *s, Py_ssize_t from, Py_ssize_t end) {
    Py_ssize_t stop = from;
#if defined(__SSE2__)
    while (stop + 64 <= end) {
        const __m128i *v = (const __m128i *)(s + stop);
        __m128i any = _mm_or_si128(_mm_or_si128(_mm_loadu_si128(v), _mm_loadu_si128(v + 1)),
                                   _mm_or_si128(_mm_loadu_si128(v + 2), _mm_loadu_si128(v + 3)));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(any, _mm_setzero_si128())) != 0xFFFF) break;
        stop += 64;
    }
#endif
    while (stop + 32 <= end) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, s + stop, 8);
        memcpy(&w1, s + stop + 8, 8);
        memcpy(&w2, s + stop + 16, 8);
        memcpy(&w3, s + stop + 24, 8);
        if (w0 | w1 | w2 | w3) break;
        stop += 32;
    }
    while (stop + 8 <= end) {
        uint64_t word;
        memcpy(&word, s + stop, 8);
        if (word) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return stop + (__builtin_ctzll(word) >> 3);
#else
            break;
#endif
        }
        stop += 8;
    }
    while (stop < end && s[stop] == 0) stop++;
    return stop;
}

/* Row y of `r` as runs; the number of runs, or -1 for an unknown filter type. */
static Py_ssize_t row_index_runs(index_runs *r, Py_ssize_t y, Py_ssize_t height) {
    Py_ssize_t stride = r->stride, bpp = r->bpp, width = r->width, n_runs = 0, image_y = y + r->y_offset;
    const unsigned char *src = r->in + y * (stride + 1);
    unsigned char *row = r->rows + (image_y % 2) * stride;
    const unsigned char *up = image_y > 0 ? r->rows + ((image_y + 1) % 2) * stride : NULL;
    int next_needs_row = y + 1 < height ? r->in[(y + 1) * (stride + 1)] >= 2 : r->keep_last;
    uint32_t id_now = r->last_id, index_now = r->last_index;
    if (src[0] == 1) {
        /* Sub: zero bytes repeat the left pixel; found eight at a time */
        const unsigned char *s = src + 1;
        unsigned char channel[4] = {0, 0, 0, 0};
        Py_ssize_t x = 0;
        while (x < width) {
            if (x > 0) {
                Py_ssize_t byte = x * bpp, stop = zero_bytes_end(s, byte, stride);
                Py_ssize_t run = (stop - byte) / bpp;
                if (run > 0) {
                    r->run_length[n_runs - 1] += (uint32_t)run;
                    if (next_needs_row) {
                        for (Py_ssize_t k = 0; k < run; k++) memcpy(row + (x + k) * bpp, channel, bpp);
                    }
                    x += run;
                    if (x >= width) break;
                }
            }
            for (Py_ssize_t c = 0; c < bpp; c++) channel[c] = (unsigned char)(channel[c] + s[x * bpp + c]);
            if (next_needs_row) memcpy(row + x * bpp, channel, bpp);
            uint32_t id = (uint32_t)channel[0] | ((uint32_t)channel[1] << 8) | ((uint32_t)channel[2] << 16);
            if (id != id_now) {
                id_now = id;
                index_now = lookup(r->table, r->n_segments, id);
            }
            push_run(r->run_index, r->run_length, &n_runs, index_now, 1);
            x++;
        }
    } else {
        if (unfilter_row(src[0], src + 1, row, up, stride, bpp)) return -1;
        for (Py_ssize_t x = 0; x < width; x++) {
            const unsigned char *pixel = row + x * bpp;
            uint32_t id = (uint32_t)pixel[0] | ((uint32_t)pixel[1] << 8) | ((uint32_t)pixel[2] << 16);
            if (id != id_now) {
                id_now = id;
                index_now = lookup(r->table, r->n_segments, id);
            }
            push_run(r->run_index, r->run_length, &n_runs, index_now, 1);
        }
    }
    r->last_id = id_now;
    r->last_index = index_now;
    return n_runs;
}

/* panoptic_pair_rows(block_a, block_b, y0, width, bpp_a, bpp_b, segments_a,
 * segments_b, rows, counts): add to `counts` (writable int64, row-major
 * (n_a + 2) x (n_b + 2)) the (dense index of a, dense index of b) pixel
 * pairs (indices as dense_index: 0 unknown id, 1 void, 2 + k for
 * segments[k]) of a block of inflated scanlines of two RGB(A) panoptic PNGs
 * of one width, image rows y0 on (as many as block_a holds; block_b the
 * same rows). Each row becomes runs and the two rows' runs are merged, with
 * no index map. `rows` (writable, 2 * width * (bpp_a + bpp_b) bytes) carries
 * the last reconstructed rows from one block to the next, so an image can be
 * inflated and counted a few rows at a time, in cache. ValueError on an
 * unknown filter type or bad geometry. */
PyObject *panoptic_pair_rows(PyObject *self, PyObject *args) {
    Py_buffer raw_a, raw_b, seg_a, seg_b, rows, counts_buf;
    Py_ssize_t y0, width, bpp_a, bpp_b;
    if (!PyArg_ParseTuple(args, "y*y*nnnny*y*w*w*", &raw_a, &raw_b, &y0, &width, &bpp_a, &bpp_b, &seg_a, &seg_b, &rows,
                          &counts_buf))
        return NULL;
    Py_ssize_t n_a = seg_a.len / 4, n_b = seg_b.len / 4, cols = n_b + 2;
    Py_ssize_t height = (width > 0 && (bpp_a == 3 || bpp_a == 4)) ? raw_a.len / (width * bpp_a + 1) : 0;
    int bad = height <= 0 || y0 < 0 || width > 0xFFFFFFF || (bpp_b != 3 && bpp_b != 4)
              || raw_a.len != height * (width * bpp_a + 1) || raw_b.len != height * (width * bpp_b + 1)
              || seg_a.len % 4 || seg_b.len % 4 || (n_a + 2) * cols > ((Py_ssize_t)1 << 27)
              || rows.len != 2 * width * (bpp_a + bpp_b) || counts_buf.len != (n_a + 2) * cols * 8;
    PyObject *result = NULL;
    id_entry *table_a = NULL, *table_b = NULL;
    uint32_t *runs = NULL;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "bad geometry, pixel format, segment count or buffer size");
        goto done;
    }
    table_a = build_table((const uint32_t *)seg_a.buf, n_a);
    table_b = build_table((const uint32_t *)seg_b.buf, n_b);
    runs = malloc(4 * (size_t)width * sizeof(uint32_t));
    if (table_a == NULL || table_b == NULL || runs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *counts = (int64_t *)counts_buf.buf;
    unsigned char *row_mem = (unsigned char *)rows.buf;
    index_runs a = {(const unsigned char *)raw_a.buf, width, bpp_a, width * bpp_a, table_a, n_a, row_mem, 0, 1, runs, runs + width, y0, 1};
    index_runs b = {(const unsigned char *)raw_b.buf, width, bpp_b, width * bpp_b, table_b, n_b, row_mem + 2 * width * bpp_a, 0, 1,
                    runs + 2 * width, runs + 3 * width, y0, 1};
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < height; y++) {
        Py_ssize_t na = row_index_runs(&a, y, height), nb = row_index_runs(&b, y, height);
        if (na < 0 || nb < 0) {
            failed = 1;
            break;
        }
        Py_ssize_t i = 0, j = 0;
        uint32_t left_a = a.run_length[0], left_b = b.run_length[0];
        while (i < na && j < nb) {
            uint32_t step = left_a < left_b ? left_a : left_b;
            counts[(Py_ssize_t)a.run_index[i] * cols + b.run_index[j]] += step;
            left_a -= step;
            left_b -= step;
            if (left_a == 0 && ++i < na) left_a = a.run_length[i];
            if (left_b == 0 && ++j < nb) left_b = b.run_length[j];
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
    else result = Py_NewRef(Py_None);
done:
    free(table_a);
    free(table_b);
    free(runs);
    PyBuffer_Release(&raw_a);
    PyBuffer_Release(&raw_b);
    PyBuffer_Release(&seg_a);
    PyBuffer_Release(&seg_b);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&counts_buf);
    return result;
}

/* panoptic_match(table, gt_cat, gt_crowd, gt_area, pred_cat, cat_ids, image_id,
 * tp, fp, fn, iou): panopticapi's matching of one image from its pair table
 * (int64 (n_gt + 2) x (n_pred + 2), as panoptic_pair_rows counts it), the
 * evaluator's numpy steps in one pass with the same float operations in the
 * same order. gt_cat / pred_cat: int64 category positions (0..K-1), gt_crowd
 * uint8, gt_area float64 (segments_info's), cat_ids int64 K. A PNG id that the
 * prediction's segments_info lacks, or a predicted segment with no pixel,
 * returns 1 or 2 and changes nothing (the caller names the problem). Else
 * adds the image's TP / FP / FN counts and its IoU sums (each category's
 * image sum added once, as np.bincount then +=) to the writable K-long
 * tp, fp, fn (int64) and iou (float64), and returns (gt_unlisted, gt_absent,
 * n_tp, n_fp, n_fn, n_ignored, image ids, category ids, outcomes, ious): the
 * per-segment records as int64 / int64 / int8 / float64 bytes, TP pairs in
 * (GT, prediction) order, then FP, FN and ignored predictions in file order. */
PyObject *panoptic_match(PyObject *self, PyObject *args) {
    Py_buffer table_buf, gt_cat_buf, crowd_buf, area_buf, pred_cat_buf, ids_buf, tp_buf, fp_buf, fn_buf, iou_buf;
    long long image_id;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*Lw*w*w*w*", &table_buf, &gt_cat_buf, &crowd_buf, &area_buf, &pred_cat_buf, &ids_buf,
                          &image_id, &tp_buf, &fp_buf, &fn_buf, &iou_buf))
        return NULL;
    Py_ssize_t n_gt = gt_cat_buf.len / 8, n_pred = pred_cat_buf.len / 8, n_cat = ids_buf.len / 8, cols = n_pred + 2;
    const int64_t *table = (const int64_t *)table_buf.buf, *gt_cat = (const int64_t *)gt_cat_buf.buf;
    const int64_t *pred_cat = (const int64_t *)pred_cat_buf.buf, *cat_ids = (const int64_t *)ids_buf.buf;
    const unsigned char *crowd = (const unsigned char *)crowd_buf.buf;
    const double *gt_area = (const double *)area_buf.buf;
    int64_t *tp = (int64_t *)tp_buf.buf, *fp = (int64_t *)fp_buf.buf, *fn = (int64_t *)fn_buf.buf;
    double *iou = (double *)iou_buf.buf;
    PyObject *result = NULL;
    int64_t *crowd_of = NULL, *pred_area = NULL;
    double *sums = NULL, *rec_iou = NULL;
    int64_t *rec_img = NULL, *rec_cat = NULL;
    signed char *rec_out = NULL, *matched = NULL;
    int bad = gt_cat_buf.len % 8 || pred_cat_buf.len % 8 || ids_buf.len % 8 || n_cat == 0
              || table_buf.len != (n_gt + 2) * cols * 8 || crowd_buf.len != n_gt || area_buf.len != n_gt * 8
              || tp_buf.len != n_cat * 8 || fp_buf.len != n_cat * 8 || fn_buf.len != n_cat * 8 || iou_buf.len != n_cat * 8;
    for (Py_ssize_t g = 0; !bad && g < n_gt; g++) bad = gt_cat[g] < 0 || gt_cat[g] >= n_cat;
    for (Py_ssize_t p = 0; !bad && p < n_pred; p++) bad = pred_cat[p] < 0 || pred_cat[p] >= n_cat;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "bad table size, category position or accumulator size");
        goto done;
    }
    for (Py_ssize_t g = 0; g < n_gt + 2; g++)
        if (table[g * cols]) { /* a predicted pixel whose id segments_info lacks */
            result = PyLong_FromLong(1);
            goto done;
        }
    Py_ssize_t n_rec = n_gt + n_pred;
    crowd_of = malloc(n_cat * sizeof(int64_t));
    pred_area = malloc((n_pred + 1) * sizeof(int64_t));
    sums = malloc(n_cat * sizeof(double));
    matched = malloc(n_gt + n_pred + 1);
    rec_img = malloc((n_rec + 1) * sizeof(int64_t));
    rec_cat = malloc((n_rec + 1) * sizeof(int64_t));
    rec_out = malloc(n_rec + 1);
    rec_iou = malloc((n_rec + 1) * sizeof(double));
    if (!crowd_of || !pred_area || !sums || !matched || !rec_img || !rec_cat || !rec_out || !rec_iou) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t p = 0; p < n_pred; p++) {
        int64_t area = 0;
        for (Py_ssize_t g = 0; g < n_gt + 2; g++) area += table[g * cols + p + 2];
        if (area == 0) { /* a predicted segment with no pixel */
            result = PyLong_FromLong(2);
            goto done;
        }
        pred_area[p] = area;
    }
    int unlisted = 0, absent = 0;
    for (Py_ssize_t p = 0; p < cols; p++) unlisted |= table[p] != 0;
    for (Py_ssize_t g = 0; g < n_gt; g++) {
        int64_t pixels = 0;
        for (Py_ssize_t p = 0; p < cols; p++) pixels += table[(g + 2) * cols + p];
        absent |= pixels == 0;
    }
    signed char *gt_matched = matched, *pred_matched = matched + n_gt;
    memset(matched, 0, n_gt + n_pred);
    for (Py_ssize_t k = 0; k < n_cat; k++) {
        crowd_of[k] = -1;
        sums[k] = 0.0;
    }
    Py_ssize_t n = 0, n_tp = 0, n_fp = 0, n_fn = 0, n_ign = 0;
    /* TP: same category, GT not crowd, IoU > 0.5 (union without the prediction's void pixels) */
    for (Py_ssize_t g = 0; g < n_gt; g++) {
        if (crowd[g]) {
            crowd_of[gt_cat[g]] = g; /* the last crowd segment of its category */
            continue;
        }
        for (Py_ssize_t p = 0; p < n_pred; p++) {
            int64_t inter = table[(g + 2) * cols + p + 2];
            if (inter == 0 || pred_cat[p] != gt_cat[g]) continue;
            double value = (double)inter / (((double)pred_area[p] + gt_area[g] - (double)inter) - (double)table[cols + p + 2]);
            if (!(value > 0.5)) continue;
            gt_matched[g] = pred_matched[p] = 1;
            sums[gt_cat[g]] += value;
            tp[gt_cat[g]] += 1;
            rec_cat[n] = cat_ids[gt_cat[g]];
            rec_out[n] = 0;
            rec_iou[n++] = value;
            n_tp++;
        }
    }
    for (Py_ssize_t k = 0; k < n_cat; k++) iou[k] += sums[k];
    double nan_value;
    uint64_t nan_bits = 0x7ff8000000000000ULL; /* numpy's np.nan */
    memcpy(&nan_value, &nan_bits, 8);
    /* FP (then ignored): unmatched predictions, ignored when more than half on void + their category's crowd */
    for (int pass = 0; pass < 2; pass++) {
        for (Py_ssize_t p = 0; p < n_pred; p++) {
            if (pred_matched[p]) continue;
            int64_t covered = table[cols + p + 2];
            if (crowd_of[pred_cat[p]] >= 0) covered += table[(crowd_of[pred_cat[p]] + 2) * cols + p + 2];
            int ignored = (double)covered / (double)pred_area[p] > 0.5;
            if (ignored != pass) continue;
            if (!ignored) {
                fp[pred_cat[p]] += 1;
                n_fp++;
            } else {
                n_ign++;
            }
            rec_cat[n] = cat_ids[pred_cat[p]];
            rec_out[n] = ignored ? 3 : 1;
            rec_iou[n++] = nan_value;
        }
        if (pass == 0) { /* FN between FP and ignored, as the records list them */
            for (Py_ssize_t g = 0; g < n_gt; g++) {
                if (gt_matched[g] || crowd[g]) continue;
                fn[gt_cat[g]] += 1;
                n_fn++;
                rec_cat[n] = cat_ids[gt_cat[g]];
                rec_out[n] = 2;
                rec_iou[n++] = nan_value;
            }
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) rec_img[i] = image_id;
    result = Py_BuildValue("iinnnny#y#y#y#", unlisted, absent, n_tp, n_fp, n_fn, n_ign, (const char *)rec_img, n * 8,
                           (const char *)rec_cat, n * 8, (const char *)rec_out, n, (const char *)rec_iou, n * 8);
done:
    free(crowd_of);
    free(pred_area);
    free(sums);
    free(matched);
    free(rec_img);
    free(rec_cat);
    free(rec_out);
    free(rec_iou);
    PyBuffer_Release(&table_buf);
    PyBuffer_Release(&gt_cat_buf);
    PyBuffer_Release(&crowd_buf);
    PyBuffer_Release(&area_buf);
    PyBuffer_Release(&pred_cat_buf);
    PyBuffer_Release(&ids_buf);
    PyBuffer_Release(&tp_buf);
    PyBuffer_Release(&fp_buf);
    PyBuffer_Release(&fn_buf);
    PyBuffer_Release(&iou_buf);
    return result;
}
