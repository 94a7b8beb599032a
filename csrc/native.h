/* The C extension's shared declarations: every file of csrc/
 * includes this first. The module's functions (module.c's method table) and
 * the few helpers two files share are declared here; everything else stays
 * static in its file. Symbols are hidden: only PyInit__native is exported. */
#ifndef PSALM_BENCH_NATIVE_H
#define PSALM_BENCH_NATIVE_H

#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Reconstruct one PNG row into `row`; `up` is the previous reconstructed row or NULL. 0 on success (png_unfilter.c). */
int unfilter_row(unsigned char filter, const unsigned char *src, unsigned char *row,
                 const unsigned char *up, Py_ssize_t stride, Py_ssize_t bpp);

static inline const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
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

/* The module's functions (module.c lists them with their docstrings). */
PyObject *unfilter(PyObject *self, PyObject *args);
PyObject *dense_index(PyObject *self, PyObject *args);
PyObject *panoptic_dense(PyObject *self, PyObject *args);
PyObject *panoptic_pair_rows(PyObject *self, PyObject *args);
PyObject *panoptic_match(PyObject *self, PyObject *args);
PyObject *joint_histogram(PyObject *self, PyObject *args);
PyObject *label_pair_counts(PyObject *self, PyObject *args);
PyObject *label_confusion_rows(PyObject *self, PyObject *args);
PyObject *label_confusion_cells(PyObject *self, PyObject *args);
PyObject *scan_ints(PyObject *self, PyObject *args);
PyObject *rle_check(PyObject *self, PyObject *args);
PyObject *rle_scan_check(PyObject *self, PyObject *args);
PyObject *rle_inter_union(PyObject *self, PyObject *args);
PyObject *coco_results_columns(PyObject *self, PyObject *args);
PyObject *json_spans(PyObject *self, PyObject *args);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
