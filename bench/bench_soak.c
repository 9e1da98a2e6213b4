/* bench_soak: long runs through the public API, watching the resident set
 * and the open file descriptors. Not a CI test: a benchmark whose figures
 * go to bench/results/soak.md.
 *
 *   bench_soak [DIR [LENET_RUNS [MOBILENET_RUNS [LENET_CYCLES
 *              [MOBILENET_CYCLES [RANGE_CYCLES [SET_CYCLES]]]]]]]
 *
 * DIR holds scripts/make_models.py's output (default $MI_MODELS_DIR, else
 * build/models); the counts default to 100000 10000 1000 100 200 200 (a
 * count of 0 skips its phase). The phases:
 *
 *   lenet5-runs        LeNet-5, one model, one context, LENET_RUNS runs
 *   mobilenet_v2-runs  MobileNet-V2 likewise, MOBILENET_RUNS runs
 *   lenet5-cycles      LENET_CYCLES times: load, context, one run, destroy
 *   mobilenet_v2-cycles  likewise, MOBILENET_CYCLES times
 *   range-cycles       a batch range model (nbatches 2, sizes {1, 4}):
 *                      load, context, a run at each size, destroy
 *   set-cycles         LeNet-5 and MobileNet-V2 on one CPU backend with one
 *                      shared arena (mi_arena_create, mi_context_create_on):
 *                      open, load both, arena, contexts, a run of each,
 *                      destroy everything, close
 *
 * At about 20 evenly spaced points of each phase (and after its first
 * iteration) it prints VmRSS and VmHWM (/proc/self/status), the open file
 * descriptors (/proc/self/fd, less the one reading it) and the elapsed
 * seconds; the cycle phases sample after the cycle's destroy. At the end,
 * per phase: the RSS and fds of the first sample after warm-up (the
 * sample at 5% of the iterations) against the last, and a verdict: flat
 * when the RSS grew by less than 1 MiB (cycle phases: less than 1 MiB or
 * less than 1% of the RSS, whichever is larger) and the fds did not grow;
 * otherwise NOT FLAT. Inputs are a fixed pattern (floats in [-1, 1],
 * other types zero). The CPU threads are MI_CPU_THREADS's, as the engine
 * reads it. Exits 0 unless a model fails to load or run (2). */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"
#include "mini_infer/runtime.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAMPLES 32
#define MAX_IO 8

typedef struct sample {
    long iter;
    long rss_kib, hwm_kib;
    int fds;
    double secs;
} sample;

typedef struct phase {
    const char *name;
    const char *what;
    long n;
    int cycles; /* load/destroy phase: the 1% allowance */
    sample s[MAX_SAMPLES];
    int ns;
    double t0, secs;
    int failed, ran;
} phase;

static double g_start;

/* VmRSS and VmHWM in KiB, -1 when unreadable. */
static void read_status(long *rss, long *hwm) {
    *rss = *hwm = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) *rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0) *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

/* Open file descriptors, not counting the directory stream's own. */
static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int own = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (atoi(e->d_name) == own) continue;
        n++;
    }
    closedir(d);
    return n;
}

static void take_sample(phase *p, long iter) {
    if (p->ns >= MAX_SAMPLES) return;
    sample *s = &p->s[p->ns++];
    s->iter = iter;
    read_status(&s->rss_kib, &s->hwm_kib);
    s->fds = count_fds();
    s->secs = bench_now() - g_start;
    printf("%-20s iter %7ld  rss %8ld KiB  hwm %8ld KiB  fds %3d  %8.1f s\n", p->name, iter, s->rss_kib,
           s->hwm_kib, s->fds, s->secs);
    fflush(stdout);
}

/* Whether to sample after iteration i (1-based) of n: the first one and
 * every n/20th. */
static int sample_at(long i, long n) {
    if (i == 1 || i == n) return 1;
    long step = n / 20;
    if (step < 1) step = 1;
    return i % step == 0 && i / step <= 20;
}

/* The first sample after warm-up: the first at or past 5% of the phase. */
static const sample *baseline(const phase *p) {
    long warm = p->n / 20;
    if (warm < 1) warm = 1;
    for (int k = 0; k < p->ns; k++)
        if (p->s[k].iter >= warm && (p->s[k].iter > 1 || p->ns == 1)) return &p->s[k];
    return p->ns ? &p->s[p->ns - 1] : NULL;
}

