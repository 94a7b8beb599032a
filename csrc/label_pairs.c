/* (a, b) label pairs counted: mIoU's confusion from label maps or their scanlines. (psalm_bench._native; the list of kernels: module.c) */
#include "native.h"

static inline uint32_t read_index(const unsigned char *data, Py_ssize_t i, Py_ssize_t itemsize) {
    if (itemsize == 1) return data[i];
    if (itemsize == 2) return ((const uint16_t *)data)[i];
    return ((const uint32_t *)data)[i];
}

/* Run-length pair counting, one loop per index width so the compiler sees
 * plain typed loads. Returns 1 if a pair falls outside the histogram. */
#define DEFINE_COUNT_PAIRS(NAME, TYPE_A, TYPE_B)                                                      \
    static int NAME(const TYPE_A *a, const TYPE_B *b, Py_ssize_t n, Py_ssize_t n_b, Py_ssize_t n_cells, \
                    uint64_t *counts) {                                                              \
        if (n == 0) return 0;                                                                        \
        TYPE_A run_a = a[0];                                                                         \
        TYPE_B run_b = b[0];                                                                         \
        uint64_t run = 1;                                                                            \
        for (Py_ssize_t i = 1; i < n; i++) {                                                         \
            if (a[i] == run_a && b[i] == run_b) {                                                    \
                run++;                                                                               \
                continue;                                                                            \
            }                                                                                        \
            uint64_t cell = (uint64_t)run_a * (uint64_t)n_b + run_b;                                 \
            if (cell >= (uint64_t)n_cells) return 1;                                                 \
            counts[cell] += run;                                                                     \
            run_a = a[i];                                                                            \
            run_b = b[i];                                                                            \
            run = 1;                                                                                 \
        }                                                                                            \
        uint64_t cell = (uint64_t)run_a * (uint64_t)n_b + run_b;                                     \
        if (cell >= (uint64_t)n_cells) return 1;                                                     \
        counts[cell] += run;                                                                         \
        return 0;                                                                                    \
    }

/* u8 x u8 (label maps): eight pixels at a time while both stay in the run. */
static int count_pairs_u8_u8(const unsigned char *a, const unsigned char *b, Py_ssize_t n, Py_ssize_t n_b, Py_ssize_t n_cells,
                             uint64_t *counts) {
    if (n == 0) return 0;
    unsigned char run_a = a[0], run_b = b[0];
    uint64_t run = 1;
    const uint64_t ones = 0x0101010101010101ULL;
    Py_ssize_t i = 1;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t wa, wb;
            memcpy(&wa, a + i, 8);
            memcpy(&wb, b + i, 8);
            if (wa == run_a * ones && wb == run_b * ones) {
                run += 8;
                i += 8;
                continue;
            }
        }
        if (a[i] == run_a && b[i] == run_b) {
            run++;
        } else {
            uint64_t cell = (uint64_t)run_a * (uint64_t)n_b + run_b;
            if (cell >= (uint64_t)n_cells) return 1;
            counts[cell] += run;
            run_a = a[i];
            run_b = b[i];
            run = 1;
        }
        i++;
    }
    uint64_t cell = (uint64_t)run_a * (uint64_t)n_b + run_b;
    if (cell >= (uint64_t)n_cells) return 1;
    counts[cell] += run;
    return 0;
}
DEFINE_COUNT_PAIRS(count_pairs_u8_u16, unsigned char, uint16_t)
DEFINE_COUNT_PAIRS(count_pairs_u16_u8, uint16_t, unsigned char)
DEFINE_COUNT_PAIRS(count_pairs_u16_u16, uint16_t, uint16_t)

static int count_pairs_any(const unsigned char *a, const unsigned char *b, Py_ssize_t itemsize_a, Py_ssize_t itemsize_b,
                           Py_ssize_t n, Py_ssize_t n_b, Py_ssize_t n_cells, uint64_t *counts) {
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t cell = (uint64_t)read_index(a, i, itemsize_a) * (uint64_t)n_b + read_index(b, i, itemsize_b);
        if (cell >= (uint64_t)n_cells) return 1;
        counts[cell]++;
    }
    return 0;
}

