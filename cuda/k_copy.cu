// Data movement: strided copies (Transpose, Slice, Concat, Split, the
// broadcast of Gemm's C), Pad, Gather, and writing host bytes (Constant,
// Shape, the Dropout mask). Elements move as unsigned integers of their
// size; the host checked that every pointer is aligned to it.
#include "k_common.cuh"

namespace {

__global__ void probe_kernel() {}

template <typename T>
__global__ void copy_kernel(const T *src, T *dst, mi__k_copy c) {
    MI__K_FOR(i, c.count) dst[mi__k_copy_dst(&c, i)] = src[mi__k_copy_src(&c, i)];
}

template <typename T>
__global__ void pad_kernel(const T *src, T *dst, mi__k_pad p) {
    T value;
    memcpy(&value, &p.value, sizeof value);
    MI__K_FOR(o, p.count) {
        int64_t s = mi__k_pad_src(&p, o);
        dst[o] = s < 0 ? value : src[s];
    }
}

template <typename T, typename I>
__global__ void gather_kernel(const T *data, const I *indices, T *dst, mi__k_gather g) {
    MI__K_FOR(o, g.count) {
        int64_t s = mi__k_gather_src(&g, o, (int64_t)indices[mi__k_gather_which(&g, o)]);
        dst[o] = s < 0 ? T(0) : data[s];
    }
}

#define FILL_CHUNK 2048
struct fill_chunk {
    unsigned char b[FILL_CHUNK];
};

__global__ void fill_kernel(unsigned char *dst, fill_chunk c, int64_t n) {
    MI__K_FOR(i, n) dst[i] = c.b[i];
}

template <typename T>
__global__ void splat_kernel(T *dst, T v, int64_t n) {
    MI__K_FOR(i, n) dst[i] = v;
}

// Trilu: the band kept, the rest zero (y may be x).
template <typename T>
__global__ void trilu_kernel(const T *src, T *dst, int64_t rows, int64_t cols, int64_t k, int upper, int64_t n) {
    MI__K_FOR(i, n) {
        int64_t c = i % cols, r = (i / cols) % rows;
        int keep = upper ? c - r >= k : c - r <= k;
        dst[i] = keep ? src[i] : T(0);
    }
}

template <typename T>
cudaError_t trilu_t(const void *src, void *dst, int64_t rows, int64_t cols, int64_t k, int upper, int64_t n,
                    cudaStream_t s) {
    MI__K_LAUNCH(trilu_kernel<T>, n, s, (const T *)src, (T *)dst, rows, cols, k, upper, n);
}

template <typename T>
cudaError_t copy_t(const void *src, void *dst, const mi__k_copy &c, cudaStream_t s) {
    MI__K_LAUNCH(copy_kernel<T>, c.count, s, (const T *)src, (T *)dst, c);
}

template <typename T>
cudaError_t pad_t(const void *src, void *dst, const mi__k_pad &p, cudaStream_t s) {
    MI__K_LAUNCH(pad_kernel<T>, p.count, s, (const T *)src, (T *)dst, p);
}

template <typename T>
cudaError_t gather_t(const void *data, const void *idx, void *dst, const mi__k_gather &g, cudaStream_t s) {
    if (g.idx64)
        MI__K_LAUNCH((gather_kernel<T, int64_t>), g.count, s, (const T *)data, (const int64_t *)idx, (T *)dst, g);
    MI__K_LAUNCH((gather_kernel<T, int32_t>), g.count, s, (const T *)data, (const int32_t *)idx, (T *)dst, g);
}

template <typename T>
cudaError_t splat_t(void *dst, uint64_t value, int64_t n, cudaStream_t s) {
    T v;
    memcpy(&v, &value, sizeof v);
    MI__K_LAUNCH(splat_kernel<T>, n, s, (T *)dst, v, n);
}

}  // namespace

extern "C" cudaError_t mi__k_probe(void) {
    cudaFuncAttributes attr;
    return cudaFuncGetAttributes(&attr, reinterpret_cast<const void *>(probe_kernel));
}

