/* The children of a JSON array or object as byte spans, unparsed. (psalm_bench._native; the list of kernels: module.c) */
#include "native.h"

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

PyObject *json_spans(PyObject *self, PyObject *args) {
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
