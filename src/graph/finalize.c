/* The finalize pipeline: every graph, loaded or built by hand, goes
 * through the same passes in the same order. Each pass is a function from
 * graph to graph; a new pass is one more row of
 * `passes` below and touches nothing else.
 *
 * The checks and rewrites that need the whole graph live here (names
 * defined, topological order, outputs, folding committed, compaction, the
 * settled roles and sizes); the per-node ones in their own files (shape.c,
 * fold.c, fuse.c). */
#include "graph/graph_private.h"

#include <stdlib.h>
#include <string.h>

/* ---- checks and ordering ---------------------------------------------------- */

static mi_status check_defined(mi_graph *g, const mi_load_options *o) {
    for (size_t i = 0; i < g->nnodes; i++) {
        const mi_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && g->ti[t].def == MI__DEF_NONE)
                return mi__error(MI_ERR_GRAPH,
                                 MI__NODE_FMT ": input '%s' is not defined (no graph input, "
                                 "initializer or node output has that name)",
                                 MI__NODE_ARG(n), g->tensors[t].name);
        }
    }
    return MI_OK;
}

static mi_status check_outputs(mi_graph *g, const mi_load_options *o) {
    if (g->noutputs == 0) {
        /* A graph built by hand may leave its outputs implicit: every node
         * output nothing reads. */
        int *used = mi__calloc(g->ntensors ? g->ntensors : 1, sizeof(int));
        if (!used) return mi__error(MI_ERR_NO_MEMORY, "finding the graph outputs");
        for (size_t i = 0; i < g->nnodes; i++)
            for (int k = 0; k < g->nodes[i].ninputs; k++)
                if (g->nodes[i].inputs[k] >= 0) used[g->nodes[i].inputs[k]] = 1;
        mi_status st = MI_OK;
        for (size_t i = 0; i < g->nnodes && st == MI_OK; i++) {
            for (int k = 0; k < g->nodes[i].noutputs && st == MI_OK; k++) {
                int t = g->nodes[i].outputs[k];
                if (used[t]) continue;
                st = mi__index_push(&g->outputs, &g->noutputs, &g->cap_outputs, t);
                if (st == MI_OK) g->ti[t].declared_output = 1;
            }
        }
        mi__free(used);
        if (st != MI_OK) return st;
        if (g->noutputs == 0) return mi__error(MI_ERR_GRAPH, "the graph has no outputs");
    }
    for (size_t i = 0; i < g->noutputs; i++) {
        const mi_tensor *t = &g->tensors[g->outputs[i]];
        if (g->ti[g->outputs[i]].def != MI__DEF_NODE)
            return mi__error(t->producer < 0 && g->ti[g->outputs[i]].def == MI__DEF_NONE
                                 ? MI_ERR_GRAPH : MI_ERR_UNSUPPORTED,
                             "graph output '%s' is %s; mini-infer needs every output computed "
                             "by a node", t->name,
                             g->ti[g->outputs[i]].def == MI__DEF_NONE ? "not defined"
                                                                       : "an input or weight");
    }
    return MI_OK;
}

/* Binary min-heap of node indices: Kahn's algorithm with the smallest
 * ready index first keeps an order that is already topological as is. */
static void heap_push(int *h, size_t *n, int v) {
    size_t i = (*n)++;
    h[i] = v;
    while (i && h[(i - 1) / 2] > h[i]) {
        int t = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}
static int heap_pop(int *h, size_t *n) {
    int top = h[0];
    h[0] = h[--(*n)];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m]) m = l;
        if (r < *n && h[r] < h[m]) m = r;
        if (m == i) break;
        int t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
    return top;
}

/* Input k of n, or its fused residual for k == -1 (-1 when none). */
static int node_read(const mi_node *n, int k) { return k < 0 ? n->fused.residual : n->inputs[k]; }

