/* mini_infer._core: the C API for Python, thin. A Model wraps mi_model
 * (one file, maybe a batch range); a Context wraps mi_context (one per
 * thread, the session's Python side keeps them); a run takes objects with
 * the buffer protocol, checked against each tensor's bytes, and releases
 * the GIL while the engine works. Everything else (names, dtypes,
 * shapes, numpy, DLPack) is Python's, in mini_infer/__init__.py. Errors
 * become mini_infer.MiError carrying the status and mi_last_error(). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "mini_infer/report.h"
#include "mini_infer/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PyObject *mi_error_type; /* mini_infer.MiError */

/* Raises MiError("message") with .status (the status's name) and
 * .message (mi_last_error()); returns NULL. */
static PyObject *raise_status(mi_status st) {
    const char *msg = mi_last_error();
    PyObject *text = PyUnicode_FromFormat("%s: %s", mi_status_str(st), *msg ? msg : mi_status_str(st));
    PyObject *e = text ? PyObject_CallOneArg(mi_error_type, text) : NULL;
    Py_XDECREF(text);
    if (!e) return NULL;
    PyObject *status = PyUnicode_FromString(mi_status_name(st)), *message = PyUnicode_FromString(msg);
    if (status && message && !PyObject_SetAttrString(e, "status", status) &&
        !PyObject_SetAttrString(e, "message", message))
        PyErr_SetObject(mi_error_type, e);
    Py_XDECREF(status);
    Py_XDECREF(message);
    Py_DECREF(e);
    return NULL;
}

/* ---- Model ----------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mi_model *model;
} ModelObject;

static void model_dealloc(ModelObject *self) {
    mi_model_destroy(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int parse_precision(const char *s, mi_precision *p) {
    if (mi_precision_parse(s, p) == MI_OK) return 0;
    PyErr_Format(PyExc_ValueError, "precision '%s': %s", s, mi_last_error());
    return -1;
}

static int model_init(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"path", "device", "precision", "batches", "strategy", "alignment", "cuda_graph", "tf32",
                            "layout", "fuse", "verbose", "external_data_anywhere", NULL};
    const char *path = NULL, *device = "cpu", *precision = "fp32", *strategy = "auto", *layout = "auto";
    PyObject *batches = Py_None;
    Py_ssize_t alignment = 256;
    int cuda_graph = 0, tf32 = 0, fuse = 1, verbose = 0, anywhere = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ssOsnppsppp", names, &path, &device, &precision, &batches, &strategy,
                                     &alignment, &cuda_graph, &tf32, &layout, &fuse, &verbose, &anywhere))
        return -1;
    mi_model_options o;
    mi_model_options_init(&o);
    o.device = device;
    o.load.fuse = fuse;
    o.load.external_data_anywhere = anywhere;
    o.backend.cuda_graph = cuda_graph;
    o.backend.tf32 = tf32;
    o.plan.alignment = (size_t)alignment;
    if (parse_precision(precision, &o.load.precision)) return -1;
    if (mi_strategy_parse(strategy, &o.plan.solve.strategy) != MI_OK) {
        PyErr_Format(PyExc_ValueError, "strategy '%s': %s", strategy, mi_last_error());
        return -1;
    }
    if (strcmp(layout, "auto") == 0) o.load.channels_last = -1;
    else if (strcmp(layout, "nchw") == 0) o.load.channels_last = 0;
    else if (strcmp(layout, "nhwc") == 0) o.load.channels_last = 1;
    else {
        PyErr_Format(PyExc_ValueError, "layout '%s': expected auto, nchw or nhwc", layout);
        return -1;
    }
    if (verbose) o.backend.verbose = 1;
    if (batches != Py_None) {
        PyObject *seq = PySequence_Fast(batches, "batches: expected a sequence of ints");
        if (!seq) return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (n < 1 || n > MI_MAX_BATCHES) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "batches: %zd sizes, expected 1 to %d", n, MI_MAX_BATCHES);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
            if (v == -1 && PyErr_Occurred()) {
                Py_DECREF(seq);
                return -1;
            }
            o.batches[i] = v;
        }
        Py_DECREF(seq);
        if (n == 1) o.load.batch = o.batches[0];
        else o.nbatches = (int)n;
    }
    mi_model *m = NULL;
    mi_status st;
    Py_BEGIN_ALLOW_THREADS
    st = mi_model_load(path, &o, &m);
    Py_END_ALLOW_THREADS
    if (st) {
        raise_status(st);
        return -1;
    }
    mi_model_destroy(self->model);
    self->model = m;
    return 0;
}

static int model_ready(ModelObject *self) {
    if (self->model) return 0;
    PyErr_SetString(PyExc_RuntimeError, "the model was not loaded");
    return -1;
}

/* The model at batch b (0: the model itself, its largest size). */
static mi_model *model_at(ModelObject *self, long long b) {
    if (model_ready(self)) return NULL;
    if (b == 0) return self->model;
    mi_model *m = mi_model_at_batch(self->model, b);
    if (!m) raise_status(MI_ERR_INVALID_ARG);
    return m;
}

