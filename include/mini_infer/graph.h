/* mini-infer: the graph IR.
 *
 * A graph is tensors and nodes in execution order. It knows nothing about
 * memory. It comes from an ONNX file (mi_graph_load) or is built by hand
 * (mi_graph_create, mi_graph_add_*, mi_graph_finalize); both paths end in
 * the same checks: names defined once, no dangling inputs, a topological
 * order (a cycle is an error naming a node on it), shape inference for
 * every node, and constant folding. The structs below are read-only views
 * for callers; only the library changes them. */
#ifndef MINI_INFER_GRAPH_H
#define MINI_INFER_GRAPH_H

#include "mini_infer/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MI_MAX_DIMS 8

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum mi_dtype {
    MI_DTYPE_UNDEFINED = 0,
    MI_DTYPE_FLOAT = 1,
    MI_DTYPE_UINT8 = 2,
    MI_DTYPE_INT8 = 3,
    MI_DTYPE_UINT16 = 4,
    MI_DTYPE_INT16 = 5,
    MI_DTYPE_INT32 = 6,
    MI_DTYPE_INT64 = 7,
    MI_DTYPE_BOOL = 9,
    MI_DTYPE_FLOAT16 = 10,
    MI_DTYPE_DOUBLE = 11,
    MI_DTYPE_BFLOAT16 = 16,
} mi_dtype;

/* Bytes per element; 0 for a type mini-infer does not store. */
size_t mi_dtype_size(mi_dtype t);
const char *mi_dtype_name(mi_dtype t);

typedef enum mi_role {
    MI_ROLE_ACTIVATION = 0, /* produced by a node, planned in the arena */
    MI_ROLE_INPUT = 1,      /* graph input: inputs/outputs pool */
    MI_ROLE_OUTPUT = 2,     /* graph output: inputs/outputs pool */
    MI_ROLE_WEIGHT = 3,     /* initializer or folded constant: weights pool */
} mi_role;
const char *mi_role_name(mi_role r);

/* X(enum, ONNX op_type). The supported operators; anything else is
 * MI_ERR_UNSUPPORTED naming the node and listing these. */
