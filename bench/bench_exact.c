/* bench_exact: the exact strategy against the greedy heuristics on problems
 * whose optimum is known by construction (bench/hard_lib.h), and on random
 * problems where only the lower bound is known.
 *
 *   bench_exact [--sizes 200,300,400,500] [--seeds K] [--time S]
 *               [--families sparse,medium,busy,dense,random] [--out FILE.md]
 *               [--write-csv DIR] [--capacity-dir DIR] [--threads N]
 *
 * Families: "sparse" boxes have 10 steps per buffer, so lifetimes rarely
 * start or end together; "medium" a step per buffer (as in a chain of
 * operations, each allocating one tensor); "busy" a step per 2 buffers and
 * "dense" a step per 3, so many start and end together (as in a graph
 * where an operation frees several tensors and allocates several, output
 * and workspace, at once); the last two are the hard ones;
 * "random" are tests/test_util.h problems (about 30 live), optimum unknown.
 * Prints a markdown table; --out also writes it with the machine named;
 * --write-csv writes each problem as DIR/<family>-<buffers>-<seed>.csv for
 * `mini-infer solve --strategy exact FILE.csv`. --capacity-dir DIR adds a
 * table for problems of others: each DIR/<name>.<capacity>.csv (as
 * MiniMalloc's benchmarks are named) asked for a plan within its capacity.
 * --threads N runs the exact search as a portfolio of N searches. */
#include "bench_util.h"
#include "hard_lib.h"
#include "mini_infer/planner.h"
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mi_solve_options.threads of every exact search (--threads). */
static int search_threads = 1;
typedef struct family {
    const char *name;
    double steps_per_buffer; /* 0: random problems */
} family;

static const family families[] = {
    {"sparse", 10.0}, {"medium", 1.0}, {"busy", 0.5}, {"dense", 1.0 / 3.0}, {"random", 0.0},
};
#define NFAM ((int)(sizeof families / sizeof families[0]))

typedef struct tally {
    int runs, exact_opt, greedy_opt, bestfit_opt, exact_proven;
} tally;

static int usage(void) {
    fprintf(stderr, "usage: bench_exact [--sizes N,N,...] [--seeds K] [--time S] "
                    "[--families sparse,medium,busy,dense,random] [--out FILE.md] "
                    "[--write-csv DIR] [--capacity-dir DIR] [--threads N]\n");
    return 2;
}

static size_t pool_of(const mi_problem *p, mi_strategy s, double time_limit, size_t *off,
                      mi_solve_result *r, double *secs) {
    mi_solve_options o;
    mi_solve_options_init(&o);
    o.strategy = s;
    o.time_limit = time_limit;
    o.threads = search_threads;
    double t0 = bench_now();
    mi_status st = mi_solve(p, &o, off, r);
    *secs = bench_now() - t0;
    if (st) {
        fprintf(stderr, "bench_exact: %s: %s\n", mi_strategy_name(s), mi_last_error());
        exit(1);
    }
    return r->pool_size;
}