static mi_status topo_sort(mi_graph *g, const mi_load_options *o) {
    size_t nn = g->nnodes, nedges = 0;
    mi__graph_set_producers(g); /* earlier passes may have dropped or added nodes */
    mi_status st = MI_OK;
    for (size_t i = 0; i < nn; i++) nedges += (size_t)g->nodes[i].ninputs + 1; /* + a fused residual */
    int *indeg = mi__calloc(nn + 1, sizeof(int));
    size_t *start = mi__calloc(nn + 2, sizeof(size_t));
    int *adj = mi__calloc(nedges + 1, sizeof(int));
    int *heap = mi__calloc(nn + 1, sizeof(int));
    int *order = mi__calloc(nn + 1, sizeof(int));
    mi_node *sorted = mi__calloc(nn + 1, sizeof(mi_node));
    if (!indeg || !start || !adj || !heap || !order || !sorted) {
        st = mi__error(MI_ERR_NO_MEMORY, "sorting %zu nodes", nn);
        goto done;
    }
    /* CSR of producer -> consumer edges, one per input occurrence (input
     * -1 is a fused residual, which the node reads too). */
    for (size_t i = 0; i < nn; i++)
        for (int k = -1; k < g->nodes[i].ninputs; k++) {
            int t = node_read(&g->nodes[i], k);
            if (t >= 0 && g->tensors[t].producer >= 0) start[g->tensors[t].producer + 1]++;
        }
    for (size_t i = 0; i < nn; i++) start[i + 1] += start[i];
    {
        size_t *pos = mi__calloc(nn + 1, sizeof(size_t));
        if (!pos) {
            st = mi__error(MI_ERR_NO_MEMORY, "sorting %zu nodes", nn);
            goto done;
        }
        memcpy(pos, start, nn * sizeof(size_t));
        for (size_t i = 0; i < nn; i++)
            for (int k = -1; k < g->nodes[i].ninputs; k++) {
                int t = node_read(&g->nodes[i], k);
                if (t >= 0 && g->tensors[t].producer >= 0) {
                    adj[pos[g->tensors[t].producer]++] = (int)i;
                    indeg[i]++;
                }
            }
        mi__free(pos);
    }
    size_t nheap = 0, nord = 0;
    for (size_t i = 0; i < nn; i++)
        if (!indeg[i]) heap_push(heap, &nheap, (int)i);
    while (nheap) {
        int v = heap_pop(heap, &nheap);
        order[nord++] = v;
        for (size_t e = start[v]; e < start[v + 1]; e++)
            if (--indeg[adj[e]] == 0) heap_push(heap, &nheap, adj[e]);
    }
    if (nord < nn) {
        /* Every node left waits on another node left; walking back along
         * such inputs must revisit a node, and that node is on a cycle. */
        int v = 0;
        while (!indeg[v]) v++;
        memset(heap, 0, (nn + 1) * sizeof(int)); /* reused as a visited mark */
        while (!heap[v]) {
            heap[v] = 1;
            const mi_node *n = &g->nodes[v];
            for (int k = -1; k < n->ninputs; k++) {
                int t = node_read(n, k);
                if (t >= 0 && g->tensors[t].producer >= 0 && indeg[g->tensors[t].producer]) {
                    v = g->tensors[t].producer;
                    break;
                }
            }
        }
        st = mi__error(MI_ERR_GRAPH, "the graph has a cycle through " MI__NODE_FMT,
                       MI__NODE_ARG(&g->nodes[v]));
        goto done;
    }
    for (size_t i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
    if (nn) memcpy(g->nodes, sorted, nn * sizeof(mi_node));
    mi__graph_set_producers(g);
done:
    mi__free(indeg);
    mi__free(start);
    mi__free(adj);
    mi__free(heap);
    mi__free(order);
    mi__free(sorted);
    return st;
}

/* Folded nodes go away; their outputs become weights holding the value. */
static void commit_folding(mi_graph *g) {
    size_t w = 0;
    for (size_t i = 0; i < g->nnodes; i++) {
        mi_node *n = &g->nodes[i];
        int keep = !g->folded[i];
        for (int k = 0; k < n->noutputs && !keep; k++)
            keep = g->ti[n->outputs[k]].declared_output;
        if (keep) {
            g->nodes[w++] = *n;
            continue;
        }
        for (int k = 0; k < n->noutputs; k++) {
            mi_tensor *t = &g->tensors[n->outputs[k]];
            t->role = MI_ROLE_WEIGHT;
            t->data = g->ti[n->outputs[k]].cval;
            t->producer = -1;
            g->ti[n->outputs[k]].def = MI__DEF_DECL;
        }
        mi__node_release(n);
    }
    g->nnodes = w;
}

/* Drops every tensor no node, input or output refers to (intermediates of
 * fusion, weights only folded nodes read) and re-indexes the rest. */
static mi_status compact(mi_graph *g, const mi_load_options *o) {
    size_t nt = g->ntensors;
    int *map = mi__calloc(nt ? nt : 1, sizeof(int));
    if (!map) return mi__error(MI_ERR_NO_MEMORY, "compacting %zu tensors", nt);
    for (size_t i = 0; i < g->ninputs; i++) map[g->inputs[i]] = 1;
    for (size_t i = 0; i < g->noutputs; i++) map[g->outputs[i]] = 1;
    for (size_t i = 0; i < g->nnodes; i++) {
        const mi_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) if (n->inputs[k] >= 0) map[n->inputs[k]] = 1;
        for (int k = 0; k < n->noutputs; k++) map[n->outputs[k]] = 1;
        for (int k = 0; k < n->nattrs; k++) if (n->attrs[k].tensor >= 0) map[n->attrs[k].tensor] = 1;
        if (n->fused.residual >= 0) map[n->fused.residual] = 1;
    }
    size_t w = 0;
    for (size_t i = 0; i < nt; i++) {
        if (!map[i]) {
            mi__tensor_release(&g->tensors[i], &g->ti[i]);
            map[i] = -1;
            continue;
        }
        g->tensors[w] = g->tensors[i];
        g->ti[w] = g->ti[i];
        map[i] = (int)w++;
    }
    g->ntensors = w;
    for (size_t i = 0; i < g->ninputs; i++) g->inputs[i] = map[g->inputs[i]];
    for (size_t i = 0; i < g->noutputs; i++) g->outputs[i] = map[g->outputs[i]];
    for (size_t i = 0; i < g->nnodes; i++) {
        mi_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) if (n->inputs[k] >= 0) n->inputs[k] = map[n->inputs[k]];
        for (int k = 0; k < n->noutputs; k++) n->outputs[k] = map[n->outputs[k]];
        for (int k = 0; k < n->nattrs; k++)
            if (n->attrs[k].tensor >= 0) n->attrs[k].tensor = map[n->attrs[k].tensor];
        if (n->fused.residual >= 0) n->fused.residual = map[n->fused.residual];
    }
    mi__free(map);
    mi__graph_map_rebuild(g);
    return MI_OK;
}

