#include "cli_model.h"
#include "mini_infer/backend.h"
#include "mini_infer/runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>


void cli_plan_options(const cli_cmd *cmd, const cli_args *a, mi_plan_options *o) {
    const char *v;
    mi_plan_options_init(o);
    if ((v = cli_get(cmd, a, "--strategy")) && mi_strategy_parse(v, &o->solve.strategy))
        cli_fail(cmd, "--strategy: %s", mi_last_error());
    if ((v = cli_get(cmd, a, "--alignment"))) {
        o->alignment = cli_size(cmd, "--alignment", v);
        if (mi_plan_options_check(o)) cli_fail(cmd, "--alignment: %s", mi_last_error());
    }
    if (cli_get(cmd, a, "--no-inplace")) o->inplace = 0;
    if ((v = cli_get(cmd, a, "--max-pool"))) o->max_pool = cli_size(cmd, "--max-pool", v);
    if (cli_get(cmd, a, "--disable")) o->solve.enabled = 0;
    if ((v = cli_get(cmd, a, "--time-limit"))) o->solve.time_limit = cli_double(cmd, "--time-limit", v, 0, 1e6);
    if ((v = cli_get(cmd, a, "--node-budget")))
        o->solve.node_budget = (uint64_t)cli_int(cmd, "--node-budget", v, 0, (long long)1 << 62);
    if ((v = cli_get(cmd, a, "--threads")))
        o->solve.threads = (int)cli_int(cmd, "--threads", v, 1, MI_MAX_SEARCH_THREADS);
    if (cli_get(cmd, a, "--verbose")) {
        o->solve.verbose = 1;
        o->solve.log = cli_log_stderr;
    }
}

void cli_precision(const cli_cmd *cmd, const cli_args *a, mi_load_options *o) {
    const char *v = cli_get(cmd, a, "--precision");
    if (v && mi_precision_parse(v, &o->precision)) cli_fail(cmd, "--precision: %s", mi_last_error());
}

