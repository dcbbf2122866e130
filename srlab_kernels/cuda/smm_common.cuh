// Shared helpers of the srlab sparse-attention kernels (the op templates smm_qk.cuh, smm_av.cuh and
// smm_scatter.cuh, instantiated per dtype by smm_fp32_fp64.cu, smm_fp16.cu and smm_bf16.cu).
//
// Header-free on purpose: no CUDA header, so every file compiles with plain `nvcc -ptx FILE` and with NVRTC
// given no include path, whatever CuPy wheel (cuda12x/13x) or CUDA toolkit is installed. Nothing here needs
// more than sm_70; the 16-bit types and conversions live in smm_half.cuh.
//
// Conventions: rows of a batch are flattened (row = b*N + n); every offset is 64-bit (long long);
// 1-D grids with grid-stride loops (no grid.y/z limits); a "group" of G lanes (G in {8, 16, 32}, a
// divisor of 32) works on one row; shuffles and syncs use the group's own lane mask.
#pragma once

typedef long long i64;

// Acc<S>::type is the accumulation type: float for fp32/fp16/bf16, double for fp64.
template <typename S> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ double to_acc(double x) { return x; }
template <typename S> __device__ __forceinline__ S from_acc(typename Acc<S>::type x);
template <> __device__ __forceinline__ float from_acc<float>(float x) { return x; }
template <> __device__ __forceinline__ double from_acc<double>(double x) { return x; }

template <typename A> __device__ __forceinline__ A quiet_nan();
template <> __device__ __forceinline__ float quiet_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double quiet_nan<double>() { return __longlong_as_double(0x7ff8000000000000LL); }

// Read-only load through the non-coherent cache.
template <typename S> __device__ __forceinline__ S ldg(const S* p) { return *p; }
template <> __device__ __forceinline__ float ldg<float>(const float* p) { return __ldg(p); }
template <> __device__ __forceinline__ double ldg<double>(const double* p) { return __ldg(p); }
template <> __device__ __forceinline__ int ldg<int>(const int* p) { return __ldg(p); }
template <> __device__ __forceinline__ i64 ldg<i64>(const i64* p) { return __ldg(p); }

// The lanes of this thread's group: G consecutive lanes starting at a multiple of G.
__device__ __forceinline__ unsigned group_mask(int G) {
    const unsigned ones = (G == 32) ? 0xffffffffu : ((1u << G) - 1u);
    return ones << ((threadIdx.x & 31) & ~(G - 1));
}

// Dot product of a d-vector held in shared memory (accumulation type) with row p (storage type),
// 16-byte vector loads when VEC16 (the caller guarantees 16-byte alignment of every row).
template <typename S, bool VEC16>
__device__ __forceinline__ typename Acc<S>::type dot_row(const typename Acc<S>::type* s, const S* p, int d) {
    typedef typename Acc<S>::type A;
    A acc = 0;
    if (VEC16) {
        const int per = 16 / (int)sizeof(S);
        const uint4* pv = reinterpret_cast<const uint4*>(p);
        for (int e0 = 0; e0 < d; e0 += per) {
            const uint4 raw = __ldg(pv + e0 / per);
            const S* el = reinterpret_cast<const S*>(&raw);
#pragma unroll
            for (int t = 0; t < 16 / (int)sizeof(S); ++t) acc += s[e0 + t] * to_acc(el[t]);
        }
    } else {
        for (int e = 0; e < d; ++e) acc += s[e] * to_acc(ldg(p + e));
    }
    return acc;
}