/* joint_histogram(a, b, itemsize_a, itemsize_b, n_b, n_cells) -> bytes of
 * n_cells uint64 counts of a[i] * n_b + b[i]. Label maps come in long runs
 * of equal pairs, so runs are counted and added once (also avoiding the
 * store-to-load stall of incrementing one counter again and again). */
PyObject *joint_histogram(PyObject *self, PyObject *args) {
    Py_buffer a, b, target;
    Py_ssize_t itemsize_a, itemsize_b, n_b, n_cells;
    PyObject *out = Py_None;
    if (!PyArg_ParseTuple(args, "y*y*nnnn|O", &a, &b, &itemsize_a, &itemsize_b, &n_b, &n_cells, &out)) return NULL;
    int bad_size = (itemsize_a != 1 && itemsize_a != 2 && itemsize_a != 4) || (itemsize_b != 1 && itemsize_b != 2 && itemsize_b != 4)
                   || a.len % itemsize_a || b.len % itemsize_b || a.len / itemsize_a != b.len / itemsize_b || n_b <= 0 || n_cells <= 0;
    if (bad_size) {
        PyBuffer_Release(&a);
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "a and b must hold the same number of 1-, 2- or 4-byte items");
        return NULL;
    }
    PyObject *result;
    uint64_t *counts;
    int have_target = 0;
    if (out == Py_None) {
        result = PyBytes_FromStringAndSize(NULL, n_cells * 8);
        if (result == NULL) {
            PyBuffer_Release(&a);
            PyBuffer_Release(&b);
            return NULL;
        }
        counts = (uint64_t *)PyBytes_AS_STRING(result);
    } else {
        /* counts into a caller's reusable uint64 buffer: no allocation per image */
        if (PyObject_GetBuffer(out, &target, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            PyBuffer_Release(&a);
            PyBuffer_Release(&b);
            return NULL;
        }
        if (target.len != n_cells * 8) {
            PyBuffer_Release(&target);
            PyBuffer_Release(&a);
            PyBuffer_Release(&b);
            PyErr_SetString(PyExc_ValueError, "out must hold n_cells uint64 counts");
            return NULL;
        }
        counts = (uint64_t *)target.buf;
        have_target = 1;
        Py_INCREF(Py_None);
        result = Py_None;
    }
    memset(counts, 0, n_cells * 8);
    const unsigned char *da = (const unsigned char *)a.buf, *db = (const unsigned char *)b.buf;
    Py_ssize_t n = a.len / itemsize_a;
    int out_of_range = 0;
    Py_BEGIN_ALLOW_THREADS
    if (itemsize_a == 1 && itemsize_b == 1)
        out_of_range = count_pairs_u8_u8(da, db, n, n_b, n_cells, counts);
    else if (itemsize_a == 1 && itemsize_b == 2)
        out_of_range = count_pairs_u8_u16(da, (const uint16_t *)db, n, n_b, n_cells, counts);
    else if (itemsize_a == 2 && itemsize_b == 1)
        out_of_range = count_pairs_u16_u8((const uint16_t *)da, db, n, n_b, n_cells, counts);
    else if (itemsize_a == 2 && itemsize_b == 2)
        out_of_range = count_pairs_u16_u16((const uint16_t *)da, (const uint16_t *)db, n, n_b, n_cells, counts);
    else
        out_of_range = count_pairs_any(da, db, itemsize_a, itemsize_b, n, n_b, n_cells, counts);
    Py_END_ALLOW_THREADS
    if (have_target) PyBuffer_Release(&target);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    if (out_of_range) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_ValueError, "a value pair falls outside the histogram");
        return NULL;
    }
    return result;
}

/* Pair counts of one image: a 256 x 256 table and the cells in use, listed
 * when first touched (an image has a few dozen, so nothing scans the table).
 * uint32 counts (callers refuse images of 2^32 pixels or more): a 256 KB
 * table, half the cache lines of uint64. */
