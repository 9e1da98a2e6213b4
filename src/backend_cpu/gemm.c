/* The single-precision GEMM core every conv, Gemm and MatMul runs on, and
 * the Gemm and MatMul ops themselves (at the end).
 *
 * BLIS-style: C is cut into tasks of mc x nc; a task walks K in blocks of
 * kc, packs its kc x nc block of B into NR-wide strips and its mc x kc
 * block of A into MR-tall strips (transposes are absorbed by the packing),
 * then runs the MR x NR micro-kernel over every strip pair, B strip outer
 * so it stays in L1 while the A block streams from L2. Edges are padded
 * with zeros in the packs, so the micro-kernel always computes a full
 * tile; the store step writes the valid part and applies the epilogue
 * (alpha, accumulate, then bias + residual + activation on the last K
 * block) with the shared per-element functions of kernels/elementwise.h.
 *
 * The micro-kernel is plain C written so the compiler keeps the MR x NR
 * accumulators in vector registers. On x86-64 the same C is compiled
 * again for AVX2+FMA and AVX-512 with target attributes and the best one
 * the CPU supports is picked at run time; elsewhere only the generic one
 * exists. Tasks go to the backend's thread pool; each thread packs into
 * its own slice of the workspace, so nothing is allocated per call. */
#include "cpu_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- micro-kernels ----------------------------------------------------------- */

#define MI__MR_MAX 16
#define MI__NR_MAX 32

#define MI__MADD_PLAIN(a, b, c) ((c) + (a) * (b))
#define MI__MADD_FMA(a, b, c) fmaf((a), (b), (c))

/* acc[i][j] += a[p][i] * b[p][j]; fully unrolled by the compiler since MR
 * and NR are constants. */
#define MI__DEFINE_MICRO(name, MR, NR, ATTR, MADD)                                         \
    ATTR static void name(int64_t kc, const float *restrict a, const float *restrict b,    \
                          float *restrict c) {                                             \
        float acc[MR][NR];                                                                 \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++)                              \
            _Pragma("GCC unroll 32") for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;        \
        for (int64_t p = 0; p < kc; p++) {                                                 \
            const float *restrict ap = a + p * MR;                                         \
            const float *restrict bp = b + p * NR;                                         \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                        \
                const float ai = ap[i];                                                    \
                _Pragma("GCC unroll 32") for (int j = 0; j < NR; j++)                      \
                    acc[i][j] = MADD(ai, bp[j], acc[i][j]);                                \
            }                                                                              \
        }                                                                                  \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++)                              \
            _Pragma("GCC unroll 32") for (int j = 0; j < NR; j++) c[i * NR + j] = acc[i][j]; \
    }

MI__DEFINE_MICRO(micro_generic, 6, 8, , MI__MADD_PLAIN)

#ifdef MI__HAVE_X86_KERNELS
MI__DEFINE_MICRO(micro_avx2, 6, 16, MI__TARGET_AVX2, MI__MADD_FMA)
MI__DEFINE_MICRO(micro_avx512, 8, 32, MI__TARGET_AVX512, MI__MADD_FMA)
#endif

static const mi__gemm_kernel k_generic = {"generic", MI__ISA_GENERIC, 6, 8, 96, 256, 512, micro_generic};
#ifdef MI__HAVE_X86_KERNELS
static const mi__gemm_kernel k_avx2 = {"avx2", MI__ISA_AVX2, 6, 16, 96, 256, 512, micro_avx2};
static const mi__gemm_kernel k_avx512 = {"avx512", MI__ISA_AVX512, 8, 32, 96, 256, 512, micro_avx512};
#endif

static const mi__gemm_kernel *kernel_list[4];
static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;

static void kernels_init(void) {
    int n = 0;
#ifdef MI__HAVE_X86_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) kernel_list[n++] = &k_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) kernel_list[n++] = &k_avx2;
#endif
    kernel_list[n++] = &k_generic;
    kernel_list[n] = NULL;
}

