// Shared helpers of the srlab sparse-attention kernels (smm_qk.cu, smm_av.cu, smm_scatter.cu).
//
// Header-free on purpose: no <cuda_fp16.h>/<cuda_bf16.h>, so every file compiles with plain
// `nvcc -ptx FILE` and with NVRTC given only `-I <this directory>`, whatever CuPy wheel (cuda12x/13x)
// or CUDA toolkit is installed. fp16/bf16 are carried as 16-bit storage structs and converted with the
// same PTX `cvt` instructions the CUDA headers use (round to nearest even). Needs sm_80+ (bf16 cvt).
//
// Conventions: rows of a batch are flattened (row = b*N + n); every offset is 64-bit (long long);
// 1-D grids with grid-stride loops (no grid.y/z limits); a "group" of G lanes (G in {8, 16, 32}, a
// divisor of 32) works on one row; shuffles and syncs use the group's own lane mask.
#pragma once

typedef long long i64;

struct f16 { unsigned short bits; };
struct bf16 { unsigned short bits; };

// Acc<S>::type is the accumulation type: float for fp32/fp16/bf16, double for fp64.
template <typename S> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ double to_acc(double x) { return x; }
__device__ __forceinline__ float to_acc(f16 x) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits));
    return f;
}
__device__ __forceinline__ float to_acc(bf16 x) { return __uint_as_float(((unsigned int)x.bits) << 16); }

template <typename S> __device__ __forceinline__ S from_acc(typename Acc<S>::type x);
template <> __device__ __forceinline__ float from_acc<float>(float x) { return x; }
template <> __device__ __forceinline__ double from_acc<double>(double x) { return x; }
template <> __device__ __forceinline__ f16 from_acc<f16>(float x) {
    f16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(x));
    return h;
}
template <> __device__ __forceinline__ bf16 from_acc<bf16>(float x) {
    bf16 h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h.bits) : "f"(x));
    return h;
}

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
