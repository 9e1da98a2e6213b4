/* bench_planner: pool size against the lower bound, and planning time, for
 * random problems of 1e3 .. 1e6 buffers (sizes log-uniform from 256 B to
 * 16 MiB, about 1,000 live at any step), per strategy.
 *
 *   bench_planner [--max N] [--out FILE.md]
 *
 * Prints a markdown table; with --out also writes it with the machine named. */
#include "bench_util.h"
#include "mini_infer/planner.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mi_strategy strategies[] = {
    MI_STRATEGY_NAIVE,    MI_STRATEGY_GREEDY_SIZE, MI_STRATEGY_BEST_FIT, MI_STRATEGY_GREEDY_BREADTH,
    MI_STRATEGY_COLORING, MI_STRATEGY_AUTO,
};

int main(int argc, char **argv) {
    size_t max_n = 1000000;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) max_n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else {
            fprintf(stderr, "usage: bench_planner [--max N] [--out FILE.md]\n");
            return 2;
        }
    }
    mi_strbuf t = {0};
    char machine[256];
    bench_machine(machine, sizeof machine);
    mi_strbuf_printf(&t, "# Planner benchmark\n\nMachine: %s. Date: %s.\n\n", machine, bench_date());
    mi_strbuf_printf(&t, "Random problems: sizes log-uniform in [256 B, 16 MiB], about 1,000 buffers live at any "
                         "step, alignment 256. Time is mi_solve wall time (planning and validation), "
                         "one run each. auto also runs a bounded exact search (200k nodes or 2^28 entries scanned, whichever comes first; none above 200k buffers).\n\n");
    mi_strbuf_printf(&t, "| buffers | strategy | pool (MiB) | lower bound (MiB) | pool / bound | time (s) |\n");
    mi_strbuf_printf(&t, "|---:|---|---:|---:|---:|---:|\n");
    fputs(t.s, stdout);
    size_t printed = t.len;
    for (size_t n = 1000; n <= max_n; n *= 10) {
        mi_buffer *b = mi_random_problem(n, 1000, 1000 + n);
        size_t *off = malloc(n * sizeof *off);
        if (!b || !off) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        mi_problem p = {b, n, MI_DEFAULT_ALIGNMENT};
        for (size_t s = 0; s < sizeof strategies / sizeof strategies[0]; s++) {
            if (strategies[s] == MI_STRATEGY_AUTO && n > 100000) continue; /* the sum of the others */
            mi_solve_options o;
            mi_solve_options_init(&o);
            o.strategy = strategies[s];
            mi_solve_result r;
            double t0 = bench_now();
            mi_status st = mi_solve(&p, &o, off, &r);
            double dt = bench_now() - t0;
            if (st) {
                fprintf(stderr, "%s: %s: %s\n", mi_strategy_name(strategies[s]), mi_status_str(st),
                        mi_last_error());
                return 1;
            }
            mi_strbuf_printf(&t, "| %zu | %s%s%s | %.1f | %.1f | %.4f | %.3f |\n", n,
                             mi_strategy_name(strategies[s]),
                             strategies[s] == MI_STRATEGY_AUTO ? " -> " : "",
                             strategies[s] == MI_STRATEGY_AUTO ? mi_strategy_name(r.strategy) : "",
                             (double)r.pool_size / 1048576.0, (double)r.lower_bound / 1048576.0,
                             (double)r.pool_size / (double)r.lower_bound, dt);
            fputs(t.s + printed, stdout);
            fflush(stdout);
            printed = t.len;
        }
        free(b);
        free(off);
    }
    int rc = out ? bench_write_file(out, t.s) : 0;
    free(t.s);
    return rc;
}