/* "1234 (+5.6%)" against the reference. */
static void cell(char *buf, size_t len, size_t pool, size_t ref) {
    double gap = ref ? 100.0 * ((double)pool - (double)ref) / (double)ref : 0.0;
    if (pool == ref) snprintf(buf, len, "**%zu**", pool / 1024);
    else snprintf(buf, len, "%zu (+%.1f%%)", pool / 1024, gap);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each DIR/<name>.<capacity>.csv, in name order, asked for a plan within
 * its capacity by the exact strategy (greedy-size's pool beside it). */
static int capacity_table(const char *dir, double time_limit, mi_strbuf *t) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bench_exact: cannot open %s\n", dir);
        return 1;
    }
    char *names[256];
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d)) && nn < 256;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".csv") == 0) names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    /* The folder's own name only: the results file names no path of the machine. */
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    mi_strbuf_printf(t, "\nProblems of the folder %s, each asked for a plan within the capacity its name "
                        "gives (exact, %.0f s limit):\n", base, time_limit);
    mi_strbuf_printf(t, "\n| problem | buffers | capacity (KiB) | lower bound (KiB) | greedy-size (KiB) | "
                        "exact | time (s) | nodes |\n|---|---:|---:|---:|---:|---|---:|---:|\n");
    int rc = 0;
    for (size_t i = 0; i < nn && !rc; i++) {
        char path[1024], *dot = strchr(names[i], '.');
        size_t cap = dot ? strtoull(dot + 1, NULL, 10) : 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        mi_csv *csv = NULL;
        if (!cap || mi_csv_read(path, &csv)) {
            fprintf(stderr, "bench_exact: %s: %s\n", path, cap ? mi_last_error() : "no capacity in the name");
            rc = 1;
            break;
        }
        size_t n = mi_csv_count(csv);
        size_t *off = malloc((n ? n : 1) * sizeof *off);
        mi_problem p = {mi_csv_buffers(csv), n, 1};
        mi_solve_options o;
        mi_solve_options_init(&o);
        o.strategy = MI_STRATEGY_GREEDY_SIZE;
        mi_solve_result g, r;
        mi_status st = off ? mi_solve(&p, &o, off, &g) : MI_ERR_NO_MEMORY;
        o.strategy = MI_STRATEGY_EXACT;
        o.capacity = cap;
        o.time_limit = time_limit;
        o.threads = search_threads;
        double t0 = bench_now();
        mi_status se = st ? st : mi_solve(&p, &o, off, &r);
        double secs = bench_now() - t0;
        if (st || (se && se != MI_ERR_CAPACITY) || (!se && mi_validate(&p, off, r.pool_size))) {
            fprintf(stderr, "bench_exact: %s: %s\n", path, mi_last_error());
            rc = 1;
        } else {
            char name[256];
            snprintf(name, sizeof name, "%.*s", dot ? (int)(dot - names[i]) : (int)strlen(names[i]), names[i]);
            mi_strbuf_printf(t, "| %s | %zu | %zu | %zu | %zu | %s | %.2f | %llu |\n", name, n, cap / 1024,
                             g.lower_bound / 1024, g.pool_size / 1024,
                             se ? "no plan within it found" : "**fits**", secs,
                             (unsigned long long)(se ? 0 : r.nodes));
        }
        free(off);
        mi_csv_destroy(csv);
    }
    for (size_t i = 0; i < nn; i++) free(names[i]);
    return rc;
}

