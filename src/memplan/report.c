/* JSON and SVG reports of a memory plan. */
#include "common/internal.h"
#include "mini_infer/report.h"

#include <math.h>
#include <string.h>

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* The activation a fusion folded in, as "fused" names it ("+gelu" after a
 * MatMul's "bias"). */
static const char *fused_act(const mi_node *n) {
    int after = n->op == MI_OP_MATMUL && n->ninputs > 2;
    switch (n->fused.act) {
    case MI_ACT_RELU: return after ? "+relu" : "relu";
    case MI_ACT_CLIP: return after ? "+clip" : "clip";
    case MI_ACT_GELU: return after ? "+gelu" : "gelu";
    case MI_ACT_GELU_TANH: return after ? "+gelu_tanh" : "gelu_tanh";
    default: return "";
    }
}

static void json_dims(FILE *f, const mi_tensor *t) {
    fputc('[', f);
    for (int d = 0; d < t->ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)t->dims[d]);
    fputc(']', f);
}

static double ratio(size_t a, size_t b) { return b ? (double)a / (double)b : 1.0; }

mi_status mi_report_json(const mi_graph *g, const mi_memory_plan *plan, const mi_report_info *info,
                         FILE *f) {
    if (!g || !plan || !f) return mi__error(MI_ERR_INVALID_ARG, "report: NULL argument");
    const mi_solve_result *r = mi_memory_plan_result(plan);
    size_t arena = mi_memory_plan_pool_size(plan, MI_POOL_ARENA);
    fprintf(f, "{\n  \"model\": ");
    json_str(f, info && info->model ? info->model : mi_graph_name(g));
    fprintf(f, ",\n  \"batch\": %lld,\n  \"alignment\": %zu,\n", info ? (long long)info->batch : 0LL,
            mi_memory_plan_alignment(plan));
    fprintf(f, "  \"pools\": {\"weights\": %zu, \"arena\": %zu, \"io\": %zu},\n",
            mi_memory_plan_pool_size(plan, MI_POOL_WEIGHTS), arena,
            mi_memory_plan_pool_size(plan, MI_POOL_IO));
    fprintf(f, "  \"naive_arena\": %zu,\n  \"lower_bound\": %zu,\n  \"lower_bound_no_inplace\": %zu,\n",
            mi_memory_plan_naive_size(plan), mi_memory_plan_lower_bound(plan),
            mi_memory_plan_lower_bound_no_inplace(plan));
    fprintf(f, "  \"saving_ratio\": %.6f,\n  \"planned_over_bound\": %.6f,\n",
            mi_memory_plan_saving_ratio(plan), ratio(arena, mi_memory_plan_lower_bound(plan)));
    fprintf(f, "  \"strategy\": \"%s\",\n  \"proven_optimal\": %s,\n  \"plan_seconds\": %.6f,\n",
            mi_strategy_name(r->strategy), r->proven_optimal ? "true" : "false",
            info ? info->plan_seconds : 0.0);
    fprintf(f, "  \"by_strategy\": {");
    int first = 1;
    for (int s = 0; s < MI_STRATEGY_AUTO; s++) {
        if (!r->by_strategy[s]) continue;
        fprintf(f, "%s\"%s\": %zu", first ? "" : ", ", mi_strategy_name((mi_strategy)s), r->by_strategy[s]);
        first = 0;
    }
    fprintf(f, "},\n  \"tensors\": [\n");
    size_t nt = mi_graph_tensor_count(g);
    for (size_t t = 0; t < nt; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        const mi_tensor_place *p = mi_memory_plan_tensor(plan, t);
        fprintf(f, "    {\"name\": ");
        json_str(f, x->name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": ", mi_dtype_name(x->dtype));
        json_dims(f, x);
        fprintf(f, ", \"role\": \"%s\", \"pool\": \"%s\", \"buffer\": %d, \"offset\": %zu, \"size\": %zu, "
                   "\"first\": %lld, \"last\": %lld, \"alias_of\": %d, \"producer\": %d}%s\n",
                mi_role_name(x->role), mi_pool_name(p->pool), p->buffer, p->offset, p->size,
                (long long)p->first, (long long)p->last, p->alias_of, x->producer, t + 1 < nt ? "," : "");
    }
    fprintf(f, "  ],\n  \"nodes\": [\n");
    size_t nn = mi_graph_node_count(g);
    for (size_t k = 0; k < nn; k++) {
        const mi_node *n = mi_graph_node(g, k);
        fprintf(f, "    {\"name\": ");
        json_str(f, n->name);
        fprintf(f, ", \"op\": \"%s\", \"fused\": \"%s%s%s\", \"workspace_offset\": %zu, "
                   "\"workspace_size\": %zu, \"elided\": %s}%s\n",
                mi_op_name(n->op), n->op == MI_OP_MATMUL && n->ninputs > 2 ? "bias" : "",
                fused_act(n), n->fused.residual >= 0 ? "+add" : "", mi_memory_plan_workspace_offset(plan, k),
                mi_memory_plan_workspace_size(plan, k), mi_memory_plan_node_elided(plan, k) ? "true" : "false",
                k + 1 < nn ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return ferror(f) ? mi__error(MI_ERR_IO, "report: write error") : MI_OK;
}

/* ---- SVG ------------------------------------------------------------------- */

static const char *op_color(mi_op op) {
    static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
    switch (op) {
    case MI_OP_CONV: return palette[0];
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_HARD_SWISH: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID:
        return palette[1];
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: return palette[2];
    case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: case MI_OP_GLOBAL_AVERAGE_POOL: return palette[3];
    case MI_OP_GEMM: case MI_OP_MATMUL: return palette[4];
    case MI_OP_CONCAT: case MI_OP_SPLIT: case MI_OP_SLICE: return palette[5];
    case MI_OP_BATCH_NORM: case MI_OP_LRN: case MI_OP_SOFTMAX: return palette[6];
    case MI_OP_RESHAPE: case MI_OP_FLATTEN: case MI_OP_TRANSPOSE: case MI_OP_SQUEEZE:
    case MI_OP_UNSQUEEZE: return palette[7];
    default: return palette[8];
    }
}

static void svg_text_escaped(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static void mib(char *buf, size_t len, size_t bytes) {
    snprintf(buf, len, "%.2f MiB", (double)bytes / 1048576.0);
}

/* The picture's geometry: the plot area and the scales from steps and
 * bytes to it. */
typedef struct svg_frame {
    double W, H, left, top, pw, ph; /* the picture and the plot area inside it */
    double sx, sy;                  /* units per step, per byte */
    size_t nn, arena, bound, naive, ymax;
} svg_frame;

static void frame_init(const mi_graph *g, const mi_memory_plan *plan, svg_frame *fr) {
    const double right = 170, bottom = 60;
    fr->W = 1200;
    fr->H = 640;
    fr->left = 90;
    fr->top = 50;
    fr->pw = fr->W - fr->left - right;
    fr->ph = fr->H - fr->top - bottom;
    fr->nn = mi_graph_node_count(g);
    fr->arena = mi_memory_plan_pool_size(plan, MI_POOL_ARENA);
    fr->bound = mi_memory_plan_lower_bound(plan);
    fr->naive = mi_memory_plan_naive_size(plan);
    fr->ymax = fr->arena > fr->bound ? fr->arena : fr->bound;
    if (!fr->ymax) fr->ymax = 1;
    double steps = fr->nn ? (double)fr->nn : 1.0;
    fr->sx = fr->pw / steps;
    fr->sy = fr->ph / ((double)fr->ymax * 1.05);
}

static void svg_title(const mi_graph *g, const mi_memory_plan *plan, const mi_report_info *info,
                      const svg_frame *fr, FILE *f) {
    char b1[32], b2[32], b3[32];
    mib(b1, sizeof b1, fr->arena);
    mib(b2, sizeof b2, fr->bound);
    mib(b3, sizeof b3, fr->naive);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", fr->W, fr->H);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", fr->W, fr->H);
    fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", fr->left);
    svg_text_escaped(f, info && info->model ? info->model : mi_graph_name(g));
    fprintf(f, ": activations arena %s (lower bound %s, naive %s, %s)</text>\n", b1, b2, b3,
            mi_strategy_name(mi_memory_plan_result(plan)->strategy));
}

static void svg_axes(const svg_frame *fr, FILE *f) {
    double left = fr->left, top = fr->top, pw = fr->pw, ph = fr->ph;
    fprintf(f, "<g stroke=\"#333\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
            left, top + ph, left + pw, top + ph, left, top, left, top + ph);
    for (int i = 0; i <= 5; i++) {
        double v = (double)fr->ymax * 1.05 * i / 5.0, y = top + ph - v * fr->sy;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f MiB</text>\n", left - 6, y + 4,
                v / 1048576.0);
    }
    size_t nn = fr->nn;
    size_t tick = nn > 10 ? (size_t)pow(10, floor(log10((double)nn / 2))) : 1;
    if (nn / tick > 12) tick *= 5;
    for (size_t s = 0; s <= nn; s += tick)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%zu</text>\n", left + (double)s * fr->sx,
                top + ph + 16, s);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">step (node in execution order)</text>\n",
            left + pw / 2, fr->H - 18);
    fprintf(f, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">"
               "offset in the arena</text>\n", top + ph / 2);
}