/* Roles, producers and byte sizes, once the node list is final. */
static mi_status settle(mi_graph *g, const mi_load_options *o) {
    mi_status st;
    mi__graph_set_producers(g);
    for (size_t i = 0; i < g->ntensors; i++) {
        mi_tensor *t = &g->tensors[i];
        if (g->ti[i].declared_output) t->role = MI_ROLE_OUTPUT;
        else if (t->role == MI_ROLE_INPUT) t->role = MI_ROLE_INPUT;
        else if (t->producer < 0) t->role = MI_ROLE_WEIGHT;
        else t->role = MI_ROLE_ACTIVATION;
        t->data = t->role == MI_ROLE_WEIGHT ? g->ti[i].cval : NULL;
        if (t->ndim < 0 || mi_dtype_size(t->dtype) == 0)
            return mi__error(MI_ERR_INTERNAL, "tensor '%s' has no inferred type", t->name);
        if ((st = mi__check_dims(t->name, t->dtype, t->ndim, t->dims,
                                 t->role == MI_ROLE_WEIGHT ? 0 : 1)) != MI_OK)
            return st;
        t->nbytes = (size_t)mi__numel(t->ndim, t->dims) * mi_dtype_size(t->dtype);
    }
    return MI_OK;
}

/* ---- the pipeline -------------------------------------------------------------- */

/* Shapes and constants node by node, in order: a node's inputs are known
 * (inferred, and valued where constant) before it is looked at. */
static mi_status infer_and_fold(mi_graph *g, const mi_load_options *o) {
    mi_status st = MI_OK;
    mi__free(g->folded);
    if (!(g->folded = mi__calloc(g->nnodes ? g->nnodes : 1, 1)))
        return mi__error(MI_ERR_NO_MEMORY, "finalizing the graph");
    for (size_t i = 0; i < g->nnodes && st == MI_OK; i++) {
        int done = 0;
        if ((st = mi__infer_node(g, i)) == MI_OK && (st = mi__fold_node(g, i, &done)) == MI_OK)
            g->folded[i] = (unsigned char)done;
    }
    if (st == MI_OK && o->fold_constants) commit_folding(g);
    mi__free(g->folded);
    g->folded = NULL;
    return st;
}

/* Drops the nodes nothing reads: after folding, a node whose only reader
 * was a folded Shape (an exporter's Transpose -> Shape) would otherwise
 * run and be planned for nothing. The nodes are in topological order, so
 * one sweep from the end sees every reader before its producer. */
