// Cast between every stored type, element by element with
// mi__k_cast_elem (index_math.h): the CPU backend's rules, tested on the
// host. The types are runtime values: Cast is rare and memory-bound.
#include "k_common.cuh"

namespace {

__global__ void cast_kernel(int from, int to, int fs, int ts, const unsigned char *x,
                            unsigned char *y, int64_t n) {
    MI__K_FOR(i, n) mi__k_cast_elem(from, to, x + i * fs, y + i * ts);
}

int dtype_size(int t) {
    switch (t) {
    case MI__K_DT_UINT8: case MI__K_DT_INT8: case MI__K_DT_BOOL: return 1;
    case MI__K_DT_UINT16: case MI__K_DT_INT16: case MI__K_DT_FLOAT16: return 2;
    case MI__K_DT_FLOAT: case MI__K_DT_INT32: return 4;
    case MI__K_DT_INT64: case MI__K_DT_DOUBLE: return 8;
    default: return 0;
    }
}

}  // namespace

extern "C" cudaError_t mi__k_launch_cast(int from, int to, const void *x, void *y, int64_t n, cudaStream_t s) {
    int fs = dtype_size(from), ts = dtype_size(to);
    if (!fs || !ts) return cudaErrorInvalidValue;
    MI__K_LAUNCH(cast_kernel, n, s, from, to, fs, ts, (const unsigned char *)x, (unsigned char *)y, n);
}
