/* COCO RLE counts strings: checked as pycocotools decodes them, intersected on their runs; integers read out of JSON text. (psalm_bench._native; the list of kernels: module.c) */
#include "native.h"

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
PyObject *scan_ints(PyObject *self, PyObject *args) {
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

PyObject *rle_check(PyObject *self, PyObject *args) {
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
PyObject *rle_scan_check(PyObject *self, PyObject *args) {
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

PyObject *rle_inter_union(PyObject *self, PyObject *args) {
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

