/* psalm_bench._native: the few per-pixel loops that numpy cannot do fast.
 *
 * 1. Undo PNG row filters (PNG spec, section 9) on an inflated 8-bit image.
 * psalm-bench inflates segmentation PNGs with zlib-ng, which is many times
 * faster than the zlib that libpng/libspng/PIL link for these highly
 * compressible images; this is the remaining per-byte step, which numpy can
 * only do at a few ns per byte.
 * 2. Map segment ids to dense per-image indices (0 unknown, 1 void, 2 + k for
 * the k-th segment of segments_info), from an id map (`dense_index`) or
 * straight from a PNG's scanlines (`panoptic_dense`).
 * 3. Count (a, b) label pairs (`joint_histogram`): the confusion matrix of
 * mIoU and the intersection table of PQ.
 * 4. Read integer fields out of a large JSON text without parsing it
 * (`scan_ints`): the screen of a COCO results file.
 * 5. Check an RLE counts string exactly as pycocotools decodes it
 * (`rle_check`) before pycocotools trusts it, one at a time or every counts
 * string of a results file in one pass (`rle_scan_check`).
 * 6. Intersect two compressed RLEs on their runs (`rle_inter_union`).
 * 7. Count (a, b) label pairs of two PNG label maps straight from their
 * inflated scanlines (`label_pair_counts`): mIoU's confusion, no image;
 * `label_confusion_rows` counts them a block of rows at a time into a
 * caller's reused table (no 512 KB calloc, no 300 KB of scanlines per map:
 * page faults) and `label_confusion_cells` gives the confusion's cells,
 * range checked.
 * 8. The same for two panoptic PNGs' dense segment indices, a block of rows
 * at a time (`panoptic_pair_rows`): PQ's intersection table, no index map.
 * 8b. PQ's matching of one image from that table (`panoptic_match`): what
 * the evaluator's numpy steps do, in one call per image.
 * 9. Read a plain COCO mask results file into columns in one pass
 * (`coco_results_columns`): what the COCOeval engine takes, parsed once.
 * 10. Split a large JSON array or object into its children's byte spans
 * (`json_spans`), so each is parsed alone and no whole document tree exists.
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline unsigned char paeth(int a, int b, int c) {
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return (unsigned char)a;
    if (pb <= pc) return (unsigned char)b;
    return (unsigned char)c;
}

/* Sub: a running sum per channel. The sums live in registers: reading them
 * back from the row just written would stall on store-to-load forwarding. */
static void unfilter_sub(const unsigned char *restrict src, unsigned char *restrict row, Py_ssize_t stride, Py_ssize_t bpp) {
    Py_ssize_t x;
    if (bpp == 3) {
        unsigned char r = 0, g = 0, b = 0;
        for (x = 0; x < stride; x += 3) {
            r += src[x]; g += src[x + 1]; b += src[x + 2];
            row[x] = r; row[x + 1] = g; row[x + 2] = b;
        }
    } else if (bpp == 4) {
        unsigned char r = 0, g = 0, b = 0, a = 0;
        for (x = 0; x < stride; x += 4) {
            r += src[x]; g += src[x + 1]; b += src[x + 2]; a += src[x + 3];
            row[x] = r; row[x + 1] = g; row[x + 2] = b; row[x + 3] = a;
        }
    } else if (bpp == 1) {
        /* label maps: long runs of zero deltas become memsets */
        unsigned char v = 0;
        x = 0;
        while (x < stride) {
            if (x + 8 <= stride) {
                uint64_t word;
                memcpy(&word, src + x, 8);
                if (word == 0) {
                    memset(row + x, v, 8);
                    x += 8;
                    continue;
                }
            }
            v += src[x];
            row[x] = v;
            x++;
        }
    } else {
        for (x = 0; x < bpp; x++) row[x] = src[x];
        for (x = bpp; x < stride; x++) row[x] = (unsigned char)(src[x] + row[x - bpp]);
    }
}

static void unfilter_up(const unsigned char *restrict src, unsigned char *restrict row, const unsigned char *restrict up, Py_ssize_t stride) {
    for (Py_ssize_t x = 0; x < stride; x++) row[x] = (unsigned char)(src[x] + up[x]);
}

/* Reconstruct one row into `row`; `up` is the previous reconstructed row or NULL. 0 on success. */
static int unfilter_row(unsigned char filter, const unsigned char *src, unsigned char *row,
                        const unsigned char *up, Py_ssize_t stride, Py_ssize_t bpp) {
    Py_ssize_t x;
    switch (filter) {
    case 0:
        memcpy(row, src, stride);
        return 0;
    case 1:
        unfilter_sub(src, row, stride, bpp);
        return 0;
    case 2:
        if (up) unfilter_up(src, row, up, stride);
        else memcpy(row, src, stride);
        return 0;
    case 3:
        for (x = 0; x < stride; x++) {
            int a = x >= bpp ? row[x - bpp] : 0;
            int b = up ? up[x] : 0;
            row[x] = (unsigned char)(src[x] + ((a + b) >> 1));
        }
        return 0;
    case 4:
        for (x = 0; x < stride; x++) {
            int a = x >= bpp ? row[x - bpp] : 0;
            int b = up ? up[x] : 0;
            int c = (up && x >= bpp) ? up[x - bpp] : 0;
            row[x] = (unsigned char)(src[x] + paeth(a, b, c));
        }
        return 0;
    default:
        return -1;
    }
}