const mi__gemm_kernel *const *mi__gemm_kernels(void) {
    pthread_once(&kernel_once, kernels_init);
    return kernel_list;
}

const mi__gemm_kernel *mi__gemm_kernel_default(void) {
    const mi__gemm_kernel *const *ks = mi__gemm_kernels();
    const char *want = getenv("MI_CPU_GEMM");
    if (want && *want)
        for (int i = 0; ks[i]; i++)
            if (strcmp(ks[i]->name, want) == 0) return ks[i];
    return ks[0];
}

/* ---- blocking ------------------------------------------------------------------ */

typedef struct blocks {
    int64_t mc, nc, kc; /* block sizes used */
    int64_t mb, nb;     /* number of blocks along m and n */
    size_t pack_a, pack_b, per_thread; /* bytes */
} blocks;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Block sizes for m x n x k on t threads: the kernel's cache blocks,
 * shrunk so small problems keep packs small and there are about two
 * tasks per thread to balance. */
static void size_packs(blocks *b) {
    b->pack_a = round64((size_t)b->mc * (size_t)b->kc * sizeof(float));
    b->pack_b = round64((size_t)b->kc * (size_t)b->nc * sizeof(float));
    b->per_thread = b->pack_a + b->pack_b;
}

static void plan_blocks(const mi__gemm_kernel *gk, int t, size_t cap, int64_t m, int64_t n,
                        int64_t k, blocks *b) {
    /* K blocks of even size: 257 is two blocks of 129, not 256 and 1. */
    int64_t kk = k > 0 ? k : 1;
    b->kc = ceil_div(kk, ceil_div(kk, gk->kc));
    b->mc = min64(gk->mc, round_up(m, gk->mr));
    b->nc = min64(gk->nc, round_up(n, gk->nr));
    b->mb = ceil_div(m, b->mc);
    b->nb = ceil_div(n, b->nc);
    int64_t want = t > 1 ? 2 * (int64_t)t : 1;
    if (b->mb * b->nb < want) {
        int64_t nb = min64(ceil_div(want, b->mb), ceil_div(n, gk->nr));
        if (nb > b->nb) {
            b->nc = round_up(ceil_div(n, nb), gk->nr);
            b->nb = ceil_div(n, b->nc);
        }
    }
    if (b->mb * b->nb < want) {
        int64_t mb = min64(ceil_div(want, b->nb), ceil_div(m, gk->mr));
        if (mb > b->mb) {
            b->mc = round_up(ceil_div(m, mb), gk->mr);
            b->mb = ceil_div(m, b->mc);
        }
    }
    size_packs(b);
    /* Over the workspace cap: narrower B blocks, down to one strip (the
     * packs are planned memory; ResNet-50's 1x1 convolutions asked 1.2 MiB
     * for 512-column blocks). */
    while (b->nc > gk->nr && b->per_thread * (size_t)t + MI__CPU_WS_ALIGN > cap) {
        b->nc = round_up(b->nc / 2, gk->nr);
        b->nb = ceil_div(n, b->nc);
        size_packs(b);
    }
}

size_t mi__sgemm_workspace(const mi__cpu *cpu, int64_t m, int64_t n, int64_t k) {
    blocks b;
    plan_blocks(cpu->gk, cpu->nthreads, cpu->ws_cap, m, n, k, &b);
    return b.per_thread * (size_t)cpu->nthreads + MI__CPU_WS_ALIGN;
}

void mi__gemm_epi_init(mi__gemm_epi *e) {
    memset(e, 0, sizeof *e);
    e->alpha = 1.0f;
    e->act = MI_K_ACT_NONE;
}

/* ---- packing ------------------------------------------------------------------- */

/* A full strip of MR rows, MR known at compile time so the rows' loads
 * and the contiguous stores unroll; 0 for another MR. */
