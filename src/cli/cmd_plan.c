/* mini-infer plan: load a model, plan its memory, report. */
#include "cli.h"
#include "cli_model.h"
#include "mini_infer/report.h"
#include "mini_infer/runtime.h"

#include <stdlib.h>
#include <string.h>

static const cli_opt plan_opts[] = {
    {"--strategy", "NAME", "naive, greedy-size, best-fit, greedy-breadth, coloring, exact or auto (default auto)"},
    {"--alignment", "N", "alignment in bytes, a power of two from 1 to 1048576 (default 256)"},
    {"--batch", "N", "override the batch size (dim 0 of every input); MIN..MAX plans each size of a range"},
    {"--batches", "LIST", "plan each of these batch sizes (1,8,32): one arena for all, the weights held once"},
    {"--no-inplace", NULL, "no in-place ops, views or copy-free concat"},
    {"--max-pool", "BYTES", "the most bytes one pool may take, checked before allocating (default 1 TiB)"},
    {"--no-fuse", NULL, "do not fuse Conv+Relu, Conv+Add+Relu, Conv+Clip"},
    {"--precision", "NAME", "fp32 (default: as the model declares), fp16 or bf16 for every float tensor"},
    {"--layout", "NAME", "auto (default, nchw here), nchw or nhwc: channels last between convolutions, as the CUDA backend runs fp16 and bf16"},
    {"--disable", NULL, "planner disabled: every tensor its own region (naive)"},
    {"--device", "NAME", "plan the workspaces this backend asks for: none (default) or cpu"},
    {"--time-limit", "SECONDS", "time limit of the exact search (default 2)"},
    {"--node-budget", "N", "search-node budget of the exact search"},
    {"--threads", "N", "exact search: a portfolio of N searches on N threads (default 1)"},
    {"--json", NULL, "print the plan as JSON (every tensor's pool, offset, size, steps)"},
    {"--svg", "FILE", "draw the arena as an SVG picture"},
    {"--csv", "FILE", "write the arena's planner problem as MiniMalloc CSV"},
    {"--trust-external-data", NULL, "read external data through symbolic or hard links, also outside the model's folder"},
    {"--verbose", NULL, "log each planning decision to stderr"},
};

/* ---- sets and ranges ---------------------------------------------------------------- */

/* One model of a set at each size of its range (sizes[0] alone when
 * there is none), and what it holds: weights once (the largest size's
 * pool and what the others do not share), one inputs/outputs pool. */
typedef struct set_member {
    const char *path;
    int nsizes;
    cli_model at[MI_MAX_BATCHES];
    size_t arena, weights, io;
} set_member;

static void member_open(const cli_cmd *cmd, const cli_args *a, const char *path, const int64_t *sizes, int nsizes,
                        set_member *s) {
    s->path = path;
    s->nsizes = nsizes ? nsizes : 1;
    s->arena = s->io = 0;
    for (int k = 0; k < s->nsizes; k++) {
        cli_model_open(cmd, a, path, nsizes ? sizes[k] : 0, &s->at[k]);
        const mi_memory_plan *p = s->at[k].plan;
        if (mi_memory_plan_pool_size(p, MI_POOL_ARENA) > s->arena) s->arena = mi_memory_plan_pool_size(p, MI_POOL_ARENA);
        if (mi_memory_plan_pool_size(p, MI_POOL_IO) > s->io) s->io = mi_memory_plan_pool_size(p, MI_POOL_IO);
    }
    const cli_model *big = &s->at[s->nsizes - 1];
    s->weights = mi_memory_plan_pool_size(big->plan, MI_POOL_WEIGHTS);
    for (int k = 0; k + 1 < s->nsizes; k++) {
        size_t nt = mi_graph_tensor_count(s->at[k].graph), own = 0;
        int *match = malloc((nt ? nt : 1) * sizeof *match);
        size_t *off = malloc((nt ? nt : 1) * sizeof *off);
        if (!match || !off) cli_fail(cmd, "out of memory");
        mi_status st = mi_memory_plan_share_weights(big->graph, big->plan, s->at[k].graph, s->at[k].plan, match, off, &own);
        free(match);
        free(off);
        if (st) cli_fail_status(cmd, st);
        s->weights += own;
    }
}

static void member_close(set_member *s) {
    for (int k = 0; k < s->nsizes; k++) cli_model_close(&s->at[k]);
}

static void json_pools(size_t arena, size_t weights, size_t io) {
    printf("{\"arena\": %zu, \"weights\": %zu, \"io\": %zu}", arena, weights, io);
}

/* plan --json of s at its size k, as a single model prints it. */
static void json_plan(const cli_cmd *cmd, const set_member *s, int k) {
    const cli_model *m = &s->at[k];
    mi_report_info info = {s->path, m->batch, m->load_seconds + m->plan_seconds};
    mi_status st = mi_report_json(m->graph, m->plan, &info, stdout);
    if (st) cli_fail_status(cmd, st);
}

/* ,"batches": [plan at each size] */
static void json_batches(const cli_cmd *cmd, const set_member *s) {
    printf(",\n\"batches\": [\n");
    for (int k = 0; k < s->nsizes; k++) {
        json_plan(cmd, s, k);
        if (k + 1 < s->nsizes) printf(",\n");
    }
}

static void json_member(const cli_cmd *cmd, const set_member *s, int ranged) {
    if (!ranged) {
        json_plan(cmd, s, 0);
        return;
    }
    printf("{\"model\": \"");
    for (const char *c = s->path; *c; c++) printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
    printf("\", \"pools\": ");
    json_pools(s->arena, s->weights, s->io);
    json_batches(cmd, s);
    printf("]}");
}

