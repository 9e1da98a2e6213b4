/* The graph IR: building (by hand or by a loader), the accessors and the
 * enum helpers.
 *
 * The ONNX loader builds through the same functions as a caller building
 * by hand, so both end in mi_graph_finalize (finalize.c). */
#include "graph/graph_private.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- enum helpers -------------------------------------------------------- */

size_t mi_dtype_size(mi_dtype t) {
    switch (t) {
    case MI_DTYPE_FLOAT: case MI_DTYPE_INT32: return 4;
    case MI_DTYPE_UINT8: case MI_DTYPE_INT8: case MI_DTYPE_BOOL: return 1;
    case MI_DTYPE_UINT16: case MI_DTYPE_INT16: case MI_DTYPE_FLOAT16: case MI_DTYPE_BFLOAT16: return 2;
    case MI_DTYPE_INT64: case MI_DTYPE_DOUBLE: return 8;
    default: return 0;
    }
}

const char *mi_dtype_name(mi_dtype t) {
    switch (t) {
    case MI_DTYPE_FLOAT: return "float";
    case MI_DTYPE_UINT8: return "uint8";
    case MI_DTYPE_INT8: return "int8";
    case MI_DTYPE_UINT16: return "uint16";
    case MI_DTYPE_INT16: return "int16";
    case MI_DTYPE_INT32: return "int32";
    case MI_DTYPE_INT64: return "int64";
    case MI_DTYPE_BOOL: return "bool";
    case MI_DTYPE_FLOAT16: return "float16";
    case MI_DTYPE_DOUBLE: return "double";
    case MI_DTYPE_BFLOAT16: return "bfloat16";
    default: return "undefined";
    }
}

const char *mi_role_name(mi_role r) {
    switch (r) {
    case MI_ROLE_ACTIVATION: return "activation";
    case MI_ROLE_INPUT: return "input";
    case MI_ROLE_OUTPUT: return "output";
    case MI_ROLE_WEIGHT: return "weight";
    default: return "unknown";
    }
}

static const char *const op_names[] = {
#define MI__OP_NAME(e, name) name,
    MI_OP_LIST(MI__OP_NAME)
#undef MI__OP_NAME
    "Relayout",
};
_Static_assert(sizeof op_names / sizeof op_names[0] == MI_OP_COUNT, "a name per op");

mi_status mi__node_error(mi_status st, const mi_node *n, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mi__error(st, MI__NODE_FMT ": %s", MI__NODE_ARG(n), msg);
}

const char *mi_op_name(mi_op op) {
    if ((int)op < 0 || op >= MI_OP_COUNT) return "unknown";
    return op_names[op];
}

mi_op mi_op_from_name(const char *op_type) {
    if (!op_type) return MI_OP_COUNT;
    for (int i = 0; i < MI_OP_RELAYOUT; i++) /* the library's own ops are not a model's */
        if (strcmp(op_names[i], op_type) == 0) return (mi_op)i;
    return MI_OP_COUNT;
}

const char *mi_op_supported_list(void) {
    /* ", Conv, Relu, ..." built by the preprocessor; the first ", " is skipped. */
    static const char list[] =
#define MI__OP_LISTED(e, name) ", " name
        MI_OP_LIST(MI__OP_LISTED)
#undef MI__OP_LISTED
        ;
    return list + 2;
}

mi_dtype mi__dtype_from_int(int64_t t) {
    return t > 0 && t < 64 && mi_dtype_size((mi_dtype)t) ? (mi_dtype)t : MI_DTYPE_UNDEFINED;
}

void mi_load_options_init(mi_load_options *o) {
    if (!o) return;
    o->batch = 0;
    o->fold_constants = 1;
    o->fuse = 1;
    o->precision = MI_PRECISION_FP32;
    o->channels_last = -1;
}

const char *mi_layout_name(mi_layout l) {
    switch (l) {
    case MI_LAYOUT_NCHW: return "NCHW";
    case MI_LAYOUT_NHWC: return "NHWC";
    default: return "unknown";
    }
}