typedef struct {
    uint32_t *counts;
    uint32_t *used;
    Py_ssize_t n_used;
} pair_counts;

static inline void add_pair(pair_counts *pc, unsigned cell, uint64_t run) {
    if (pc->counts[cell] == 0) pc->used[pc->n_used++] = cell;
    pc->counts[cell] += (uint32_t)run;
}

/* Add the runs of equal (a, b) pairs of two reconstructed rows. */
static void count_row_pairs(const unsigned char *a, const unsigned char *b, Py_ssize_t width, pair_counts *pc) {
    unsigned va = a[0], vb = b[0];
    uint64_t run = 0;
    for (Py_ssize_t x = 0; x < width; x++) {
        if (a[x] != va || b[x] != vb) {
            add_pair(pc, va * 256 + vb, run);
            va = a[x];
            vb = b[x];
            run = 0;
        }
        run++;
    }
    add_pair(pc, va * 256 + vb, run);
}

/* Both rows Sub-filtered: a zero delta leaves the pair as it is, so runs are
 * counted on the deltas, eight pixels at a time where both are all zero,
 * and no row is written at all. In a word that is not, only its non-zero
 * bytes are visited (found with count-trailing-zeros where the compiler has
 * it and words are little-endian). */
static void count_sub_row_pairs(const unsigned char *da, const unsigned char *db, Py_ssize_t width, pair_counts *pc) {
    unsigned va = 0, vb = 0;
    uint64_t run = 0;
    Py_ssize_t x = 0;
#if defined(__SSE2__) && defined(__GNUC__)
    /* 16 pixels a step: the non-zero deltas of both rows as a bit mask */
    const __m128i zero = _mm_setzero_si128();
    while (x + 16 <= width) {
        __m128i any = _mm_or_si128(_mm_loadu_si128((const __m128i *)(da + x)), _mm_loadu_si128((const __m128i *)(db + x)));
        unsigned changed = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(any, zero)) & 0xFFFFu;
        Py_ssize_t done = 0; /* bytes of this block accounted for */
        while (changed) {
            Py_ssize_t k = __builtin_ctz(changed);
            run += (uint64_t)(k - done);
            if (run) add_pair(pc, va * 256 + vb, run);
            va = (va + da[x + k]) & 255;
            vb = (vb + db[x + k]) & 255;
            run = 1;
            done = k + 1;
            changed &= changed - 1;
        }
        run += (uint64_t)(16 - done);
        x += 16;
    }
#endif
    while (x + 8 <= width) {
        uint64_t wa, wb;
        memcpy(&wa, da + x, 8);
        memcpy(&wb, db + x, 8);
        uint64_t changed = wa | wb;
        if (changed == 0) {
            run += 8;
            x += 8;
            continue;
        }
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        Py_ssize_t done = 0; /* bytes of this word accounted for */
        while (changed) {
            Py_ssize_t k = __builtin_ctzll(changed) >> 3;
            run += (uint64_t)(k - done);
            if (run) add_pair(pc, va * 256 + vb, run);
            va = (va + da[x + k]) & 255;
            vb = (vb + db[x + k]) & 255;
            run = 1;
            done = k + 1;
            changed &= ~((uint64_t)0xFF << (8 * k));
        }
        run += (uint64_t)(8 - done);
        x += 8;
#else
        for (Py_ssize_t stop = x + 8; x < stop; x++) {
            if (da[x] | db[x]) {
                if (run) add_pair(pc, va * 256 + vb, run);
                va = (va + da[x]) & 255;
                vb = (vb + db[x]) & 255;
                run = 0;
            }
            run++;
        }
#endif
    }
    for (; x < width; x++) {
        if (da[x] | db[x]) {
            if (run) add_pair(pc, va * 256 + vb, run);
            va = (va + da[x]) & 255;
            vb = (vb + db[x]) & 255;
            run = 0;
        }
        run++;
    }
    add_pair(pc, va * 256 + vb, run);
}

