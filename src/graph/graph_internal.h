/* What the graph layer offers the layers above it (onnx, memplan, the
 * backends, the runtime) beyond the public graph.h: building with
 * borrowed weight bytes, the weight relocation the runtime asks for, the
 * size rules and message helpers. The graph's layout stays private to
 * src/graph/ (graph_private.h): nothing here needs it. */
#ifndef MI_GRAPH_INTERNAL_H
#define MI_GRAPH_INTERNAL_H

#include "common/internal.h"
#include "kernels/math.h"
#include "mini_infer/graph.h"

/* ---- building (the ONNX loader) ------------------------------------------------ */

/* Adds a tensor; a WEIGHT's data is referenced, not copied (it must stay
 * alive as long as the graph: a block of the graph or the owner). */
mi_status mi__graph_add_tensor_ref(mi_graph *g, const char *name, mi_dtype dtype, int ndim,
                                   const int64_t *dims, mi_role role, const void *data,
                                   int *index);
mi_status mi__graph_add_node_op(mi_graph *g, mi_op op, const char *name, int ninputs,
                                const char *const *inputs, int noutputs,
                                const char *const *outputs, int nattrs, const mi_attr *attrs);
/* Allocates a block freed with the graph (zeroed). */
void *mi__graph_block(mi_graph *g, size_t nbytes);
/* The graph takes owner (what borrowed weight bytes point into) and frees
 * it with owner_free once no weight needs it, or with the graph. */
void mi__graph_set_owner(mi_graph *g, void *owner, void (*owner_free)(void *owner));
mi_status mi__graph_set_name(mi_graph *g, const char *name);
/* The name of dynamic dim d of graph input t (ONNX's dim_param), which a
 * batch override resolves. */
mi_status mi__graph_set_dim_param(mi_graph *g, int t, int d, const char *param);

/* ---- the runtime's weight relocation (weights.c) -------------------------------- */

/* The model has copied weights into host pools [pools[i], + sizes[i])
 * (a batch size of a range reads shared weights from another size's
 * pool): the bytes of tensor t are now at where[t] (NULL: not copied).
 * Every tensor sharing t's pointer follows; any other known value not in
 * a pool is copied into a fresh block; then the owner and the old blocks
 * are freed, so the weights are held once. On failure (out of memory) the
 * graph must be destroyed: some pointers may have moved already. */
mi_status mi__graph_weights_moved(mi_graph *g, const void *const *where, const void *const *pools, const size_t *sizes,
                                  size_t npools);
/* The model has uploaded weights to device memory: the host bytes of each
 * tensor t with drop[t] are no longer needed (its data and value become
 * NULL, unless a tensor kept shares the pointer); every other known value
 * is copied into a fresh block and the owner and old blocks are freed. On
 * failure the graph must be destroyed, as above. */
mi_status mi__graph_weights_dropped(mi_graph *g, const unsigned char *drop);

/* ---- reading ------------------------------------------------------------------- */

/* Value of tensor t known at load time (weights, folded constants), or
 * NULL: a backend reads constant inputs (Reshape's shape, Clip's bounds)
 * through it. */
const void *mi__graph_value(const mi_graph *g, int t);
/* Input k of node n, or NULL when omitted / absent. */
static inline const mi_tensor *mi__node_in(const mi_graph *g, const mi_node *n, int k) {
    return k < n->ninputs && n->inputs[k] >= 0 ? mi_graph_tensor(g, (size_t)n->inputs[k]) : NULL;
}
/* Reads constant scalar input k of n as a float (any numeric dtype). */
mi_status mi__const_float(const mi_graph *g, const mi_node *n, int k, float *v);
/* Output extent of a conv/pool window along one axis (floor or ceil mode,
 * PyTorch's rule that the last window starts inside input or left pad). */
int64_t mi__window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                       int64_t pad_begin, int64_t pad_end, int ceil_mode);

/* The permutation that turns x's bytes into y's, for the same dims in
 * another layout: y's storage axis j is x's storage axis perm[j]. */
static inline void mi__relayout_perm(const mi_tensor *x, const mi_tensor *y, int *perm) {
    for (int a = 0; a < y->ndim; a++) perm[mi_tensor_storage_axis(y, a)] = mi_tensor_storage_axis(x, a);
}
/* Whether two tensors of the same dims hold their elements at the same
 * byte offsets (same layout, or a layout-neutral shape). */