static const char *const precision_names[] = {
#define MI__PRECISION_NAME(e, name) name,
    MI_PRECISION_LIST(MI__PRECISION_NAME)
#undef MI__PRECISION_NAME
};

const char *mi_precision_name(mi_precision p) {
    return (int)p >= 0 && p < MI_PRECISION_COUNT ? precision_names[p] : "unknown";
}

mi_status mi_precision_parse(const char *name, mi_precision *out) {
    for (int p = 0; p < MI_PRECISION_COUNT; p++)
        if (name && strcmp(name, precision_names[p]) == 0) {
            *out = (mi_precision)p;
            return MI_OK;
        }
    return mi__error(MI_ERR_INVALID_ARG, "unknown precision '%s': expected one of fp32, fp16, bf16",
                     name ? name : "(null)");
}

/* ---- sizes ---------------------------------------------------------------- */

int64_t mi__numel(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || !mi__mul_i64(n, dims[i], &n)) return -1;
    }
    return n;
}

mi_status mi__check_dims(const char *tensor, mi_dtype dtype, int ndim, const int64_t *dims,
                         int64_t min_dim) {
    if (ndim < 0 || ndim > MI_MAX_DIMS)
        return mi__error(MI_ERR_UNSUPPORTED, "tensor '%s': rank %d, expected 0 to %d", tensor,
                         ndim, MI_MAX_DIMS);
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < min_dim)
            return mi__error(MI_ERR_SHAPE, "tensor '%s': dim %d is %lld, expected >= %lld",
                             tensor, i, (long long)dims[i], (long long)min_dim);
    }
    int64_t n = mi__numel(ndim, dims);
    size_t bytes;
    if (n < 0 || (uint64_t)n > SIZE_MAX || !mi__mul_size((size_t)n, mi_dtype_size(dtype), &bytes))
        return mi__error(MI_ERR_OVERFLOW,
                         "tensor '%s': the product of its dims overflows int64 elements or "
                         "size_t bytes", tensor);
    return MI_OK;
}

/* ---- name map ------------------------------------------------------------- */

static size_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static void map_insert(mi_graph *g, int idx) {
    size_t mask = g->map_cap - 1;
    size_t h = name_hash(g->tensors[idx].name) & mask;
    while (g->map[h] >= 0) h = (h + 1) & mask;
    g->map[h] = idx;
}

/* Keeps the map at most half full; rebuilding never allocates when the
 * capacity is already enough (compaction relies on that). */
static mi_status map_reserve(mi_graph *g, size_t n) {
    size_t cap = g->map_cap;
    if (cap && n <= cap / 2) return MI_OK;
    if (!cap) cap = 64;
    while (n > cap / 2) {
        if (cap > SIZE_MAX / 2 / sizeof(int)) return mi__error(MI_ERR_OVERFLOW, "name map");
        cap *= 2;
    }
    int *m = mi__malloc(cap * sizeof(int));
    if (!m) return mi__error(MI_ERR_NO_MEMORY, "name map of %zu entries", cap);
    mi__free(g->map);
    g->map = m;
    g->map_cap = cap;
    for (size_t i = 0; i < cap; i++) g->map[i] = -1;
    for (size_t i = 0; i < g->ntensors; i++) map_insert(g, (int)i);
    return MI_OK;
}

void mi__graph_map_rebuild(mi_graph *g) {
    for (size_t i = 0; i < g->map_cap; i++) g->map[i] = -1;
    for (size_t i = 0; i < g->ntensors; i++) map_insert(g, (int)i);
}

int mi__graph_lookup(const mi_graph *g, const char *name) {
    if (!g || !name || !g->map_cap) return -1;
    size_t mask = g->map_cap - 1;
    for (size_t h = name_hash(name) & mask;; h = (h + 1) & mask) {
        int idx = g->map[h];
        if (idx < 0) return -1;
        if (strcmp(g->tensors[idx].name, name) == 0) return idx;
    }
}

int mi_graph_find_tensor(const mi_graph *g, const char *name) { return mi__graph_lookup(g, name); }

/* ---- what the passes share ---------------------------------------------------- */