#define MI__PACK_ROWS(MR)                                                                   \
    for (int64_t p = 0; p < kc; p++) {                                                      \
        _Pragma("GCC unroll 16") for (int i = 0; i < (MR); i++) d[p * (MR) + i] = src[i * lda + p]; \
    }
MI__INLINE static int pack_rows(float *restrict d, const float *restrict src, int64_t lda, int64_t kc, int mr) {
    if (mr == 8) {
        MI__PACK_ROWS(8)
        return 1;
    }
    if (mr == 6) {
        MI__PACK_ROWS(6)
        return 1;
    }
    return 0;
}
#undef MI__PACK_ROWS

/* A rows [i0, i0 + mc) x cols [p0, p0 + kc) into MR-tall strips:
 * dst[strip][p][i]. Rows past m are zero. */
MI__INLINE static void pack_a(float *restrict dst, const float *a, int64_t lda, int ta, int64_t i0,
                   int64_t mc, int64_t m, int64_t p0, int64_t kc, int mr) {
    for (int64_t s = 0; s < mc; s += mr) {
        float *d = dst + s * kc;
        int64_t rows = min64(mr, m - (i0 + s));
        if (!ta) {
            /* Row by row the writes would stride by mr; p outer keeps them
             * contiguous, mr read streams at once. */
            const float *src = a + (i0 + s) * lda + p0;
            if (rows == mr && pack_rows(d, src, lda, kc, mr)) continue;
            for (int64_t p = 0; p < kc; p++)
                for (int64_t i = 0; i < rows; i++) d[p * mr + i] = src[i * lda + p];
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const float *src = a + (p0 + p) * lda + i0 + s;
                for (int64_t i = 0; i < rows; i++) d[p * mr + i] = src[i];
            }
        }
        for (int64_t i = rows; i < mr; i++)
            for (int64_t p = 0; p < kc; p++) d[p * mr + i] = 0.0f;
    }
}

/* B rows [p0, p0 + kc) x cols [j0, j0 + nc) into NR-wide strips:
 * dst[strip][p][j]. Columns past n are zero. */
MI__INLINE static void pack_b(float *restrict dst, const float *b, int64_t ldb, int tb, int64_t p0,
                   int64_t kc, int64_t j0, int64_t nc, int64_t n, int nr) {
    for (int64_t s = 0; s < nc; s += nr) {
        float *d = dst + s * kc;
        int64_t cols = min64(nr, n - (j0 + s));
        if (!tb) {
            const float *src = b + p0 * ldb + j0 + s;
            if (cols == nr) {
                /* A constant width makes each row's copy a few vector
                 * moves instead of a library call. */
#define MI__PACK_STRIP(NR)                                                                        \
    for (int64_t p = 0; p < kc; p++) memcpy(d + p * (NR), src + p * ldb, (NR) * sizeof(float))
                if (nr == 32) MI__PACK_STRIP(32);
                else if (nr == 16) MI__PACK_STRIP(16);
                else if (nr == 8) MI__PACK_STRIP(8);
                else MI__PACK_STRIP(nr);
#undef MI__PACK_STRIP
            } else {
                for (int64_t p = 0; p < kc; p++) {
                    int64_t j = 0;
                    for (; j < cols; j++) d[p * nr + j] = src[p * ldb + j];
                    for (; j < nr; j++) d[p * nr + j] = 0.0f;
                }
            }
        } else {
            for (int64_t j = 0; j < cols; j++) {
                const float *src = b + (j0 + s + j) * ldb + p0;
                for (int64_t p = 0; p < kc; p++) d[p * nr + j] = src[p];
            }
            for (int64_t j = cols; j < nr; j++)
                for (int64_t p = 0; p < kc; p++) d[p * nr + j] = 0.0f;
        }
    }
}

/* ---- storing a tile ------------------------------------------------------------- */

/* Writes rows x cols of tile t (ld nr) to C at (i, j), global coordinates,
 * applying the epilogue. first: the first K block (C not yet written by
 * us); last: the last K block. */
