/* Each operator's parameters, parsed from a node's attributes and constant
 * inputs into plain structs. Shape inference, constant folding, the CPU
 * backend and the CUDA backend all read the same structs, so the meaning
 * of an attribute is decided in one place (op_params.c). Parsing is cheap
 * (no allocation): the CPU backend parses a node each time it runs it;
 * the CUDA backend once, in prepare(), and keeps the struct per node. */
#ifndef MI_OP_PARAMS_H
#define MI_OP_PARAMS_H

#include "mini_infer/graph.h"

#define MI_MAX_SPATIAL 3

typedef struct mi__conv_params {
    int nspatial;                    /* spatial dims: 1, 2 or 3 */
    int64_t kernel[MI_MAX_SPATIAL];  /* from the weight's shape when absent */
    int64_t stride[MI_MAX_SPATIAL];
    int64_t dilation[MI_MAX_SPATIAL];
    int64_t pad_begin[MI_MAX_SPATIAL];
    int64_t pad_end[MI_MAX_SPATIAL]; /* auto_pad resolved */
    int64_t group;
} mi__conv_params;

typedef struct mi__pool_params {
    int nspatial;
    int64_t kernel[MI_MAX_SPATIAL];
    int64_t stride[MI_MAX_SPATIAL];
    int64_t dilation[MI_MAX_SPATIAL];
    int64_t pad_begin[MI_MAX_SPATIAL];
    int64_t pad_end[MI_MAX_SPATIAL]; /* auto_pad and ceil_mode resolved into the output shape */
    int ceil_mode;
    int count_include_pad;
} mi__pool_params;

typedef struct mi__gemm_params {
    float alpha, beta;
    int trans_a, trans_b;
} mi__gemm_params;

typedef enum mi__pad_mode { MI_PAD_CONSTANT, MI_PAD_REFLECT, MI_PAD_EDGE } mi__pad_mode;

typedef struct mi__pad_params {
    int ndim;
    int64_t begin[MI_MAX_DIMS], end[MI_MAX_DIMS]; /* may be negative (crop) */
    mi__pad_mode mode;
    float value;
} mi__pad_params;

typedef struct mi__slice_params {
    int ndim;
    int64_t start[MI_MAX_DIMS]; /* clamped first index per axis */
    int64_t step[MI_MAX_DIMS];  /* 1 on axes not sliced; may be negative */
} mi__slice_params;

typedef struct mi__reduce_params {
    int ndim;
    int reduce[MI_MAX_DIMS]; /* 1 where the axis is reduced */
    int keepdims;
} mi__reduce_params;

typedef struct mi__lrn_params {
    int64_t size;
    float alpha, beta, bias;
} mi__lrn_params;

/* Everything else fits here: axis, perm, alpha/beta, min/max, epsilon. */
typedef struct mi__op_params {
    mi_op op;
    union {
        mi__conv_params conv;
        mi__pool_params pool;
        mi__gemm_params gemm;
        mi__pad_params pad;
        mi__slice_params slice;
        mi__reduce_params reduce;
        mi__lrn_params lrn;
        struct { int ndim; int perm[MI_MAX_DIMS]; } transpose;
        struct { int64_t axis; } axis;           /* Concat, Split, Gather, Softmax, Flatten */
        /* Softmax: axis as in u.axis (same first member); coerce_2d set for
         * opset < 13, where the input is flattened to 2D at axis and the
         * softmax runs over all dims from axis on, not over one dim. */
        struct { int64_t axis; int coerce_2d; } softmax;
        struct { float min, max; } clip;          /* Clip (inputs or attributes) */
        struct { float alpha, beta; } hard_sigmoid;
        struct { float epsilon; } batch_norm;
        struct { mi_dtype to; } cast;
        struct { int64_t axis; float epsilon; } layer_norm; /* axis normalized, the first normalized one */
        struct { int upper; } trilu;
        struct { int variant; } math;           /* Mod: fmod; Gelu: the tanh approximation */
        struct { int reduction; } scatter;      /* ScatterND: 0 none, 1 add, 2 mul */
    } u;
} mi__op_params;

/* Parses node n of g (whose input shapes are known; constant inputs read
 * from their weight data). Errors name the node and the attribute. */
mi_status mi__op_params_get(const mi_graph *g, const mi_node *n, mi__op_params *out);

/* The in-place contract (backend.h): whether a plan may give output 0 of
 * an op the same memory as its input k. The view ops are listed because a
 * backend that still runs one (as a copy) must accept it. */
static inline int mi__op_inplace_allowed(mi_op op, int k) {
    switch (op) {
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID:
    case MI_OP_HARD_SWISH: case MI_OP_BATCH_NORM: case MI_OP_FLATTEN: case MI_OP_RESHAPE:
    case MI_OP_SQUEEZE: case MI_OP_UNSQUEEZE: case MI_OP_IDENTITY: case MI_OP_DROPOUT:
        return k == 0;
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: return k <= 1;
    case MI_OP_ERF: case MI_OP_SQRT: case MI_OP_RECIPROCAL: case MI_OP_NEG: case MI_OP_TANH: case MI_OP_EXP:
    case MI_OP_LOG: case MI_OP_NOT: case MI_OP_GELU:
        return k == 0;
    case MI_OP_POW: case MI_OP_MIN: case MI_OP_MAX: case MI_OP_MOD: case MI_OP_AND: return k <= 1;
    default: return 0;
    }
}

/* Refuses pointers that make an output overlap an input other than as
 * mi__op_inplace_allowed says: the kernel would read what it already
 * overwrote. Both backends check every node with it. */
mi_status mi__node_check_overlap(const mi_graph *g, const mi_node *n, void *const *in, void *const *out);

#endif