void mi__graph_set_producers(mi_graph *g) {
    for (size_t i = 0; i < g->ntensors; i++) g->tensors[i].producer = -1;
    for (size_t i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].noutputs; k++) g->tensors[g->nodes[i].outputs[k]].producer = (int)i;
}

mi_status mi__graph_uses(mi_graph *g, mi__uses *u) {
    size_t nt = g->ntensors ? g->ntensors : 1;
    u->count = mi__calloc(nt, sizeof(int));
    u->reader = mi__calloc(nt, sizeof(int));
    if (!u->count || !u->reader) {
        mi__uses_free(u);
        return mi__error(MI_ERR_NO_MEMORY, "readers of %zu tensors", g->ntensors);
    }
    mi__graph_set_producers(g);
    for (size_t i = 0; i < g->nnodes; i++) {
        const mi_node *n = &g->nodes[i];
        for (int k = 0; k <= n->ninputs; k++) {
            int t = k < n->ninputs ? n->inputs[k] : n->fused.residual;
            if (t < 0) continue;
            u->count[t]++;
            u->reader[t] = (int)i;
        }
    }
    return MI_OK;
}

void mi__uses_free(mi__uses *u) {
    mi__free(u->count);
    mi__free(u->reader);
    u->count = u->reader = NULL;
}

int mi__sole_reader(const mi_graph *g, const mi__uses *u, int t) {
    if (u->count[t] != 1 || g->ti[t].declared_output) return -1;
    return u->reader[t];
}

void mi__graph_drop_nodes(mi_graph *g, const unsigned char *dead) {
    size_t w = 0;
    for (size_t i = 0; i < g->nnodes; i++) {
        if (dead[i]) mi__node_release(&g->nodes[i]);
        else g->nodes[w++] = g->nodes[i];
    }
    g->nnodes = w;
}

mi_status mi__rewrite_begin(mi_graph *g, mi__rewrite *r, const char *pass) {
    r->dead = NULL;
    mi_status st = mi__graph_uses(g, &r->uses);
    if (st != MI_OK) return st;
    if (!(r->dead = mi__calloc(g->nnodes ? g->nnodes : 1, 1))) {
        mi__uses_free(&r->uses);
        return mi__error(MI_ERR_NO_MEMORY, "%s: marks for %zu nodes", pass, g->nnodes);
    }
    return MI_OK;
}

void mi__rewrite_end(mi_graph *g, mi__rewrite *r, int commit) {
    if (commit) mi__graph_drop_nodes(g, r->dead);
    mi__uses_free(&r->uses);
    mi__free(r->dead);
    r->dead = NULL;
}

void mi__graph_unique_name(const mi_graph *g, const char *base, const char *suffix, char *buf, size_t len) {
    snprintf(buf, len, "%s%s", base, suffix);
    for (int c = 1; mi__graph_lookup(g, buf) >= 0 && c < 1000000; c++) snprintf(buf, len, "%s%s#%d", base, suffix, c);
}

/* ---- what a loader attaches ------------------------------------------------ */

void mi__graph_set_owner(mi_graph *g, void *owner, void (*owner_free)(void *owner)) {
    mi__graph_owner_release(g);
    g->owner = owner;
    g->owner_free = owner_free;
}

void mi__graph_owner_release(mi_graph *g) {
    if (g->owner && g->owner_free) g->owner_free(g->owner);
    g->owner = NULL;
    g->owner_free = NULL;
}

mi_status mi__graph_set_name(mi_graph *g, const char *name) {
    char *copy = mi__strdup(name ? name : "");
    if (!copy) return mi__error(MI_ERR_NO_MEMORY, "graph name");
    mi__free(g->name);
    g->name = copy;
    return MI_OK;
}

mi_status mi__graph_set_dim_param(mi_graph *g, int t, int d, const char *param) {
    if (t < 0 || (size_t)t >= g->ntensors || d < 0 || d >= MI_MAX_DIMS)
        return mi__error(MI_ERR_INTERNAL, "dim_param of tensor %d, dim %d: out of range", t, d);
    mi__tinfo *ti = &g->ti[t];
    if (!ti->dparam && !(ti->dparam = mi__calloc(MI_MAX_DIMS, sizeof(char *))))
        return mi__error(MI_ERR_NO_MEMORY, "graph input '%s'", g->tensors[t].name);
    char *copy = mi__strdup(param);
    if (!copy) return mi__error(MI_ERR_NO_MEMORY, "graph input '%s'", g->tensors[t].name);
    mi__free(ti->dparam[d]);
    ti->dparam[d] = copy;
    return MI_OK;
}