static int phase_flat(const phase *p, long *drss, int *dfds, long *allow) {
    const sample *a = baseline(p), *b = &p->s[p->ns - 1];
    *drss = b->rss_kib - a->rss_kib;
    *dfds = b->fds - a->fds;
    *allow = 1024;
    if (p->cycles && a->rss_kib / 100 > *allow) *allow = a->rss_kib / 100;
    return *drss < *allow && *dfds <= 0;
}

/* ---- inputs and outputs ------------------------------------------------------------- */

typedef struct io_bufs {
    size_t nin, nout;
    void *in[MAX_IO], *out[MAX_IO];
} io_bufs;

static void fill(void *p, const mi_tensor *t) {
    if (t->dtype == MI_DTYPE_FLOAT) {
        float *f = p;
        size_t n = t->nbytes / sizeof(float);
        for (size_t i = 0; i < n; i++) f[i] = (float)((long)(i * 7919u % 2001u) - 1000) / 1000.0f;
    } else {
        memset(p, 0, t->nbytes);
    }
}

/* Buffers for m's inputs and outputs (at m's own, largest, size). */
static int io_alloc(const mi_model *m, io_bufs *b) {
    memset(b, 0, sizeof *b);
    b->nin = mi_model_input_count(m);
    b->nout = mi_model_output_count(m);
    if (b->nin > MAX_IO || b->nout > MAX_IO) {
        fprintf(stderr, "bench_soak: more than %d inputs or outputs\n", MAX_IO);
        return 1;
    }
    for (size_t i = 0; i < b->nin; i++) {
        const mi_tensor *t = mi_model_input(m, i);
        if (!(b->in[i] = malloc(t->nbytes ? t->nbytes : 1))) return 1;
        fill(b->in[i], t);
    }
    for (size_t i = 0; i < b->nout; i++) {
        size_t n = mi_model_output(m, i)->nbytes;
        if (!(b->out[i] = malloc(n ? n : 1))) return 1;
    }
    return 0;
}

static void io_free(io_bufs *b) {
    for (size_t i = 0; i < b->nin; i++) free(b->in[i]);
    for (size_t i = 0; i < b->nout; i++) free(b->out[i]);
    memset(b, 0, sizeof *b);
}

static int fail(phase *p, const char *step, mi_status st) {
    fprintf(stderr, "bench_soak: %s: %s: %s: %s\n", p->name, step, mi_status_name(st), mi_last_error());
    p->failed = 1;
    return 1;
}

static void model_path(char *buf, size_t len, const char *dir, const char *name) {
    snprintf(buf, len, "%s/%s/model.onnx", dir, name);
}

/* ---- the phases -------------------------------------------------------------------- */

/* n runs of one context. */
static int phase_runs(phase *p, const char *dir, const char *name) {
    char path[2048];
    model_path(path, sizeof path, dir, name);
    mi_model *m = NULL;
    mi_context *c = NULL;
    io_bufs io = {0};
    mi_status st;
    int rc = 1;
    if ((st = mi_model_load(path, NULL, &m)) != MI_OK) {
        fail(p, "load", st);
        goto done;
    }
    if ((st = mi_context_create(m, NULL, 0, &c)) != MI_OK) {
        fail(p, "context", st);
        goto done;
    }
    if (io_alloc(m, &io)) {
        p->failed = 1;
        goto done;
    }
    for (long i = 1; i <= p->n; i++) {
        if ((st = mi_context_run(c, (const void *const *)io.in, io.out)) != MI_OK) {
            fail(p, "run", st);
            goto done;
        }
        if (sample_at(i, p->n)) take_sample(p, i);
    }
    rc = 0;
done:
    io_free(&io);
    mi_context_destroy(c);
    mi_model_destroy(m);
    return rc;
}

/* One load/context/run/destroy cycle; ranged: the model planned at batch
 * sizes {1, 4}, a run at each. */
