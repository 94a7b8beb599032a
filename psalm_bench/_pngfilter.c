/* Undo PNG row filters (PNG spec, section 9) on an inflated 8-bit image.
 *
 * psalm-bench inflates segmentation PNGs with zlib-ng, which is many times
 * faster than the zlib that libpng/libspng/PIL link for these highly
 * compressible images; this is the remaining per-byte step, which numpy can
 * only do at a few ns per byte. `panoptic_ids` also folds each RGB pixel into
 * its COCO panoptic segment id (R + 256 G + 65536 B) as the row is decoded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline unsigned char paeth(int a, int b, int c) {
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return (unsigned char)a;
    if (pb <= pc) return (unsigned char)b;
    return (unsigned char)c;
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
        for (x = 0; x < bpp; x++) row[x] = src[x];
        for (x = bpp; x < stride; x++) row[x] = (unsigned char)(src[x] + row[x - bpp]);
        return 0;
    case 2:
        if (up) for (x = 0; x < stride; x++) row[x] = (unsigned char)(src[x] + up[x]);
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

static int parse_geometry(PyObject *args, Py_buffer *raw, Py_ssize_t *height, Py_ssize_t *width, Py_ssize_t *bpp) {
    if (!PyArg_ParseTuple(args, "y*nnn", raw, height, width, bpp)) return -1;
    if (*height <= 0 || *width <= 0 || *bpp <= 0 || *bpp > 8) {
        PyBuffer_Release(raw);
        PyErr_SetString(PyExc_ValueError, "bad image geometry");
        return -1;
    }
    if (raw->len < *height * (*width * *bpp + 1)) {
        PyBuffer_Release(raw);
        PyErr_SetString(PyExc_ValueError, "inflated data shorter than the image");
        return -1;
    }
    return 0;
}

/* unfilter(raw, height, width, bpp) -> bytes of height*width*bpp. */
static PyObject *unfilter(PyObject *self, PyObject *args) {
    Py_buffer raw;
    Py_ssize_t height, width, bpp;
    if (parse_geometry(args, &raw, &height, &width, &bpp) < 0) return NULL;
    Py_ssize_t stride = width * bpp;
    PyObject *result = PyBytes_FromStringAndSize(NULL, height * stride);
    if (result == NULL) {
        PyBuffer_Release(&raw);
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *in = (const unsigned char *)raw.buf;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < height && !failed; y++) {
        const unsigned char *src = in + y * (stride + 1);
        failed = unfilter_row(src[0], src + 1, out + y * stride, y > 0 ? out + (y - 1) * stride : NULL, stride, bpp);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&raw);
    if (failed) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
        return NULL;
    }
    return result;
}

/* panoptic_ids(raw, height, width, bpp) -> bytes of height*width little-endian uint32 ids. bpp 3 or 4. */
static PyObject *panoptic_ids(PyObject *self, PyObject *args) {
    Py_buffer raw;
    Py_ssize_t height, width, bpp;
    if (parse_geometry(args, &raw, &height, &width, &bpp) < 0) return NULL;
    if (bpp != 3 && bpp != 4) {
        PyBuffer_Release(&raw);
        PyErr_SetString(PyExc_ValueError, "panoptic ids need RGB or RGBA pixels");
        return NULL;
    }
    Py_ssize_t stride = width * bpp;
    unsigned char *rows = malloc(2 * stride);
    PyObject *result = rows ? PyBytes_FromStringAndSize(NULL, height * width * 4) : NULL;
    if (result == NULL) {
        free(rows);
        PyBuffer_Release(&raw);
        return rows ? NULL : PyErr_NoMemory();
    }
    unsigned char *ids = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *in = (const unsigned char *)raw.buf;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < height && !failed; y++) {
        const unsigned char *src = in + y * (stride + 1);
        unsigned char *row = rows + (y % 2) * stride;
        const unsigned char *up = y > 0 ? rows + ((y + 1) % 2) * stride : NULL;
        failed = unfilter_row(src[0], src + 1, row, up, stride, bpp);
        unsigned char *dst = ids + y * width * 4;
        for (Py_ssize_t x = 0; x < width; x++) {
            const unsigned char *pixel = row + x * bpp;
            dst[4 * x] = pixel[0];
            dst[4 * x + 1] = pixel[1];
            dst[4 * x + 2] = pixel[2];
            dst[4 * x + 3] = 0;
        }
    }
    Py_END_ALLOW_THREADS
    free(rows);
    PyBuffer_Release(&raw);
    if (failed) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
        return NULL;
    }
    return result;
}

static PyMethodDef methods[] = {
    {"unfilter", unfilter, METH_VARARGS, "unfilter(raw, height, width, bpp) -> bytes: undo PNG row filters."},
    {"panoptic_ids", panoptic_ids, METH_VARARGS,
     "panoptic_ids(raw, height, width, bpp) -> bytes: undo row filters and pack RGB into little-endian uint32 ids."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pngfilter", "PNG row unfiltering.", -1, methods};

PyMODINIT_FUNC PyInit__pngfilter(void) { return PyModule_Create(&module); }