static inline int mi__same_storage(const mi_tensor *x, const mi_tensor *y) {
    return x->layout == y->layout || (mi_tensor_layout_neutral(x) && mi_tensor_layout_neutral(y));
}

/* The element op of kernels/math.h that op computes (MI_K_UN_*,
 * MI_K_BIN_*, MI_K_WHERE), or 0 for the other ops. variant: Mod's fmod,
 * Gelu's tanh approximation (mi__op_params' u.math.variant). */
static inline int mi__op_math(mi_op op, int variant) {
    switch (op) {
    case MI_OP_NEG: return MI_K_UN_NEG;
    case MI_OP_SQRT: return MI_K_UN_SQRT;
    case MI_OP_RECIPROCAL: return MI_K_UN_RECIPROCAL;
    case MI_OP_TANH: return MI_K_UN_TANH;
    case MI_OP_EXP: return MI_K_UN_EXP;
    case MI_OP_LOG: return MI_K_UN_LOG;
    case MI_OP_ERF: return MI_K_UN_ERF;
    case MI_OP_NOT: return MI_K_UN_NOT;
    case MI_OP_POW: return MI_K_BIN_POW;
    case MI_OP_MIN: return MI_K_BIN_MIN;
    case MI_OP_MAX: return MI_K_BIN_MAX;
    case MI_OP_MOD: return variant ? MI_K_BIN_FMOD : MI_K_BIN_MOD;
    case MI_OP_GELU: return variant ? MI_K_UN_GELU_TANH : MI_K_UN_GELU;
    case MI_OP_EQUAL: return MI_K_BIN_EQUAL;
    case MI_OP_LESS: return MI_K_BIN_LESS;
    case MI_OP_GREATER: return MI_K_BIN_GREATER;
    case MI_OP_AND: return MI_K_BIN_AND;
    case MI_OP_WHERE: return MI_K_WHERE;
    default: return 0;
    }
}

/* ---- types and sizes ------------------------------------------------------------ */

/* An element type number (ONNX's TensorProto.DataType, which mi_dtype
 * follows) as a dtype mini-infer stores; UNDEFINED when it stores none. */
mi_dtype mi__dtype_from_int(int64_t t);
/* Elements of dims, or -1 on overflow / a negative dim. */
int64_t mi__numel(int ndim, const int64_t *dims);
/* Checks that a tensor of these dims fits in int64 elements and size_t bytes
 * and that every dim is >= min_dim; errors name the tensor. */
mi_status mi__check_dims(const char *tensor, mi_dtype dtype, int ndim, const int64_t *dims,
                         int64_t min_dim);
/* float, float16 or bfloat16: the types float ops run in (computing in
 * fp32 whatever they store). */
static inline int mi__dtype_is_float(mi_dtype t) {
    return t == MI_DTYPE_FLOAT || t == MI_DTYPE_FLOAT16 || t == MI_DTYPE_BFLOAT16;
}
/* float16 or bfloat16. */
static inline int mi__dtype_is_half(mi_dtype t) { return t == MI_DTYPE_FLOAT16 || t == MI_DTYPE_BFLOAT16; }
/* The dtypes Cast converts between (both backends, same set). */
static inline int mi__dtype_castable(mi_dtype t) {
    switch (t) {
    case MI_DTYPE_FLOAT: case MI_DTYPE_DOUBLE: case MI_DTYPE_FLOAT16: case MI_DTYPE_BFLOAT16: case MI_DTYPE_BOOL:
    case MI_DTYPE_UINT8: case MI_DTYPE_INT8: case MI_DTYPE_UINT16: case MI_DTYPE_INT16:
    case MI_DTYPE_INT32: case MI_DTYPE_INT64:
        return 1;
    default: return 0;
    }
}

/* ---- messages ------------------------------------------------------------------- */

/* "node 'name' (Op)" context for messages. */
#define MI__NODE_FMT "node '%s' (%s)"
#define MI__NODE_ARG(n) (n)->name, mi_op_name((n)->op)
/* mi__error with the node named first: "node 'conv1' (Conv): ...". */
mi_status mi__node_error(mi_status st, const mi_node *n, const char *fmt, ...) MI__PRINTF(3, 4);

#endif