static void text_member(const set_member *s) {
    char b1[32], b2[32], b3[32];
    for (int k = 0; k < s->nsizes; k++) {
        const cli_model *m = &s->at[k];
        const mi_memory_plan *p = m->plan;
        printf("  %-40s batch %-4lld arena %10s (lower bound %s), weights %s, load + plan %.1f ms\n", s->path,
               (long long)m->batch, cli_bytes(mi_memory_plan_pool_size(p, MI_POOL_ARENA), b1, sizeof b1),
               cli_bytes(mi_memory_plan_lower_bound(p), b2, sizeof b2),
               cli_bytes(mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), b3, sizeof b3),
               1e3 * (m->load_seconds + m->plan_seconds));
    }
}

/* Several models, or one at several batch sizes: each planned as plan
 * does, and the pools they share (the largest arena; each model's weights
 * held once and its own inputs/outputs pool). */
static int plan_set(const cli_cmd *cmd, const cli_args *a, const int64_t *sizes, int nsizes) {
    int n = a->npositional;
    set_member *ms = calloc((size_t)n, sizeof *ms);
    if (!ms) cli_fail(cmd, "out of memory");
    size_t arena = 0, weights = 0, io = 0, separate = 0;
    for (int i = 0; i < n; i++) {
        member_open(cmd, a, a->positional[i], sizes, nsizes, &ms[i]);
        if (ms[i].arena > arena) arena = ms[i].arena;
        weights += ms[i].weights;
        io += ms[i].io;
        for (int k = 0; k < ms[i].nsizes; k++) separate += mi_memory_plan_pool_size(ms[i].at[k].plan, MI_POOL_ARENA);
    }
    int ranged = nsizes > 1;
    if (cli_get(cmd, a, "--json")) {
        printf("{\"pools\": ");
        json_pools(arena, weights, io);
        if (n == 1) {
            json_batches(cmd, &ms[0]);
        } else {
            printf(",\n\"models\": [\n");
            for (int i = 0; i < n; i++) {
                json_member(cmd, &ms[i], ranged);
                if (i + 1 < n) printf(",\n");
            }
        }
        printf("]}\n");
    } else {
        char b1[32], b2[32], b3[32], b4[32];
        printf("%d model%s%s\n", n, n == 1 ? "" : "s", ranged ? ", each at every batch size of the range" : "");
        for (int i = 0; i < n; i++) text_member(&ms[i]);
        printf("shared     arena %s (the largest; %s if each model and batch size had its own), weights %s, "
               "inputs/outputs %s\n",
               cli_bytes(arena, b1, sizeof b1), cli_bytes(separate, b2, sizeof b2), cli_bytes(weights, b3, sizeof b3),
               cli_bytes(io, b4, sizeof b4));
    }
    for (int i = 0; i < n; i++) member_close(&ms[i]);
    free(ms);
    return 0;
}

static int run_plan(const cli_cmd *cmd, int argc, char **argv) {
    cli_args a;
    cli_parse(cmd, argc, argv, &a);
    int64_t sizes[MI_MAX_BATCHES];
    int nsizes = cli_batches(cmd, &a, sizes);
    if (a.npositional > 1 || nsizes > 1) {
        if (cli_get(cmd, &a, "--svg") || cli_get(cmd, &a, "--csv"))
            cli_fail(cmd, "--svg and --csv draw one plan: give one model at one batch size");
        return plan_set(cmd, &a, sizes, nsizes);
    }
    cli_model m;
    cli_model_open(cmd, &a, a.positional[0], nsizes ? sizes[0] : 0, &m);
    const mi_memory_plan *plan = m.plan;
    const mi_graph *g = m.graph;
    const char *v;
    mi_status st;
    mi_report_info info = {a.positional[0], m.batch, m.load_seconds + m.plan_seconds};
    if ((v = cli_get(cmd, &a, "--svg"))) {
        FILE *f = fopen(v, "w");
        if (!f) cli_fail(cmd, "--svg: cannot create %s", v);
        st = mi_report_svg(g, plan, &info, f);
        if (fclose(f) != 0 && !st) cli_fail(cmd, "--svg: write error on %s", v);
        if (st) cli_fail_status(cmd, st);
    }
    if ((v = cli_get(cmd, &a, "--csv"))) {
        size_t n;
        const mi_buffer *b = mi_memory_plan_buffers(plan, &n);
        FILE *f = fopen(v, "w");
        if (!f) cli_fail(cmd, "--csv: cannot create %s", v);
        fprintf(f, "id,lower,upper,size\n");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%zu,%lld,%lld,%zu\n", i, (long long)b[i].first, (long long)b[i].last + 1, b[i].size);
        if (fclose(f) != 0) cli_fail(cmd, "--csv: write error on %s", v);
    }
    if (cli_get(cmd, &a, "--json")) {
        if ((st = mi_report_json(g, plan, &info, stdout))) cli_fail_status(cmd, st);
    } else {
        cli_model_print_table(&m, stdout);
    }
    cli_model_close(&m);
    return 0;
}

const cli_cmd cli_cmd_plan = {
    "plan",
    "plan MODEL.onnx [MODEL2.onnx ...] [options]",
    "Load an ONNX model, infer shapes, analyse lifetimes and plan the memory pools.",
    "Prints the tensors, the naive arena, each strategy's arena, the lower bound (with and\n"
    "without in-place), the winner, the saving ratio and the three pool sizes. Several models,\n"
    "or a batch range, are planned each, with the pools they share: the largest arena, each\n"
    "model's weights once, each its own inputs/outputs.",
    plan_opts,
    sizeof plan_opts / sizeof plan_opts[0],
    1,
    run_plan,
    8,
};
