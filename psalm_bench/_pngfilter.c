/* Undo PNG row filters (PNG spec, section 9) on an inflated 8-bit image.
 *
 * psalm-bench inflates segmentation PNGs with zlib-ng, which is many times
 * faster than the zlib that libpng/libspng/PIL link for these highly
 * compressible images; this is the remaining per-byte step, which numpy can
 * only do at a few ns per byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

static inline unsigned char paeth(int a, int b, int c) {
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return (unsigned char)a;
    if (pb <= pc) return (unsigned char)b;
    return (unsigned char)c;
}

/* unfilter(raw, height, width, bpp) -> bytes of height*width*bpp, or raises ValueError. */
static PyObject *unfilter(PyObject *self, PyObject *args) {
    Py_buffer raw;
    Py_ssize_t height, width, bpp;
    if (!PyArg_ParseTuple(args, "y*nnn", &raw, &height, &width, &bpp)) return NULL;
    if (height <= 0 || width <= 0 || bpp <= 0 || bpp > 8) {
        PyBuffer_Release(&raw);
        PyErr_SetString(PyExc_ValueError, "bad image geometry");
        return NULL;
    }
    Py_ssize_t stride = width * bpp;
    if (raw.len < height * (stride + 1)) {
        PyBuffer_Release(&raw);
        PyErr_SetString(PyExc_ValueError, "inflated data shorter than the image");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, height * stride);
    if (result == NULL) {
        PyBuffer_Release(&raw);
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *in = (const unsigned char *)raw.buf;
    int bad_filter = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < height && !bad_filter; y++) {
        const unsigned char *src = in + y * (stride + 1);
        unsigned char filter = src[0];
        src += 1;
        unsigned char *row = out + y * stride;
        const unsigned char *up = y > 0 ? out + (y - 1) * stride : NULL;
        Py_ssize_t x;
        switch (filter) {
        case 0:
            memcpy(row, src, stride);
            break;
        case 1:
            for (x = 0; x < bpp; x++) row[x] = src[x];
            for (x = bpp; x < stride; x++) row[x] = (unsigned char)(src[x] + row[x - bpp]);
            break;
        case 2:
            if (up) for (x = 0; x < stride; x++) row[x] = (unsigned char)(src[x] + up[x]);
            else memcpy(row, src, stride);
            break;
        case 3:
            for (x = 0; x < stride; x++) {
                int a = x >= bpp ? row[x - bpp] : 0;
                int b = up ? up[x] : 0;
                row[x] = (unsigned char)(src[x] + ((a + b) >> 1));
            }
            break;
        case 4:
            for (x = 0; x < stride; x++) {
                int a = x >= bpp ? row[x - bpp] : 0;
                int b = up ? up[x] : 0;
                int c = (up && x >= bpp) ? up[x - bpp] : 0;
                row[x] = (unsigned char)(src[x] + paeth(a, b, c));
            }
            break;
        default:
            bad_filter = 1;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&raw);
    if (bad_filter) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_ValueError, "unknown PNG filter type");
        return NULL;
    }
    return result;
}

static PyMethodDef methods[] = {
    {"unfilter", unfilter, METH_VARARGS, "unfilter(raw, height, width, bpp) -> bytes: undo PNG row filters."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pngfilter", "PNG row unfiltering.", -1, methods};

PyMODINIT_FUNC PyInit__pngfilter(void) { return PyModule_Create(&module); }