static int compare_u32(const void *left, const void *right) {
    uint32_t a = *(const uint32_t *)left, b = *(const uint32_t *)right;
    return (a > b) - (a < b);
}

/* The geometry and filter bytes of two inflated one-channel label maps:
 * 0 and *all_sub set (every row of both Sub-filtered), or -1 with ValueError. */
static int check_label_scanlines(const Py_buffer *a, const Py_buffer *b, Py_ssize_t height, Py_ssize_t width, int *all_sub) {
    Py_ssize_t line = width + 1;
    if (height <= 0 || width <= 0 || (uint64_t)height * (uint64_t)width >= ((uint64_t)1 << 32) ||
        a->len < height * line || b->len < height * line) {
        PyErr_SetString(PyExc_ValueError, "bad image geometry or inflated data shorter than the image");
        return -1;
    }
    const unsigned char *ia = (const unsigned char *)a->buf, *ib = (const unsigned char *)b->buf;
    *all_sub = 1;
    for (Py_ssize_t y = 0; y < height; y++) {
        if (ia[y * line] != 1 || ib[y * line] != 1) *all_sub = 0;
        if (ia[y * line] > 4 || ib[y * line] > 4) {
            PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
            return -1;
        }
    }
    return 0;
}

/* Count the (a, b) pixel pairs of two checked label maps into pc (the cells
 * in use left ascending); `rows` (4 * width bytes) is needed unless all_sub. */
static void count_label_pairs(const unsigned char *ia, const unsigned char *ib, Py_ssize_t height, Py_ssize_t width,
                              int all_sub, unsigned char *rows, pair_counts *pc) {
    Py_ssize_t line = width + 1;
    if (all_sub) {
        for (Py_ssize_t y = 0; y < height; y++)
            count_sub_row_pairs(ia + y * line + 1, ib + y * line + 1, width, pc);
    } else {
        for (Py_ssize_t y = 0; y < height; y++) {
            unsigned char *row_a = rows + (y & 1) * width, *up_a = rows + ((y + 1) & 1) * width;
            unsigned char *row_b = rows + 2 * width + (y & 1) * width, *up_b = rows + 2 * width + ((y + 1) & 1) * width;
            const unsigned char *sa = ia + y * line, *sb = ib + y * line;
            unfilter_row(sa[0], sa + 1, row_a, y > 0 ? up_a : NULL, width, 1); /* filters checked */
            unfilter_row(sb[0], sb + 1, row_b, y > 0 ? up_b : NULL, width, 1);
            count_row_pairs(row_a, row_b, width, pc);
        }
    }
    qsort(pc->used, pc->n_used, sizeof(uint32_t), compare_u32);
}

/* label_pair_counts(raw_a, raw_b, height, width) -> (cells, counts): the
 * (a, b) pixel pairs of two inflated 8-bit one-channel PNG images (label
 * maps) as the ascending cells a * 256 + b that occur (int64 bytes) and their
 * counts (int64 bytes): the non-zero entries of joint_histogram on the two
 * unfiltered maps, with neither map materialised. ValueError on an unknown
 * filter type or data shorter than the image. */
