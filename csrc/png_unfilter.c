/* PNG row filters undone (PNG spec, section 9) on inflated 8-bit scanlines. (psalm_bench._native; the list of kernels: module.c) */
#include "native.h"

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
int unfilter_row(unsigned char filter, const unsigned char *src, unsigned char *row,
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
PyObject *unfilter(PyObject *self, PyObject *args) {
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