static int cycle_one(phase *p, const char *path, int ranged) {
    static const int64_t sizes[2] = {1, 4};
    mi_model_options o;
    mi_model_options_init(&o);
    if (ranged) {
        o.nbatches = 2;
        o.batches[0] = sizes[0];
        o.batches[1] = sizes[1];
    }
    mi_model *m = NULL;
    mi_context *c = NULL;
    io_bufs io = {0};
    mi_status st;
    int rc = 1;
    if ((st = mi_model_load(path, &o, &m)) != MI_OK) {
        fail(p, ranged ? "load (batch range)" : "load", st);
        goto done;
    }
    if ((st = mi_context_create(m, NULL, 0, &c)) != MI_OK) {
        fail(p, "context", st);
        goto done;
    }
    if (io_alloc(m, &io)) { /* a range: the largest size's buffers hold the smaller's */
        p->failed = 1;
        goto done;
    }
    for (int k = 0; k < (ranged ? 2 : 1); k++) {
        st = ranged ? mi_context_run_batch(c, sizes[k], (const void *const *)io.in, io.out)
                    : mi_context_run(c, (const void *const *)io.in, io.out);
        if (st != MI_OK) {
            fail(p, !ranged ? "run" : k ? "run at batch 4" : "run at batch 1", st);
            goto done;
        }
    }
    rc = 0;
done:
    io_free(&io);
    mi_context_destroy(c);
    mi_model_destroy(m);
    return rc;
}

static int phase_cycles(phase *p, const char *dir, const char *name, int ranged) {
    char path[2048];
    model_path(path, sizeof path, dir, name);
    for (long i = 1; i <= p->n; i++) {
        if (cycle_one(p, path, ranged)) return 1;
        if (sample_at(i, p->n)) take_sample(p, i);
    }
    return 0;
}

/* Two models on one backend and one shared arena. */
static int set_one(phase *p, const char *dir, const char *const names[2]) {
    mi_backend *b = NULL;
    mi_model *m[2] = {NULL, NULL};
    mi_context *c[2] = {NULL, NULL};
    mi_arena *a = NULL;
    io_bufs io[2] = {{0}, {0}};
    mi_status st;
    int rc = 1;
    if ((st = mi_backend_open("cpu", NULL, &b)) != MI_OK) {
        fail(p, "backend", st);
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        char path[2048];
        model_path(path, sizeof path, dir, names[i]);
        mi_model_options o;
        mi_model_options_init(&o);
        o.backend_instance = b;
        if ((st = mi_model_load(path, &o, &m[i])) != MI_OK) {
            fail(p, "load", st);
            goto done;
        }
    }
    if ((st = mi_arena_create(m, 2, NULL, 0, &a)) != MI_OK) {
        fail(p, "arena", st);
        goto done;
    }
    for (int i = 0; i < 2; i++)
        if ((st = mi_context_create_on(m[i], a, &c[i])) != MI_OK) {
            fail(p, "context on the arena", st);
            goto done;
        }
    mi_arena_destroy(a); /* the contexts keep it */
    a = NULL;
    for (int i = 0; i < 2; i++) {
        if (io_alloc(m[i], &io[i])) {
            p->failed = 1;
            goto done;
        }
        if ((st = mi_context_run(c[i], (const void *const *)io[i].in, io[i].out)) != MI_OK) {
            fail(p, "run", st);
            goto done;
        }
    }
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        io_free(&io[i]);
        mi_context_destroy(c[i]);
    }
    if (a) mi_arena_destroy(a);
    for (int i = 0; i < 2; i++) mi_model_destroy(m[i]);
    mi_backend_close(b);
    return rc;
}

static int phase_set(phase *p, const char *dir, const char *const names[2]) {
    for (long i = 1; i <= p->n; i++) {
        if (set_one(p, dir, names)) return 1;
        if (sample_at(i, p->n)) take_sample(p, i);
    }
    return 0;
}

/* ---- the report -------------------------------------------------------------------- */

static double mib_of(long kib) { return (double)kib / 1024.0; }