PyObject *label_pair_counts(PyObject *self, PyObject *args) {
    Py_buffer a, b;
    Py_ssize_t height, width;
    int all_sub;
    if (!PyArg_ParseTuple(args, "y*y*nn", &a, &b, &height, &width)) return NULL;
    if (check_label_scanlines(&a, &b, height, width, &all_sub) < 0) {
        PyBuffer_Release(&a);
        PyBuffer_Release(&b);
        return NULL;
    }
    pair_counts pc = {calloc(65536, sizeof(uint32_t)), malloc(65536 * sizeof(uint32_t)), 0};
    unsigned char *rows = all_sub ? NULL : malloc(4 * (size_t)width); /* previous and current row of each image */
    if (pc.counts == NULL || pc.used == NULL || (!all_sub && rows == NULL)) {
        free(pc.counts);
        free(pc.used);
        free(rows);
        PyBuffer_Release(&a);
        PyBuffer_Release(&b);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    count_label_pairs((const unsigned char *)a.buf, (const unsigned char *)b.buf, height, width, all_sub, rows, &pc);
    Py_END_ALLOW_THREADS
    free(rows);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyObject *cells = PyBytes_FromStringAndSize(NULL, pc.n_used * 8);
    PyObject *counts = PyBytes_FromStringAndSize(NULL, pc.n_used * 8);
    if (cells != NULL && counts != NULL) {
        int64_t *cell_out = (int64_t *)PyBytes_AS_STRING(cells), *count_out = (int64_t *)PyBytes_AS_STRING(counts);
        for (Py_ssize_t k = 0; k < pc.n_used; k++) {
            cell_out[k] = pc.used[k];
            count_out[k] = (int64_t)pc.counts[pc.used[k]];
        }
    }
    free(pc.counts);
    free(pc.used);
    if (cells == NULL || counts == NULL) {
        Py_XDECREF(cells);
        Py_XDECREF(counts);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, cells, counts);
    Py_DECREF(cells);
    Py_DECREF(counts);
    return result;
}

/* The scratch of label_confusion_rows / label_confusion_cells (uint32
 * words): a 256 x 256 count table, zero between images; the cells in use;
 * their number. */
#define CONFUSION_SCRATCH_WORDS (2 * 65536 + 1)

static int confusion_scratch(const Py_buffer *s, pair_counts *pc) {
    if (s->len < (Py_ssize_t)(CONFUSION_SCRATCH_WORDS * sizeof(uint32_t))) {
        PyErr_SetString(PyExc_ValueError, "scratch buffer too small");
        return -1;
    }
    uint32_t *w = (uint32_t *)s->buf;
    pc->counts = w;
    pc->used = w + 65536;
    pc->n_used = w[2 * 65536];
    if (pc->n_used > 65536) {
        PyErr_SetString(PyExc_ValueError, "scratch buffer not made for label_confusion_rows");
        return -1;
    }
    return 0;
}

/* label_confusion_rows(block_a, block_b, y, width, rows, scratch): add the
 * (a, b) pixel pairs of rows y.. of two label maps (a block of their inflated
 * scanlines, the same number of rows each) to the count table in `scratch`.
 * `rows` (4 * width bytes) carries each map's last reconstructed row to the
 * next block, for its Up, Average and Paeth rows. ValueError on a block that
 * is not whole rows or an unknown filter type (nothing counted). */
PyObject *label_confusion_rows(PyObject *self, PyObject *args) {
    Py_buffer a, b, r, s;
    Py_ssize_t y, width;
    if (!PyArg_ParseTuple(args, "y*y*nnw*w*", &a, &b, &y, &width, &r, &s)) return NULL;
    PyObject *result = NULL;
    pair_counts pc;
    Py_ssize_t line = width + 1, n_rows = width > 0 ? a.len / line : 0;
    if (width <= 0 || y < 0 || n_rows == 0 || a.len != b.len || a.len != n_rows * line || r.len < 4 * width ||
        (uint64_t)(y + n_rows) * (uint64_t)width >= ((uint64_t)1 << 32)) {
        PyErr_SetString(PyExc_ValueError, "bad block geometry");
        goto done;
    }
    if (confusion_scratch(&s, &pc) < 0) goto done;
    const unsigned char *ia = (const unsigned char *)a.buf, *ib = (const unsigned char *)b.buf;
    int all_sub = 1;
    for (Py_ssize_t k = 0; k < n_rows; k++) {
        if (ia[k * line] > 4 || ib[k * line] > 4) {
            PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
            goto done;
        }
        if (ia[k * line] != 1 || ib[k * line] != 1) all_sub = 0;
    }
    unsigned char *rows = (unsigned char *)r.buf; /* map a: rows[0..2w), map b: rows[2w..4w), row t at t & 1 */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n_rows; k++) {
        Py_ssize_t t = y + k;
        const unsigned char *sa = ia + k * line, *sb = ib + k * line;
        unsigned char *row_a = rows + (t & 1) * width, *row_b = rows + 2 * width + (t & 1) * width;
        if (all_sub) {
            count_sub_row_pairs(sa + 1, sb + 1, width, &pc);
            if (k + 1 < n_rows) continue;
        }
        /* a block with other filters: every row rebuilt; an all-Sub block: its last (for the next block) */
        unfilter_row(sa[0], sa + 1, row_a, t > 0 ? rows + ((t + 1) & 1) * width : NULL, width, 1);
        unfilter_row(sb[0], sb + 1, row_b, t > 0 ? rows + 2 * width + ((t + 1) & 1) * width : NULL, width, 1);
        if (!all_sub) count_row_pairs(row_a, row_b, width, &pc);
    }
    Py_END_ALLOW_THREADS
    ((uint32_t *)s.buf)[2 * 65536] = (uint32_t)pc.n_used;
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&r);
    PyBuffer_Release(&s);
    return result;
}