MI__INLINE static void store_tile(const float *restrict t, int nr, int64_t rows, int64_t cols, float *c,
                       int64_t ldc, int64_t i, int64_t j, const mi__gemm_epi *e, int first,
                       int last) {
    const float alpha = e->alpha;
    const int add_c = !first || e->accumulate;
    for (int64_t r = 0; r < rows; r++) {
        float *restrict crow = c + (i + r) * ldc + j;
        const float *restrict trow = t + r * nr;
        if (!last) {
            if (add_c)
                for (int64_t q = 0; q < cols; q++) crow[q] = crow[q] + alpha * trow[q];
            else
                for (int64_t q = 0; q < cols; q++) crow[q] = alpha * trow[q];
            continue;
        }
        const float bias = e->bias_row ? e->bias_row[i + r] : 0.0f;
        const float *restrict res = e->residual ? e->residual + (i + r) * e->ldr + j : NULL;
        const float lo = e->act_min, hi = e->act_max;
        /* One loop per activation, so each is a plain vector loop. */
#define MI__STORE_LAST(ACT)                                                                        \
    do {                                                                                           \
        if (add_c && res) {                                                                        \
            for (int64_t q = 0; q < cols; q++)                                                     \
                crow[q] = mi_k_conv_epilogue(crow[q] + alpha * trow[q], bias, res[q], ACT, lo, hi); \
        } else if (add_c) {                                                                        \
            for (int64_t q = 0; q < cols; q++)                                                     \
                crow[q] = mi_k_conv_epilogue(crow[q] + alpha * trow[q], bias, 0.0f, ACT, lo, hi);  \
        } else if (res) {                                                                          \
            for (int64_t q = 0; q < cols; q++)                                                     \
                crow[q] = mi_k_conv_epilogue(alpha * trow[q], bias, res[q], ACT, lo, hi);          \
        } else {                                                                                   \
            for (int64_t q = 0; q < cols; q++)                                                     \
                crow[q] = mi_k_conv_epilogue(alpha * trow[q], bias, 0.0f, ACT, lo, hi);            \
        }                                                                                          \
    } while (0)
        if (e->act == MI_K_ACT_RELU) MI__STORE_LAST(MI_K_ACT_RELU);
        else if (e->act == MI_K_ACT_CLIP) MI__STORE_LAST(MI_K_ACT_CLIP);
        else MI__STORE_LAST(MI_K_ACT_NONE);
#undef MI__STORE_LAST
    }
}

/* ---- the driver ------------------------------------------------------------------ */

typedef struct gemm_job {
    const mi__gemm_kernel *gk;
    int ta, tb;
    int64_t m, n, k;
    const float *a, *b;
    int64_t lda, ldb, ldc;
    float *c;
    const mi__gemm_epi *epi;
    blocks bl;
    char *ws;
} gemm_job;

MI__INLINE static void gemm_task_body(void *arg, int64_t task, int thread) {
    const gemm_job *j = arg;
    const mi__gemm_kernel *gk = j->gk;
    const int mr = gk->mr, nr = gk->nr;
    int64_t ib = task % j->bl.mb, jb = task / j->bl.mb;
    int64_t i0 = ib * j->bl.mc, j0 = jb * j->bl.nc;
    int64_t mc = min64(j->bl.mc, j->m - i0), nc = min64(j->bl.nc, j->n - j0);
    float *pa = (float *)(j->ws + (size_t)thread * j->bl.per_thread);
    float *pb = (float *)((char *)pa + j->bl.pack_a);
    float tile[MI__MR_MAX * MI__NR_MAX];
    for (int64_t p0 = 0; p0 < j->k; p0 += j->bl.kc) {
        int64_t kc = min64(j->bl.kc, j->k - p0);
        int first = p0 == 0, last = p0 + kc >= j->k;
        pack_b(pb, j->b, j->ldb, j->tb, p0, kc, j0, nc, j->n, nr);
        pack_a(pa, j->a, j->lda, j->ta, i0, mc, j->m, p0, kc, mr);
        for (int64_t jr = 0; jr < nc; jr += nr) {
            const float *bs = pb + jr * kc;
            int64_t cols = min64(nr, nc - jr);
            for (int64_t ir = 0; ir < mc; ir += mr) {
                gk->fn(kc, pa + ir * kc, bs, tile);
                store_tile(tile, nr, min64(mr, mc - ir), cols, j->c, j->ldc, i0 + ir, j0 + jr,
                           j->epi, first, last);
            }
        }
    }
}