static mi_status prune(mi_graph *g, const mi_load_options *o) {
    if (!o->fold_constants || g->nnodes == 0) return MI_OK;
    size_t nt = g->ntensors, nn = g->nnodes;
    int *reads = mi__calloc(nt ? nt : 1, sizeof *reads);
    unsigned char *dead = mi__calloc(nn, 1);
    if (!reads || !dead) {
        mi__free(reads);
        mi__free(dead);
        return mi__error(MI_ERR_NO_MEMORY, "pruning %zu nodes", nn);
    }
    for (size_t i = 0; i < nn; i++) {
        const mi_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) if (n->inputs[k] >= 0) reads[n->inputs[k]]++;
        for (int k = 0; k < n->nattrs; k++) if (n->attrs[k].tensor >= 0) reads[n->attrs[k].tensor]++;
        if (n->fused.residual >= 0) reads[n->fused.residual]++;
    }
    size_t ndead = 0;
    for (size_t i = nn; i-- > 0;) {
        const mi_node *n = &g->nodes[i];
        int used = n->noutputs == 0;
        for (int k = 0; k < n->noutputs && !used; k++) {
            int t = n->outputs[k];
            used = t >= 0 && (reads[t] > 0 || g->ti[t].declared_output);
        }
        if (used) continue;
        dead[i] = 1;
        ndead++;
        for (int k = 0; k < n->ninputs; k++) if (n->inputs[k] >= 0) reads[n->inputs[k]]--;
        for (int k = 0; k < n->nattrs; k++) if (n->attrs[k].tensor >= 0) reads[n->attrs[k].tensor]--;
        if (n->fused.residual >= 0) reads[n->fused.residual]--;
    }
    if (ndead) mi__graph_drop_nodes(g, dead);
    mi__free(reads);
    mi__free(dead);
    return MI_OK;
}

static mi_status fuse(mi_graph *g, const mi_load_options *o) {
    if (!o->fuse) return MI_OK;
    mi_status st = mi__fuse(g);
    if (st == MI_OK) st = mi__fuse_gelu(g);
    return st == MI_OK ? mi__fuse_linear(g) : st;
}

/* In half precision only: fp32 plans stay as the model has them. */
static mi_status fold_batch_norm(mi_graph *g, const mi_load_options *o) {
    return o->precision != MI_PRECISION_FP32 ? mi__fold_batch_norm(g) : MI_OK;
}

static mi_status precision(mi_graph *g, const mi_load_options *o) { return mi__convert_precision(g, o->precision); }

static mi_status layout(mi_graph *g, const mi_load_options *o) { return mi__convert_layout(g, o->channels_last); }

/* After the layout pass: its Relayout nodes were appended. */
static mi_status resort(mi_graph *g, const mi_load_options *o) {
    return o->channels_last > 0 ? topo_sort(g, o) : MI_OK;
}

typedef mi_status (*graph_pass)(mi_graph *g, const mi_load_options *o);

static const graph_pass passes[] = {
    check_defined,       /* every input names something */
    topo_sort,           /* topological order (a cycle is an error naming a node on it) */
    check_outputs,       /* every graph output computed by a node */
    mi__resolve_inputs,  /* batch override, dynamic dims */
    infer_and_fold,      /* shapes, then constants folded into weights */
    prune,               /* nodes nothing reads any more (with folding) */
    fold_batch_norm,     /* half precision: BatchNormalization into the Conv before it, in fp32 */
    fuse,                /* Conv + activation / residual; GELU's spelled-out forms into Gelu; MatMul + bias [+ act] */
    precision,           /* half precision: float tensors to float16/bfloat16, Casts at the edges */
    layout,              /* channels last: NHWC between convolutions, Relayout nodes at the edges */
    resort,              /* the Relayout nodes in place */
    compact,             /* drop what nothing refers to any more */
    settle,              /* roles, producers and byte sizes, final */
};

mi_status mi_graph_finalize(mi_graph *g, const mi_load_options *opt_in) {
    mi_status st;
    mi_load_options opt;
    if (!g) return mi__error(MI_ERR_INVALID_ARG, "mi_graph_finalize: graph is NULL");
    if (g->finalized) return mi__error(MI_ERR_INVALID_ARG, "the graph is already finalized");
    if (opt_in) opt = *opt_in;
    else mi_load_options_init(&opt);
    if (opt.batch < 0)
        return mi__error(MI_ERR_INVALID_ARG, "batch %lld: expected > 0 (or 0 to keep)",
                         (long long)opt.batch);
    if ((int)opt.precision < 0 || opt.precision >= MI_PRECISION_COUNT)
        return mi__error(MI_ERR_INVALID_ARG, "precision %d: expected fp32, fp16 or bf16", (int)opt.precision);
    if (opt.channels_last < -1 || opt.channels_last > 1)
        return mi__error(MI_ERR_INVALID_ARG, "channels_last %d: expected -1 (auto), 0 or 1", opt.channels_last);
    if (g->opset < MI__OPSET_MIN || g->opset > MI__OPSET_MAX)
        return mi__error(MI_ERR_UNSUPPORTED, "opset %lld of domain ai.onnx is not supported "
                         "(supported: %d to %d)", (long long)g->opset, MI__OPSET_MIN,
                         MI__OPSET_MAX);
    for (size_t i = 0; i < MI__ARRAY_LEN(passes); i++)
        if ((st = passes[i](g, &opt)) != MI_OK) return st;
    g->finalized = 1;
    return MI_OK;
}