static PyObject *model_batch_sizes(ModelObject *self, PyObject *unused) {
    if (model_ready(self)) return NULL;
    size_t n = mi_model_batch_count(self->model);
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t k = 0; t && k < n; k++)
        PyTuple_SET_ITEM(t, (Py_ssize_t)k, PyLong_FromLongLong(mi_model_batch(self->model, k)));
    return t;
}

static PyObject *tensor_info(const mi_tensor *x) {
    PyObject *shape = PyTuple_New(x->ndim);
    if (!shape) return NULL;
    for (int d = 0; d < x->ndim; d++) PyTuple_SET_ITEM(shape, d, PyLong_FromLongLong(x->dims[d]));
    return Py_BuildValue("(sNsn)", x->name, shape, mi_dtype_name(x->dtype), (Py_ssize_t)x->nbytes);
}

/* [(name, shape, dtype name, nbytes)] of the inputs (outputs=0) or outputs. */
static PyObject *io_list(ModelObject *self, PyObject *args, int outputs) {
    long long b = 0;
    if (!PyArg_ParseTuple(args, "|L", &b)) return NULL;
    mi_model *m = model_at(self, b);
    if (!m) return NULL;
    size_t n = outputs ? mi_model_output_count(m) : mi_model_input_count(m);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *item = tensor_info(outputs ? mi_model_output(m, i) : mi_model_input(m, i));
        if (!item) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, item);
    }
    return l;
}
static PyObject *model_inputs(ModelObject *self, PyObject *args) { return io_list(self, args, 0); }
static PyObject *model_outputs(ModelObject *self, PyObject *args) { return io_list(self, args, 1); }

static PyObject *model_plan_info(ModelObject *self, PyObject *args) {
    long long b = 0;
    if (!PyArg_ParseTuple(args, "|L", &b)) return NULL;
    mi_model *m = model_at(self, b);
    if (!m) return NULL;
    const mi_memory_plan *p = mi_model_plan(m);
    const mi_solve_result *r = mi_memory_plan_result(p);
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:n,s:d,s:s,s:O,s:n,s:n,s:n}", "arena",
                         (Py_ssize_t)mi_memory_plan_pool_size(p, MI_POOL_ARENA), "weights",
                         (Py_ssize_t)mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), "io",
                         (Py_ssize_t)mi_memory_plan_pool_size(p, MI_POOL_IO), "lower_bound",
                         (Py_ssize_t)mi_memory_plan_lower_bound(p), "naive_arena",
                         (Py_ssize_t)mi_memory_plan_naive_size(p), "alignment",
                         (Py_ssize_t)mi_memory_plan_alignment(p), "saving_ratio", mi_memory_plan_saving_ratio(p),
                         "strategy", mi_strategy_name(r->strategy), "proven_optimal",
                         r->proven_optimal ? Py_True : Py_False, "shared_arena",
                         (Py_ssize_t)mi_model_arena_size(self->model), "weights_held",
                         (Py_ssize_t)mi_model_weights_size(self->model), "batch",
                         (Py_ssize_t)mi_model_batch(m, 0));
}

/* [(name, pool, offset, size, first, last)] of every tensor. */
static PyObject *model_tensors(ModelObject *self, PyObject *args) {
    long long b = 0;
    if (!PyArg_ParseTuple(args, "|L", &b)) return NULL;
    mi_model *m = model_at(self, b);
    if (!m) return NULL;
    const mi_graph *g = mi_model_graph(m);
    const mi_memory_plan *p = mi_model_plan(m);
    size_t n = mi_graph_tensor_count(g);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t t = 0; l && t < n; t++) {
        const mi_tensor_place *pl = mi_memory_plan_tensor(p, t);
        PyObject *item = Py_BuildValue("(ssnnLL)", mi_graph_tensor(g, t)->name, mi_pool_name(pl->pool),
                                       (Py_ssize_t)pl->offset, (Py_ssize_t)pl->size, (long long)pl->first,
                                       (long long)pl->last);
        if (!item) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)t, item);
    }
    return l;
}

