/* bench_graph_scale: how finalizing and planning scale with the number of
 * nodes, for graphs built through the C API (mi_graph_create,
 * mi_graph_add_tensor, mi_graph_add_node, mi_graph_finalize) of 1e3 to 1e6
 * nodes, and for ONNX files of a chain loaded with mi_graph_load.
 *
 *   bench_graph_scale [--max N] [--onnx-max N] [--timeout S] [--graphs a,b,...] [--out FILE.md]
 *
 * Graphs (activations [1,64] or [1,4] floats, so that memory follows the
 * node count, not the tensors):
 *   relu       a chain of Relu, each in place on the one before
 *   matmul     a chain of MatMul with a [4,4] weight each: nothing in place,
 *              as many weights as nodes
 *   residual   blocks r = Relu(h), m = MatMul(r, W), h = Add(h, m): the
 *              residual stream is one group as long as the graph
 *   views      Relu then Reshape ([1,64] <-> [8,8]), the Reshape a view
 *   concat     blocks a = Relu(h), b = Sigmoid(h), c = Concat(a, b) (copy
 *              free), h = MatMul(c, W)
 *   outputs    a Relu chain whose every tensor is also a graph output
 *
 * Each case runs in a child process (fork), so its peak RSS is its own
 * (wait4's ru_maxrss) and a case that passes --timeout seconds is killed
 * and shown as such, not waited for. Times are wall seconds, one run each:
 * build (the add calls), finalize, plan with the default options (auto) and
 * with --strategy naive. mi_graph_load reads (and finalizes) an ONNX chain
 * this program writes to a temporary file with its own small protobuf
 * writer. Prints a markdown table; with --out also writes it. */
#include "bench_util.h"
#include "mini_infer/memplan.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

enum { G_RELU, G_MATMUL, G_RESIDUAL, G_VIEWS, G_CONCAT, G_OUTPUTS, G_COUNT };
static const char *const graph_names[G_COUNT] = {"relu", "matmul", "residual", "views", "concat", "outputs"};

/* ---- building ------------------------------------------------------------------ */

static const float weight16[16] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f,
                                   0.9f, 1.0f, 1.1f, 1.2f, 1.3f, 1.4f, 1.5f, 1.6f};
static const float weight32[32] = {0};

static int fail(const char *what, mi_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, mi_status_name(st), mi_last_error());
    return 1;
}

/* Adds node op(ins) -> out. */
static int node(mi_graph *g, const char *op, int nin, const char *i0, const char *i1, const char *out,
                int nattrs, const mi_attr *attrs) {
    const char *ins[2] = {i0, i1}, *outs[1] = {out};
    mi_status st = mi_graph_add_node(g, op, NULL, nin, ins, 1, outs, nattrs, attrs);
    return st ? fail(op, st) : 0;
}

static int weight(mi_graph *g, const char *name, int64_t rows, int64_t cols, const float *data) {
    mi_status st = mi_graph_add_tensor(g, name, MI_DTYPE_FLOAT, 2, (const int64_t[]){rows, cols}, MI_ROLE_WEIGHT,
                                       data, NULL);
    return st ? fail(name, st) : 0;
}