static void report(const phase *ps, int np) {
    printf("\n## Samples\n");
    for (int k = 0; k < np; k++) {
        const phase *p = &ps[k];
        if (!p->ran) continue;
        printf("\n### %s: %s (%ld, %.1f s)%s\n\n", p->name, p->what, p->n, p->secs,
               p->failed ? " FAILED" : "");
        printf("| iteration | RSS (MiB) | HWM (MiB) | fds | elapsed (s) |\n|---:|---:|---:|---:|---:|\n");
        for (int i = 0; i < p->ns; i++)
            printf("| %ld | %.2f | %.2f | %d | %.1f |\n", p->s[i].iter, mib_of(p->s[i].rss_kib),
                   mib_of(p->s[i].hwm_kib), p->s[i].fds, p->s[i].secs);
    }
    printf("\n## Verdicts\n\n| phase | iterations | time (s) | first after warm-up | RSS first (KiB) | "
           "RSS last (KiB) | delta (KiB) | allowed (KiB) | fds first | fds last | verdict |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    int not_flat = 0;
    for (int k = 0; k < np; k++) {
        const phase *p = &ps[k];
        if (!p->ran) continue;
        if (p->ns < 2) {
            printf("| %s | %ld | %.1f | - | - | - | - | - | - | - | %s |\n", p->name, p->n, p->secs,
                   p->failed ? "FAILED" : "too few samples");
            continue;
        }
        long drss, allow;
        int dfds;
        int flat = phase_flat(p, &drss, &dfds, &allow);
        const sample *a = baseline(p), *b = &p->s[p->ns - 1];
        if (!flat) not_flat++;
        printf("| %s | %ld | %.1f | %ld | %ld | %ld | %+ld | %ld | %d | %d | %s%s |\n", p->name, p->n, p->secs,
               a->iter, a->rss_kib, b->rss_kib, drss, allow, a->fds, b->fds, flat ? "flat" : "NOT FLAT",
               p->failed ? " (FAILED)" : "");
    }
    if (not_flat) {
        printf("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
        printf("!!! NOT FLAT: %d phase(s) grew in RSS or file descriptors   !!!\n", not_flat);
        printf("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
    }
}

int main(int argc, char **argv) {
    const char *dir = getenv("MI_MODELS_DIR");
    if (!dir || !*dir) dir = "build/models";
    long counts[6] = {100000, 10000, 1000, 100, 200, 200};
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: bench_soak [DIR [LENET_RUNS [MOBILENET_RUNS [LENET_CYCLES [MOBILENET_CYCLES "
                        "[RANGE_CYCLES [SET_CYCLES]]]]]]]\n");
        return 0;
    }
    if (argc > 1) dir = argv[1];
    for (int i = 2; i < argc && i < 8; i++) counts[i - 2] = atol(argv[i]);
    static const char *const set_names[2] = {"lenet5", "mobilenet_v2"};
    phase ps[6] = {
        {.name = "lenet5-runs", .what = "LeNet-5 [1,1,32,32], one context, mi_context_run"},
        {.name = "mobilenet_v2-runs", .what = "MobileNet-V2 [1,3,224,224], one context, mi_context_run"},
        {.name = "lenet5-cycles", .what = "LeNet-5 load + context + one run + destroy", .cycles = 1},
        {.name = "mobilenet_v2-cycles", .what = "MobileNet-V2 load + context + one run + destroy", .cycles = 1},
        {.name = "range-cycles", .what = "LeNet-5 batch range {1,4}: load + context + a run at each size + "
                                         "destroy", .cycles = 1},
        {.name = "set-cycles", .what = "LeNet-5 + MobileNet-V2 on one backend and one shared arena: open + "
                                       "load + arena + contexts + a run each + destroy + close", .cycles = 1},
    };
    for (int k = 0; k < 6; k++) ps[k].n = counts[k] > 0 ? counts[k] : 0;
    const char *threads = getenv("MI_CPU_THREADS");
    char machine[256];
    bench_machine(machine, sizeof machine);
    printf("# bench_soak\n\nmini-infer %s; machine: %s; MI_CPU_THREADS=%s; models: %s; date %s\n\n", mi_version(),
           machine, threads ? threads : "(unset)", dir, bench_date());
    g_start = bench_now();
    phase setup = {.name = "start"};
    take_sample(&setup, 0);
    int rc = 0;
    for (int k = 0; k < 6; k++) {
        phase *p = &ps[k];
        if (p->n <= 0) continue;
        p->ran = 1;
        p->t0 = bench_now();
        int r;
        switch (k) {
        case 0: r = phase_runs(p, dir, "lenet5"); break;
        case 1: r = phase_runs(p, dir, "mobilenet_v2"); break;
        case 2: r = phase_cycles(p, dir, "lenet5", 0); break;
        case 3: r = phase_cycles(p, dir, "mobilenet_v2", 0); break;
        case 4: r = phase_cycles(p, dir, "lenet5", 1); break;
        default: r = phase_set(p, dir, set_names); break;
        }
        p->secs = bench_now() - p->t0;
        if (r) rc = 2;
    }
    report(ps, 6);
    printf("\ntotal %.1f s\n", bench_now() - g_start);
    return rc;
}