extern "C" cudaError_t mi__k_launch_copy(const void *src, void *dst, mi__k_copy c, cudaStream_t s) {
    switch (c.esize) {
    case 1: return copy_t<uint8_t>(src, dst, c, s);
    case 2: return copy_t<uint16_t>(src, dst, c, s);
    case 4: return copy_t<uint32_t>(src, dst, c, s);
    case 8: return copy_t<uint64_t>(src, dst, c, s);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t mi__k_launch_pad(const void *src, void *dst, mi__k_pad p, cudaStream_t s) {
    switch (p.esize) {
    case 1: return pad_t<uint8_t>(src, dst, p, s);
    case 2: return pad_t<uint16_t>(src, dst, p, s);
    case 4: return pad_t<uint32_t>(src, dst, p, s);
    case 8: return pad_t<uint64_t>(src, dst, p, s);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t mi__k_launch_gather(const void *data, const void *indices, void *dst, mi__k_gather g,
                                           cudaStream_t s) {
    if (g.inner < 1 || g.nidx < 1) return g.count == 0 ? cudaSuccess : cudaErrorInvalidValue;
    switch (g.esize) {
    case 1: return gather_t<uint8_t>(data, indices, dst, g, s);
    case 2: return gather_t<uint16_t>(data, indices, dst, g, s);
    case 4: return gather_t<uint32_t>(data, indices, dst, g, s);
    case 8: return gather_t<uint64_t>(data, indices, dst, g, s);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t mi__k_launch_fill(void *dst, const void *bytes, size_t n, cudaStream_t s) {
    const unsigned char *src = static_cast<const unsigned char *>(bytes);
    unsigned char *d = static_cast<unsigned char *>(dst);
    (void)cudaGetLastError(); /* as MI__K_LAUNCH: not a library's leftover */
    for (size_t at = 0; at < n; at += FILL_CHUNK) {
        size_t len = n - at < FILL_CHUNK ? n - at : FILL_CHUNK;
        fill_chunk c;
        memset(&c, 0, sizeof c);
        memcpy(c.b, src + at, len);
        fill_kernel<<<mi__k_blocks((int64_t)len), MI__K_THREADS, 0, s>>>(d + at, c, (int64_t)len);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

extern "C" cudaError_t mi__k_launch_trilu(const void *src, void *dst, int esize, int64_t rows, int64_t cols, int64_t k,
                                          int upper, int64_t n, cudaStream_t s) {
    if (rows < 1 || cols < 1) return n == 0 ? cudaSuccess : cudaErrorInvalidValue;
    switch (esize) {
    case 1: return trilu_t<uint8_t>(src, dst, rows, cols, k, upper, n, s);
    case 2: return trilu_t<uint16_t>(src, dst, rows, cols, k, upper, n, s);
    case 4: return trilu_t<uint32_t>(src, dst, rows, cols, k, upper, n, s);
    case 8: return trilu_t<uint64_t>(src, dst, rows, cols, k, upper, n, s);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t mi__k_launch_splat(void *dst, uint64_t value, int esize, int64_t n, cudaStream_t s) {
    switch (esize) {
    case 1: return splat_t<uint8_t>(dst, value, n, s);
    case 2: return splat_t<uint16_t>(dst, value, n, s);
    case 4: return splat_t<uint32_t>(dst, value, n, s);
    case 8: return splat_t<uint64_t>(dst, value, n, s);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t mi__k_copy_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(copy_kernel<uint8_t>, bytes)) ||
        (e = mi__k_local_bytes(copy_kernel<uint16_t>, bytes)) ||
        (e = mi__k_local_bytes(copy_kernel<uint32_t>, bytes)) ||
        (e = mi__k_local_bytes(copy_kernel<uint64_t>, bytes)) ||
        (e = mi__k_local_bytes(pad_kernel<uint8_t>, bytes)) ||
        (e = mi__k_local_bytes(pad_kernel<uint16_t>, bytes)) ||
        (e = mi__k_local_bytes(pad_kernel<uint32_t>, bytes)) ||
        (e = mi__k_local_bytes(pad_kernel<uint64_t>, bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint8_t, int32_t>), bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint8_t, int64_t>), bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint16_t, int32_t>), bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint16_t, int64_t>), bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint32_t, int32_t>), bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint32_t, int64_t>), bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint64_t, int32_t>), bytes)) ||
        (e = mi__k_local_bytes((gather_kernel<uint64_t, int64_t>), bytes)) ||
        (e = mi__k_local_bytes(fill_kernel, bytes)) ||
        (e = mi__k_local_bytes(trilu_kernel<uint32_t>, bytes)) ||
        (e = mi__k_local_bytes(splat_kernel<uint8_t>, bytes)) ||
        (e = mi__k_local_bytes(splat_kernel<uint16_t>, bytes)) ||
        (e = mi__k_local_bytes(splat_kernel<uint32_t>, bytes)) ||
        (e = mi__k_local_bytes(splat_kernel<uint64_t>, bytes)))
        return e;
    return cudaSuccess;
}
