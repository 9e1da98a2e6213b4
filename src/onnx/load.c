/* The ONNX loader: protobuf-c unpacks the model (the only copy of the
 * weight bytes), and the graph keeps the unpacked message alive so that
 * weights point straight into it. Everything else goes through the same
 * builder calls as a graph built by hand, then mi_graph_finalize.
 *
 * Every allocation protobuf-c makes goes through mi__malloc, so failure
 * injection reaches the parser too and a failed allocation is reported as
 * MI_ERR_NO_MEMORY rather than as a parse error. */
#include "graph/graph_internal.h"
#include "onnx/onnx_internal.h"
#include "proto/onnx.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- tensors ---------------------------------------------------------------- */

/* Where a model's external data may come from: its folder (NULL for a
 * model loaded from memory), and whether anywhere else too. */
typedef struct ext_src {
    const char *dir;
    int anywhere;
} ext_src;

static const char *external_value(const Onnx__TensorProto *tp, const char *key) {
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (e && e->key && strcmp(e->key, key) == 0) return e->value ? e->value : "";
    }
    return NULL;
}

static mi_status parse_i64(const char *what, const char *key, const char *s, int64_t *v) {
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < 0)
        return mi__error(MI_ERR_PARSE, "tensor '%s': external data %s '%s' is not a byte count",
                         what, key, s);
    *v = x;
    return MI_OK;
}