#define MI_OP_LIST(X)                                  \
    X(MI_OP_CONV, "Conv")                              \
    X(MI_OP_RELU, "Relu")                              \
    X(MI_OP_CLIP, "Clip")                              \
    X(MI_OP_ADD, "Add")                                \
    X(MI_OP_SUB, "Sub")                                \
    X(MI_OP_MUL, "Mul")                                \
    X(MI_OP_DIV, "Div")                                \
    X(MI_OP_SIGMOID, "Sigmoid")                        \
    X(MI_OP_HARD_SIGMOID, "HardSigmoid")               \
    X(MI_OP_HARD_SWISH, "HardSwish")                   \
    X(MI_OP_MAX_POOL, "MaxPool")                       \
    X(MI_OP_AVERAGE_POOL, "AveragePool")               \
    X(MI_OP_GLOBAL_AVERAGE_POOL, "GlobalAveragePool")  \
    X(MI_OP_PAD, "Pad")                                \
    X(MI_OP_BATCH_NORM, "BatchNormalization")          \
    X(MI_OP_GEMM, "Gemm")                              \
    X(MI_OP_MATMUL, "MatMul")                          \
    X(MI_OP_FLATTEN, "Flatten")                        \
    X(MI_OP_RESHAPE, "Reshape")                        \
    X(MI_OP_TRANSPOSE, "Transpose")                    \
    X(MI_OP_CONCAT, "Concat")                          \
    X(MI_OP_SPLIT, "Split")                            \
    X(MI_OP_SLICE, "Slice")                            \
    X(MI_OP_REDUCE_MEAN, "ReduceMean")                 \
    X(MI_OP_IDENTITY, "Identity")                      \
    X(MI_OP_DROPOUT, "Dropout")                        \
    X(MI_OP_CONSTANT, "Constant")                      \
    X(MI_OP_SHAPE, "Shape")                            \
    X(MI_OP_GATHER, "Gather")                          \
    X(MI_OP_SOFTMAX, "Softmax")                        \
    X(MI_OP_SQUEEZE, "Squeeze")                        \
    X(MI_OP_UNSQUEEZE, "Unsqueeze")                    \
    X(MI_OP_CAST, "Cast")                              \
    X(MI_OP_LRN, "LRN")                                \
    X(MI_OP_LAYER_NORM, "LayerNormalization")          \
    X(MI_OP_ERF, "Erf")                                \
    X(MI_OP_POW, "Pow")                                \
    X(MI_OP_SQRT, "Sqrt")                              \
    X(MI_OP_RECIPROCAL, "Reciprocal")                  \
    X(MI_OP_NEG, "Neg")                                \
    X(MI_OP_TANH, "Tanh")                              \
    X(MI_OP_EXP, "Exp")                                \
    X(MI_OP_LOG, "Log")                                \
    X(MI_OP_EXPAND, "Expand")                          \
    X(MI_OP_WHERE, "Where")                            \
    X(MI_OP_EQUAL, "Equal")                            \
    X(MI_OP_LESS, "Less")                              \
    X(MI_OP_GREATER, "Greater")                        \
    X(MI_OP_NOT, "Not")                                \
    X(MI_OP_AND, "And")                                \
    X(MI_OP_TRILU, "Trilu")                            \
    X(MI_OP_RANGE, "Range")                            \
    X(MI_OP_CONSTANT_OF_SHAPE, "ConstantOfShape")      \
    X(MI_OP_MOD, "Mod")                                \
    X(MI_OP_TILE, "Tile")                              \
    X(MI_OP_REDUCE_SUM, "ReduceSum")                   \
    X(MI_OP_REDUCE_MAX, "ReduceMax")                   \
    X(MI_OP_MIN, "Min")                                \
    X(MI_OP_MAX, "Max")                                \
    X(MI_OP_GELU, "Gelu")                              \
    X(MI_OP_SCATTER_ND, "ScatterND")

typedef enum mi_op {
#define MI__OP_ENUM(e, name) e,
    MI_OP_LIST(MI__OP_ENUM)
#undef MI__OP_ENUM
    /* Not an ONNX operator: the layout pass inserts it (mi_load_options.
     * channels_last). "Relayout": output 0 is input 0, same dims and
     * dtype, stored in the output tensor's layout. A model cannot name it. */
    MI_OP_RELAYOUT,
    MI_OP_COUNT
} mi_op;

const char *mi_op_name(mi_op op);
/* An ONNX operator by name; MI_OP_COUNT when unknown (also for the
 * library's own Relayout). */
mi_op mi_op_from_name(const char *op_type);
/* "Conv, Relu, ..." (static text). */
const char *mi_op_supported_list(void);

typedef enum mi_attr_type {
    MI_ATTR_FLOAT = 1,
    MI_ATTR_INT = 2,
    MI_ATTR_STRING = 3,
    MI_ATTR_TENSOR = 4,
    MI_ATTR_FLOATS = 6,
    MI_ATTR_INTS = 7,
} mi_attr_type;

typedef struct mi_attr {
    char *name;
    mi_attr_type type;
    int64_t i;
    float f;
    char *s;         /* STRING */
    int64_t *ints;   /* INTS */
    float *floats;   /* FLOATS */
    size_t count;    /* entries in ints / floats */
    int tensor;      /* TENSOR: index of a weight tensor in the graph */
} mi_attr;

typedef enum mi_act {
    MI_ACT_NONE = 0,
    MI_ACT_RELU = 1,
    MI_ACT_CLIP = 2, /* min(max(x, act_min), act_max) */
    MI_ACT_GELU = 3, /* x * Phi(x), exactly (MatMul only) */
    MI_ACT_GELU_TANH = 4, /* GELU's tanh approximation (MatMul only) */
} mi_act;

