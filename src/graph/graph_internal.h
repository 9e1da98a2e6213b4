/* The graph's private layout, shared by the modules that build and rewrite
 * it (graph.c, onnx.c, shape.c, fold.c, fuse.c, op_params.c) and read by
 * the rest of the library.
 *
 * Tensors live in one array (the public mi_tensor views) with a parallel
 * array of private facts (mi__tinfo). Weight bytes are never owned by a
 * tensor: they point into the unpacked ONNX message the graph keeps alive,
 * or into a block in g->blocks, so an alias (Identity of an initializer,
 * Reshape of a constant) is just a second tensor with the same pointer and
 * compaction can drop tensors without caring who owns what. */
#ifndef MI_GRAPH_INTERNAL_H
#define MI_GRAPH_INTERNAL_H

#include "common/internal.h"
#include "mini_infer/graph.h"

/* How a tensor got its definition; a name seen only as an input is NONE
 * until something defines it, and still NONE at finalize is dangling. */
enum { MI__DEF_NONE = 0, MI__DEF_DECL = 1, MI__DEF_NODE = 2 };

typedef struct mi__tinfo {
    int def;
    int declared_output; /* listed as a graph output */
    const void *cval;    /* value known at load time (weights, folded), else NULL */
    char **dparam;       /* graph inputs: dim_param names (MI_MAX_DIMS), or NULL */
} mi__tinfo;

struct mi_graph {
    char *name;
    int64_t opset;
    int finalized;

    mi_tensor *tensors;
    mi__tinfo *ti;
    size_t ntensors, cap_tensors, cap_ti;

    mi_node *nodes;
    size_t nnodes, cap_nodes;
    unsigned char *folded; /* per node, during finalize: outputs are all known */

    int *inputs;
    size_t ninputs, cap_inputs;
    int *outputs;
    size_t noutputs, cap_outputs;

    int *map; /* name hash: open addressing, tensor index or -1 */
    size_t map_cap;

    void **blocks; /* heap blocks owned by the graph (weight and folded bytes) */
    size_t nblocks, cap_blocks;

    void *proto; /* the unpacked Onnx__ModelProto weights point into, or NULL */
};

#define MI__OPSET_MIN 7
#define MI__OPSET_MAX 21
#define MI__OPSET_DEFAULT 13

/* ---- graph.c ------------------------------------------------------------- */

int mi__graph_lookup(const mi_graph *g, const char *name);
/* Finds a tensor by name or creates an undefined placeholder for it. */
mi_status mi__graph_ref(mi_graph *g, const char *name, int *index);
/* Adds a tensor; a WEIGHT's data is referenced, not copied (it must stay
 * alive as long as the graph: a block of the graph or the proto). */
mi_status mi__graph_add_tensor_ref(mi_graph *g, const char *name, mi_dtype dtype, int ndim,
                                   const int64_t *dims, mi_role role, const void *data,
                                   int *index);
/* Allocates a block freed with the graph (zeroed). */
void *mi__graph_block(mi_graph *g, size_t nbytes);
/* The model has copied weights into a host pool [pool, pool + size): the
 * bytes of tensor t are now at where[t] (NULL: not copied). Every tensor
 * sharing t's pointer follows; any other known value not in the pool is
 * copied into a fresh block; then the ONNX message and the old blocks are
 * freed, so the weights are held once. On failure (out of memory) the
 * graph must be destroyed: some pointers may have moved already. */
mi_status mi__graph_weights_moved(mi_graph *g, const void *const *where, const void *pool, size_t size);
/* The model has uploaded weights to device memory: the host bytes of each
 * tensor t with drop[t] are no longer needed (its data and value become
 * NULL, unless a tensor kept shares the pointer); every other known value
 * is copied into a fresh block and the ONNX message and old blocks are
 * freed. On failure the graph must be destroyed, as above. */
mi_status mi__graph_weights_dropped(mi_graph *g, const unsigned char *drop);
mi_status mi__graph_add_node_op(mi_graph *g, mi_op op, const char *name, int ninputs,
                                const char *const *inputs, int noutputs,
                                const char *const *outputs, int nattrs, const mi_attr *attrs);
/* Elements of dims, or -1 on overflow / a negative dim. */
int64_t mi__numel(int ndim, const int64_t *dims);
/* Checks that a tensor of these dims fits in int64 elements and size_t bytes
 * and that every dim is >= min_dim; errors name the tensor. */
mi_status mi__check_dims(const char *tensor, mi_dtype dtype, int ndim, const int64_t *dims,
                         int64_t min_dim);