/* Reads external bytes into a block of the graph (one copy). */
static mi_status read_external(mi_graph *g, const Onnx__TensorProto *tp, const char *what,
                               const ext_src *src, size_t nbytes, const void **data) {
    const char *dir = src->dir;
    mi_status st;
    const char *loc = external_value(tp, "location");
    const char *off_s = external_value(tp, "offset"), *len_s = external_value(tp, "length");
    int64_t off = 0, len = -1;
    if (!dir)
        return mi__error(MI_ERR_UNSUPPORTED,
                         "tensor '%s' has external data, which a model loaded from memory "
                         "cannot use", what);
    if (!loc || !loc[0])
        return mi__error(MI_ERR_PARSE, "tensor '%s': external data without a location", what);
    if ((off_s && (st = parse_i64(what, "offset", off_s, &off)) != MI_OK) ||
        (len_s && (st = parse_i64(what, "length", len_s, &len)) != MI_OK))
        return st;
    int dotdot = loc[0] == '/';
    for (const char *p = loc; *p && !dotdot;) {
        size_t n = strcspn(p, "/");
        dotdot = n == 2 && p[0] == '.' && p[1] == '.';
        p += n;
        while (*p == '/') p++;
    }
    if (dotdot)
        return mi__error(MI_ERR_PARSE,
                         "tensor '%s': external data location '%s' must be a relative path "
                         "inside the model's directory (no '/' at the start, no '..')", what, loc);
    if (len >= 0 && (uint64_t)len != nbytes)
        return mi__error(MI_ERR_PARSE, "tensor '%s': external data length %lld, its dims need %zu",
                         what, (long long)len, nbytes);
    size_t plen = strlen(dir) + strlen(loc) + 2;
    char *path = mi__malloc(plen);
    if (!path) return mi__error(MI_ERR_NO_MEMORY, "external data path");
    snprintf(path, plen, "%s/%s", dir, loc);
    int escaped = 0;
    int fd = mi__open_beneath(dir, loc, src->anywhere, &escaped);
    struct stat sb;
    if (fd < 0 && escaped) {
        st = mi__error(MI_ERR_IO, "tensor '%s': external data '%s' leads outside the model's folder '%s' or "
                       "through a symbolic link, and is not read (a trusted model may: load option "
                       "external_data_anywhere, --trust-external-data)", what, path, dir);
        goto done;
    }
    if (fd < 0) {
        st = mi__error(MI_ERR_IO, "tensor '%s': cannot open external data file '%s': %s", what,
                       path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = mi__error(MI_ERR_IO, "tensor '%s': external data '%s' is not a regular file", what,
                       path);
        goto done;
    }
    if (sb.st_nlink > 1 && !src->anywhere) {
        st = mi__error(MI_ERR_IO, "tensor '%s': external data '%s' has %ju hard links and may be a file from "
                       "outside the model's folder; not read (a trusted model may: load option "
                       "external_data_anywhere, --trust-external-data)", what, path, (uintmax_t)sb.st_nlink);
        goto done;
    }
    if ((uint64_t)off > (uint64_t)sb.st_size || nbytes > (uint64_t)sb.st_size - (uint64_t)off) {
        st = mi__error(MI_ERR_IO,
                       "tensor '%s': external data file '%s' is too short: %lld bytes, the "
                       "tensor needs %zu bytes at offset %lld", what, path,
                       (long long)sb.st_size, nbytes, (long long)off);
        goto done;
    }
    uint8_t *buf = mi__graph_block(g, nbytes);
    if (!buf) {
        st = MI_ERR_NO_MEMORY;
        goto done;
    }
    for (size_t got = 0; got < nbytes;) {
        ssize_t r = pread(fd, buf + got, nbytes - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            st = mi__error(MI_ERR_IO, "tensor '%s': reading external data '%s': %s", what, path,
                           r < 0 ? strerror(errno) : "unexpected end of file");
            goto done;
        }
        got += (size_t)r;
    }
    *data = buf;
    st = MI_OK;
done:
    if (fd >= 0) close(fd);
    mi__free(path);
    return st;
}

/* Adds a TensorProto as a weight; its bytes stay where protobuf-c put them. */
static mi_status add_weight(mi_graph *g, const Onnx__TensorProto *tp, const char *name,
                            const ext_src *src, int *index) {
    mi__pb_view v;
    mi_status st = mi__onnx_tensor_view(tp, name, &v);
    if (st != MI_OK) return st;
    const void *data = v.direct;
    if (v.external) {
        if ((st = read_external(g, tp, name, src, v.nbytes, &data)) != MI_OK) return st;
    } else if (v.narrow) {
        void *buf = mi__graph_block(g, v.nbytes);
        if (!buf) return MI_ERR_NO_MEMORY;
        mi__onnx_tensor_copy(&v, buf);
        data = buf;
    }
    return mi__graph_add_tensor_ref(g, name, v.dtype, v.ndim, v.dims, MI_ROLE_WEIGHT, data, index);
}

/* ---- graph ------------------------------------------------------------------ */

static mi_status add_input(mi_graph *g, const Onnx__ValueInfoProto *vi) {
    const char *name = vi->name;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return mi__error(MI_ERR_UNSUPPORTED, "graph input '%s' is not a tensor", name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    mi_dtype dt = mi__dtype_from_int(tt->elem_type);
    if (dt == MI_DTYPE_UNDEFINED)
        return mi__error(MI_ERR_UNSUPPORTED, "graph input '%s': ONNX data type %d is not supported",
                         name, (int)tt->elem_type);
    if (!tt->shape)
        return mi__error(MI_ERR_UNSUPPORTED, "graph input '%s' has no shape (rank unknown)", name);
    if (tt->shape->n_dim > MI_MAX_DIMS)
        return mi__error(MI_ERR_UNSUPPORTED, "graph input '%s': rank %zu, at most %d supported",
                         name, tt->shape->n_dim, MI_MAX_DIMS);
    int ndim = (int)tt->shape->n_dim, idx;
    int64_t dims[MI_MAX_DIMS];
    const char *params[MI_MAX_DIMS] = {0};
    for (int i = 0; i < ndim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return mi__error(MI_ERR_SHAPE, "graph input '%s': dim %d is %lld, expected >= 1",
                                 name, i, (long long)d->dim_value);
            dims[i] = d->dim_value;
        } else {
            dims[i] = -1;
            if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
                params[i] = d->dim_param;
        }
    }
    mi_status st = mi__graph_add_tensor_ref(g, name, dt, ndim, dims, MI_ROLE_INPUT, NULL, &idx);
    if (st != MI_OK) return st;
    for (int i = 0; i < ndim && st == MI_OK; i++)
        if (params[i] && params[i][0]) st = mi__graph_set_dim_param(g, idx, i, params[i]);
    return st;
}

static mi_attr_type attr_type(const Onnx__AttributeProto *a) {
    if (a->has_type) return (mi_attr_type)a->type;
    /* IR version 1 had no type field: the set field tells. */
    if (a->has_f) return MI_ATTR_FLOAT;
    if (a->has_i) return MI_ATTR_INT;
    if (a->has_s) return MI_ATTR_STRING;
    if (a->t) return MI_ATTR_TENSOR;
    if (a->n_floats) return MI_ATTR_FLOATS;
    if (a->n_ints) return MI_ATTR_INTS;
    return (mi_attr_type)0;
}

static mi_status add_node(mi_graph *g, const Onnx__NodeProto *np, size_t index, const ext_src *src) {
    mi_status st = MI_OK;
    char autoname[64];
    const char *name = np->name;
    if (!name || !name[0]) {
        snprintf(autoname, sizeof autoname, "%s_%zu", np->op_type ? np->op_type : "node", index);
        name = autoname;
    }
    if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx") != 0)
        return mi__error(MI_ERR_UNSUPPORTED,
                         "node '%s': operator '%s' of domain '%s' is not supported (only the "
                         "default ai.onnx domain is); supported operators: %s", name,
                         np->op_type ? np->op_type : "", np->domain, mi_op_supported_list());
    mi_op op = mi_op_from_name(np->op_type);
    if (op == MI_OP_COUNT)
        return mi__error(MI_ERR_UNSUPPORTED,
                         "node '%s': operator '%s' is not supported; supported operators: %s",
                         name, np->op_type ? np->op_type : "", mi_op_supported_list());
    if (np->n_input > INT32_MAX || np->n_output > INT32_MAX || np->n_attribute > INT32_MAX)
        return mi__error(MI_ERR_UNSUPPORTED, "node '%s': too many inputs or outputs", name);
    mi_attr *attrs = mi__calloc(np->n_attribute ? np->n_attribute : 1, sizeof(mi_attr));
    if (!attrs) return mi__error(MI_ERR_NO_MEMORY, "node '%s': attributes", name);
    for (size_t k = 0; k < np->n_attribute && st == MI_OK; k++) {
        const Onnx__AttributeProto *a = np->attribute[k];
        mi_attr *d = &attrs[k];
        d->name = a->name;
        d->type = attr_type(a);
        d->tensor = -1;
        switch (d->type) {
        case MI_ATTR_FLOAT: d->f = a->f; break;
        case MI_ATTR_INT: d->i = a->i; break;
        case MI_ATTR_STRING:
            if (!(d->s = mi__strndup(a->s.data ? (const char *)a->s.data : "", a->s.len)))
                st = mi__error(MI_ERR_NO_MEMORY, "node '%s': attribute '%s'", name, a->name);
            break;
        case MI_ATTR_FLOATS: d->floats = a->floats; d->count = a->n_floats; break;
        case MI_ATTR_INTS: d->ints = a->ints; d->count = a->n_ints; break;
        case MI_ATTR_TENSOR: {
            if (!a->t) {
                st = mi__error(MI_ERR_PARSE, "node '%s': tensor attribute '%s' has no tensor",
                               name, a->name);
                break;
            }
            /* The value becomes a weight named after the node; a clash with
             * a model tensor gets a counter. */
            char tname[512];
            snprintf(tname, sizeof tname, "%s/%s", name, a->name);
            for (int c = 1; mi_graph_find_tensor(g, tname) >= 0 && c < 1000; c++)
                snprintf(tname, sizeof tname, "%s/%s#%d", name, a->name, c);
            st = add_weight(g, a->t, tname, src, &d->tensor);
            break;
        }
        default:
            st = mi__error(MI_ERR_UNSUPPORTED,
                           "node '%s' (%s): attribute '%s' has type %d, which mini-infer does "
                           "not support", name, np->op_type, a->name ? a->name : "",
                           (int)d->type);
        }
    }
    if (st == MI_OK)
        st = mi__graph_add_node_op(g, op, name, (int)np->n_input, (const char *const *)np->input,
                                   (int)np->n_output, (const char *const *)np->output,
                                   (int)np->n_attribute, attrs);
    for (size_t k = 0; k < np->n_attribute; k++)
        if (attrs[k].type == MI_ATTR_STRING) mi__free(attrs[k].s);
    mi__free(attrs);
    return st;
}

/* Builds and finalizes a graph from an unpacked model it takes over. */
static mi_status from_proto(Onnx__ModelProto *m, const char *dir, const mi_load_options *opt,
                            mi_graph **out) {
    ext_src src = {dir, opt && opt->external_data_anywhere};
    mi_graph *g = NULL;
    mi_status st = mi_graph_create(&g);
    if (st != MI_OK) {
        mi__pb_free(m);
        return st;
    }
    mi__graph_set_owner(g, m, mi__pb_free);
    int64_t opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) opset = o->version;
    }
    if (opset < 0) {
        st = mi__error(MI_ERR_UNSUPPORTED, "the model imports no opset of the ai.onnx domain");
        goto fail;
    }
    if ((st = mi_graph_set_opset(g, opset)) != MI_OK) goto fail;
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) {
        st = mi__error(MI_ERR_PARSE, "the model has no graph");
        goto fail;
    }
    if ((st = mi__graph_set_name(g, gp->name)) != MI_OK) goto fail;
    if (gp->n_sparse_initializer) {
        st = mi__error(MI_ERR_UNSUPPORTED, "sparse initializers are not supported");
        goto fail;
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0]) {
            st = mi__error(MI_ERR_PARSE, "initializer %zu has no name", i);
            goto fail;
        }
        if ((st = add_weight(g, tp, tp->name, &src, NULL)) != MI_OK) goto fail;
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0]) {
            st = mi__error(MI_ERR_PARSE, "graph input %zu has no name", i);
            goto fail;
        }
        int t = mi_graph_find_tensor(g, vi->name);
        if (t >= 0 && mi_graph_tensor(g, (size_t)t)->role == MI_ROLE_WEIGHT) continue; /* an initializer */
        if ((st = add_input(g, vi)) != MI_OK) goto fail;
    }
    for (size_t i = 0; i < gp->n_node; i++)
        if ((st = add_node(g, gp->node[i], i, &src)) != MI_OK) goto fail;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name;
        if (!name || !name[0] || mi_graph_find_tensor(g, name) < 0) {
            st = mi__error(MI_ERR_GRAPH, "graph output '%s' is not produced by any node",
                           name ? name : "");
            goto fail;
        }
        if ((st = mi__graph_add_tensor_ref(g, name, MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT,
                                           NULL, NULL)) != MI_OK)
            goto fail;
    }
    if ((st = mi_graph_finalize(g, opt)) != MI_OK) goto fail;
    *out = g;
    return MI_OK;
