// Cast between every stored type, element by element with
// mi_k_cast_elem (src/kernels/cast.h): the CPU backend's rules, tested on the
// host. The types are runtime values: Cast is rare and memory-bound.
#include "k_common.cuh"

namespace {

__global__ void cast_kernel(int from, int to, int fs, int ts, const unsigned char *x,
                            unsigned char *y, int64_t n) {
    MI__K_FOR(i, n) mi_k_cast_elem(from, to, x + i * fs, y + i * ts);
}

}  // namespace

extern "C" cudaError_t mi__k_launch_cast(int from, int to, const void *x, void *y, int64_t n, cudaStream_t s) {
    int fs = mi_k_dt_size(from), ts = mi_k_dt_size(to);
    if (!fs || !ts) return cudaErrorInvalidValue;
    MI__K_LAUNCH(cast_kernel, n, s, from, to, fs, ts, (const unsigned char *)x, (unsigned char *)y, n);
}

extern "C" cudaError_t mi__k_cast_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(cast_kernel, bytes)))
        return e;
    return cudaSuccess;
}
