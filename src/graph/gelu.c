/* GELU, as exporters spell it, into one Gelu node (ONNX's, opset 20):
 *
 *   exact:  Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)
 *   tanh:   Mul(Mul(x, Add(Tanh(Mul(Add(x, Mul(x^3, 0.044715)), sqrt(2/pi))), 1)), 0.5)
 *           with x^3 as Mul(x, Mul(x, x)) or Pow(x, 3)
 *
 * Each Add and Mul may have its operands either way round; the constants
 * are scalars within 1e-4 of their value; every tensor inside the pattern
 * has the next node as its only reader (x may have any). The Erf or Tanh
 * node becomes the Gelu, writing the last Mul's output; the rest go. One
 * kernel instead of 5 to 9, and no intermediate tensors to plan. */
#include "graph/graph_private.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* Whether tensor t is a scalar constant within 1e-4 of v. */
/* The nodes a match removes (at most 8: the tanh form with its cube). */
typedef struct marks {
    int n;
    int idx[12];
} marks;
static void mark(marks *m, ptrdiff_t i) { m->idx[m->n++] = (int)i; }

static int const_is(const mi_graph *g, int t, double v) {
    if (t < 0) return 0;
    const mi_tensor *x = &g->tensors[t];
    const void *p = mi__tensor_value(g, t);
    if (!p || mi_tensor_numel(x) != 1 || !mi__dtype_is_float(x->dtype)) return 0;
    double got = x->dtype == MI_DTYPE_FLOAT ? *(const float *)p : mi_k_ld_d((int)x->dtype, p, 0);
    return fabs(got - v) <= 1e-4 * fabs(v);
}

static const mi_node *producer(const mi_graph *g, int t, mi_op op) {
    if (t < 0 || g->tensors[t].producer < 0) return NULL;
    const mi_node *n = &g->nodes[g->tensors[t].producer];
    return n->op == op && n->ninputs == 2 && n->noutputs == 1 ? n : NULL;
}

/* Node n (a two-input op) reads `one` and something else: that other
 * input, or -1. */
static int other_input(const mi_node *n, int one) {
    if (n->inputs[0] == one) return n->inputs[1];
    if (n->inputs[1] == one) return n->inputs[0];
    return -1;
}

/* The two-input node of op reading t as its sole reader, or -1. */
static int next_node(const mi_graph *g, const mi__rewrite *rw, int t, mi_op op) {
    int j = mi__sole_reader(g, &rw->uses, t);
    if (j < 0 || g->nodes[j].op != op || g->nodes[j].ninputs != 2 || g->nodes[j].noutputs != 1) return -1;
    return j;
}

static int sole(const mi_graph *g, const mi__rewrite *rw, int t) { return mi__sole_reader(g, &rw->uses, t) >= 0; }

/* Whether t is x^3: Pow(x, 3), or Mul(x, Mul(x, x)) in any order. On a
 * match, the nodes making it are marked in dead. */
static int cube_of(const mi_graph *g, const mi__rewrite *rw, int t, int x, marks *dead) {
    const mi_node *p = producer(g, t, MI_OP_POW);
    if (p && p->inputs[0] == x && const_is(g, p->inputs[1], 3.0) && sole(g, rw, t)) {
        mark(dead, p - g->nodes);
        return 1;
    }
    const mi_node *m = producer(g, t, MI_OP_MUL);
    if (!m || !sole(g, rw, t)) return 0;
    int q = other_input(m, x);
    const mi_node *sq = producer(g, q, MI_OP_MUL);
    if (!sq || sq->inputs[0] != x || sq->inputs[1] != x || !sole(g, rw, q)) return 0;
    mark(dead, m - g->nodes);
    mark(dead, sq - g->nodes);
    return 1;
}

/* The argument of Erf or Tanh node f: x when it matches the exact or the
 * tanh form's inner part (its nodes marked in dead), else -1. */