/* unfilter(raw, height, width, bpp) -> bytes of height*width*bpp. */
static PyObject *unfilter(PyObject *self, PyObject *args) {
    Py_buffer raw, target;
    Py_ssize_t height, width, bpp;
    PyObject *destination = Py_None;
    if (!PyArg_ParseTuple(args, "y*nnn|O", &raw, &height, &width, &bpp, &destination)) return NULL;
    if (height <= 0 || width <= 0 || bpp <= 0 || bpp > 8 || raw.len < height * (width * bpp + 1)) {
        PyBuffer_Release(&raw);
        PyErr_SetString(PyExc_ValueError, "bad image geometry or inflated data shorter than the image");
        return NULL;
    }
    Py_ssize_t stride = width * bpp;
    PyObject *result;
    unsigned char *out;
    int have_target = 0;
    if (destination == Py_None) {
        result = PyBytes_FromStringAndSize(NULL, height * stride);
        if (result == NULL) {
            PyBuffer_Release(&raw);
            return NULL;
        }
        out = (unsigned char *)PyBytes_AS_STRING(result);
    } else {
        /* a caller's reusable buffer: no page faults for a fresh image each time */
        if (PyObject_GetBuffer(destination, &target, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            PyBuffer_Release(&raw);
            return NULL;
        }
        if (target.len != height * stride) {
            PyBuffer_Release(&target);
            PyBuffer_Release(&raw);
            PyErr_SetString(PyExc_ValueError, "out must hold height * width * bpp bytes");
            return NULL;
        }
        out = (unsigned char *)target.buf;
        have_target = 1;
        Py_INCREF(Py_None);
        result = Py_None;
    }
    const unsigned char *in = (const unsigned char *)raw.buf;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < height && !failed; y++) {
        const unsigned char *src = in + y * (stride + 1);
        failed = unfilter_row(src[0], src + 1, out + y * stride, y > 0 ? out + (y - 1) * stride : NULL, stride, bpp);
    }
    Py_END_ALLOW_THREADS
    if (have_target) PyBuffer_Release(&target);
    PyBuffer_Release(&raw);
    if (failed) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
        return NULL;
    }
    return result;
}

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
static PyObject *dense_index(PyObject *self, PyObject *args) {
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
static PyObject *panoptic_dense(PyObject *self, PyObject *args) {
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
static PyObject *panoptic_pair_rows(PyObject *self, PyObject *args) {
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
static PyObject *panoptic_match(PyObject *self, PyObject *args) {
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
static PyObject *joint_histogram(PyObject *self, PyObject *args) {
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
static PyObject *label_pair_counts(PyObject *self, PyObject *args) {
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
static PyObject *label_confusion_rows(PyObject *self, PyObject *args) {
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
static PyObject *label_confusion_cells(PyObject *self, PyObject *args) {
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

static inline const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* Parse a non-negative or negative decimal integer; NULL if none. */
static inline const char *parse_int(const char *p, const char *end, long long *value) {
    int negative = 0;
    if (p < end && *p == '-') { negative = 1; p++; }
    if (p >= end || *p < '0' || *p > '9') return NULL;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9') { v = v * 10 + (*p - '0'); p++; }
    *value = negative ? -v : v;
    return p;
}

/* scan_ints(data, key, width) -> bytes of int64: for every occurrence of the
 * JSON key `"key":` in `data`, the integer after it (width 1), or the
 * integers of the `[a, b, ...]` list after it (width n: exactly n of them).
 * Raises ValueError at an occurrence whose value is not of that shape: the
 * caller then falls back to a full parse. Lets a huge results file be
 * screened (image ids, mask sizes) without building Python objects. */
static PyObject *scan_ints(PyObject *self, PyObject *args) {
    Py_buffer data;
    const char *key;
    Py_ssize_t key_len, width;
    if (!PyArg_ParseTuple(args, "y*s#n", &data, &key, &key_len, &width)) return NULL;
    if (width < 1 || width > 8 || key_len == 0) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "bad key or width");
        return NULL;
    }
    char *pattern = malloc(key_len + 2);
    Py_ssize_t capacity = 1024, count = 0;
    long long *values = malloc(capacity * sizeof(long long));
    if (!pattern || !values) {
        free(pattern);
        free(values);
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
    pattern[0] = '"';
    memcpy(pattern + 1, key, key_len);
    pattern[key_len + 1] = '"';
    const char *p = (const char *)data.buf, *end = p + data.len;
    int bad = 0, no_memory = 0;
    Py_BEGIN_ALLOW_THREADS
    while (p < end) {
        const char *hit = memmem(p, end - p, pattern, key_len + 2);
        if (hit == NULL) break;
        p = skip_space(hit + key_len + 2, end);
        if (p >= end || *p != ':') { bad = 1; break; }
        p = skip_space(p + 1, end);
        if (width > 1) {
            if (p >= end || *p != '[') { bad = 1; break; }
            p++;
        }
        for (Py_ssize_t k = 0; k < width; k++) {
            long long v;
            p = skip_space(p, end);
            p = parse_int(p, end, &v);
            if (p == NULL) { bad = 1; break; }
            p = skip_space(p, end);
            if (width > 1) {
                char expected = (k + 1 < width) ? ',' : ']';
                if (p >= end || *p != expected) { bad = 1; break; }
                p++;
            }
            if (count == capacity) {
                long long *grown = realloc(values, 2 * capacity * sizeof(long long));
                if (grown == NULL) { no_memory = 1; break; }
                values = grown;
                capacity *= 2;
            }
            values[count++] = v;
        }
        if (bad || no_memory) break;
    }
    Py_END_ALLOW_THREADS
    free(pattern);
    PyBuffer_Release(&data);
    if (bad || no_memory) {
        free(values);
        if (no_memory) return PyErr_NoMemory();
        PyErr_SetString(PyExc_ValueError, "a value of an unexpected shape");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize((const char *)values, count * sizeof(long long));
    free(values);
    return result;
}

/* One count of a compressed counts string at s[*p..n) (*p < n), decoded as
 * pycocotools' rleFrString does: 5-bit groups, bit 5 "more follows", bit 4
 * of the last group the sign (the delta against the run two back is the
 * caller's). strict (the checkers): at most 7 characters, the 7th at most 1
 * in its low bits, where rleFrString's int shift would overflow; otherwise
 * (the run sweep) at most 13. 1 with *x set and *p past the count; 0 when the
 * string ends inside it, it is too long, or a character is outside '0'..'o'.
 * A one-character count, the common case, takes a fast path. The one decoder
 * of counts digits: every reader below calls it. */
static inline int read_count(const unsigned char *s, Py_ssize_t n, Py_ssize_t *p, int strict, long long *x) {
    Py_ssize_t q = *p;
    int c = s[q] - 48;
    if (c >= 0 && c < 32) { /* one character: 5 bits, bit 4 the sign */
        *x = (c & 0x10) ? (long long)c - 32 : (long long)c;
        *p = q + 1;
        return 1;
    }
    long long v = 0;
    int k = 0, more = 1;
    while (more) {
        if (q >= n || k >= (strict ? 7 : 13)) return 0;
        c = s[q] - 48;
        if (c < 0 || c > 63) return 0;
        if (strict && k == 6 && (c & 0x1f) > 1) return 0;
        v |= (long long)(c & 0x1f) << (5 * k);
        more = c & 0x20;
        q++;
        k++;
        if (!more && (c & 0x10)) v |= -1LL << (5 * k);
    }
    *x = v;
    *p = q;
    return 1;
}

/* rle_check(counts, height, width) -> (code, total): the verdict on one COCO
 * RLE counts string, decoded as pycocotools' rleFrString does, with the same
 * checks in the same order as masks.first_bad_counts (its pure numpy twin):
 * 0 good; 1 empty (h*w > 0); 2 a character outside '0'..'o'; 3 the string
 * ends inside a number; 4 a number longer than 7 characters (or a 7th
 * character above 1: rleFrString's int shift overflows); 5 a negative run;
 * 6 the runs do not sum to h*w (total = their sum, negative runs as 0);
 * 7 more runs than pixels + 1. */
/* The verdict on one counts string s[0..n) for an h x w mask (codes above). */
static int counts_verdict(const unsigned char *s, Py_ssize_t n, long long height, long long width, long long *total_out) {
    long long pixels = height * width, total = 0, runs = 0;
    int code = 0;
    Py_ssize_t p;
    if (n == 0) {
        *total_out = 0;
        return pixels > 0 ? 1 : 0;
    }
    for (p = 0; p < n; p++)
        if (s[p] < 48 || s[p] > 111) { code = 2; break; }
    if (code == 0 && ((s[n - 1] - 48) & 0x20)) code = 3;
    if (code == 0) {
        Py_ssize_t width_k = 0;
        for (p = 0; p < n; p++) {
            int c = s[p] - 48;
            width_k++;
            if (!(c & 0x20)) {
                if (width_k > 7 || (width_k == 7 && (c & 0x1f) > 1)) { code = 4; break; }
                width_k = 0;
            }
        }
    }
    if (code == 0) {
        long long back1 = 0, back2 = 0; /* runs m-1 and m-2 */
        int negative = 0;
        p = 0;
        while (p < n) {
            long long x = 0;
            if (!read_count(s, n, &p, 1, &x)) break; /* not reached: the checks above passed */
            if (runs > 2) x += back2;
            back2 = back1;
            back1 = x;
            if (x < 0) negative = 1;
            else total += x;
            runs++;
        }
        if (negative) code = 5;
        else if (total != pixels) code = 6;
        else if (runs > pixels + 1) code = 7;
    }
    *total_out = total;
    return code;
}

/* 1 when counts_verdict would return 0, in one fused pass; 0 otherwise (the
 * caller then asks counts_verdict for the code). */
static int counts_good(const unsigned char *s, Py_ssize_t n, long long height, long long width) {
    long long pixels = height * width, total = 0, runs = 0, back1 = 0, back2 = 0;
    Py_ssize_t p = 0;
    if (n == 0) return pixels <= 0;
    while (p < n) {
        long long x = 0;
        if (!read_count(s, n, &p, 1, &x)) return 0;
        if (runs > 2) x += back2;
        back2 = back1;
        back1 = x;
        if (x < 0) return 0;
        total += x;
        runs++;
    }
    return total == pixels && runs <= pixels + 1;
}

static PyObject *rle_check(PyObject *self, PyObject *args) {
    Py_buffer data;
    long long height, width, total = 0;
    int code;
    if (!PyArg_ParseTuple(args, "y*LL", &data, &height, &width)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    code = counts_verdict((const unsigned char *)data.buf, data.len, height, width, &total);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return Py_BuildValue("iL", code, total);
}

/* rle_scan_check(data, sizes) -> (n, index, code, total): every `"counts":`
 * of a JSON text, in file order, its string value unescaped (only `\\`
 * occurs in COCO strings) and checked by counts_verdict against the k-th
 * [height, width] of `sizes` (int64 pairs). n is the number of counts
 * strings read, or -1 when a "counts" value is not a plain string (a list,
 * another escape, unterminated) or there are more strings than sizes: the
 * caller then runs the full validator. index is the first string with a
 * nonzero code (-1 if none). One pass over the bytes, no Python objects: the
 * screen of a results file of 100K masks. */
static PyObject *rle_scan_check(PyObject *self, PyObject *args) {
    Py_buffer data, sizes;
    if (!PyArg_ParseTuple(args, "y*y*", &data, &sizes)) return NULL;
    if (sizes.len % (2 * (Py_ssize_t)sizeof(long long)) != 0) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&sizes);
        PyErr_SetString(PyExc_ValueError, "sizes must be int64 (height, width) pairs");
        return NULL;
    }
    const long long *hw = (const long long *)sizes.buf;
    Py_ssize_t n_sizes = sizes.len / (2 * (Py_ssize_t)sizeof(long long));
    const char *p = (const char *)data.buf, *end = p + data.len;
    static const char key[] = "\"counts\"";
    const Py_ssize_t key_len = sizeof(key) - 1;
    Py_ssize_t count = 0, bad_index = -1, scratch_capacity = 0;
    unsigned char *scratch = NULL;
    long long total = 0;
    int code = 0, shape = 0, no_memory = 0;
    Py_BEGIN_ALLOW_THREADS
    while (p < end) {
        const char *hit = memmem(p, end - p, key, key_len);
        if (hit == NULL) break;
        p = skip_space(hit + key_len, end);
        if (p >= end || *p != ':') { shape = 1; break; }
        p = skip_space(p + 1, end);
        if (p >= end || *p != '"') { shape = 1; break; }
        const char *start = ++p;
        int escaped = 0;
        while (p < end && *p != '"') {
            if (*p == '\\') {
                if (p + 1 >= end || p[1] != '\\') { shape = 1; break; }
                escaped = 1;
                p += 2;
            } else {
                p++;
            }
        }
        if (shape || p >= end || count >= n_sizes) { shape = 1; break; }
        const unsigned char *s = (const unsigned char *)start;
        Py_ssize_t n = p - start;
        if (escaped) {
            if (n > scratch_capacity) {
                unsigned char *grown = realloc(scratch, n);
                if (grown == NULL) { no_memory = 1; break; }
                scratch = grown;
                scratch_capacity = n;
            }
            Py_ssize_t m = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                scratch[m++] = (unsigned char)start[i];
                if (start[i] == '\\') i++;
            }
            s = scratch;
            n = m;
        }
        p++; /* the closing quote */
        if (bad_index < 0) {
            if (!counts_good(s, n, hw[2 * count], hw[2 * count + 1])) {
                int verdict = counts_verdict(s, n, hw[2 * count], hw[2 * count + 1], &total);
                if (verdict) { bad_index = count; code = verdict; }
            }
        }
        count++;
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    PyBuffer_Release(&data);
    PyBuffer_Release(&sizes);
    if (no_memory) return PyErr_NoMemory();
    return Py_BuildValue("nniL", shape ? (Py_ssize_t)-1 : count, bad_index, code, total);
}

/* A reader of the runs of one compressed counts string, as rleFrString
 * decodes them (5-bit groups, sign bit, delta against the run two back). */
typedef struct {
    const unsigned char *s;
    Py_ssize_t n, p;
    long long back1, back2, runs;
} run_reader;

/* The next run into *x; 0 at the end of the string, -1 on a malformed one. */
static inline int next_run(run_reader *r, long long *x) {
    if (r->p >= r->n) return 0;
    long long v = 0;
    if (!read_count(r->s, r->n, &r->p, 0, &v)) return -1;
    if (r->runs > 2) v += r->back2;
    r->back2 = r->back1;
    r->back1 = v;
    r->runs++;
    if (v < 0) return -1;
    *x = v;
    return 1;
}

/* rle_inter_union(a, b) -> (intersection, area_a, area_b) or None: pixel
 * counts of two compressed RLE counts strings of the same mask size, swept
 * over their runs in one pass (no mask decoded, nothing re-encoded). None
 * when a string is malformed or the two cover different pixel totals: the
 * caller then falls back to pycocotools. */
/* One string's side of the sweep: its reader, the pixels left in the current
 * run, whether that run is foreground, and the totals seen so far. */
typedef struct {
    run_reader r;
    long long left, total, area;
    int on, end;
} run_sweep;

/* Read runs until one with pixels is current (or the string ends); -1 on a malformed string. */
static inline int sweep_refill(run_sweep *w) {
    while (!w->end && w->left == 0) {
        int got = next_run(&w->r, &w->left);
        if (got < 0) return -1;
        if (got == 0) { w->end = 1; break; }
        w->on = !w->on;
        w->total += w->left;
        if (w->on) w->area += w->left;
    }
    return 0;
}

static PyObject *rle_inter_union(PyObject *self, PyObject *args) {
    Py_buffer a, b;
    if (!PyArg_ParseTuple(args, "y*y*", &a, &b)) return NULL;
    /* on = 1: flipped before the first run (runs start with zeros) */
    run_sweep wa = {{(const unsigned char *)a.buf, a.len, 0, 0, 0, 0}, 0, 0, 0, 1, 0};
    run_sweep wb = {{(const unsigned char *)b.buf, b.len, 0, 0, 0, 0}, 0, 0, 0, 1, 0};
    long long inter = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        if (sweep_refill(&wa) < 0 || sweep_refill(&wb) < 0) { bad = 1; break; }
        if (wa.end || wb.end) {
            if (!(wa.end && wb.end)) bad = 1;
            break;
        }
        long long step = wa.left < wb.left ? wa.left : wb.left;
        if (wa.on && wb.on) inter += step;
        wa.left -= step;
        wb.left -= step;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    if (bad || wa.total != wb.total) Py_RETURN_NONE;
    return Py_BuildValue("LLL", inter, wa.area, wb.area);
}

/* 9. A plain COCO mask results file read into columns in one pass
 * (`coco_results_columns`), so the COCOeval engine gets arrays, not a file it
 * parses again, and no Python dict per detection is built but the mask's. */

/* Column and row of pixel t (column-major, height h), from the column found
 * last: the pixels runs reach only increase, so a run that ends a few
 * columns on is stepped to, and only a longer jump divides. */
static inline void pixel_at(long long t, long long h, long long *column_index, long long *column_start, long long *x, long long *y) {
    long long d = t - *column_start;
    if (d >= h && d < 4 * h) {
        do {
            (*column_index)++;
            *column_start += h;
            d -= h;
        } while (d >= h);
    } else if (d < 0 || d >= h) {
        *column_index = t / h;
        *column_start = *column_index * h;
        d = t - *column_start;
    }
    *x = *column_index;
    *y = d;
}

/* counts_good's verdict on s[0..n) for an h x w mask, fused with the area
 * and box pycocotools' rleArea and rleToBbox give (a trailing background
 * run is left out of the box; a foreground run that starts in an earlier
 * column widens it to the full height). 1 when counts_good would accept the
 * string and no run after the first is empty (where rleToBbox's unsigned
 * arithmetic would decide; the caller then takes the general path). */
static int counts_area_bbox(const unsigned char *s, Py_ssize_t n, long long h, long long w, double *area, double bb[4]) {
    long long pixels = h * w, back1 = 0, back2 = 0, runs = 0, cc = 0, a = 0;
    long long xs = w, ys = h, xe = 0, ye = 0, px = 0, py = 0, column_index = 0, column_start = 0;
    Py_ssize_t p = 0;
    if (n == 0) return 0;
    while (p < n) {
        long long x = 0;
        if (!read_count(s, n, &p, 1, &x)) return 0;
        if (runs > 2) x += back2;
        back2 = back1;
        back1 = x;
        if (x < 0 || (x == 0 && runs > 0)) return 0;
        cc += x;
        if (cc > pixels) return 0;
        if (runs % 2 == 0) { /* background: its end is where the next run starts */
            pixel_at(cc, h, &column_index, &column_start, &px, &py);
        } else { /* foreground: the pending point of the run before, then its last pixel */
            long long col, y;
            pixel_at(cc - 1, h, &column_index, &column_start, &col, &y);
            if (px < xs) xs = px;
            if (px > xe) xe = px;
            if (py < ys) ys = py;
            if (py > ye) ye = py;
            if (px < col) { ys = 0; ye = h - 1; }
            if (col < xs) xs = col;
            if (col > xe) xe = col;
            if (y < ys) ys = y;
            if (y > ye) ye = y;
            a += x;
        }
        runs++;
    }
    if (cc != pixels || runs > pixels + 1) return 0;
    *area = (double)a;
    if (runs < 2) {
        bb[0] = bb[1] = bb[2] = bb[3] = 0.0;
    } else {
        bb[0] = (double)xs;
        bb[1] = (double)ys;
        bb[2] = (double)(xe - xs + 1);
        bb[3] = (double)(ye - ys + 1);
    }
    return 1;
}

/* A JSON object key (no escapes) into key and len; NULL if none. */
static inline const char *json_key(const char *p, const char *end, const char **key, Py_ssize_t *len) {
    p = skip_space(p, end);
    if (p >= end || *p != '"') return NULL;
    const char *start = ++p;
    while (p < end && *p != '"') {
        if (*p == '\\') return NULL;
        p++;
    }
    if (p >= end) return NULL;
    *key = start;
    *len = p - start;
    p = skip_space(p + 1, end);
    if (p >= end || *p != ':') return NULL;
    return skip_space(p + 1, end);
}

static inline int key_is(const char *key, Py_ssize_t len, const char *name) {
    return (Py_ssize_t)strlen(name) == len && memcmp(key, name, len) == 0;
}

/* A JSON integer of at most 15 digits (exact in a float64 column); NULL if
 * the value is anything else (a fraction, an exponent, a leading zero). */
static inline const char *json_int(const char *p, const char *end, long long *value) {
    int negative = 0;
    if (p < end && *p == '-') { negative = 1; p++; }
    const char *digits = p;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9') { v = v * 10 + (*p - '0'); p++; }
    Py_ssize_t n = p - digits;
    if (n == 0 || n > 15 || (n > 1 && *digits == '0')) return NULL;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return NULL;
    *value = negative ? -v : v;
    return p;
}

/* A finite JSON number, correctly rounded (Python's own conversion); NULL otherwise. */
static inline const char *json_double(const char *p, const char *end, double *value) {
    const char *start = p;
    if (p < end && *p == '-') p++;
    if (p >= end || *p < '0' || *p > '9') return NULL;
    if (*p == '0') p++;
    else while (p < end && *p >= '0' && *p <= '9') p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    char text[64];
    Py_ssize_t n = p - start;
    if (n >= (Py_ssize_t)sizeof(text)) return NULL;
    memcpy(text, start, n);
    text[n] = '\0';
    char *stop = NULL;
    double v = PyOS_string_to_double(text, &stop, NULL);
    if (PyErr_Occurred()) { PyErr_Clear(); return NULL; }
    if (stop != text + n || !isfinite(v)) return NULL;
    *value = v;
    return p;
}

/* Growable column of 8-byte cells. */
typedef struct {
    char *data;
    Py_ssize_t used, capacity; /* in bytes */
} column;

static inline int column_put(column *c, const void *cell, Py_ssize_t size) {
    if (c->used + size > c->capacity) {
        Py_ssize_t grown = c->capacity ? 2 * c->capacity : 4096;
        while (grown < c->used + size) grown *= 2;
        char *data = realloc(c->data, grown);
        if (data == NULL) return 0;
        c->data = data;
        c->capacity = grown;
    }
    memcpy(c->data + c->used, cell, size);
    c->used += size;
    return 1;
}

/* A "segmentation" value: {"size": [h, w], "counts": "..."} into a new dict
 * (its size list shared with the previous mask's when equal); NULL on any
 * other shape or a counts string counts_good refuses. */
typedef struct {
    PyObject *size_key, *counts_key, *last_size;
    long long last_h, last_w;
} mask_keys;

static const char *json_mask(const char *p, const char *end, mask_keys *keys, PyObject **out,
                             long long *h_out, long long *w_out, double *area, double bb[4]) {
    long long h = -1, w = -1;
    const char *counts = NULL;
    Py_ssize_t counts_len = 0, unescaped = 0;
    p = skip_space(p, end);
    if (p >= end || *p != '{') return NULL;
    p++;
    for (;;) {
        const char *key;
        Py_ssize_t len;
        p = json_key(p, end, &key, &len);
        if (p == NULL) return NULL;
        if (key_is(key, len, "size") && h < 0) {
            if (p >= end || *p != '[') return NULL;
            p = skip_space(p + 1, end);
            if ((p = json_int(p, end, &h)) == NULL) return NULL;
            p = skip_space(p, end);
            if (p >= end || *p != ',') return NULL;
            p = skip_space(p + 1, end);
            if ((p = json_int(p, end, &w)) == NULL) return NULL;
            p = skip_space(p, end);
            if (p >= end || *p != ']') return NULL;
            p++;
            if (h <= 0 || w <= 0 || h * w >= (1LL << 32)) return NULL;
        } else if (key_is(key, len, "counts") && counts == NULL) {
            if (p >= end || *p != '"') return NULL;
            counts = ++p;
            const char *quote = memchr(p, '"', end - p);
            if (quote == NULL) return NULL;
            counts_len = quote - counts;
            unescaped = counts_len;
            for (const char *q = counts; (q = memchr(q, '\\', quote - q)) != NULL; q += 2) {
                if (q + 1 >= quote || q[1] != '\\') return NULL; /* another escape, or an escaped quote */
                unescaped--;
            }
            p = quote + 1;
        } else {
            return NULL;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',') { p++; continue; }
        if (p < end && *p == '}') { p++; break; }
        return NULL;
    }
    if (h < 0 || counts == NULL) return NULL;
    PyObject *text = PyUnicode_New(unescaped, 127);
    if (text == NULL) return NULL;
    unsigned char *s = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t m = 0; /* the characters are checked by counts_area_bbox */
    for (const char *q = counts, *stop = counts + counts_len; q < stop;) {
        const char *escape = memchr(q, '\\', stop - q);
        const char *upto = escape ? escape + 1 : stop; /* one backslash of the pair kept */
        memcpy(s + m, q, upto - q);
        m += upto - q;
        q = escape ? escape + 2 : stop;
    }
    if (!counts_area_bbox(s, m, h, w, area, bb)) { Py_DECREF(text); return NULL; }
    if (keys->last_size == NULL || keys->last_h != h || keys->last_w != w) {
        PyObject *size = Py_BuildValue("[LL]", h, w);
        if (size == NULL) { Py_DECREF(text); return NULL; }
        Py_XDECREF(keys->last_size);
        keys->last_size = size;
        keys->last_h = h;
        keys->last_w = w;
    }
    PyObject *mask = PyDict_New();
    if (mask == NULL || PyDict_SetItem(mask, keys->size_key, keys->last_size) < 0 || PyDict_SetItem(mask, keys->counts_key, text) < 0) {
        Py_XDECREF(mask);
        Py_DECREF(text);
        return NULL;
    }
    Py_DECREF(text);
    *out = mask;
    *h_out = h;
    *w_out = w;
    return p;
}

/* coco_results_columns(data) -> (image_id, category_id, score, size, area,
 * bbox, masks) or None. `data` is a COCO results JSON text; when it is a
 * non-empty list of objects with exactly the keys image_id and category_id
 * (integers), score (a finite number) and segmentation (a compressed RLE
 * {"size": [h, w], "counts": "..."} whose runs decode to h*w pixels), in any
 * order and spacing, the result holds bytes of int64, int64, float64, int64
 * (h, w) pairs, float64 and float64 [x, y, w, h] per detection (area and box as
 * pycocotools computes them from the mask) and the list of the mask dicts.
 * None for anything else (another key, a bbox, polygons, an escape other
 * than \\, a malformed counts string, an overflowing number): the caller then
 * takes the general path, which validates every record and names a bad one. */
static PyObject *coco_results_columns(PyObject *self, PyObject *args) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    const char *p = (const char *)data.buf, *end = p + data.len;
    column ids = {0}, cats = {0}, scores = {0}, sizes = {0}, areas = {0}, boxes = {0};
    mask_keys keys = {PyUnicode_InternFromString("size"), PyUnicode_InternFromString("counts"), NULL, 0, 0};
    PyObject *masks = PyList_New(0), *result = NULL;
    int plain = 0, collecting = PyGC_Disable(); /* the masks are containers that cannot form cycles */
    if (keys.size_key == NULL || keys.counts_key == NULL || masks == NULL) goto done;
    p = skip_space(p, end);
    if (p >= end || *p != '[') goto done;
    p = skip_space(p + 1, end);
    if (p >= end || *p == ']') goto done; /* empty: the general path says so */
    for (;;) {
        long long image_id = 0, category_id = 0, h = 0, w = 0;
        double score = 0.0, area = 0.0, bb[4];
        int seen = 0; /* bits: image_id, category_id, score, segmentation */
        PyObject *mask = NULL;
        p = skip_space(p, end);
        if (p >= end || *p != '{') goto done;
        p++;
        for (;;) {
            const char *key;
            Py_ssize_t len;
            p = json_key(p, end, &key, &len);
            if (p == NULL) break;
            if (key_is(key, len, "image_id") && !(seen & 1)) { p = json_int(p, end, &image_id); seen |= 1; }
            else if (key_is(key, len, "category_id") && !(seen & 2)) { p = json_int(p, end, &category_id); seen |= 2; }
            else if (key_is(key, len, "score") && !(seen & 4)) { p = json_double(p, end, &score); seen |= 4; }
            else if (key_is(key, len, "segmentation") && !(seen & 8)) { p = json_mask(p, end, &keys, &mask, &h, &w, &area, bb); seen |= 8; }
            else p = NULL;
            if (p == NULL) break;
            p = skip_space(p, end);
            if (p < end && *p == ',') { p++; continue; }
            if (p < end && *p == '}') { p++; break; }
            p = NULL;
            break;
        }
        if (p == NULL || seen != 15) { /* not the plain layout (or an exception is set) */
            Py_XDECREF(mask);
            goto done;
        }
        long long hw[2] = {h, w};
        int stored = PyList_Append(masks, mask) == 0;
        Py_DECREF(mask);
        if (!stored) goto done;
        if (!column_put(&ids, &image_id, 8) || !column_put(&cats, &category_id, 8) || !column_put(&scores, &score, 8)
            || !column_put(&sizes, hw, 16) || !column_put(&areas, &area, 8) || !column_put(&boxes, bb, 32)) {
            PyErr_NoMemory();
            goto done;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',') { p++; continue; }
        if (p < end && *p == ']') { p++; break; }
        goto done;
    }
    plain = skip_space(p, end) == end;
done:
    if (plain && !PyErr_Occurred())
        result = Py_BuildValue("(y#y#y#y#y#y#O)", ids.data, ids.used, cats.data, cats.used, scores.data, scores.used,
                               sizes.data, sizes.used, areas.data, areas.used, boxes.data, boxes.used, masks);
    free(ids.data);
    free(cats.data);
    free(scores.data);
    free(sizes.data);
    free(areas.data);
    free(boxes.data);
    Py_XDECREF(keys.size_key);
    Py_XDECREF(keys.counts_key);
    Py_XDECREF(keys.last_size);
    Py_XDECREF(masks);
    PyBuffer_Release(&data);
    if (collecting) PyGC_Enable();
    if (result == NULL && !PyErr_Occurred()) Py_RETURN_NONE;
    return result;
}

/* 10. The direct children of a JSON array or object, as byte spans, without
 * parsing them (`json_spans`): a large ground truth is then parsed one record
 * at a time, so its whole document tree never exists at once. Only the
 * structure at this level is checked here; every span is parsed (and so
 * checked) by orjson, and None sends the caller to the whole-file parse. */

#define JSON_SPAN_DEPTH 512 /* deeper files take the whole-file parse and its error */

static inline Py_ssize_t json_ws(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* Index just past the string that opens at s[i] == '"'; -1 when unterminated.
 * A quote ends the string unless an odd run of backslashes precedes it. */
static Py_ssize_t json_skip_string(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    Py_ssize_t from = i + 1;
    for (;;) {
        const unsigned char *q = memchr(s + from, '"', (size_t)(n - from));
        if (q == NULL) return -1;
        Py_ssize_t at = q - s, back = at - 1;
        while (s[back] == '\\') back--; /* stops at the opening quote at the latest */
        if (((at - 1 - back) & 1) == 0) return at + 1;
        from = at + 1;
    }
}

/* Index just past the value that starts at s[i]; -1 when it is cut off,
 * empty or nested deeper than JSON_SPAN_DEPTH. */
static Py_ssize_t json_skip_value(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    unsigned char c = s[i];
    if (c == '"') return json_skip_string(s, i, n);
    if (c == '[' || c == '{') {
        int depth = 0;
        while (i < n) {
            c = s[i];
            if (c == '"') {
                i = json_skip_string(s, i, n);
                if (i < 0) return -1;
                continue;
            }
            if (c == '[' || c == '{') {
                if (++depth > JSON_SPAN_DEPTH) return -1;
            } else if (c == ']' || c == '}') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return -1;
    }
    Py_ssize_t start = i;
    static const char stops[] = ",]}:\"[{ \t\n\r";
    while (i < n && memchr(stops, s[i], sizeof stops - 1) == NULL) i++;
    return i > start ? i : -1;
}

typedef struct {
    int64_t *v;
    Py_ssize_t n, cap;
} span_list;

static int span_push(span_list *l, Py_ssize_t a, Py_ssize_t b) {
    if (l->n + 2 > l->cap) {
        Py_ssize_t cap = l->cap ? 2 * l->cap : 1024;
        int64_t *grown = realloc(l->v, (size_t)cap * sizeof(int64_t));
        if (grown == NULL) return -1;
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = a;
    l->v[l->n++] = b;
    return 0;
}

/* 0 with *end just past the container that starts at s[i] (after blanks);
 * 1 when the structure at this level is malformed; -1 out of memory. */
static int json_children(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, span_list *out, Py_ssize_t *end) {
    i = json_ws(s, i, n);
    if (i >= n || (s[i] != '[' && s[i] != '{')) return 1;
    const int object = s[i] == '{';
    const unsigned char close = object ? '}' : ']';
    i = json_ws(s, i + 1, n);
    if (i < n && s[i] == close) {
        *end = i + 1;
        return 0;
    }
    for (;;) {
        Py_ssize_t e;
        if (object) {
            if (i >= n || s[i] != '"') return 1;
            e = json_skip_string(s, i, n);
            if (e < 0) return 1;
            if (span_push(out, i, e) < 0) return -1;
            i = json_ws(s, e, n);
            if (i >= n || s[i] != ':') return 1;
            i = json_ws(s, i + 1, n);
        }
        if (i >= n) return 1;
        e = json_skip_value(s, i, n);
        if (e < 0) return 1;
        if (span_push(out, i, e) < 0) return -1;
        i = json_ws(s, e, n);
        if (i >= n) return 1;
        if (s[i] == close) {
            *end = i + 1;
            return 0;
        }
        if (s[i] != ',') return 1;
        i = json_ws(s, i + 1, n);
    }
}

static PyObject *json_spans(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t start, end = 0;
    int whole;
    if (!PyArg_ParseTuple(args, "y*np", &buf, &start, &whole)) return NULL;
    const unsigned char *s = buf.buf;
    const Py_ssize_t n = buf.len;
    span_list spans = {NULL, 0, 0};
    int verdict = start < 0 || start > n ? 1 : json_children(s, start, n, &spans, &end);
    if (verdict == 0 && whole && json_ws(s, end, n) != n) verdict = 1;
    PyBuffer_Release(&buf);
    PyObject *result = NULL;
    if (verdict < 0) {
        PyErr_NoMemory();
    } else if (verdict > 0) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *offsets = PyBytes_FromStringAndSize(spans.v ? (const char *)spans.v : "", spans.n * (Py_ssize_t)sizeof(int64_t));
        result = offsets ? Py_BuildValue("(nN)", end, offsets) : NULL;
    }
    free(spans.v);
    return result;
}

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