/* label_confusion_cells(n, ignore, scratch) -> (cells, counts, bad_a, bad_b):
 * one image's mIoU confusion from the pairs label_confusion_rows counted (a
 * the ground truth), the table left zero for the next image: the ascending
 * flat cells a * (n + 1) + column of the n x (n + 1) matrix (column b, or n
 * for b == ignore: no prediction) as int64 bytes and their int64 counts;
 * pixels with a >= n (the ignore label) are left out. bad_a: the smallest
 * a >= n other than `ignore`, bad_b: the smallest such b among the pixels
 * scored (a < n), -1 if none (the cells are then meaningless; the caller
 * refuses the file). `ignore` is the ignore label as a byte value, or -1. */
PyObject *label_confusion_cells(PyObject *self, PyObject *args) {
    Py_buffer s;
    Py_ssize_t n, ignore;
    if (!PyArg_ParseTuple(args, "nnw*", &n, &ignore, &s)) return NULL;
    PyObject *result = NULL, *cells = NULL, *counts = NULL;
    pair_counts pc;
    if (confusion_scratch(&s, &pc) < 0) goto done;
    if (n < 0 || n > ((Py_ssize_t)1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "bad class count");
        goto done;
    }
    qsort(pc.used, pc.n_used, sizeof(uint32_t), compare_u32);
    long long bad_a = -1, bad_b = -1;
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < pc.n_used; k++) {
        Py_ssize_t va = pc.used[k] >> 8, vb = pc.used[k] & 255;
        if (va >= n) {
            if (va != ignore && bad_a < 0) bad_a = va;
        } else {
            if (vb >= n && vb != ignore && (bad_b < 0 || vb < bad_b)) bad_b = vb;
            kept++;
        }
    }
    cells = PyBytes_FromStringAndSize(NULL, kept * 8);
    counts = PyBytes_FromStringAndSize(NULL, kept * 8);
    if (cells != NULL && counts != NULL) {
        int64_t *cell_out = (int64_t *)PyBytes_AS_STRING(cells), *count_out = (int64_t *)PyBytes_AS_STRING(counts);
        Py_ssize_t j = 0;
        for (Py_ssize_t k = 0; k < pc.n_used; k++) {
            Py_ssize_t va = pc.used[k] >> 8, vb = pc.used[k] & 255;
            if (va < n) {
                cell_out[j] = (int64_t)va * (n + 1) + (vb < n ? vb : n);
                count_out[j++] = (int64_t)pc.counts[pc.used[k]];
            }
        }
        result = Py_BuildValue("(OOLL)", cells, counts, bad_a, bad_b);
    }
    for (Py_ssize_t k = 0; k < pc.n_used; k++) pc.counts[pc.used[k]] = 0; /* the table zero again */
    ((uint32_t *)s.buf)[2 * 65536] = 0;
done:
    Py_XDECREF(cells);
    Py_XDECREF(counts);
    PyBuffer_Release(&s);
    return result;
}