fail:
    mi_graph_destroy(g);
    return st;
}

mi_status mi_graph_load_memory(const void *data, size_t len, const char *name,
                               const mi_load_options *opt, mi_graph **out) {
    if (!out) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_load_memory: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!data && len) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_load_memory: data is NULL");
    if (!len) return mi__error(MI_ERR_PARSE, "loading '%s': no bytes, not an ONNX model", name);
    void *m;
    mi_status st = mi__pb_unpack(&onnx__model_proto__descriptor, data, len, &m);
    if (st == MI_OK) st = from_proto(m, NULL, opt, out);
    if (st != MI_OK) return mi__error_prefix(st, "loading '%s': ", name);
    return MI_OK;
}

mi_status mi_graph_load(const char *path, const mi_load_options *opt, mi_graph **out) {
    if (!out) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_load: out is NULL");
    *out = NULL;
    if (!path) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_load: path is NULL");
    mi_status st;
    void *m = NULL;
    char *dir = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mi__error(MI_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return mi__error(MI_ERR_IO, "'%s' is not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return mi__error(MI_ERR_PARSE, "loading '%s': the file is empty, not an ONNX model", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return mi__error(MI_ERR_OVERFLOW, "'%s' is too large to map", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return mi__error(MI_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
    madvise(map, len, MADV_SEQUENTIAL);
    st = mi__pb_unpack(&onnx__model_proto__descriptor, map, len, &m);
    munmap(map, len);
    if (st != MI_OK) return mi__error_prefix(st, "loading '%s': ", path);
    const char *slash = strrchr(path, '/');
    dir = slash ? mi__strndup(path, slash == path ? 1 : (size_t)(slash - path)) : mi__strdup(".");
    if (!dir) {
        mi__pb_free(m);
        return mi__error(MI_ERR_NO_MEMORY, "loading '%s'", path);
    }
    st = from_proto(m, dir, opt, out);
    mi__free(dir);
    if (st != MI_OK) return mi__error_prefix(st, "loading '%s': ", path);
    return MI_OK;
}