/* What mi_report_json / mi_report_svg write, as a str. */
static PyObject *report(ModelObject *self, PyObject *args, int svg) {
    long long b = 0;
    if (!PyArg_ParseTuple(args, "|L", &b)) return NULL;
    mi_model *m = model_at(self, b);
    if (!m) return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return PyErr_NoMemory();
    mi_report_info info = {mi_graph_name(mi_model_graph(m)), mi_model_batch(m, 0), 0};
    mi_status st = svg ? mi_report_svg(mi_model_graph(m), mi_model_plan(m), &info, f)
                       : mi_report_json(mi_model_graph(m), mi_model_plan(m), &info, f);
    fclose(f);
    PyObject *out = st ? raise_status(st) : PyUnicode_FromStringAndSize(buf, (Py_ssize_t)len);
    free(buf);
    return out;
}
static PyObject *model_plan_json(ModelObject *self, PyObject *args) { return report(self, args, 0); }
static PyObject *model_svg(ModelObject *self, PyObject *args) { return report(self, args, 1); }

static PyMethodDef model_methods[] = {
    {"batch_sizes", (PyCFunction)model_batch_sizes, METH_NOARGS, "The planned batch sizes, ascending."},
    {"inputs", (PyCFunction)model_inputs, METH_VARARGS, "inputs(batch=0): [(name, shape, dtype, nbytes)]."},
    {"outputs", (PyCFunction)model_outputs, METH_VARARGS, "outputs(batch=0): [(name, shape, dtype, nbytes)]."},
    {"plan_info", (PyCFunction)model_plan_info, METH_VARARGS, "plan_info(batch=0): the pools and figures."},
    {"tensors", (PyCFunction)model_tensors, METH_VARARGS,
     "tensors(batch=0): [(name, pool, offset, size, first, last)]."},
    {"plan_json", (PyCFunction)model_plan_json, METH_VARARGS, "plan_json(batch=0): what plan --json prints."},
    {"svg", (PyCFunction)model_svg, METH_VARARGS, "svg(batch=0): the arena as an SVG picture."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mini_infer._core.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Model(path, device='cpu', precision='fp32', batches=None, strategy='auto', alignment=256, "
              "cuda_graph=False, tf32=False, layout='auto', fuse=True, verbose=False, external_data_anywhere=False): "
              "a loaded, planned model.",
    .tp_methods = model_methods,
    .tp_init = (initproc)model_init,
    .tp_new = PyType_GenericNew,
};

/* ---- Context ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *model; /* keeps the Model alive while the context is */
    mi_context *ctx;
} ContextObject;

static void context_dealloc(ContextObject *self) {
    mi_context_destroy(self->ctx);
    Py_XDECREF(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int context_init(ContextObject *self, PyObject *args, PyObject *kw) {
    PyObject *model = NULL;
    if (!PyArg_ParseTuple(args, "O!", &ModelType, &model)) return -1;
    ModelObject *mo = (ModelObject *)model;
    if (model_ready(mo)) return -1;
    mi_context *c = NULL;
    mi_status st = mi_context_create(mo->model, NULL, 0, &c);
    if (st) {
        raise_status(st);
        return -1;
    }
    mi_context_destroy(self->ctx);
    Py_XDECREF(self->model);
    Py_INCREF(model);
    self->model = model;
    self->ctx = c;
    return 0;
}

/* Buffers of a sequence, each C-contiguous (writable for outputs) and of
 * the tensor's bytes; n views filled, released by the caller. */
static int get_views(PyObject *seq, Py_buffer *views, size_t n, const mi_model *m, int outputs, size_t *got) {
    *got = 0;
    if (!PySequence_Check(seq) || PySequence_Size(seq) != (Py_ssize_t)n) {
        PyErr_Format(PyExc_ValueError, "expected %zu %s", n, outputs ? "outputs" : "inputs");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const mi_tensor *t = outputs ? mi_model_output(m, i) : mi_model_input(m, i);
        PyObject *o = PySequence_GetItem(seq, (Py_ssize_t)i);
        if (!o) return -1;
        int r = PyObject_GetBuffer(o, &views[i], PyBUF_C_CONTIGUOUS | (outputs ? PyBUF_WRITABLE : 0));
        Py_DECREF(o);
        if (r) return -1;
        (*got)++;
        if ((size_t)views[i].len != t->nbytes) {
            PyErr_Format(PyExc_ValueError, "%s '%s' has %zd bytes, the model's takes %zu", outputs ? "output" : "input",
                         t->name, views[i].len, t->nbytes);
            return -1;
        }
    }
    return 0;
}

#define MAX_IO 64

static PyObject *context_run(ContextObject *self, PyObject *args) {
    long long batch = 0;
    PyObject *ins = NULL, *outs = NULL;
    if (!PyArg_ParseTuple(args, "LOO", &batch, &ins, &outs)) return NULL;
    if (!self->ctx) {
        PyErr_SetString(PyExc_RuntimeError, "the context was not created");
        return NULL;
    }
    ModelObject *mo = (ModelObject *)self->model;
    mi_model *m = model_at(mo, batch);
    if (!m) return NULL;
    size_t ni = mi_model_input_count(m), no = mi_model_output_count(m), gi = 0, go = 0;
    if (ni > MAX_IO || no > MAX_IO) {
        PyErr_Format(PyExc_ValueError, "%zu inputs and %zu outputs: at most %d each", ni, no, MAX_IO);
        return NULL;
    }
    Py_buffer vi[MAX_IO], vo[MAX_IO];
    const void *pi[MAX_IO];
    void *po[MAX_IO];
    PyObject *result = NULL;
    if (get_views(ins, vi, ni, m, 0, &gi) || get_views(outs, vo, no, m, 1, &go)) goto done;
    for (size_t i = 0; i < ni; i++) pi[i] = vi[i].buf;
    for (size_t i = 0; i < no; i++) po[i] = vo[i].buf;
    mi_status st;
    int64_t b = batch ? batch : mi_model_batch(mo->model, mi_model_batch_count(mo->model) - 1);
    Py_BEGIN_ALLOW_THREADS
    st = mi_model_batch_count(mo->model) > 1 ? mi_context_run_batch(self->ctx, b, pi, po)
                                              : mi_context_run(self->ctx, pi, po);
    Py_END_ALLOW_THREADS
    if (st) raise_status(st);
    else result = Py_NewRef(Py_None);
done:
    for (size_t i = 0; i < gi; i++) PyBuffer_Release(&vi[i]);
    for (size_t i = 0; i < go; i++) PyBuffer_Release(&vo[i]);
    return result;
}

static PyMethodDef context_methods[] = {
    {"run", (PyCFunction)context_run, METH_VARARGS,
     "run(batch, inputs, outputs): inputs and outputs are sequences of C-contiguous buffers of the tensors' bytes "
     "at that batch size (0: the model's own); the GIL is released while it runs."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ContextType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mini_infer._core.Context",
    .tp_basicsize = sizeof(ContextObject),
    .tp_dealloc = (destructor)context_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Context(model): one arena and inputs/outputs pool; use from one thread at a time.",
    .tp_methods = context_methods,
    .tp_init = (initproc)context_init,
    .tp_new = PyType_GenericNew,
};

/* ---- module --------------------------------------------------------------------------- */

static PyObject *core_version(PyObject *self, PyObject *unused) { return PyUnicode_FromString(mi_version()); }

static PyMethodDef core_methods[] = {
    {"version", core_version, METH_NOARGS, "The library's version."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "_core", "mini-infer's C API, for mini_infer.", -1,
                                         core_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__core(void) {
    if (PyType_Ready(&ModelType) < 0 || PyType_Ready(&ContextType) < 0) return NULL;
    PyObject *m = PyModule_Create(&core_module);
    if (!m) return NULL;
    mi_error_type = PyErr_NewExceptionWithDoc("mini_infer.MiError",
                                              "An error of the engine: .status is the status's name (MI_ERR_...), .message the engine's text.",
                                              PyExc_RuntimeError, NULL);
    if (!mi_error_type || PyModule_AddObjectRef(m, "MiError", mi_error_type) < 0 ||
        PyModule_AddObjectRef(m, "Model", (PyObject *)&ModelType) < 0 ||
        PyModule_AddObjectRef(m, "Context", (PyObject *)&ContextType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