/* Builds graph kind with about n nodes (whole blocks); 0 on success. */
static int build(int kind, size_t n, mi_graph **out) {
    mi_graph *g;
    mi_status st = mi_graph_create(&g);
    if (st) return fail("mi_graph_create", st);
    *out = g;
    int64_t width = kind == G_RELU || kind == G_VIEWS || kind == G_OUTPUTS ? 64 : 4;
    if ((st = mi_graph_add_tensor(g, "h0", MI_DTYPE_FLOAT, 2, (const int64_t[]){1, width}, MI_ROLE_INPUT, NULL,
                                  NULL)))
        return fail("input", st);
    char h[32], h1[32], a[32], b[32], c[32], w[32];
    size_t per = kind == G_RESIDUAL ? 3 : kind == G_VIEWS ? 2 : kind == G_CONCAT ? 4 : 1;
    size_t blocks = n / per ? n / per : 1;
    if (kind == G_VIEWS) {
        if ((st = mi_graph_add_tensor(g, "s0", MI_DTYPE_INT64, 1, (const int64_t[]){2}, MI_ROLE_WEIGHT,
                                      (const int64_t[]){8, 8}, NULL)) ||
            (st = mi_graph_add_tensor(g, "s1", MI_DTYPE_INT64, 1, (const int64_t[]){2}, MI_ROLE_WEIGHT,
                                      (const int64_t[]){1, 64}, NULL)))
            return fail("shape", st);
    }
    mi_attr axis1 = {.name = (char *)"axis", .type = MI_ATTR_INT, .i = 1};
    for (size_t i = 0; i < blocks; i++) {
        snprintf(h, sizeof h, "h%zu", i);
        snprintf(h1, sizeof h1, "h%zu", i + 1);
        snprintf(a, sizeof a, "a%zu", i);
        snprintf(b, sizeof b, "b%zu", i);
        snprintf(c, sizeof c, "c%zu", i);
        snprintf(w, sizeof w, "w%zu", i);
        int e = 0;
        switch (kind) {
        case G_RELU: case G_OUTPUTS:
            e = node(g, "Relu", 1, h, NULL, h1, 0, NULL);
            if (!e && kind == G_OUTPUTS &&
                (st = mi_graph_add_tensor(g, h1, MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL)))
                e = fail("output", st);
            break;
        case G_MATMUL:
            e = weight(g, w, 4, 4, weight16) || node(g, "MatMul", 2, h, w, h1, 0, NULL);
            break;
        case G_RESIDUAL:
            e = weight(g, w, 4, 4, weight16) || node(g, "Relu", 1, h, NULL, a, 0, NULL) ||
                node(g, "MatMul", 2, a, w, b, 0, NULL) || node(g, "Add", 2, h, b, h1, 0, NULL);
            break;
        case G_VIEWS:
            e = node(g, "Relu", 1, h, NULL, a, 0, NULL) ||
                node(g, "Reshape", 2, a, i % 2 ? "s1" : "s0", h1, 0, NULL);
            break;
        case G_CONCAT:
            e = weight(g, w, 8, 4, weight32) || node(g, "Relu", 1, h, NULL, a, 0, NULL) ||
                node(g, "Sigmoid", 1, h, NULL, b, 0, NULL) || node(g, "Concat", 2, a, b, c, 1, &axis1) ||
                node(g, "MatMul", 2, c, w, h1, 0, NULL);
            break;
        }
        if (e) return 1;
    }
    if (kind != G_OUTPUTS &&
        (st = mi_graph_add_tensor(g, h1, MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL)))
        return fail("output", st);
    return 0;
}

/* ---- an ONNX file, written by hand ------------------------------------------------ */

typedef struct pb {
    unsigned char *p;
    size_t len, cap;
} pb;

static void pb_raw(pb *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}
static void pb_varint(pb *b, uint64_t v) {
    unsigned char c[10];
    size_t n = 0;
    do {
        c[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, c, n);
}
static void pb_int(pb *b, unsigned field, uint64_t v) {
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}
static void pb_bytes(pb *b, unsigned field, const void *data, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, data, n);
}
static void pb_str(pb *b, unsigned field, const char *s) { pb_bytes(b, field, s, strlen(s)); }
/* Appends message m as field of b and empties m. */
static void pb_msg(pb *b, unsigned field, pb *m) {
    pb_bytes(b, field, m->p, m->len);
    m->len = 0;
}

/* ValueInfoProto of a float tensor [1, width]. */
static void pb_value_info(pb *b, unsigned field, const char *name, int64_t width) {
    pb dim = {0}, shape = {0}, tensor = {0}, type = {0}, vi = {0};
    pb_int(&dim, 1, 1);
    pb_msg(&shape, 1, &dim);
    pb_int(&dim, 1, (uint64_t)width);
    pb_msg(&shape, 1, &dim);
    pb_int(&tensor, 1, 1 /* FLOAT */);
    pb_msg(&tensor, 2, &shape);
    pb_msg(&type, 1, &tensor);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(b, field, &vi);
    free(dim.p), free(shape.p), free(tensor.p), free(type.p), free(vi.p);
}