/* The packing, the micro-kernel calls and the stores, compiled once per
 * instruction set like the micro-kernels: at the baseline (SSE2) the
 * stores and packs cost more than the arithmetic. */
MI__ISA_TASKS(gemm_task, gemm_task_body)

/* One row of A (a fully connected layer at batch 1): each weight is used
 * once, so packing would cost more than the arithmetic. Dot products of
 * contiguous rows (B transposed) or rows of B scaled and summed, in chunks
 * of columns, then the usual store and epilogue. The sums keep a fixed
 * order (16 partial sums, then added left to right). */
#define MI__GEMV_CHUNK 256
static void gemv_row(int ta, int tb, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                     int64_t ldb, float *c, int64_t ldc, const mi__gemm_epi *e, float *restrict ac) {
    float t[MI__GEMV_CHUNK];
    /* A's row, contiguous (ac: k floats of the caller's) when stored transposed. */
    if (ta) {
        for (int64_t p = 0; p < k; p++) ac[p] = a[p * lda];
        a = ac;
    }
    for (int64_t j0 = 0; j0 < n; j0 += MI__GEMV_CHUNK) {
        int64_t cols = min64(MI__GEMV_CHUNK, n - j0);
        if (tb) {
            for (int64_t q = 0; q < cols; q++) {
                const float *restrict row = b + (j0 + q) * ldb;
                float part[16] = {0};
                int64_t p = 0;
                for (; p + 16 <= k; p += 16)
                    for (int l = 0; l < 16; l++) part[l] += a[p + l] * row[p + l];
                for (; p < k; p++) part[p & 15] += a[p] * row[p];
                float s = 0.0f;
                for (int l = 0; l < 16; l++) s += part[l];
                t[q] = s;
            }
        } else {
            for (int64_t q = 0; q < cols; q++) t[q] = 0.0f;
            for (int64_t p = 0; p < k; p++) {
                const float ap = a[p], *restrict row = b + p * ldb + j0;
                for (int64_t q = 0; q < cols; q++) t[q] += ap * row[q];
            }
        }
        store_tile(t, MI__GEMV_CHUNK, 1, cols, c, ldc, 0, j0, e, 1, 1);
    }
}

/* K = 0: every element is the epilogue of 0. */
static void gemm_empty_k(int64_t m, int64_t n, float *c, int64_t ldc, const mi__gemm_epi *e) {
    float zero[MI__NR_MAX] = {0};
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j += MI__NR_MAX)
            store_tile(zero, 0, 1, min64(MI__NR_MAX, n - j), c, ldc, i, j, e, 1, 1);
}