/* "node 'name' (Op)" context for messages. */
#define MI__NODE_FMT "node '%s' (%s)"
#define MI__NODE_ARG(n) (n)->name, mi_op_name((n)->op)
/* The dtypes Cast converts between (both backends, same set). */
static inline int mi__dtype_castable(mi_dtype t) {
    switch (t) {
    case MI_DTYPE_FLOAT: case MI_DTYPE_DOUBLE: case MI_DTYPE_FLOAT16: case MI_DTYPE_BOOL:
    case MI_DTYPE_UINT8: case MI_DTYPE_INT8: case MI_DTYPE_UINT16: case MI_DTYPE_INT16:
    case MI_DTYPE_INT32: case MI_DTYPE_INT64:
        return 1;
    default: return 0;
    }
}
/* mi__error with the node named first: "node 'conv1' (Conv): ...". */
mi_status mi__node_error(mi_status st, const mi_node *n, const char *fmt, ...) MI__PRINTF(3, 4);
/* Value of a constant tensor known at load time, or NULL. */
static inline const void *mi__tensor_value(const mi_graph *g, int t) {
    return t >= 0 && (size_t)t < g->ntensors ? g->ti[t].cval : NULL;
}
/* Input k of node n, or NULL when omitted / absent. */
static inline const mi_tensor *mi__node_in(const mi_graph *g, const mi_node *n, int k) {
    return k < n->ninputs && n->inputs[k] >= 0 ? &g->tensors[n->inputs[k]] : NULL;
}

/* ---- onnx.c ------------------------------------------------------------- */

void mi__onnx_proto_free(void *proto);
/* Unpacks a protobuf message of the given ProtobufCMessageDescriptor with
 * the library's allocator; MI_ERR_PARSE or MI_ERR_NO_MEMORY. */
mi_status mi__pb_unpack(const void *descriptor, const void *data, size_t len, void **msg);
void mi__pb_free(void *msg);
/* Where an Onnx__TensorProto's values are: bytes usable as they are
 * (raw_data or a typed array of the same layout), int32_data to narrow, or
 * external data. */
typedef struct mi__pb_view {
    mi_dtype dtype;
    int ndim;
    int64_t dims[MI_MAX_DIMS];
    size_t nbytes;
    const void *direct;
    const int32_t *narrow;
    int external;
} mi__pb_view;
mi_status mi__onnx_tensor_view(const void *tensor_proto, const char *what, mi__pb_view *v);
/* Copies (or narrows) a non-external view's values into dst (v->nbytes). */
void mi__onnx_tensor_copy(const mi__pb_view *v, void *dst);
/* Converts ONNX data_type to mi_dtype; UNDEFINED when not stored. */
mi_dtype mi__dtype_from_onnx(int32_t t);

/* ---- shape.c ------------------------------------------------------------ */

/* Infers dtype and dims of node i's outputs (inputs known). */
mi_status mi__infer_node(mi_graph *g, size_t i);
/* Resolves graph input dims (batch override, dynamic dims). */
mi_status mi__resolve_inputs(mi_graph *g, const mi_load_options *opt);

/* ---- fold.c ------------------------------------------------------------- */

/* Evaluates node i when all its inputs are known; sets the outputs' cval
 * and *done. A node it cannot evaluate leaves *done = 0 and is no error. */
mi_status mi__fold_node(mi_graph *g, size_t i, int *done);

/* ---- fuse.c ------------------------------------------------------------- */

mi_status mi__fuse(mi_graph *g);

/* ---- op_params.c -------------------------------------------------------- */

/* Output extent of a conv/pool window along one axis (floor or ceil mode,
 * PyTorch's rule that the last window starts inside input or left pad). */
int64_t mi__window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                       int64_t pad_begin, int64_t pad_end, int ceil_mode);
/* Output dims of a Slice node (after mi__op_params_get filled p). */
mi_status mi__slice_dims(const mi_graph *g, const mi_node *n, int64_t *out_dims);
/* Reads constant integer input k of n (int32/int64, known at load time)
 * as int64 values; an error names the node when it is not constant or has
 * more than max values. */
mi_status mi__const_ints(const mi_graph *g, const mi_node *n, int k, int64_t *vals, size_t max,
                         size_t *count);
/* Reads constant scalar input k of n as a float (any numeric dtype). */
mi_status mi__const_float(const mi_graph *g, const mi_node *n, int k, float *v);
/* Axis normalisation: a in [-r, r) (or [-r, r] when inclusive) to [0, r). */
mi_status mi__norm_axis(const mi_node *n, const char *what, int64_t a, int rank, int inclusive,
                        int64_t *out);

#endif