/* A chain of n Relu ([1,64]) or of n MatMul ([1,4] x a [4,4] initializer each) as an ONNX model. */
static int write_onnx(const char *path, int kind, size_t n) {
    pb graph = {0}, nd = {0}, init = {0}, m = {0}, ops = {0};
    char in[32], out[32], w[32];
    int64_t width = kind == G_MATMUL ? 4 : 64;
    for (size_t i = 0; i < n; i++) {
        snprintf(in, sizeof in, "h%zu", i);
        snprintf(out, sizeof out, "h%zu", i + 1);
        snprintf(w, sizeof w, "w%zu", i);
        if (kind == G_MATMUL) {
            pb_int(&init, 1, 4);
            pb_int(&init, 1, 4);
            pb_int(&init, 2, 1 /* FLOAT */);
            pb_str(&init, 8, w);
            pb_bytes(&init, 9, weight16, sizeof weight16);
            pb_msg(&graph, 5, &init);
        }
        pb_str(&nd, 1, in);
        if (kind == G_MATMUL) pb_str(&nd, 1, w);
        pb_str(&nd, 2, out);
        pb_str(&nd, 4, kind == G_MATMUL ? "MatMul" : "Relu");
        pb_msg(&graph, 1, &nd);
    }
    pb_str(&graph, 2, "chain");
    pb_value_info(&graph, 11, "h0", width);
    pb_value_info(&graph, 12, out, width);
    pb_int(&m, 1, 7);
    pb_int(&ops, 2, 13);
    pb_msg(&m, 8, &ops);
    pb_msg(&m, 7, &graph);
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(m.p, 1, m.len, f) != m.len;
    if (f && fclose(f) != 0) bad = 1;
    free(graph.p), free(nd.p), free(init.p), free(m.p), free(ops.p);
    if (bad) fprintf(stderr, "cannot write %s\n", path);
    return bad;
}

/* ---- one case, in a child ---------------------------------------------------------- */

typedef struct result {
    int ok;
    size_t nodes, tensors;
    double build, finalize, plan_auto, plan_naive;
    size_t arena, bound, naive_arena;
} result;

static int plan(const mi_graph *g, mi_strategy s, double *secs, size_t *arena, size_t *bound) {
    mi_planner *pl;
    mi_memory_plan *p;
    mi_status st = mi_planner_create(&pl);
    if (st) return fail("mi_planner_create", st);
    mi_planner_set_strategy(pl, s);
    double t0 = bench_now();
    st = mi_planner_plan(pl, g, NULL, &p);
    *secs = bench_now() - t0;
    mi_planner_destroy(pl);
    if (st) return fail("mi_planner_plan", st);
    *arena = mi_memory_plan_pool_size(p, MI_POOL_ARENA);
    if (bound) *bound = mi_memory_plan_lower_bound(p);
    mi_memory_plan_destroy(p);
    return 0;
}

/* kind >= 0: build through the API; onnx: load that file instead. */
static void run_case(int kind, size_t n, const char *onnx, result *r) {
    memset(r, 0, sizeof *r);
    mi_graph *g = NULL;
    mi_status st;
    double t0 = bench_now();
    if (onnx) {
        if ((st = mi_graph_load(onnx, NULL, &g))) {
            fail("mi_graph_load", st);
            return;
        }
        r->finalize = bench_now() - t0; /* parse, build and finalize */
    } else {
        if (build(kind, n, &g)) {
            mi_graph_destroy(g);
            return;
        }
        double t1 = bench_now();
        r->build = t1 - t0;
        if ((st = mi_graph_finalize(g, NULL))) {
            fail("mi_graph_finalize", st);
            mi_graph_destroy(g);
            return;
        }
        r->finalize = bench_now() - t1;
    }
    r->nodes = mi_graph_node_count(g);
    r->tensors = mi_graph_tensor_count(g);
    r->ok = !plan(g, MI_STRATEGY_AUTO, &r->plan_auto, &r->arena, &r->bound) &&
            !plan(g, MI_STRATEGY_NAIVE, &r->plan_naive, &r->naive_arena, NULL);
    mi_graph_destroy(g);
}

