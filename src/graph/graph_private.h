/* The graph's private layout, for the files of the graph layer only
 * (src/graph/): the IR itself (graph.c), its passes (shape.c, fold.c,
 * fuse.c), op_params.c, the finalize pipeline (finalize.c) and the weight
 * relocation (weights.c). Every other layer reads a graph through the
 * public accessors (graph.h) and graph_internal.h.
 *
 * Tensors live in one array (the public mi_tensor views) with a parallel
 * array of private facts (mi__tinfo). Weight bytes are never owned by a
 * tensor: they point into the owner the loader attached (the unpacked ONNX
 * message), or into a block in g->blocks, so an alias (Identity of an
 * initializer, Reshape of a constant) is just a second tensor with the
 * same pointer and compaction can drop tensors without caring who owns
 * what. */
#ifndef MI_GRAPH_PRIVATE_H
#define MI_GRAPH_PRIVATE_H

#include "graph/graph_internal.h"

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

    void *owner;                  /* what weights point into (the ONNX message), or NULL */
    void (*owner_free)(void *owner);
};

#define MI__OPSET_MIN 7
#define MI__OPSET_MAX 21
#define MI__OPSET_DEFAULT 13

/* ---- graph.c ------------------------------------------------------------- */

int mi__graph_lookup(const mi_graph *g, const char *name);
/* Finds a tensor by name or creates an undefined placeholder for it. */
mi_status mi__graph_ref(mi_graph *g, const char *name, int *index);
/* Rebuilds the name map after tensors were renumbered; never allocates. */
void mi__graph_map_rebuild(mi_graph *g);
/* Appends v to a growable index array. */
mi_status mi__index_push(int **arr, size_t *n, size_t *cap, int v);
/* Free what a node or a tensor owns (not the struct itself). */
void mi__node_release(mi_node *n);
void mi__tensor_release(mi_tensor *t, mi__tinfo *ti);
/* Frees the owner the loader attached (weights pointing into it must have
 * moved first). */
void mi__graph_owner_release(mi_graph *g);

/* Every tensor's producer from the node list as it is now (-1: none);
 * a pass that reorders or drops nodes calls it after. */
void mi__graph_set_producers(mi_graph *g);
/* Per tensor: how many node inputs (and fused residuals) read it, and the
 * last node that does; producers are set on the way. */
typedef struct mi__uses {
    int *count;
    int *reader;
} mi__uses;
mi_status mi__graph_uses(mi_graph *g, mi__uses *u);
void mi__uses_free(mi__uses *u);
/* The single node reading t, or -1 (several, none, or a graph output). */
int mi__sole_reader(const mi_graph *g, const mi__uses *u, int t);
/* Removes the nodes i with dead[i] (releasing what they own), keeping the
 * order of the rest. */
void mi__graph_drop_nodes(mi_graph *g, const unsigned char *dead);
/* What a rewrite of nodes into others needs: the readers of each tensor,
 * and a mark per node that goes. begin names the pass in its error; end
 * drops the marked nodes when commit, and frees. */
typedef struct mi__rewrite {
    mi__uses uses;
    unsigned char *dead;
} mi__rewrite;
mi_status mi__rewrite_begin(mi_graph *g, mi__rewrite *r, const char *pass);
void mi__rewrite_end(mi_graph *g, mi__rewrite *r, int commit);
/* A tensor name not yet in the graph: base + suffix, or with "#N" after. */
void mi__graph_unique_name(const mi_graph *g, const char *base, const char *suffix, char *buf, size_t len);

/* Value of a constant tensor known at load time, or NULL. */
static inline const void *mi__tensor_value(const mi_graph *g, int t) {
    return t >= 0 && (size_t)t < g->ntensors ? g->ti[t].cval : NULL;
}

/* ---- the passes finalize runs (finalize.c) ---------------------------------- */

/* shape.c: resolves graph input dims (batch override, dynamic dims), and
 * infers dtype and dims of node i's outputs (inputs known). */
mi_status mi__resolve_inputs(mi_graph *g, const mi_load_options *opt);
mi_status mi__infer_node(mi_graph *g, size_t i);
/* fold.c: evaluates node i when all its inputs are known; sets the
 * outputs' cval and *done. A node it cannot evaluate leaves *done = 0 and
 * is no error. */
mi_status mi__fold_node(mi_graph *g, size_t i, int *done);
/* fuse.c: Conv+Relu, Conv+Clip, Conv+Add(+Relu/Clip) into one node. */
mi_status mi__fuse(mi_graph *g);
/* gelu.c: GELU as exporters spell it (Erf or Tanh forms) into one Gelu node. */
mi_status mi__fuse_gelu(mi_graph *g);
/* linear.c: MatMul + bias Add [+ Relu | Gelu] into one MatMul with a bias
 * input and the activation fused (after the GELU fusion). */
mi_status mi__fuse_linear(mi_graph *g);
/* fold_bn.c: a BatchNormalization after a Conv (its only reader) into the
 * Conv's weight and bias, in fp32. */
mi_status mi__fold_batch_norm(mi_graph *g);
/* precision.c: float tensors to float16 or bfloat16, Casts at the edges
 * (mi_load_options.precision). */
mi_status mi__convert_precision(mi_graph *g, mi_precision precision);
/* layout.c: channels_last > 0: NHWC between convolutions, Relayout nodes
 * where a reader wants the other layout (appended: sort afterwards). */
mi_status mi__convert_layout(mi_graph *g, int channels_last);

/* ---- op_params.c, for shape inference ---------------------------------------- */

/* Output dims of a Slice node (after mi__op_params_get filled p). */
mi_status mi__slice_dims(const mi_graph *g, const mi_node *n, int64_t *out_dims);
/* Reads constant integer input k of n (int32/int64, known at load time)
 * as int64 values; an error names the node when it is not constant or has
 * more than max values. */
mi_status mi__const_ints(const mi_graph *g, const mi_node *n, int k, int64_t *vals, size_t max,
                         size_t *count);
/* Axis normalisation: a in [-r, r) (or [-r, r] when inclusive) to [0, r). */
mi_status mi__norm_axis(const mi_node *n, const char *what, int64_t a, int rank, int inclusive,
                        int64_t *out);

#endif