void cli_layout(const cli_cmd *cmd, const cli_args *a, mi_load_options *o) {
    const char *v = cli_get(cmd, a, "--layout");
    if (!v) return;
    if (strcmp(v, "auto") == 0) o->channels_last = -1;
    else if (strcmp(v, "nchw") == 0) o->channels_last = 0;
    else if (strcmp(v, "nhwc") == 0) o->channels_last = 1;
    else cli_fail(cmd, "--layout: unknown layout '%s': expected one of auto, nchw, nhwc", v);
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

int cli_batches(const cli_cmd *cmd, const cli_args *a, int64_t *sizes) {
    const char *one = cli_get(cmd, a, "--batch"), *list = cli_get(cmd, a, "--batches");
    if (one && list) cli_fail(cmd, "--batch and --batches exclude each other");
    int n = 0;
    if (one) {
        const char *dots = strstr(one, "..");
        if (!dots) {
            sizes[0] = cli_int(cmd, "--batch", one, 1, 1 << 20);
            return 1;
        }
        char lo_text[32];
        size_t len = (size_t)(dots - one);
        if (len == 0 || len >= sizeof lo_text) cli_fail(cmd, "--batch: '%s' is not N or MIN..MAX", one);
        memcpy(lo_text, one, len);
        lo_text[len] = '\0';
        long long lo = cli_int(cmd, "--batch", lo_text, 1, 1 << 20), hi = cli_int(cmd, "--batch", dots + 2, 1, 1 << 20);
        if (hi < lo) cli_fail(cmd, "--batch: %s is an empty range", one);
        if (hi - lo + 1 > MI_MAX_BATCHES)
            cli_fail(cmd, "--batch: %s is %lld sizes; at most %d are planned (--batches picks some)", one, hi - lo + 1,
                     MI_MAX_BATCHES);
        for (long long b = lo; b <= hi; b++) sizes[n++] = b;
        return n;
    }
    if (!list) return 0;
    const char *at = list;
    while (*at) {
        const char *comma = strchr(at, ',');
        size_t len = comma ? (size_t)(comma - at) : strlen(at);
        char text[32];
        if (len == 0 || len >= sizeof text) cli_fail(cmd, "--batches: '%s' is not a list of sizes (1,8,32)", list);
        if (n == MI_MAX_BATCHES) cli_fail(cmd, "--batches: more than %d sizes", MI_MAX_BATCHES);
        memcpy(text, at, len);
        text[len] = '\0';
        sizes[n++] = cli_int(cmd, "--batches", text, 1, 1 << 20);
        at += len + (comma ? 1 : 0);
    }
    qsort(sizes, (size_t)n, sizeof *sizes, cmp_i64);
    int w = 0;
    for (int k = 0; k < n; k++)
        if (!w || sizes[w - 1] != sizes[k]) sizes[w++] = sizes[k];
    return w;
}

void cli_model_open(const cli_cmd *cmd, const cli_args *a, const char *path, int64_t batch, cli_model *m) {
    memset(m, 0, sizeof *m);
    const char *v;
    mi_status st;
    mi_load_options lo;
    mi_load_options_init(&lo);
    lo.batch = batch;
    if (cli_get(cmd, a, "--trust-external-data")) lo.external_data_anywhere = 1;
    if (cli_get(cmd, a, "--no-fuse")) lo.fuse = 0;
    cli_precision(cmd, a, &lo);
    cli_layout(cmd, a, &lo);
    mi_plan_options po;
    cli_plan_options(cmd, a, &po);
    if ((st = mi_planner_create(&m->planner)) || (st = mi_planner_set_options(m->planner, &po)))
        cli_fail_status(cmd, st);
    /* The CPU backend's workspaces (im2col) are what `run` plans; plan never
     * opens the CUDA backend, so planning stays free of CUDA. */
    int cpu_workspaces = 0;
    if ((v = cli_get(cmd, a, "--device")) && strcmp(v, "none") != 0) {
        if (strcmp(v, "cpu") != 0) cli_fail(cmd, "--device: '%s' is not known here; valid: none, cpu", v);
        cpu_workspaces = 1;
    }

    double t0 = cli_now();
    if ((st = mi_graph_load(path, &lo, &m->graph))) cli_fail_status(cmd, st);
    if (cpu_workspaces) {
        size_t nn = mi_graph_node_count(m->graph);
        mi_backend *b;
        if ((st = mi_backend_open("cpu", NULL, &b))) cli_fail_status(cmd, st);
        m->workspace = calloc(nn ? nn : 1, sizeof *m->workspace);
        if (!m->workspace) cli_fail(cmd, "out of memory");
        for (size_t k = 0; k < nn; k++)
            if ((st = b->ops->prepare(b, m->graph, k, &m->workspace[k]))) cli_fail_status(cmd, st);
        mi_backend_close(b);
    }
    double t1 = cli_now();
    if ((st = mi_planner_plan(m->planner, m->graph, m->workspace, &m->plan))) cli_fail_status(cmd, st);
    double t2 = cli_now();
    m->load_seconds = t1 - t0;
    m->plan_seconds = t2 - t1;
    m->batch = 0;
    if (mi_graph_input_count(m->graph) > 0) {
        const mi_tensor *in = mi_graph_tensor(m->graph, (size_t)mi_graph_input(m->graph, 0));
        if (in->ndim > 0) m->batch = in->dims[0];
    }
}

void cli_model_close(cli_model *m) {
    mi_memory_plan_destroy(m->plan);
    mi_graph_destroy(m->graph);
    mi_planner_destroy(m->planner);
    free(m->workspace);
    memset(m, 0, sizeof *m);
}

void cli_model_print_table(const cli_model *m, FILE *f) {
    const mi_memory_plan *p = m->plan;
    const mi_solve_result *r = mi_memory_plan_result(p);
    char b[32];
    size_t arena = mi_memory_plan_pool_size(p, MI_POOL_ARENA);
    size_t lb = mi_memory_plan_lower_bound(p), lb0 = mi_memory_plan_lower_bound_no_inplace(p);
    size_t nact = 0, nt = mi_graph_tensor_count(m->graph), nw = 0, nio = 0;
    for (size_t t = 0; t < nt; t++) {
        mi_role role = mi_graph_tensor(m->graph, t)->role;
        if (role == MI_ROLE_ACTIVATION) nact++;
        else if (role == MI_ROLE_WEIGHT) nw++;
        else nio++;
    }
    fprintf(f, "model        %s (batch %lld, %zu nodes)\n", mi_graph_name(m->graph), (long long)m->batch,
            mi_graph_node_count(m->graph));
    fprintf(f, "tensors      %zu activations, %zu weights, %zu inputs/outputs\n", nact, nw, nio);
    fprintf(f, "naive arena  %14zu bytes  %10s\n", mi_memory_plan_naive_size(p),
            cli_bytes(mi_memory_plan_naive_size(p), b, sizeof b));
    for (int s = 0; s < MI_STRATEGY_AUTO; s++)
        if (r->by_strategy[s])
            fprintf(f, "  %-14s %14zu bytes  %10s  %.4fx bound\n", mi_strategy_name((mi_strategy)s),
                    r->by_strategy[s], cli_bytes(r->by_strategy[s], b, sizeof b),
                    lb ? (double)r->by_strategy[s] / (double)lb : 1.0);
    fprintf(f, "lower bound  %14zu bytes  %10s  (without in-place: %s)\n", lb, cli_bytes(lb, b, sizeof b),
            cli_bytes(lb0, (char[32]){0}, 32));
    fprintf(f, "planned      %14zu bytes  %10s  by %s%s\n", arena, cli_bytes(arena, b, sizeof b),
            mi_strategy_name(r->strategy), r->proven_optimal ? " (proven optimal)" : " (not proven optimal)");
    fprintf(f, "saving       %.2f%% vs naive; planned / lower bound %.4f\n",
            100.0 * mi_memory_plan_saving_ratio(p), lb ? (double)arena / (double)lb : 1.0);
    fprintf(f, "pools        weights %s, arena %s, inputs/outputs %s\n",
            cli_bytes(mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), b, sizeof b),
            cli_bytes(arena, (char[32]){0}, 32), cli_bytes(mi_memory_plan_pool_size(p, MI_POOL_IO), (char[32]){0}, 32));
    fprintf(f, "time         load %.1f ms, plan %.1f ms\n", 1e3 * m->load_seconds, 1e3 * m->plan_seconds);
}