/* ---- create / destroy ----------------------------------------------------- */

mi_status mi_graph_create(mi_graph **out) {
    if (!out) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_create: out is NULL");
    *out = NULL;
    mi_graph *g = mi__calloc(1, sizeof *g);
    if (!g) return mi__error(MI_ERR_NO_MEMORY, "allocating a graph");
    g->opset = MI__OPSET_DEFAULT;
    *out = g;
    return MI_OK;
}

static void free_attr(mi_attr *a) {
    mi__free(a->name);
    mi__free(a->s);
    mi__free(a->ints);
    mi__free(a->floats);
}

void mi__node_release(mi_node *n) {
    mi__free(n->name);
    mi__free(n->inputs);
    mi__free(n->outputs);
    for (int i = 0; i < n->nattrs; i++) free_attr(&n->attrs[i]);
    mi__free(n->attrs);
}

void mi__tensor_release(mi_tensor *t, mi__tinfo *ti) {
    mi__free(t->name);
    if (ti->dparam) {
        for (int d = 0; d < MI_MAX_DIMS; d++) mi__free(ti->dparam[d]);
        mi__free(ti->dparam);
    }
}

void mi_graph_destroy(mi_graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->ntensors; i++) mi__tensor_release(&g->tensors[i], &g->ti[i]);
    for (size_t i = 0; i < g->nnodes; i++) mi__node_release(&g->nodes[i]);
    for (size_t i = 0; i < g->nblocks; i++) mi__free(g->blocks[i]);
    mi__graph_owner_release(g);
    mi__free(g->tensors);
    mi__free(g->ti);
    mi__free(g->nodes);
    mi__free(g->folded);
    mi__free(g->inputs);
    mi__free(g->outputs);
    mi__free(g->map);
    mi__free(g->blocks);
    mi__free(g->name);
    mi__free(g);
}

mi_status mi_graph_set_opset(mi_graph *g, int64_t opset) {
    if (!g) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_set_opset: graph is NULL");
    g->opset = opset;
    return MI_OK;
}

void *mi__graph_block(mi_graph *g, size_t nbytes) {
    if (mi__grow((void **)&g->blocks, &g->cap_blocks, g->nblocks + 1, sizeof(void *)) != MI_OK)
        return NULL;
    void *p = mi__calloc(1, nbytes ? nbytes : 1);
    if (!p) {
        mi__error(MI_ERR_NO_MEMORY, "allocating %zu bytes of tensor data", nbytes);
        return NULL;
    }
    g->blocks[g->nblocks++] = p;
    return p;
}

/* ---- tensors -------------------------------------------------------------- */

static mi_status new_tensor(mi_graph *g, const char *name, int *index) {
    mi_status st;
    if (g->ntensors >= (size_t)INT32_MAX)
        return mi__error(MI_ERR_OVERFLOW, "more than %d tensors", INT32_MAX);
    if ((st = mi__grow((void **)&g->tensors, &g->cap_tensors, g->ntensors + 1,
                       sizeof(mi_tensor))) != MI_OK ||
        (st = mi__grow((void **)&g->ti, &g->cap_ti, g->ntensors + 1, sizeof(mi__tinfo))) !=
            MI_OK ||
        (st = map_reserve(g, g->ntensors + 1)) != MI_OK)
        return st;
    char *copy = mi__strdup(name);
    if (!copy) return mi__error(MI_ERR_NO_MEMORY, "tensor name '%s'", name);
    mi_tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof *t);
    memset(&g->ti[g->ntensors], 0, sizeof(mi__tinfo));
    t->name = copy;
    t->ndim = -1;
    t->producer = -1;
    t->role = MI_ROLE_ACTIVATION;
    *index = (int)g->ntensors++;
    map_insert(g, *index);
    return MI_OK;
}