/* Runs the case in a child; 0: done (r filled), 1: failed, 2: timed out. */
static int fork_case(int kind, size_t n, const char *onnx, unsigned timeout, result *r, double *rss_mib) {
    int fd[2];
    if (pipe(fd) != 0) return 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        close(fd[0]);
        alarm(timeout);
        result cr;
        run_case(kind, n, onnx, &cr);
        ssize_t w = write(fd[1], &cr, sizeof cr);
        _exit(w == (ssize_t)sizeof cr && cr.ok ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], r, sizeof *r);
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    wait4(pid, &status, 0, &ru);
    *rss_mib = (double)ru.ru_maxrss / 1024.0;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) return 2;
    return got == (ssize_t)sizeof *r && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static void row(mi_strbuf *t, const char *graph, size_t n, int rc, const result *r, double rss, unsigned timeout,
                int loaded) {
    if (rc == 2) {
        mi_strbuf_printf(t, "| %s | %zu | | | > %u s (killed) | | | | |\n", graph, n, timeout);
        return;
    }
    if (rc) {
        mi_strbuf_printf(t, "| %s | %zu | | | failed | | | | |\n", graph, n);
        return;
    }
    char build[32];
    if (loaded) snprintf(build, sizeof build, "(load)");
    else snprintf(build, sizeof build, "%.3f", r->build);
    mi_strbuf_printf(t, "| %s | %zu | %zu | %s | %.3f | %.3f | %.3f | %.3f | %.0f |\n", graph, r->nodes, r->tensors,
                     build, r->finalize, r->plan_auto, r->plan_naive, r->bound ? (double)r->arena / (double)r->bound : 1.0,
                     rss);
}

int main(int argc, char **argv) {
    size_t max_n = 1000000, onnx_max = 100000;
    unsigned timeout = 120;
    const char *out = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) max_n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--onnx-max") == 0 && i + 1 < argc) onnx_max = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--graphs") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else {
            fprintf(stderr, "usage: bench_graph_scale [--max N] [--onnx-max N] [--timeout S] "
                            "[--graphs relu,matmul,residual,views,concat,outputs,onnx-relu,onnx-matmul] "
                            "[--out FILE.md]\n");
            return 2;
        }
    }
    mi_strbuf t = {0};
    char machine[256];
    bench_machine(machine, sizeof machine);
    mi_strbuf_printf(&t, "Machine: %s. Date: %s.\n\n", machine, bench_date());
    mi_strbuf_printf(&t, "| graph | nodes | tensors | build (s) | finalize (s) | plan auto (s) | plan naive (s) | "
                         "arena / bound | peak RSS (MiB) |\n");
    mi_strbuf_printf(&t, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    fputs(t.s, stdout);
    size_t printed = t.len;
    char names[G_COUNT + 2][32];
    for (int k = 0; k < G_COUNT; k++) snprintf(names[k], sizeof names[k], "%s", graph_names[k]);
    snprintf(names[G_COUNT], sizeof names[0], "onnx-relu");
    snprintf(names[G_COUNT + 1], sizeof names[0], "onnx-matmul");
    for (int k = 0; k < G_COUNT + 2; k++) {
        if (only) {
            /* a whole item of the comma-separated list */
            size_t len = strlen(names[k]);
            const char *s = only;
            int hit = 0;
            while (!hit && (s = strstr(s, names[k]))) {
                hit = (s == only || s[-1] == ',') && (s[len] == ',' || s[len] == '\0');
                s += len;
            }
            if (!hit) continue;
        }
        int onnx = k >= G_COUNT;
        for (size_t n = 1000; n <= (onnx ? onnx_max : max_n); n *= 10) {
            result r;
            double rss = 0;
            int rc;
            if (onnx) {
                char path[4096];
                const char *tmp = getenv("TMPDIR");
                snprintf(path, sizeof path, "%s/bench_graph_scale_%d.onnx", tmp && *tmp ? tmp : "/tmp", (int)getpid());
                if (write_onnx(path, k == G_COUNT ? G_RELU : G_MATMUL, n)) return 1;
                rc = fork_case(-1, n, path, timeout, &r, &rss);
                unlink(path);
            } else {
                rc = fork_case(k, n, NULL, timeout, &r, &rss);
            }
            row(&t, names[k], n, rc, &r, rss, timeout, onnx);
            fputs(t.s + printed, stdout);
            fflush(stdout);
            printed = t.len;
            if (rc == 2) break; /* larger ones would only take longer */
        }
    }
    mi_strbuf_printf(&t, "\nbuild: the mi_graph_add_* calls; finalize: mi_graph_finalize (for onnx-*: "
                         "mi_graph_load, which parses, builds and finalizes); plan: mi_planner_plan with the "
                         "default options (auto) and with the naive strategy; peak RSS: the child process "
                         "running the case (ru_maxrss).\n");
    int rc = 0;
    if (out) rc = bench_write_file(out, t.s);
    free(t.s);
    return rc;
}
