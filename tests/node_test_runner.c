/* Runs one ONNX node test (model.onnx + test_data_set_N/{input,output}_K.pb)
 * on the CPU backend through the engine, in poison mode, and compares
 * every output: floats by max|d| / max|ref| < 1e-4 (with an absolute
 * floor of 1e-6 for tiny references), integers and bools exactly.
 *
 *     node_test_runner DIR                      the test must pass
 *     node_test_runner DIR --expect STATUS      loading must fail with STATUS
 *     node_test_runner DIR --expect DATA        the model loads, but the test's own data
 *                                               contradicts it (an input of another type or size)
 *                                               (e.g. MI_ERR_UNSUPPORTED)
 *
 * Operands mini-infer needs at load time (Reshape's shape, Slice's starts,
 * Pad's pads, Clip's bounds, ...) are graph inputs in ONNX's node tests
 * but initializers in real models; the runner turns exactly those into
 * initializers holding the data set's values, as an exporter would, and
 * feeds every other input at run time.
 *
 * Exit 0 on success; 1 on a failure, with the reason on stderr. */
#include "mini_infer/runtime.h"
#include "mini_infer/tensor_io.h"
#include "proto/onnx.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_IO 64

static int fail(const char *dir, const char *fmt, const char *detail) {
    fprintf(stderr, "FAIL %s: ", dir);
    fprintf(stderr, fmt, detail);
    fprintf(stderr, "\n");
    return 1;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Operand k of op is needed at load time. */
static int load_time_operand(const char *op, size_t k) {
    if (k == 0) return 0;
    if (!strcmp(op, "Reshape") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") ||
        !strcmp(op, "Split") || !strcmp(op, "ReduceMean"))
        return k == 1;
    if (!strcmp(op, "Slice")) return k <= 4;
    if (!strcmp(op, "Pad")) return k <= 3;
    if (!strcmp(op, "Clip")) return k <= 2;
    if (!strcmp(op, "Dropout")) return k <= 2;
    return 0;
}

static int is_initializer(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return 1;
    return 0;
}

/* ---- comparison ------------------------------------------------------------------------ */

static double as_double(mi_dtype t, const unsigned char *p, size_t i) {
    switch (t) {
    case MI_DTYPE_FLOAT: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case MI_DTYPE_DOUBLE: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    default: return 0.0;
    }
}

/* The ONNX test data of its time stored bfloat16 tensors as uint16. */
static int same_dtype(mi_dtype model, mi_dtype data) {
    return model == data || (model == MI_DTYPE_BFLOAT16 && data == MI_DTYPE_UINT16);
}

static int compare(const char *dir, const char *name, const mi_tensor *t, const void *got,
                   const mi_tensor_data *ref) {
    char msg[512];
    if (!same_dtype(t->dtype, ref->dtype) || t->nbytes != ref->nbytes) {
        snprintf(msg, sizeof msg, "output '%s': got %s of %zu bytes, the reference is %s of %zu bytes",
                 name, mi_dtype_name(t->dtype), t->nbytes, mi_dtype_name(ref->dtype), ref->nbytes);
        return fail(dir, "%s", msg);
    }
    if (t->ndim != ref->ndim || memcmp(t->dims, ref->dims, (size_t)t->ndim * sizeof t->dims[0])) {
        snprintf(msg, sizeof msg, "output '%s': rank %d, the reference has rank %d (or other dims)",
                 name, t->ndim, ref->ndim);
        return fail(dir, "%s", msg);
    }
    if (t->dtype == MI_DTYPE_FLOAT || t->dtype == MI_DTYPE_DOUBLE) {
        size_t n = t->nbytes / mi_dtype_size(t->dtype);
        double md = 0, mr = 0;
        size_t worst = 0;
        for (size_t i = 0; i < n; i++) {
            double r = as_double(t->dtype, ref->data, i), g = as_double(t->dtype, got, i);
            if (isnan(r) || isnan(g) || isinf(r) || isinf(g)) {
                int same = (isnan(r) && isnan(g)) || (!isnan(r) && !isnan(g) && r == g);
                if (!same) {
                    snprintf(msg, sizeof msg, "output '%s'[%zu]: got %g, want %g", name, i, g, r);
                    return fail(dir, "%s", msg);
                }
                continue;
            }
            if (fabs(r) > mr) mr = fabs(r);
            if (fabs(g - r) > md) {
                md = fabs(g - r);
                worst = i;
            }
        }
        if (md > 1e-4 * mr + 1e-6) {
            snprintf(msg, sizeof msg, "output '%s': max|d| = %g at %zu (got %g, want %g), max|ref| = %g, "
                     "normalized %g >= 1e-4", name, md, worst, as_double(t->dtype, got, worst),
                     as_double(t->dtype, ref->data, worst), mr, mr > 0 ? md / mr : md);
            return fail(dir, "%s", msg);
        }
        printf("output '%s': normalized error %.3g\n", name, mr > 0 ? md / mr : md);
        return 0;
    }
    if (t->dtype == MI_DTYPE_FLOAT16 || t->dtype == MI_DTYPE_BFLOAT16) {
        /* Bit-exact except for the last bit of rounding (the bfloat16 data
         * of its time rounded toward zero, we to nearest even). */
        const uint16_t *a = got, *b = ref->data;
        for (size_t i = 0; i < t->nbytes / 2; i++) {
            int d = (int)a[i] - (int)b[i];
            if (d > 1 || d < -1) {
                snprintf(msg, sizeof msg, "output '%s'[%zu]: %s bits %04x, want %04x", name, i,
                         mi_dtype_name(t->dtype), a[i], b[i]);
                return fail(dir, "%s", msg);
            }
        }
        return 0;
    }
    if (memcmp(got, ref->data, t->nbytes)) {
        snprintf(msg, sizeof msg, "output '%s' (%s) differs from the reference", name, mi_dtype_name(t->dtype));
        return fail(dir, "%s", msg);
    }
    printf("output '%s': exact\n", name);
    return 0;
}

/* ---- one data set ----------------------------------------------------------------------------- */

typedef struct run_state {
    const char *dir;
    const char *expect; /* status name loading must fail with, or NULL */
    Onnx__ModelProto *model;
    const char *in_names[MAX_IO]; /* graph inputs that are not initializers: input_K.pb order */
    size_t nin;
    int loaded_ok;
} run_state;

/* Returns 0 pass, 1 fail. */
static int run_set(run_state *s, const char *set) {
    Onnx__GraphProto *g = s->model->graph;
    mi_tensor_data in[MAX_IO];
    Onnx__TensorProto *frozen[MAX_IO];
    char *frozen_name[MAX_IO]; /* the names protobuf-c allocated, restored before freeing */
    unsigned char *in_bytes[MAX_IO];
    size_t nfrozen = 0;
    int rc = 1;
    char path[4096];
    memset(in, 0, sizeof in);
    memset(in_bytes, 0, sizeof in_bytes);
    for (size_t k = 0; k < s->nin; k++) {
        size_t len;
        snprintf(path, sizeof path, "%s/%s/input_%zu.pb", s->dir, set, k);
        if (!(in_bytes[k] = read_file(path, &len))) return fail(s->dir, "cannot read %s", path);
        if (mi_tensor_memory_read(in_bytes[k], len, &in[k]) != MI_OK) {
            /* A type the loader will refuse too (strings, optionals): let loading decide. */
            memset(&in[k], 0, sizeof in[k]);
        }
        int freeze = 0;
        for (size_t i = 0; i < g->n_node; i++)
            for (size_t j = 0; j < g->node[i]->n_input; j++)
                if (!strcmp(g->node[i]->input[j], s->in_names[k]) && load_time_operand(g->node[i]->op_type, j))
                    freeze = 1;
        if (freeze) {
            Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, in_bytes[k]);
            if (!tp) return fail(s->dir, "cannot parse %s", path);
            frozen_name[nfrozen] = tp->name;
            tp->name = (char *)s->in_names[k];
            frozen[nfrozen++] = tp;
        }
    }
    /* The model with frozen inputs moved to initializers. */
    size_t n_init0 = g->n_initializer, n_input0 = g->n_input;
    Onnx__TensorProto **init0 = g->initializer, *inits[MAX_IO * 2 + 256];
    Onnx__ValueInfoProto **input0 = g->input, *inputs[MAX_IO];
    if (n_init0 + nfrozen > sizeof inits / sizeof inits[0]) return fail(s->dir, "%s", "too many initializers");
    for (size_t i = 0; i < n_init0; i++) inits[i] = init0[i];
    for (size_t i = 0; i < nfrozen; i++) inits[n_init0 + i] = frozen[i];
    size_t ni = 0;
    for (size_t i = 0; i < n_input0 && ni < MAX_IO; i++) {
        int drop = 0;
        for (size_t f = 0; f < nfrozen; f++) drop |= !strcmp(frozen[f]->name, input0[i]->name);
        if (!drop) inputs[ni++] = input0[i];
    }
    g->initializer = inits;
    g->n_initializer = n_init0 + nfrozen;
    g->input = inputs;
    g->n_input = ni;
    size_t blen = onnx__model_proto__get_packed_size(s->model);
    unsigned char *bytes = malloc(blen ? blen : 1);
    onnx__model_proto__pack(s->model, bytes);
    g->initializer = init0;
    g->n_initializer = n_init0;
    g->input = input0;
    g->n_input = n_input0;
    for (size_t f = 0; f < nfrozen; f++) {
        frozen[f]->name = frozen_name[f];
        onnx__tensor_proto__free_unpacked(frozen[f], NULL);
    }

    mi_model_options o;
    mi_model_options_init(&o);
    o.device = "cpu";
    mi_graph *mg = NULL;
    mi_model *m = NULL;
    mi_context *c = NULL;
    void *outs[MAX_IO] = {0};
    mi_status st = mi_graph_load_memory(bytes, blen, s->dir, &o.load, &mg);
    if (st == MI_OK) st = mi_model_create(mg, &o, &m); /* takes mg, also on failure */
    if (st == MI_OK) st = mi_context_create(m, NULL, 0, &c);
    if (st == MI_OK) st = mi_context_set_poison(c, 1);
    int data_expected = s->expect && strcmp(s->expect, "DATA") == 0;
    if (s->expect && !data_expected) {
        if (st == MI_OK) {
            fprintf(stderr, "FAIL %s: listed in tests/conformance_unsupported.txt as %s, but it loads; "
                    "run it and remove it from the list if it passes\n", s->dir, s->expect);
        } else if (strcmp(mi_status_name(st), s->expect)) {
            fprintf(stderr, "FAIL %s: expected %s, loading failed with %s: %s\n", s->dir, s->expect,
                    mi_status_name(st), mi_last_error());
        } else {
            printf("expected %s: %s\n", s->expect, mi_last_error());
            rc = 0;
        }
        goto done;
    }
    if (st != MI_OK) {
        fprintf(stderr, "FAIL %s: loading failed with %s: %s%s\n", s->dir, mi_status_name(st), mi_last_error(),
                st == MI_ERR_UNSUPPORTED ? " (if that is right, list it in tests/conformance_unsupported.txt)" : "");
        goto done;
    }
    s->loaded_ok = 1;
    const void *ins[MAX_IO];
    size_t nmi = mi_model_input_count(m), nmo = mi_model_output_count(m);
    if (nmi > MAX_IO || nmo > MAX_IO) {
        fail(s->dir, "%s", "too many inputs or outputs");
        goto done;
    }
    for (size_t i = 0; i < nmi; i++) {
        const mi_tensor *t = mi_model_input(m, i);
        ins[i] = NULL;
        for (size_t k = 0; k < s->nin; k++)
            if (!strcmp(s->in_names[k], t->name)) {
                if (in[k].nbytes != t->nbytes || !same_dtype(t->dtype, in[k].dtype)) {
                    if (data_expected) {
                        printf("expected DATA: input '%s' is %s of %zu bytes, the model declares %s of %zu\n",
                               t->name, mi_dtype_name(in[k].dtype), in[k].nbytes, mi_dtype_name(t->dtype),
                               t->nbytes);
                        rc = 0;
                    } else {
                        fail(s->dir, "input '%s' does not match the model's type or size", t->name);
                    }
                    goto done;
                }
                ins[i] = in[k].data;
            }
        if (!ins[i]) {
            fail(s->dir, "no data for model input '%s'", t->name);
            goto done;
        }
    }
    if (data_expected) {
        fail(s->dir, "%s", "listed in tests/conformance_unsupported.txt as DATA, but its data matches the model; "
             "remove the line");
        goto done;
    }
    for (size_t i = 0; i < nmo; i++) outs[i] = malloc(mi_model_output(m, i)->nbytes + 1);
    if ((st = mi_context_run(c, ins, outs)) != MI_OK) {
        fprintf(stderr, "FAIL %s: run failed with %s: %s\n", s->dir, mi_status_name(st), mi_last_error());
        goto done;
    }
    rc = 0;
    for (size_t i = 0; i < nmo; i++) {
        const mi_tensor *t = mi_model_output(m, i);
        size_t k = 0;
        while (k < g->n_output && strcmp(g->output[k]->name, t->name)) k++;
        mi_tensor_data ref;
        snprintf(path, sizeof path, "%s/%s/output_%zu.pb", s->dir, set, k);
        if (k == g->n_output || mi_tensor_file_read(path, &ref) != MI_OK) {
            rc = fail(s->dir, "no reference for output '%s'", t->name);
            continue;
        }
        rc |= compare(s->dir, t->name, t, outs[i], &ref);
        mi_tensor_data_free(&ref);
    }
done:
    for (size_t i = 0; i < MAX_IO; i++) free(outs[i]);
    mi_context_destroy(c);
    mi_model_destroy(m);
    free(bytes);
    for (size_t k = 0; k < s->nin; k++) {
        mi_tensor_data_free(&in[k]);
        free(in_bytes[k]);
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "--expect"))) {
        fprintf(stderr, "usage: node_test_runner DIR [--expect STATUS]\n");
        return 2;
    }
    run_state s;
    memset(&s, 0, sizeof s);
    s.dir = argv[1];
    s.expect = argc == 4 ? argv[3] : NULL;
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/model.onnx", s.dir);
    unsigned char *bytes = read_file(path, &len);
    if (!bytes) return fail(s.dir, "cannot read %s", path);
    s.model = onnx__model_proto__unpack(NULL, len, bytes);
    free(bytes);
    if (!s.model || !s.model->graph) return fail(s.dir, "cannot parse %s", path);
    Onnx__GraphProto *g = s.model->graph;
    for (size_t i = 0; i < g->n_input && s.nin < MAX_IO; i++)
        if (!is_initializer(g, g->input[i]->name)) s.in_names[s.nin++] = g->input[i]->name;
    int rc = 0, sets = 0;
    for (int n = 0;; n++) {
        struct stat sb;
        char set[64];
        snprintf(set, sizeof set, "test_data_set_%d", n);
        snprintf(path, sizeof path, "%s/%s", s.dir, set);
        if (stat(path, &sb) != 0) break;
        sets++;
        rc |= run_set(&s, set);
        if (s.expect) break; /* loading is what is checked */
    }
    onnx__model_proto__free_unpacked(s.model, NULL);
    if (!sets) return fail(s.dir, "%s", "no test_data_set_N directory");
    if (!rc) printf("PASS %s (%d data set%s)\n", s.dir, sets, sets == 1 ? "" : "s");
    return rc;
}