int main(int argc, char **argv) {
    size_t sizes[16] = {200, 300, 400, 500};
    size_t nsizes = 4;
    int seeds = 3;
    double time_limit = 10.0;
    int use[NFAM];
    for (int f = 0; f < NFAM; f++) use[f] = 1;
    const char *out = NULL, *csv_dir = NULL, *cap_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            nsizes = 0;
            for (char *t = strtok(argv[++i], ","); t && nsizes < 16; t = strtok(NULL, ","))
                sizes[nsizes++] = strtoull(t, NULL, 10);
        } else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            seeds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            time_limit = atof(argv[++i]);
        } else if (strcmp(argv[i], "--families") == 0 && i + 1 < argc) {
            const char *list = argv[++i];
            for (int f = 0; f < NFAM; f++) use[f] = strstr(list, families[f].name) != NULL;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--write-csv") == 0 && i + 1 < argc) {
            csv_dir = argv[++i];
        } else if (strcmp(argv[i], "--capacity-dir") == 0 && i + 1 < argc) {
            cap_dir = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            search_threads = atoi(argv[++i]);
            if (search_threads < 1 || search_threads > MI_MAX_SEARCH_THREADS) return usage();
        } else {
            return usage();
        }
    }
    if (!nsizes || seeds < 1 || time_limit <= 0) return usage();

    mi_strbuf t = {0};
    char machine[256];
    bench_machine(machine, sizeof machine);
    mi_strbuf_printf(&t, "# Exact planner benchmark\n\nMachine: %s. Date: %s.\n\n", machine,
                     bench_date());
    mi_strbuf_printf(
        &t,
        "Problems from bench/hard_lib.c: a box of 4096 units of 256 bytes (1 MiB) by T steps cut "
        "into rectangles (guillotine cuts, and pinwheels for a third of them), so every step is "
        "full and the optimum is the box, 1024 KiB. *sparse*: T = 10 x buffers (lifetimes rarely "
        "start or end together); *medium*: T = buffers; *busy*: T = buffers / 2; *dense*: "
        "T = buffers / 3 (many start and end together). *random*: "
        "tests/test_util.h problems (about 30 live, sizes 256 B .. 16 MiB), optimum unknown, "
        "measured against the lower bound. Pools in KiB, bold = the optimum (or the bound); "
        "exact is mi_solve with the exact strategy (seeded with the best heuristic) and a %.0f s "
        "limit, %d search%s; time and nodes are its own. One run each, on a machine shared with "
        "other jobs.\n\n",
        time_limit, search_threads,
        search_threads > 1 ? "es in a portfolio (--threads), one thread each" : "");
    mi_strbuf_printf(&t, "| family | buffers | seed | optimum / bound | greedy-size | best-fit | "
                         "exact | proven | time (s) | nodes |\n");
    mi_strbuf_printf(&t, "|---|---:|---:|---:|---:|---:|---:|:-:|---:|---:|\n");
    fputs(t.s, stdout);
    fflush(stdout);
    size_t printed = t.len;
    tally tl[NFAM][16];
    memset(tl, 0, sizeof tl);

    for (int f = 0; f < NFAM; f++) {
        if (!use[f]) continue;
        for (size_t si = 0; si < nsizes; si++) {
            size_t n = sizes[si];
            for (int seed = 1; seed <= seeds; seed++) {
                mi_buffer *b = NULL;
                size_t opt = 0;
                if (families[f].steps_per_buffer > 0) {
                    mi_hard_opts ho;
                    mi_hard_opts_init(&ho, n, (uint64_t)seed);
                    ho.steps = (uint32_t)((double)n * families[f].steps_per_buffer);
                    if (mi_hard_generate(&ho, &b, NULL, &opt)) {
                        fprintf(stderr, "bench_exact: cannot generate %s %zu/%d\n",
                                families[f].name, n, seed);
                        return 1;
                    }
                } else {
                    b = mi_random_problem(n, 30, 7000 + 31 * n + (size_t)seed);
                    if (!b) return 1;
                }
                if (csv_dir) {
                    char path[1024];
                    snprintf(path, sizeof path, "%s/%s-%zu-%d.csv", csv_dir, families[f].name, n,
                             seed);
                    if (mi_hard_write_csv(b, n, path)) {
                        fprintf(stderr, "bench_exact: cannot write %s\n", path);
                        return 1;
                    }
                }
                size_t *off = malloc(n * sizeof *off);
                if (!off) return 1;
                mi_problem p = {b, n, MI_DEFAULT_ALIGNMENT};
                mi_solve_result r;
                double secs;
                size_t gs = pool_of(&p, MI_STRATEGY_GREEDY_SIZE, time_limit, off, &r, &secs);
                size_t bf = pool_of(&p, MI_STRATEGY_BEST_FIT, time_limit, off, &r, &secs);
                size_t ex = pool_of(&p, MI_STRATEGY_EXACT, time_limit, off, &r, &secs);
                if (mi_validate(&p, off, ex)) {
                    fprintf(stderr, "bench_exact: invalid exact plan: %s\n", mi_last_error());
                    return 1;
                }
                size_t ref = opt ? opt : r.lower_bound;
                char c_ref[32], c_gs[48], c_bf[48], c_ex[48];
                snprintf(c_ref, sizeof c_ref, "%zu%s", ref / 1024, opt ? "" : " (bound)");
                cell(c_gs, sizeof c_gs, gs, ref);
                cell(c_bf, sizeof c_bf, bf, ref);
                cell(c_ex, sizeof c_ex, ex, ref);
                mi_strbuf_printf(&t, "| %s | %zu | %d | %s | %s | %s | %s | %s | %.2f | %llu |\n",
                                 families[f].name, n, seed, c_ref, c_gs, c_bf, c_ex,
                                 r.proven_optimal ? "yes" : "no", secs,
                                 (unsigned long long)r.nodes);
                tally *y = &tl[f][si];
                y->runs++;
                y->exact_opt += ex == ref;
                y->greedy_opt += gs == ref;
                y->bestfit_opt += bf == ref;
                y->exact_proven += r.proven_optimal;
                fputs(t.s + printed, stdout);
                fflush(stdout);
                printed = t.len;
                free(off);
                free(b);
            }
        }
    }
    mi_strbuf_printf(&t, "\n| family | buffers | runs | greedy-size at optimum | "
                         "best-fit at optimum | exact at optimum | exact proven |\n"
                         "|---|---:|---:|---:|---:|---:|---:|\n");
    for (int f = 0; f < NFAM; f++)
        for (size_t si = 0; si < nsizes && use[f]; si++) {
            const tally *y = &tl[f][si];
            mi_strbuf_printf(&t, "| %s | %zu | %d | %d | %d | %d | %d |\n", families[f].name,
                             sizes[si], y->runs, y->greedy_opt, y->bestfit_opt, y->exact_opt,
                             y->exact_proven);
        }
    if (cap_dir && capacity_table(cap_dir, time_limit, &t)) return 1;
    fputs(t.s + printed, stdout);
    int rc = out ? bench_write_file(out, t.s) : 0;
    free(t.s);
    return rc;
}
