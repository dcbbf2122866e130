// smm_scatter: out[b, m] = sum over (n, j) with idx[b, n, j] = m of w[b, n, j] * x[b, n]
//     w (B, N, K), x (B, N, d), idx int32 (B, N, K) -> out (B, M, d): the key/value gradient of smm_qk/smm_av.
//
// Two kernels, both exact to rounding (fp32 accumulation for fp32/fp16/bf16, fp64 for fp64):
// - fast (smm_scatter_atomic_*): one group of G lanes per query row (b, n); lane t holds the columns
//   e = t + c*G of x[b, n] in registers, the group walks K in chunks of G with (w, idx) broadcast by
//   shuffles, and atomically adds w * x into an accumulation-type buffer `acc` (B, M, d) that the host
//   zeroed. Order of additions varies from run to run.
// - deterministic (smm_scatter_csr_*): no atomics. The host sorts the flat positions p = (b*N + n)*K + j
//   by key row r = b*M + idx (stable, so ties keep ascending p) into `perm`, with `offsets` (B*M + 1) the
//   start of each key's run. One group per key row sums its contributors in that fixed order and writes
//   out[r] once (zero when it has none): bitwise repeatable.
// Indices outside [0, M) are skipped by the atomic kernel (the host maps them to no key row in the CSR).
// Contiguous inputs; 64-bit offsets; 1-D grid, blockDim.x a multiple of 32, no shared memory.
#pragma once
#include "smm_common.cuh"

template <typename S, int C>
__device__ void smm_scatter_atomic_impl(const S* __restrict__ w, const S* __restrict__ x,
                                        const int* __restrict__ idx, typename Acc<S>::type* __restrict__ acc,
                                        i64 rows, int N, int M, int K, int d, int G) {
    typedef typename Acc<S>::type A;
    const int groups = blockDim.x / G;
    const int g = threadIdx.x / G, lane = threadIdx.x % G;
    const unsigned mask = group_mask(G);
    for (i64 row = (i64)blockIdx.x * groups + g; row < rows; row += (i64)gridDim.x * groups) {
        A xr[C];
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const int e = lane + c * G;
            xr[c] = e < d ? to_acc(ldg(x + row * d + e)) : A(0);
        }
        A* ab = acc + (row / N) * (i64)M * d;
        const S* wrow = w + row * K;
        const int* irow = idx + row * K;
        for (int j0 = 0; j0 < K; j0 += G) {
            const int j = j0 + lane;
            const A wj = j < K ? to_acc(ldg(wrow + j)) : A(0);
            const int mj = j < K ? ldg(irow + j) : -1;
            const int count = min(G, K - j0);
#pragma unroll 4
            for (int t = 0; t < count; ++t) {
                const A wt = __shfl_sync(mask, wj, t, G);
                const int m = __shfl_sync(mask, mj, t, G);
                if (m < 0 || m >= M) continue;
                A* arow = ab + (i64)m * d;
#pragma unroll
                for (int c = 0; c < C; ++c) {
                    const int e = lane + c * G;
                    if (e < d) atomicAdd(arow + e, wt * xr[c]);
                }
            }
        }
    }
}

template <typename S, int C>
__device__ void smm_scatter_csr_impl(const S* __restrict__ w, const S* __restrict__ x,
                                     const i64* __restrict__ perm, const i64* __restrict__ offsets,
                                     S* __restrict__ out, i64 keyrows, int K, int d, int G) {
    typedef typename Acc<S>::type A;
    const int groups = blockDim.x / G;
    const int g = threadIdx.x / G, lane = threadIdx.x % G;
    const unsigned mask = group_mask(G);
    for (i64 r = (i64)blockIdx.x * groups + g; r < keyrows; r += (i64)gridDim.x * groups) {
        const i64 begin = ldg(offsets + r), end = ldg(offsets + r + 1);
        A acc[C];
#pragma unroll
        for (int c = 0; c < C; ++c) acc[c] = 0;
        for (i64 p0 = begin; p0 < end; p0 += G) {
            const i64 p = p0 + lane;
            const i64 pos = p < end ? ldg(perm + p) : 0;
            const A wp = p < end ? to_acc(ldg(w + pos)) : A(0);
            const int count = (int)min((i64)G, end - p0);
#pragma unroll 4
            for (int t = 0; t < count; ++t) {
                const A wt = __shfl_sync(mask, wp, t, G);
                const i64 post = __shfl_sync(mask, pos, t, G);
                const S* xrow = x + (post / K) * d;
#pragma unroll
                for (int c = 0; c < C; ++c) {
                    const int e = lane + c * G;
                    if (e < d) acc[c] += wt * to_acc(ldg(xrow + e));
                }
            }
        }
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const int e = lane + c * G;
            if (e < d) out[r * d + e] = from_acc<S>(acc[c]);
        }
    }
}

#define SMM_SCATTER(SUFFIX, S, C)                                                                            \
    extern "C" __global__ void smm_scatter_atomic_##SUFFIX(const S* w, const S* x, const int* idx,           \
                                                           Acc<S>::type* acc, i64 rows, int N, int M, int K, \
                                                           int d, int G) {                                   \
        smm_scatter_atomic_impl<S, C>(w, x, idx, acc, rows, N, M, K, d, G);                                 \
    }                                                                                                        \
    extern "C" __global__ void smm_scatter_csr_##SUFFIX(const S* w, const S* x, const i64* perm,             \
                                                        const i64* offsets, S* out, i64 keyrows, int K,      \
                                                        int d, int G) {                                      \
        smm_scatter_csr_impl<S, C>(w, x, perm, offsets, out, keyrows, K, d, G);                             \
    }
#define SMM_SCATTER_ALL_C(PREFIX, S) \
    SMM_SCATTER(PREFIX##_c1, S, 1) SMM_SCATTER(PREFIX##_c2, S, 2) SMM_SCATTER(PREFIX##_c4, S, 4) SMM_SCATTER(PREFIX##_c8, S, 8)