int mi__sgemm(mi__cpu *cpu, int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
              int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
              const mi__gemm_epi *epi, void *ws, size_t ws_size) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        gemm_empty_k(m, n, c, ldc, epi);
        return 0;
    }
    if (m == 1 && (!ta || (ws && ws_size >= (size_t)k * sizeof(float)))) {
        gemv_row(ta, tb, n, k, a, lda, b, ldb, c, ldc, epi, ws);
        return 0;
    }
    gemm_job j = {cpu->gk, ta, tb, m, n, k, a, b, lda, ldb, ldc, c, epi, {0}, NULL};
    plan_blocks(cpu->gk, cpu->nthreads, cpu->ws_cap, m, n, k, &j.bl);
    char *base = mi__cpu_ws_align(ws);
    size_t slack = (size_t)(base - (char *)ws);
    if (!ws || ws_size < slack + j.bl.per_thread) return -1;
    /* Fewer threads than the pool has when the workspace has room for
     * fewer packs: the tasks then run on the caller. */
    size_t fit = (ws_size - slack) / j.bl.per_thread;
    j.ws = base;
    int64_t ntasks = j.bl.mb * j.bl.nb;
    mi__cpu_task_fn task = gemm_task_for(cpu->gk->isa);
    if (fit >= (size_t)cpu->nthreads && ntasks > 1) {
        mi__cpu_parallel(cpu, ntasks, m * n * k, task, &j);
    } else {
        for (int64_t t = 0; t < ntasks; t++) task(&j, t, 0);
    }
    return 0;
}

/* ==== Gemm and MatMul on the core ================================================
 *
 * Gemm: out = alpha * op(A) op(B) + beta * C, C broadcast to [M, N]. C is
 * written into out first and the product accumulated onto it, so no
 * scratch is needed beyond the pack buffers. A fused epilogue (act and a
 * residual, should the fusion pass ever fold one into a Gemm) follows the
 * conv's rules.
 *
 * MatMul: numpy semantics (a 1-D A is a row, a 1-D B a column, batch dims
 * broadcast). When B is one matrix shared by every batch and A's batches
 * are contiguous, the batches fold into M and one GEMM runs. */

/* ---- Gemm ------------------------------------------------------------------------ */

typedef struct gemm_dims {
    int64_t m, n, k;
} gemm_dims;

static gemm_dims gemm_shape(const mi_graph *g, const mi_node *n, const mi__gemm_params *p) {
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    gemm_dims d = {a->dims[p->trans_a], b->dims[!p->trans_b], a->dims[!p->trans_a]};
    return d;
}

/* ---- MatMul ------------------------------------------------------------------------ */

typedef struct matmul_dims {
    int64_t m, n, k;
    int ra, rb;
    int64_t ad[MI_MAX_DIMS + 1], bd[MI_MAX_DIMS + 1];
    mi_k_bcast bc; /* over the batch dims, in matrices */
    int64_t batches;
    int fold; /* batches fold into M */
} matmul_dims;

static void matmul_shape(const mi_graph *g, const mi_node *n, matmul_dims *d) {
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    const mi_tensor *y = mi_graph_tensor(g, (size_t)n->outputs[0]);
    memset(d, 0, sizeof *d);
    if (a->ndim == 1) {
        d->ad[0] = 1;
        d->ad[1] = a->dims[0];
        d->ra = 2;
    } else {
        memcpy(d->ad, a->dims, sizeof(int64_t) * (size_t)a->ndim);
        d->ra = a->ndim;
    }
    if (b->ndim == 1) {
        d->bd[0] = b->dims[0];
        d->bd[1] = 1;
        d->rb = 2;
    } else {
        memcpy(d->bd, b->dims, sizeof(int64_t) * (size_t)b->ndim);
        d->rb = b->ndim;
    }
    d->m = d->ad[d->ra - 2];
    d->k = d->ad[d->ra - 1];
    d->n = d->bd[d->rb - 1];
    mi_k_bcast_init(&d->bc, d->ra - 2, d->ad, d->rb - 2, d->bd);
    int64_t mn = d->m * d->n;
    d->batches = mn ? mi_tensor_numel(y) / mn : 0;
    /* One shared B and A's batches laid out in order: one tall GEMM. */
    int b_shared = 1, a_dense = 1;
    for (int i = 0; i < d->bc.ndim; i++) b_shared = b_shared && (d->bc.stride[1][i] == 0 || d->bc.dims[i] == 1);
    int64_t expect = 1;
    for (int i = d->bc.ndim - 1; i >= 0; i--) {
        if (d->bc.dims[i] == 1) continue;
        a_dense = a_dense && d->bc.stride[0][i] == expect;
        expect *= d->bc.dims[i];
    }
    d->fold = d->batches > 1 && b_shared && a_dense;
}

