/* A plain COCO mask results file read into columns in one pass. (psalm_bench._native; the list of kernels: module.c) */
#include "native.h"

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
PyObject *coco_results_columns(PyObject *self, PyObject *args) {
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