/* One rectangle per arena tensor, coloured by the op that made it. */
static void svg_tensors(const mi_graph *g, const mi_memory_plan *plan, const svg_frame *fr, FILE *f) {
    double left = fr->left, top = fr->top, ph = fr->ph, sx = fr->sx, sy = fr->sy;
    for (size_t t = 0; t < mi_graph_tensor_count(g); t++) {
        const mi_tensor_place *p = mi_memory_plan_tensor(plan, t);
        const mi_tensor *x = mi_graph_tensor(g, t);
        if (p->pool != MI_POOL_ARENA || !p->size) continue;
        mi_op op = x->producer >= 0 ? mi_graph_node(g, (size_t)x->producer)->op : MI_OP_COUNT;
        double x0 = left + (double)p->first * sx, x1 = left + (double)(p->last + 1) * sx;
        double y1 = top + ph - (double)p->offset * sy, y0 = top + ph - (double)(p->offset + p->size) * sy;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
                   "fill-opacity=\"%s\" stroke=\"#222\" stroke-width=\"0.3\"><title>",
                x0, y0, x1 - x0, y1 - y0 > 0.3 ? y1 - y0 : 0.3,
                op == MI_OP_COUNT ? "#9c755f" : op_color(op), p->alias_of >= 0 ? "0.55" : "0.85");
        svg_text_escaped(f, x->name);
        fputs(" ", f);
        for (int d = 0; d < x->ndim; d++) fprintf(f, "%s%lld", d ? "x" : "", (long long)x->dims[d]);
        fprintf(f, ", %zu bytes at %zu, steps %lld-%lld%s%s</title></rect>\n", p->size, p->offset,
                (long long)p->first, (long long)p->last, op == MI_OP_COUNT ? "" : ", made by ",
                op == MI_OP_COUNT ? "" : mi_op_name(op));
    }
}