mi_status mi__cpu_linalg_workspace(const mi__cpu *cpu, const mi_graph *g, const mi_node *n,
                                   const mi__op_params *p, size_t *ws) {
    if (n->op == MI_OP_GEMM) {
        gemm_dims d = gemm_shape(g, n, &p->u.gemm);
        *ws = mi__sgemm_workspace(cpu, d.m, d.n, d.k);
        return MI_OK;
    }
    matmul_dims d;
    matmul_shape(g, n, &d);
    size_t one = mi__sgemm_workspace(cpu, d.m, d.n, d.k);
    size_t tall = d.fold ? mi__sgemm_workspace(cpu, d.m * d.batches, d.n, d.k) : 0;
    *ws = one > tall ? one : tall;
    return MI_OK;
}

static int overlaps(const void *a, size_t na, const void *b, size_t nb) {
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return na && nb && x < y + nb && y < x + na;
}

mi_status mi__cpu_gemm_op(mi__cpu_call *c) {
    const mi__gemm_params *p = &c->p.u.gemm;
    gemm_dims d = gemm_shape(c->g, c->n, p);
    const mi_tensor *at = mi__cpu_in_t(c, 0), *bt = mi__cpu_in_t(c, 1), *ct = mi__cpu_in_t(c, 2);
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    const float *a = c->in[0], *b = c->in[1];
    const float *cm = ct && c->in[2] ? (const float *)c->in[2] : NULL;
    const float *res = c->n->fused.residual >= 0 ? (const float *)c->residual : NULL;
    float *y = c->out[0];
    if (overlaps(y, yt->nbytes, a, at->nbytes) || overlaps(y, yt->nbytes, b, bt->nbytes) ||
        (cm && overlaps(y, yt->nbytes, cm, ct->nbytes)))
        return mi__cpu_err(c, MI_ERR_PLAN_INVALID, "the output '%s' overlaps an input; Gemm cannot "
                           "run in place", yt->name);
    mi__gemm_epi e;
    mi__gemm_epi_init(&e);
    e.alpha = p->alpha;
    e.act = c->n->fused.act;
    e.act_min = c->n->fused.act_min;
    e.act_max = c->n->fused.act_max;
    if (res) {
        if (res != y) memmove(y, res, yt->nbytes);
        e.accumulate = 1;
    }
    if (cm && p->beta != 0.0f) {
        /* C broadcast as [M, N]: strides 0 on its size-1 (or missing) dims. */
        int64_t cs_m = 0, cs_n = 0;
        if (ct->ndim == 2) {
            cs_m = ct->dims[0] == 1 ? 0 : ct->dims[1];
            cs_n = ct->dims[1] == 1 ? 0 : 1;
        } else if (ct->ndim == 1) {
            cs_n = ct->dims[0] == 1 ? 0 : 1;
        }
        for (int64_t i = 0; i < d.m; i++) {
            float *row = y + i * d.n;
            const float *crow = cm + i * cs_m;
            if (e.accumulate)
                for (int64_t j = 0; j < d.n; j++) row[j] += p->beta * crow[j * cs_n];
            else
                for (int64_t j = 0; j < d.n; j++) row[j] = p->beta * crow[j * cs_n];
        }
        e.accumulate = 1;
    }
    int64_t lda = at->dims[1], ldb = bt->dims[1];
    if (mi__sgemm(c->cpu, p->trans_a, p->trans_b, d.m, d.n, d.k, a, lda, b, ldb, y, d.n, &e, c->ws,
                  c->ws_size))
        return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes, prepare() asked for %zu",
                           c->ws_size, mi__sgemm_workspace(c->cpu, d.m, d.n, d.k));
    return MI_OK;
}