/* What the fusion rewrite folded into a node: out = act(op(x) + residual)
 * for a Conv (or Gemm); out = act(A B + bias) for a MatMul, whose bias is
 * then a third input (ONNX's MatMul has two): a constant of B's column
 * count, [N] or [1, ..., 1, N], added to every row; B is then 2-D. */
typedef struct mi_fusion {
    mi_act act;
    float act_min, act_max;
    int residual; /* tensor index added before the activation, -1 for none */
} mi_fusion;

/* How a tensor's elements lie in memory. NCHW: row-major in the order of
 * its dims, as ONNX has them. NHWC (channels last, rank 4 only): the dims
 * stay [N, C, H, W] as ONNX defines them, the bytes are [N, H, W, C]. The
 * layout pass (mi_load_options.channels_last) sets it; backends read it. */
typedef enum mi_layout {
    MI_LAYOUT_NCHW = 0,
    MI_LAYOUT_NHWC = 1,
} mi_layout;
const char *mi_layout_name(mi_layout l);

typedef struct mi_tensor {
    char *name;
    mi_dtype dtype;
    int ndim;
    int64_t dims[MI_MAX_DIMS];
    mi_role role;
    size_t nbytes;     /* element count times element size */
    const void *data;  /* weights: host bytes; NULL for every other role */
    int producer;      /* node index, -1 for inputs and weights */
    mi_layout layout;  /* how the bytes lie (NCHW unless the layout pass chose NHWC) */
} mi_tensor;

typedef struct mi_node {
    char *name;  /* the model's name, or "<op_type>_<index>" when it had none */
    mi_op op;
    int ninputs;
    int *inputs; /* tensor indices; -1 for an omitted optional input */
    int noutputs;
    int *outputs;
    int nattrs;
    mi_attr *attrs;
    mi_fusion fused;
} mi_node;

typedef struct mi_graph mi_graph;

/* ---- loading ------------------------------------------------------------- */

/* X(enum, name): the precisions a model's float tensors can run in. */
#define MI_PRECISION_LIST(X)            \
    X(MI_PRECISION_FP32, "fp32")        \
    X(MI_PRECISION_FP16, "fp16")        \
    X(MI_PRECISION_BF16, "bf16")

typedef enum mi_precision {
#define MI__PRECISION_ENUM(e, name) e,
    MI_PRECISION_LIST(MI__PRECISION_ENUM)
#undef MI__PRECISION_ENUM
    MI_PRECISION_COUNT
} mi_precision;

const char *mi_precision_name(mi_precision p);
/* Parses "fp32", "fp16" or "bf16"; the error message lists the valid names. */
mi_status mi_precision_parse(const char *name, mi_precision *out);

typedef struct mi_load_options {
    int64_t batch; /* > 0: override the first dim of every graph input; 0: keep */
    int fold_constants; /* default 1 */
    int fuse;           /* Conv+Relu, Conv+Add+Relu, Conv+Clip rewrite; default 1 */
    /* fp32 (default): every tensor as the model declares it. fp16, bf16:
     * BatchNormalization is folded into the Conv before it (in fp32), then
     * every float weight is converted and every float activation planned
     * at 2 bytes; graph inputs and outputs keep their declared dtype, with
     * a Cast at each edge. Kernels accumulate in fp32. A weight fp16
     * cannot hold (|w| > 65504) is refused, naming it. A model exported in
     * fp16 runs in fp16 with any setting. */
    mi_precision precision;
    /* Channels-last layout for the ops whose GPU kernels want it (Conv and
     * what runs between convolutions: pools, activations, Add/Mul, Concat,
     * Cast): 0 off, 1 on, -1 (the default) the runtime decides: on for
     * the CUDA backend in fp16 or bf16 (tensor cores without transposes),
     * off everywhere else. Relayout nodes convert at the edges (after the
     * graph's inputs, before Flatten, Reshape, Gemm and every other op
     * that reads NCHW); graph inputs and outputs stay NCHW. */
    int channels_last;
    /* External data is read only from inside the model's folder: a
     * location with '..' or a leading '/', a path through a symbolic link
     * (one leading out of the folder, where the kernel can tell; any,
     * where it cannot), a file with several hard links, and anything but
     * a regular file (a FIFO, a device) are refused. 1: trusted model,
     * symbolic and hard links followed anywhere (a model cache that keeps
     * its files as symlinks). Default 0. */
    int external_data_anywhere;
} mi_load_options;

