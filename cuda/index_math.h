/* Index arithmetic of the CUDA backend's own kernels, shared by the .cu
 * files and the C tests (tests/test_cuda_host.c), so that the part of a
 * kernel that decides which element goes where is tested on the host.
 *
 * Like src/kernels/elementwise.h (whose MI_HD, strided offsets and
 * per-element math this builds on), nothing here may include a library
 * header: nvcc compiles it for the device. The structs are small and
 * trivially copyable, so a kernel gets them by value.
 *
 * Layouts are row-major and packed unless a stride says otherwise; all
 * offsets count elements, not bytes. */
#ifndef MI_CUDA_INDEX_MATH_H
#define MI_CUDA_INDEX_MATH_H

#include "kernels/cast.h"

#include <math.h>
#include <stdint.h>
#include <string.h>


/* ---- strided copies: Transpose, Slice, Concat, Split, broadcasts ----------- */

/* Element i of the iteration space (dims, row-major) is read at
 * src_off + sum(coord_k * sstr[k]) and written at dst_off + sum(coord_k *
 * dstr[k]). Strides may be 0 (a broadcast read) or negative (a Slice with
 * a negative step). */
typedef struct mi__k_copy {
    int ndim;
    int esize;                    /* bytes per element: 1, 2, 4 or 8 */
    int64_t count;                /* product of dims */
    int64_t dims[MI_K_MAX_DIMS];
    int64_t sstr[MI_K_MAX_DIMS];
    int64_t dstr[MI_K_MAX_DIMS];
    int64_t src_off, dst_off;
} mi__k_copy;

MI_HD static inline int64_t mi__k_copy_src(const mi__k_copy *c, int64_t i) {
    return c->src_off + mi_k_strided_offset(c->ndim, c->dims, c->sstr, i);
}
MI_HD static inline int64_t mi__k_copy_dst(const mi__k_copy *c, int64_t i) {
    return c->dst_off + mi_k_strided_offset(c->ndim, c->dims, c->dstr, i);
}

/* ---- Pad ------------------------------------------------------------------------ */

#define MI__K_PAD_CONSTANT 0
#define MI__K_PAD_REFLECT 1
#define MI__K_PAD_EDGE 2

typedef struct mi__k_pad {
    int ndim;
    int mode;                      /* MI__K_PAD_* */
    int esize;
    int64_t count;                 /* output elements */
    int64_t odims[MI_K_MAX_DIMS];
    int64_t idims[MI_K_MAX_DIMS];
    int64_t begin[MI_K_MAX_DIMS];  /* may be negative (a crop) */
    uint64_t value;                /* the constant's bytes in the element type */
} mi__k_pad;

/* Source index along one axis, or -1 for the constant (as the CPU's
 * pad_src: reflect does not repeat the edge). */
MI_HD static inline int64_t mi__k_pad_axis(int mode, int64_t o, int64_t begin, int64_t d) {
    int64_t s = o - begin;
    if (s >= 0 && s < d) return s;
    if (mode == MI__K_PAD_CONSTANT) return -1;
    if (mode == MI__K_PAD_EDGE) return s < 0 ? 0 : d - 1;
    if (d == 1) return 0;
    int64_t period = 2 * (d - 1);
    s %= period;
    if (s < 0) s += period;
    return s < d ? s : period - s;
}

/* Input element of output element o, or -1 where the constant goes. */
MI_HD static inline int64_t mi__k_pad_src(const mi__k_pad *p, int64_t o) {
    int64_t off = 0, stride = 1;
    for (int k = p->ndim - 1; k >= 0; k--) {
        int64_t c = o % p->odims[k];
        o /= p->odims[k];
        int64_t s = mi__k_pad_axis(p->mode, c, p->begin[k], p->idims[k]);
        if (s < 0) return -1;
        off += s * stride;
        stride *= p->idims[k];
    }
    return off;
}

/* ---- Gather ----------------------------------------------------------------------- */

/* data [outer, axis_dim, inner] -> out [outer, nidx, inner]. */
typedef struct mi__k_gather {
    int64_t outer, axis_dim, nidx, inner, count;
    int esize;
    int idx64; /* indices are int64 (else int32) */
} mi__k_gather;

/* The data element output element o reads, given the index value it uses
 * (negative counts from the end); -1 when the index is out of range (the
 * kernel writes zeros there: a device cannot report the error). */
MI_HD static inline int64_t mi__k_gather_src(const mi__k_gather *g, int64_t o, int64_t index) {
    int64_t in = o % g->inner, rest = o / g->inner, outer = rest / g->nidx;
    if (index < 0) index += g->axis_dim;
    if (index < 0 || index >= g->axis_dim) return -1;
    return (outer * g->axis_dim + index) * g->inner + in;
}

/* Which index output element o uses. */
MI_HD static inline int64_t mi__k_gather_which(const mi__k_gather *g, int64_t o) {
    return (o / g->inner) % g->nidx;
}