mi_status mi__graph_ref(mi_graph *g, const char *name, int *index) {
    int idx = mi__graph_lookup(g, name);
    if (idx >= 0) {
        *index = idx;
        return MI_OK;
    }
    return new_tensor(g, name, index);
}

mi_status mi__index_push(int **arr, size_t *n, size_t *cap, int v) {
    mi_status st = mi__grow((void **)arr, cap, *n + 1, sizeof(int));
    if (st != MI_OK) return st;
    (*arr)[(*n)++] = v;
    return MI_OK;
}

mi_status mi__graph_add_tensor_ref(mi_graph *g, const char *name, mi_dtype dtype, int ndim,
                                   const int64_t *dims, mi_role role, const void *data,
                                   int *index) {
    mi_status st;
    if (!g || !name || !name[0])
        return mi__error(MI_ERR_INVALID_ARG, "adding a tensor: a name is required");
    if (g->finalized)
        return mi__error(MI_ERR_INVALID_ARG, "tensor '%s': the graph is already finalized", name);
    if (ndim < 0 || ndim > MI_MAX_DIMS || (ndim > 0 && !dims && role != MI_ROLE_OUTPUT))
        return mi__error(MI_ERR_UNSUPPORTED, "tensor '%s': rank %d, expected 0 to %d", name, ndim,
                         MI_MAX_DIMS);
    if ((int)role < 0 || role > MI_ROLE_WEIGHT)
        return mi__error(MI_ERR_INVALID_ARG, "tensor '%s': unknown role %d", name, (int)role);
    if (role != MI_ROLE_OUTPUT && mi_dtype_size(dtype) == 0)
        return mi__error(MI_ERR_UNSUPPORTED, "tensor '%s': data type %d is not supported", name,
                         (int)dtype);
    if (role == MI_ROLE_WEIGHT) {
        if ((st = mi__check_dims(name, dtype, ndim, dims, 0)) != MI_OK) return st;
        if (!data && mi__numel(ndim, dims) > 0)
            return mi__error(MI_ERR_INVALID_ARG, "weight '%s': data is NULL", name);
    }
    int idx = mi__graph_lookup(g, name);
    if (idx >= 0) {
        mi__tinfo *ti = &g->ti[idx];
        if (role == MI_ROLE_OUTPUT ? ti->declared_output : ti->def != MI__DEF_NONE)
            return mi__error(MI_ERR_GRAPH, "tensor '%s' is defined more than once", name);
    } else if ((st = new_tensor(g, name, &idx)) != MI_OK) {
        return st;
    }
    mi_tensor *t = &g->tensors[idx];
    mi__tinfo *ti = &g->ti[idx];
    switch (role) {
    case MI_ROLE_OUTPUT:
        if ((st = mi__index_push(&g->outputs, &g->noutputs, &g->cap_outputs, idx)) != MI_OK) return st;
        ti->declared_output = 1;
        break;
    case MI_ROLE_INPUT:
        if ((st = mi__index_push(&g->inputs, &g->ninputs, &g->cap_inputs, idx)) != MI_OK) return st;
        ti->def = MI__DEF_DECL;
        break;
    case MI_ROLE_WEIGHT:
        ti->def = MI__DEF_DECL;
        ti->cval = data;
        t->data = data;
        break;
    case MI_ROLE_ACTIVATION:
        break; /* a declaration only; a node defines it */
    }
    if (role != MI_ROLE_OUTPUT) {
        t->dtype = dtype;
        t->ndim = ndim;
        for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
        t->role = role;
    }
    if (index) *index = idx;
    return MI_OK;
}

mi_status mi_graph_add_tensor(mi_graph *g, const char *name, mi_dtype dtype, int ndim,
                              const int64_t *dims, mi_role role, const void *data, int *index) {
    const void *ref = data;
    if (g && role == MI_ROLE_WEIGHT && name && ndim >= 0 && ndim <= MI_MAX_DIMS && (dims || !ndim)) {
        mi_status st = mi__check_dims(name, dtype, ndim, dims, 0);
        if (st != MI_OK) return st;
        size_t bytes = (size_t)mi__numel(ndim, dims) * mi_dtype_size(dtype);
        if (!data && bytes) return mi__error(MI_ERR_INVALID_ARG, "weight '%s': data is NULL", name);
        void *copy = mi__graph_block(g, bytes);
        if (!copy) return MI_ERR_NO_MEMORY;
        if (bytes) memcpy(copy, data, bytes);
        ref = copy;
    }
    return mi__graph_add_tensor_ref(g, name, dtype, ndim, dims, role, ref, index);
}