static int gelu_input(const mi_graph *g, const mi__rewrite *rw, const mi_node *f, marks *dead) {
    int a = f->inputs[0];
    if (!sole(g, rw, a)) return -1;
    if (f->op == MI_OP_ERF) {
        const mi_node *d = producer(g, a, MI_OP_DIV);
        if (d && const_is(g, d->inputs[1], sqrt(2.0))) {
            mark(dead, d - g->nodes);
            return d->inputs[0];
        }
        const mi_node *m = producer(g, a, MI_OP_MUL);
        if (!m) return -1;
        int c = const_is(g, m->inputs[1], sqrt(0.5)) ? 1 : const_is(g, m->inputs[0], sqrt(0.5)) ? 0 : -1;
        if (c < 0) return -1;
        mark(dead, m - g->nodes);
        return m->inputs[1 - c];
    }
    /* Tanh(Mul(Add(x, Mul(x^3, 0.044715)), sqrt(2/pi))) */
    const mi_node *scale = producer(g, a, MI_OP_MUL);
    if (!scale) return -1;
    int k = const_is(g, scale->inputs[0], 0.79788456080286536) ? 0 : const_is(g, scale->inputs[1], 0.79788456080286536) ? 1 : -1;
    if (k < 0) return -1;
    int v = scale->inputs[1 - k];
    const mi_node *add = producer(g, v, MI_OP_ADD);
    if (!add || !sole(g, rw, v)) return -1;
    for (int side = 0; side < 2; side++) {
        int x = add->inputs[side], w = add->inputs[1 - side];
        const mi_node *mw = producer(g, w, MI_OP_MUL);
        if (!mw || !sole(g, rw, w)) continue;
        int c = const_is(g, mw->inputs[0], 0.044715) ? 0 : const_is(g, mw->inputs[1], 0.044715) ? 1 : -1;
        if (c < 0 || !cube_of(g, rw, mw->inputs[1 - c], x, dead)) continue;
        mark(dead, scale - g->nodes);
        mark(dead, add - g->nodes);
        mark(dead, mw - g->nodes);
        return x;
    }
    return -1;
}

/* After f: Add(f, 1) -> Mul(x, that) -> Mul(that, 0.5); the last node's
 * index, or -1 (nodes marked in dead). */
static int gelu_tail(const mi_graph *g, const mi__rewrite *rw, const mi_node *f, int x, marks *dead) {
    int a = next_node(g, rw, f->outputs[0], MI_OP_ADD);
    if (a < 0 || !const_is(g, other_input(&g->nodes[a], f->outputs[0]), 1.0)) return -1;
    int m = next_node(g, rw, g->nodes[a].outputs[0], MI_OP_MUL);
    if (m < 0 || other_input(&g->nodes[m], g->nodes[a].outputs[0]) != x) return -1;
    int h = next_node(g, rw, g->nodes[m].outputs[0], MI_OP_MUL);
    if (h < 0 || !const_is(g, other_input(&g->nodes[h], g->nodes[m].outputs[0]), 0.5)) return -1;
    mark(dead, a);
    mark(dead, m);
    return h;
}

/* Node i (Erf or Tanh) becomes Gelu(x) writing node h's output. */
static mi_status make_gelu(mi_graph *g, size_t i, int x, int h, int tanh_form) {
    mi_node *f = &g->nodes[i];
    mi_attr *a = NULL;
    if (tanh_form) {
        a = mi__calloc(1, sizeof *a);
        if (!a || !(a->name = mi__strdup("approximate")) || !(a->s = mi__strdup("tanh"))) {
            if (a) {
                mi__free(a->name);
                mi__free(a);
            }
            return mi__error(MI_ERR_NO_MEMORY, "fusing GELU");
        }
        a->type = MI_ATTR_STRING;
        a->tensor = -1;
    }
    f->op = MI_OP_GELU;
    f->inputs[0] = x;
    f->outputs[0] = g->nodes[h].outputs[0];
    mi__free(f->attrs); /* the node had none (an empty block) */
    f->attrs = a;
    f->nattrs = a ? 1 : 0;
    return MI_OK;
}

mi_status mi__fuse_gelu(mi_graph *g) {
    size_t nn = g->nnodes;
    mi__rewrite rw;
    mi_status st = mi__rewrite_begin(g, &rw, "fusing GELU");
    if (st != MI_OK) return st;
    for (size_t i = 0; i < nn && st == MI_OK; i++) {
        const mi_node *f = &g->nodes[i];
        if ((f->op != MI_OP_ERF && f->op != MI_OP_TANH) || f->ninputs != 1 || f->noutputs != 1 || f->nattrs) continue;
        marks m = {0, {0}};
        int x = gelu_input(g, &rw, f, &m);
        int h = x >= 0 ? gelu_tail(g, &rw, f, x, &m) : -1;
        if (h < 0 || !mi__dtype_is_float(g->tensors[x].dtype)) continue;
        mark(&m, h);
        if ((st = make_gelu(g, i, x, h, f->op == MI_OP_TANH)) != MI_OK) break;
        for (int k = 0; k < m.n; k++) rw.dead[m.idx[k]] = 1;
    }
    mi__rewrite_end(g, &rw, st == MI_OK);
    return st;
}
