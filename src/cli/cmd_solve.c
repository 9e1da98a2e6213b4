/* mini-infer solve: plan a MiniMalloc-format CSV problem. */
#include "cli.h"
#include "mini_infer/planner.h"

#include <stdlib.h>
#include <string.h>

static const cli_opt solve_opts[] = {
    {"--strategy", "NAME", "naive, greedy-size, best-fit, greedy-breadth, coloring, exact or auto (default auto)"},
    {"--alignment", "N", "alignment in bytes, a power of two from 1 to 1048576 (default 256)"},
    {"--capacity", "BYTES", "find a plan within BYTES; exit 1 when none is found (K/M/G suffixes)"},
    {"--time-limit", "SECONDS", "time limit of the exact search (default 2)"},
    {"--node-budget", "N", "search-node budget of the exact search (default: none; auto 200000)"},
    {"--threads", "N", "exact search: a portfolio of N searches on N threads (default 1)"},
    {"--out", "FILE", "write the plan as CSV: id,lower,upper,size,offset"},
    {"--verbose", NULL, "log each planning decision to stderr"},
};

static void log_stderr(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "  %s\n", msg);
}

static int run_solve(const cli_cmd *cmd, int argc, char **argv) {
    cli_args a;
    cli_parse(cmd, argc, argv, &a);
    const char *path = a.positional[0], *v;
    mi_solve_options opt;
    mi_solve_options_init(&opt);
    size_t alignment = MI_DEFAULT_ALIGNMENT;
    mi_status st;
    if ((v = cli_get(cmd, &a, "--strategy")) && (st = mi_strategy_parse(v, &opt.strategy)))
        cli_fail(cmd, "--strategy: %s", mi_last_error());
    if ((v = cli_get(cmd, &a, "--alignment"))) alignment = cli_size(cmd, "--alignment", v);
    if ((v = cli_get(cmd, &a, "--capacity"))) opt.capacity = cli_size(cmd, "--capacity", v);
    if ((v = cli_get(cmd, &a, "--time-limit"))) opt.time_limit = cli_double(cmd, "--time-limit", v, 0, 1e6);
    if ((v = cli_get(cmd, &a, "--node-budget")))
        opt.node_budget = (uint64_t)cli_int(cmd, "--node-budget", v, 0, (long long)1 << 62);
    if ((v = cli_get(cmd, &a, "--threads")))
        opt.threads = (int)cli_int(cmd, "--threads", v, 1, MI_MAX_SEARCH_THREADS);
    if (cli_get(cmd, &a, "--verbose")) {
        opt.verbose = 1;
        opt.log = log_stderr;
    }
    mi_csv *csv = NULL;
    if ((st = mi_csv_read(path, &csv))) cli_fail_status(cmd, st);
    size_t n = mi_csv_count(csv);
    size_t *offsets = malloc((n ? n : 1) * sizeof *offsets);
    if (!offsets) cli_fail(cmd, "out of memory for %zu offsets", n);
    mi_problem p = {mi_csv_buffers(csv), n, alignment};
    mi_solve_result r;
    st = mi_solve(&p, &opt, offsets, &r);
    if (st != MI_OK && st != MI_ERR_CAPACITY) cli_fail_status(cmd, st);
    char b1[32], b2[32], b3[32];
    printf("problem      %s: %zu buffers, alignment %zu\n", path, n, r.alignment);
    for (int s = 0; s < MI_STRATEGY_AUTO; s++)
        if (r.by_strategy[s])
            printf("  %-15s %14zu bytes  %6.3fx bound\n", mi_strategy_name((mi_strategy)s),
                   r.by_strategy[s], r.lower_bound ? (double)r.by_strategy[s] / (double)r.lower_bound : 1.0);
    printf("pool size    %zu bytes (%s)\n", r.pool_size, cli_bytes(r.pool_size, b1, sizeof b1));
    printf("lower bound  %zu bytes (%s)\n", r.lower_bound, cli_bytes(r.lower_bound, b2, sizeof b2));
    printf("naive        %zu bytes (%s)\n", r.naive_size, cli_bytes(r.naive_size, b3, sizeof b3));
    printf("saving       %.2f%% vs naive; planned / lower bound %.4f\n",
           r.naive_size ? 100.0 * (1.0 - (double)r.pool_size / (double)r.naive_size) : 0.0,
           r.lower_bound ? (double)r.pool_size / (double)r.lower_bound : 1.0);
    printf("strategy     %s%s (%.3f s%s)\n", mi_strategy_name(r.strategy),
           r.proven_optimal ? ", proven optimal" : ", not proven optimal", r.seconds,
           r.nodes ? ", exact search ran" : "");
    if (opt.capacity)
        printf("capacity     %zu bytes: %s\n", opt.capacity, st == MI_OK ? "fits" : "does not fit");
    if (st == MI_ERR_CAPACITY) fprintf(stderr, "mini-infer solve: %s\n", mi_last_error());
    if ((v = cli_get(cmd, &a, "--out"))) {
        mi_status ws = mi_csv_write_plan(csv, offsets, v);
        if (ws) cli_fail_status(cmd, ws);
        printf("plan written to %s\n", v);
    }
    free(offsets);
    mi_csv_destroy(csv);
    return st == MI_OK ? 0 : 1;
}

const cli_cmd cli_cmd_solve = {
    "solve",
    "solve FILE.csv [options]",
    "Plan a MiniMalloc-format CSV problem (header id,lower,upper,size or buffer,start,end,size; lifetimes [lower, upper)).",
    "Prints each strategy's pool size, the pool chosen, the lower bound and the saving.\n"
    "Exit status: 0 planned (and fits the capacity), 1 does not fit the capacity, 2 bad input.",
    solve_opts,
    sizeof solve_opts / sizeof solve_opts[0],
    1,
    run_solve,
    0,
};