/* ---- nodes ---------------------------------------------------------------- */

static const char *string_at(const void *list, int i) { return ((const char *const *)list)[i]; }
static const char *attr_name_at(const void *list, int i) { return ((const mi_attr *)list)[i].name; }

typedef struct named {
    const char *name;
    int i;
} named;

static int cmp_named(const void *x, const void *y) {
    const named *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* The first i whose name (NULL names aside) is one of names 0 .. i-1's, in
 * *again; n when none. Pairwise for a few, sorted for many, so that a node
 * of thousands of outputs or attributes costs n log n, not n^2. */
static mi_status first_repeat(const void *list, int n, const char *(*name_at)(const void *, int), int *again) {
    *again = n;
    if (n <= 16) {
        for (int k = 1; k < n && *again == n; k++) {
            const char *s = name_at(list, k);
            for (int j = 0; j < k && s && *again == n; j++) {
                const char *t = name_at(list, j);
                if (t && strcmp(t, s) == 0) *again = k;
            }
        }
        return MI_OK;
    }
    named *v = mi__malloc((size_t)n * sizeof *v);
    if (!v) return mi__error(MI_ERR_NO_MEMORY, "checking %d names for repeats", n);
    size_t m = 0;
    for (int i = 0; i < n; i++)
        if (name_at(list, i)) v[m++] = (named){name_at(list, i), i};
    qsort(v, m, sizeof *v, cmp_named);
    /* In a run of one name, sorted by position, all but the first repeat it. */
    for (size_t i = 1; i < m; i++)
        if (v[i].i < *again && strcmp(v[i - 1].name, v[i].name) == 0) *again = v[i].i;
    mi__free(v);
    return MI_OK;
}

static mi_status copy_attr(mi_graph *g, const mi_attr *src, mi_attr *dst, const char *node) {
    memset(dst, 0, sizeof *dst);
    dst->tensor = -1;
    if (!src->name || !src->name[0])
        return mi__error(MI_ERR_INVALID_ARG, "node '%s': an attribute has no name", node);
    dst->type = src->type;
    dst->i = src->i;
    dst->f = src->f;
    dst->count = 0;
    if (!(dst->name = mi__strdup(src->name))) goto oom;
    switch (src->type) {
    case MI_ATTR_FLOAT: case MI_ATTR_INT: break;
    case MI_ATTR_STRING:
        if (!(dst->s = mi__strdup(src->s ? src->s : ""))) goto oom;
        break;
    case MI_ATTR_INTS:
        if (src->count && !src->ints) goto bad;
        if (!(dst->ints = mi__calloc(src->count ? src->count : 1, sizeof(int64_t)))) goto oom;
        if (src->count) memcpy(dst->ints, src->ints, src->count * sizeof(int64_t));
        dst->count = src->count;
        break;
    case MI_ATTR_FLOATS:
        if (src->count && !src->floats) goto bad;
        if (!(dst->floats = mi__calloc(src->count ? src->count : 1, sizeof(float)))) goto oom;
        if (src->count) memcpy(dst->floats, src->floats, src->count * sizeof(float));
        dst->count = src->count;
        break;
    case MI_ATTR_TENSOR:
        if (src->tensor < 0 || (size_t)src->tensor >= g->ntensors ||
            g->tensors[src->tensor].role != MI_ROLE_WEIGHT)
            return mi__error(MI_ERR_INVALID_ARG,
                             "node '%s': attribute '%s' must name a weight tensor", node, src->name);
        dst->tensor = src->tensor;
        break;
    default:
        return mi__error(MI_ERR_UNSUPPORTED, "node '%s': attribute '%s' has unsupported type %d",
                         node, src->name, (int)src->type);
    }
    return MI_OK;
bad:
    return mi__error(MI_ERR_INVALID_ARG, "node '%s': attribute '%s' has no values", node, src->name);
oom:
    return mi__error(MI_ERR_NO_MEMORY, "node '%s': copying attribute '%s'", node, src->name);
}

mi_status mi__graph_add_node_op(mi_graph *g, mi_op op, const char *name, int ninputs,
                                const char *const *inputs, int noutputs,
                                const char *const *outputs, int nattrs, const mi_attr *attrs) {
    mi_status st = MI_OK;
    mi_node n;
    memset(&n, 0, sizeof n);
    char autoname[64];
    if (!name || !name[0]) {
        snprintf(autoname, sizeof autoname, "%s_%zu", mi_op_name(op), g->nnodes);
        name = autoname;
    }
    if (g->finalized)
        return mi__error(MI_ERR_INVALID_ARG, "node '%s': the graph is already finalized", name);
    if (ninputs < 0 || noutputs < 1 || nattrs < 0 || (ninputs && !inputs) || !outputs ||
        (nattrs && !attrs))
        return mi__error(MI_ERR_INVALID_ARG, "node '%s': bad input/output/attribute lists", name);
    if (g->nnodes >= (size_t)INT32_MAX) return mi__error(MI_ERR_OVERFLOW, "too many nodes");
    /* Validate outputs before touching the graph. */
    int again;
    if ((st = first_repeat(outputs, noutputs, string_at, &again)) != MI_OK) return st;
    for (int k = 0; k < noutputs; k++) {
        if (!outputs[k] || !outputs[k][0])
            return mi__error(MI_ERR_UNSUPPORTED, "node '%s' (%s): output %d has no name", name,
                             mi_op_name(op), k);
        int idx = mi__graph_lookup(g, outputs[k]);
        if ((idx >= 0 && g->ti[idx].def != MI__DEF_NONE) || k == again)
            return mi__error(MI_ERR_GRAPH,
                             "tensor '%s' is defined more than once (again as an output of "
                             "node '%s')", outputs[k], name);
    }
    if ((st = mi__grow((void **)&g->nodes, &g->cap_nodes, g->nnodes + 1, sizeof(mi_node))) !=
        MI_OK)
        return st;
    n.op = op;
    n.ninputs = ninputs;
    n.noutputs = noutputs;
    n.fused.residual = -1;
    if (!(n.name = mi__strdup(name)) ||
        !(n.inputs = mi__calloc(ninputs ? (size_t)ninputs : 1, sizeof(int))) ||
        !(n.outputs = mi__calloc((size_t)noutputs, sizeof(int))) ||
        !(n.attrs = mi__calloc(nattrs ? (size_t)nattrs : 1, sizeof(mi_attr)))) {
        st = mi__error(MI_ERR_NO_MEMORY, "adding node '%s'", name);
        goto fail;
    }
    if ((st = first_repeat(attrs, nattrs, attr_name_at, &again)) != MI_OK) goto fail;
    for (int k = 0; k < nattrs; k++) {
        if (k == again) {
            st = mi__error(MI_ERR_GRAPH, "node '%s': attribute '%s' given twice", name, attrs[k].name);
            goto fail;
        }
        st = copy_attr(g, &attrs[k], &n.attrs[k], name);
        n.nattrs = k + 1; /* the failed one is cleared too */
        if (st != MI_OK) goto fail;
    }
    for (int k = 0; k < ninputs; k++) {
        n.inputs[k] = -1;
        if (inputs[k] && inputs[k][0] && (st = mi__graph_ref(g, inputs[k], &n.inputs[k])) != MI_OK)
            goto fail;
    }
    for (int k = 0; k < noutputs; k++)
        if ((st = mi__graph_ref(g, outputs[k], &n.outputs[k])) != MI_OK) goto fail;
    for (int k = 0; k < noutputs; k++) {
        g->ti[n.outputs[k]].def = MI__DEF_NODE;
        g->tensors[n.outputs[k]].producer = (int)g->nnodes;
    }
    g->nodes[g->nnodes++] = n;
    return MI_OK;
fail:
    mi__node_release(&n);
    return st;
}

mi_status mi_graph_add_node(mi_graph *g, const char *op_type, const char *name, int ninputs,
                            const char *const *inputs, int noutputs, const char *const *outputs,
                            int nattrs, const mi_attr *attrs) {
    if (!g || !op_type) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_add_node: NULL argument");
    mi_op op = mi_op_from_name(op_type);
    if (op == MI_OP_COUNT)
        return mi__error(MI_ERR_UNSUPPORTED,
                         "node '%s': operator '%s' is not supported; supported operators: %s",
                         name && name[0] ? name : "(unnamed)", op_type, mi_op_supported_list());
    return mi__graph_add_node_op(g, op, name, ninputs, inputs, noutputs, outputs, nattrs, attrs);
}

/* ---- reading -------------------------------------------------------------- */

size_t mi_graph_tensor_count(const mi_graph *g) { return g ? g->ntensors : 0; }
const mi_tensor *mi_graph_tensor(const mi_graph *g, size_t i) {
    return g && i < g->ntensors ? &g->tensors[i] : NULL;
}
size_t mi_graph_node_count(const mi_graph *g) { return g ? g->nnodes : 0; }
const mi_node *mi_graph_node(const mi_graph *g, size_t i) {
    return g && i < g->nnodes ? &g->nodes[i] : NULL;
}
size_t mi_graph_input_count(const mi_graph *g) { return g ? g->ninputs : 0; }
int mi_graph_input(const mi_graph *g, size_t i) { return g && i < g->ninputs ? g->inputs[i] : -1; }
size_t mi_graph_output_count(const mi_graph *g) { return g ? g->noutputs : 0; }
int mi_graph_output(const mi_graph *g, size_t i) {
    return g && i < g->noutputs ? g->outputs[i] : -1;
}
int64_t mi_graph_opset(const mi_graph *g) { return g ? g->opset : 0; }
const char *mi_graph_name(const mi_graph *g) { return g && g->name ? g->name : ""; }
const void *mi__graph_value(const mi_graph *g, int t) { return g ? mi__tensor_value(g, t) : NULL; }

const mi_attr *mi_node_attr(const mi_node *n, const char *name) {
    if (!n || !name) return NULL;
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t mi_node_attr_int(const mi_node *n, const char *name, int64_t dflt) {
    const mi_attr *a = mi_node_attr(n, name);
    return a && a->type == MI_ATTR_INT ? a->i : dflt;
}

float mi_node_attr_float(const mi_node *n, const char *name, float dflt) {
    const mi_attr *a = mi_node_attr(n, name);
    return a && a->type == MI_ATTR_FLOAT ? a->f : dflt;
}

int64_t mi_tensor_numel(const mi_tensor *t) {
    if (!t || t->ndim < 0) return 0;
    int64_t n = mi__numel(t->ndim, t->dims);
    return n < 0 ? 0 : n;
}

/* NHWC's storage order of the logical axes [N, C, H, W]. */
static const int nhwc_order[4] = {0, 2, 3, 1};

int mi_tensor_storage_dims(const mi_tensor *t, int64_t *dims) {
    int64_t d[MI_MAX_DIMS];
    if (!t || t->ndim < 0) return 0;
    for (int k = 0; k < t->ndim; k++)
        d[k] = t->layout == MI_LAYOUT_NHWC && t->ndim == 4 ? t->dims[nhwc_order[k]] : t->dims[k];
    memcpy(dims, d, (size_t)t->ndim * sizeof *d); /* dims may be t->dims */
    return t->ndim;
}

int mi_tensor_storage_axis(const mi_tensor *t, int axis) {
    static const int nhwc_axis[4] = {0, 3, 1, 2};
    if (!t || t->layout != MI_LAYOUT_NHWC || t->ndim != 4 || axis < 0 || axis > 3) return axis;
    return nhwc_axis[axis];
}

int mi_tensor_layout_neutral(const mi_tensor *t) {
    return !t || t->ndim != 4 || t->dims[1] == 1 || (t->dims[2] == 1 && t->dims[3] == 1);
}