static void svg_workspaces(const mi_graph *g, const mi_memory_plan *plan, const svg_frame *fr, FILE *f) {
    for (size_t k = 0; k < fr->nn; k++) {
        size_t ws = mi_memory_plan_workspace_size(plan, k);
        if (!ws) continue;
        size_t off = mi_memory_plan_workspace_offset(plan, k);
        double x0 = fr->left + (double)k * fr->sx, y1 = fr->top + fr->ph - (double)off * fr->sy,
               y0 = fr->top + fr->ph - (double)(off + ws) * fr->sy;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#bbb\" "
                   "stroke=\"#555\" stroke-width=\"0.3\" stroke-dasharray=\"2 1\"><title>workspace of ",
                x0, y0, fr->sx, y1 - y0 > 0.3 ? y1 - y0 : 0.3);
        svg_text_escaped(f, mi_graph_node(g, k)->name);
        fprintf(f, ", %zu bytes at %zu, step %zu</title></rect>\n", ws, off, k);
    }
}

/* The pool size and the lower bound, as lines across the plot. */
static void svg_pool_and_bound(const svg_frame *fr, FILE *f) {
    char b1[32], b2[32];
    mib(b1, sizeof b1, fr->arena);
    mib(b2, sizeof b2, fr->bound);
    double left = fr->left, pw = fr->pw;
    double ya = fr->top + fr->ph - (double)fr->arena * fr->sy, yb = fr->top + fr->ph - (double)fr->bound * fr->sy;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#d00\" stroke-width=\"1.5\"/>\n"
               "<text x=\"%.1f\" y=\"%.2f\" fill=\"#d00\">pool %s</text>\n",
            left, ya, left + pw, ya, left + pw + 6, ya + 4, b1);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#080\" stroke-width=\"1.2\" "
               "stroke-dasharray=\"6 3\"/>\n<text x=\"%.1f\" y=\"%.2f\" fill=\"#080\">lower bound %s</text>\n",
            left, yb, left + pw, yb, left + pw + 6, yb + (fabs(ya - yb) < 14 ? 16 : 4), b2);
}

static void svg_legend(const svg_frame *fr, FILE *f) {
    static const struct { mi_op op; const char *label; } legend[] = {
        {MI_OP_CONV, "Conv"}, {MI_OP_RELU, "activation"}, {MI_OP_ADD, "elementwise"},
        {MI_OP_MAX_POOL, "pooling"}, {MI_OP_GEMM, "Gemm / MatMul"}, {MI_OP_CONCAT, "Concat / Split / Slice"},
        {MI_OP_BATCH_NORM, "norm / softmax"}, {MI_OP_RESHAPE, "reshape / transpose"}, {MI_OP_COUNT, "other"},
    };
    double x = fr->left + fr->pw;
    for (size_t i = 0; i < sizeof legend / sizeof legend[0]; i++) {
        double y = fr->top + 70 + 18 * (double)i;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                x + 6, y, legend[i].op == MI_OP_COUNT ? "#9c755f" : op_color(legend[i].op), x + 22, y + 10,
                legend[i].label);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"#bbb\" stroke=\"#555\" "
               "stroke-dasharray=\"2 1\"/><text x=\"%.1f\" y=\"%.1f\">workspace</text>\n",
            x + 6, fr->top + 70 + 18 * 9.0, x + 22, fr->top + 80 + 18 * 9.0);
}

mi_status mi_report_svg(const mi_graph *g, const mi_memory_plan *plan, const mi_report_info *info,
                        FILE *f) {
    if (!g || !plan || !f) return mi__error(MI_ERR_INVALID_ARG, "report: NULL argument");
    svg_frame fr;
    frame_init(g, plan, &fr);
    svg_title(g, plan, info, &fr, f);
    svg_axes(&fr, f);
    svg_tensors(g, plan, &fr, f);
    svg_workspaces(g, plan, &fr, f);
    svg_pool_and_bound(&fr, f);
    svg_legend(&fr, f);
    fprintf(f, "</svg>\n");
    return ferror(f) ? mi__error(MI_ERR_IO, "report: write error") : MI_OK;
}