/* ---- pooling (the cases cuDNN cannot do: dilation, asymmetric pads, ceil) -- */

typedef struct mi__k_pool {
    int nsp;                     /* spatial dims, 1 to 3 */
    int max;                     /* 1: MaxPool, 0: AveragePool */
    int include_pad;             /* AveragePool count_include_pad */
    int64_t count;               /* output elements */
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
    int64_t channels;            /* channels_last: C, the innermost dim */
    int channels_last;           /* x and y stored [N, spatial..., C] (NHWC) */
} mi__k_pool;

/* Output element o of x (dtype dt: float, float16 or bfloat16), packed
 * [N*C, in...], or [N, in..., C] when channels_last: the max over the
 * window positions inside the input, or the mean with the divisor ONNX
 * gives (positions inside the input, or with count_include_pad inside the
 * padded input [-pb, in + pe)). */
MI_HD static inline float mi__k_pool_at(const mi__k_pool *p, int dt, const void *x, int64_t o) {
    int64_t oc[3] = {0, 0, 0}, lo[3], plo[3], phi[3], isz = 1;
    int64_t cs = p->channels_last ? p->channels : 1; /* the stride of a spatial step */
    int64_t rest = p->channels_last ? o / cs : o;
    for (int k = p->nsp - 1; k >= 0; k--) {
        oc[k] = rest % p->out[k];
        rest /= p->out[k];
        isz *= p->in[k];
    }
    /* NCHW: rest is n * C + c; channels last: rest is n and c = o % C. */
    int64_t xbase = p->channels_last ? rest * isz * cs + o % cs : rest * isz;
    int64_t positions = 1;
    for (int k = 0; k < p->nsp; k++) {
        int64_t start = oc[k] * p->s[k] - p->pb[k];
        lo[k] = start;
        plo[k] = -p->pb[k];
        phi[k] = p->in[k] + p->pe[k] - 1;
        positions *= p->k[k];
    }
    float acc = p->max ? -INFINITY : 0.0f;
    int64_t inside = 0, padded = 0;
    for (int64_t w = 0; w < positions; w++) {
        int64_t wr = w, off = 0, stride = 1, ok = 1, okp = 1;
        for (int k = p->nsp - 1; k >= 0; k--) {
            int64_t j = wr % p->k[k];
            wr /= p->k[k];
            int64_t pos = lo[k] + j * p->d[k];
            if (pos < 0 || pos >= p->in[k]) ok = 0;
            if (pos < plo[k] || pos > phi[k]) okp = 0;
            off += pos * stride;
            stride *= p->in[k];
        }
        padded += okp;
        if (!ok) continue;
        inside++;
        float v = mi_k_ldf(dt, x, xbase + off * cs);
        if (p->max) acc = (v > acc || v != v) ? v : acc;
        else acc += v;
    }
    if (p->max) return acc;
    int64_t div = p->include_pad ? padded : inside;
    return div > 0 ? acc / (float)div : 0.0f;
}

/* ---- ReduceMean, GlobalAveragePool ------------------------------------------------ */

/* Output element o sums the elements at kept(o) + reduced(r) for r in
 * [0, count): kept dims first (their input strides), then reduced dims. */
typedef struct mi__k_reduce {
    int nk, nr;
    int64_t nout, count;
    int64_t kdims[MI_K_MAX_DIMS], kstr[MI_K_MAX_DIMS];
    int64_t rdims[MI_K_MAX_DIMS], rstr[MI_K_MAX_DIMS];
} mi__k_reduce;

MI_HD static inline int64_t mi__k_reduce_base(const mi__k_reduce *r, int64_t o) {
    return r->nk ? mi_k_strided_offset(r->nk, r->kdims, r->kstr, o) : 0;
}
MI_HD static inline int64_t mi__k_reduce_at(const mi__k_reduce *r, int64_t i) {
    return r->nr ? mi_k_strided_offset(r->nr, r->rdims, r->rstr, i) : 0;
}

/* ---- LRN (the cases cuDNN cannot do) ------------------------------------------------ */

/* x [N, C, inner]: y = x / (bias + alpha / size * sum of x^2 over the
 * channel window [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta. */
MI_HD static inline float mi__k_lrn_at(int dt, const void *x, int64_t c_dim, int64_t inner, int64_t o,
                                       int64_t size, float alpha, float beta, float bias) {
    int64_t in = o % inner, c = (o / inner) % c_dim, n = o / (inner * c_dim);
    int64_t lo = c - (size - 1) / 2, hi = c + size / 2;
    if (lo < 0) lo = 0;
    if (hi > c_dim - 1) hi = c_dim - 1;
    float sum = 0.0f;
    for (int64_t j = lo; j <= hi; j++) {
        float v = mi_k_ldf(dt, x, (n * c_dim + j) * inner + in);
        sum += v * v;
    }
    return mi_k_ldf(dt, x, o) / powf(bias + alpha / (float)size * sum, beta);
}

#endif