void mi_load_options_init(mi_load_options *o);

/* Loads an ONNX model (weights embedded or in external-data files beside
 * it). The file is mapped once; weight bytes are not copied. opt may be NULL. */
mi_status mi_graph_load(const char *path, const mi_load_options *opt, mi_graph **out);
/* The same from bytes in memory (copied; external data is refused). */
mi_status mi_graph_load_memory(const void *data, size_t len, const char *name,
                               const mi_load_options *opt, mi_graph **out);
void mi_graph_destroy(mi_graph *g);

/* ---- building by hand ---------------------------------------------------- */

mi_status mi_graph_create(mi_graph **out);
/* The ai.onnx opset whose semantics the nodes follow (default 13); the
 * loader sets the model's. Supported: 7 to 21, checked at finalize. */
mi_status mi_graph_set_opset(mi_graph *g, int64_t opset);
/* Adds a tensor. For MI_ROLE_WEIGHT, data (nbytes of dims) is copied.
 * A dim < 0 is dynamic (resolved by the batch override for dim 0). */
mi_status mi_graph_add_tensor(mi_graph *g, const char *name, mi_dtype dtype, int ndim,
                              const int64_t *dims, mi_role role, const void *data, int *index);
/* Adds a node; inputs and outputs are tensor names ("" for an omitted
 * optional input). Outputs not yet added are created as activations. */
mi_status mi_graph_add_node(mi_graph *g, const char *op_type, const char *name,
                            int ninputs, const char *const *inputs, int noutputs,
                            const char *const *outputs, int nattrs, const mi_attr *attrs);
/* Checks, sorts, infers shapes, folds constants and fuses, as the loader does.
 * After a failure the graph can only be destroyed. */
mi_status mi_graph_finalize(mi_graph *g, const mi_load_options *opt);

/* ---- reading ------------------------------------------------------------- */

size_t mi_graph_tensor_count(const mi_graph *g);
const mi_tensor *mi_graph_tensor(const mi_graph *g, size_t i);
size_t mi_graph_node_count(const mi_graph *g);
const mi_node *mi_graph_node(const mi_graph *g, size_t i);
size_t mi_graph_input_count(const mi_graph *g);
int mi_graph_input(const mi_graph *g, size_t i);   /* tensor index */
size_t mi_graph_output_count(const mi_graph *g);
int mi_graph_output(const mi_graph *g, size_t i);  /* tensor index */
int mi_graph_find_tensor(const mi_graph *g, const char *name); /* -1 when absent */
int64_t mi_graph_opset(const mi_graph *g);
const char *mi_graph_name(const mi_graph *g);

/* Attribute lookup on a node; NULL when absent. */
const mi_attr *mi_node_attr(const mi_node *n, const char *name);
int64_t mi_node_attr_int(const mi_node *n, const char *name, int64_t dflt);
float mi_node_attr_float(const mi_node *n, const char *name, float dflt);

/* Elements of a tensor (product of dims; 1 for a scalar). */
int64_t mi_tensor_numel(const mi_tensor *t);
/* The tensor's dims in the order its bytes lie (NHWC: [N, H, W, C]);
 * returns the rank. */
int mi_tensor_storage_dims(const mi_tensor *t, int64_t *dims);
/* Where dim `axis` of the tensor lies in mi_tensor_storage_dims. */
int mi_tensor_storage_axis(const mi_tensor *t, int axis);
/* 1 when the bytes lie the same way in NCHW and NHWC (not rank 4, or
 * C == 1, or H == W == 1): such a tensor needs no conversion. */
int mi_tensor_layout_neutral(const mi_tensor *t);

#ifdef __cplusplus
}
#endif

#endif