/* A fused linear layer's epilogue (graph.h): Y = act(Y + bias) row by
 * row, after the product, so the sums round as the unfused Add did; the
 * GELUs through math.c's vectorized rows. */
typedef struct bias_job {
    float *y;
    const float *bias;
    int64_t rows, n;
    int act;
} bias_job;

#define MI__BIAS_ROWS_PER_TASK 16

static void bias_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const bias_job *j = arg;
    int64_t r0 = task * MI__BIAS_ROWS_PER_TASK, r1 = r0 + MI__BIAS_ROWS_PER_TASK;
    if (r1 > j->rows) r1 = j->rows;
    const float *restrict bias = j->bias;
    for (int64_t r = r0; r < r1; r++) {
        float *restrict row = j->y + r * j->n;
        /* One loop per activation: each a plain vector loop. */
        switch (j->act) {
        case MI_ACT_RELU:
            for (int64_t q = 0; q < j->n; q++) row[q] = mi_k_act(row[q] + bias[q], MI_K_ACT_RELU, 0.0f, 0.0f);
            break;
        default:
            for (int64_t q = 0; q < j->n; q++) row[q] += bias[q];
        }
    }
}

static void matmul_bias(mi__cpu *cpu, float *y, const float *bias, int64_t rows, int64_t n, int act) {
    if (act == MI_ACT_GELU || act == MI_ACT_GELU_TANH) {
        /* vecmath.h's GELU: vectorized, where libm's erff and tanhf are not. */
        mi__cpu_bias_gelu_rows(cpu, y, bias, rows, n, act == MI_ACT_GELU ? MI_K_UN_GELU : MI_K_UN_GELU_TANH);
        return;
    }
    bias_job j = {y, bias, rows, n, act};
    int64_t tasks = (rows + MI__BIAS_ROWS_PER_TASK - 1) / MI__BIAS_ROWS_PER_TASK;
    mi__cpu_parallel(cpu, tasks, rows * n, bias_task, &j);
}

mi_status mi__cpu_matmul(mi__cpu_call *c) {
    matmul_dims d;
    matmul_shape(c->g, c->n, &d);
    const mi_tensor *at = mi__cpu_in_t(c, 0), *bt = mi__cpu_in_t(c, 1), *yt = mi__cpu_out_t(c, 0);
    const float *a = c->in[0], *b = c->in[1];
    float *y = c->out[0];
    if (overlaps(y, yt->nbytes, a, at->nbytes) || overlaps(y, yt->nbytes, b, bt->nbytes))
        return mi__cpu_err(c, MI_ERR_PLAN_INVALID, "the output '%s' overlaps an input; MatMul cannot "
                           "run in place", yt->name);
    const float *bias = c->n->ninputs > 2 ? (const float *)c->in[2] : NULL;
    if (c->n->ninputs > 2 && !bias)
        return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the fused bias has no memory (NULL pointer)");
    mi__gemm_epi e;
    mi__gemm_epi_init(&e);
    if (d.fold) {
        if (mi__sgemm(c->cpu, 0, 0, d.m * d.batches, d.n, d.k, a, d.k, b, d.n, y, d.n, &e, c->ws,
                      c->ws_size))
            return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes, too small",
                               c->ws_size);
    } else {
        for (int64_t t = 0; t < d.batches; t++) {
            int64_t ao = mi_k_bcast_offset(&d.bc, 0, t), bo = mi_k_bcast_offset(&d.bc, 1, t);
            if (mi__sgemm(c->cpu, 0, 0, d.m, d.n, d.k, a + ao * d.m * d.k, d.k, b + bo * d.k * d.n, d.n,
                          y + t * d.m * d.n, d.n, &e, c->ws, c->ws_size))
                return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes, too small",
                                   c->ws_size);
        }
    }
    if (bias) matmul_bias(c->cpu, y, bias, d.m * d.batches, d.n, c->n->fused.act);
    return MI_OK;
}
