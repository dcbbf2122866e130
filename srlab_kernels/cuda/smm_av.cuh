// smm_av: out[b, n] = sum_j a[b, n, j] * v[b, idx[b, n, j]]     a (B, N, K), v (B, M, d), idx int32 (B, N, K).
//
// One group of G lanes per query row (G = 8/16/32, picked by the host from d); lane t owns the columns
// e = t + c*G (c < C, so d <= C*G) and accumulates them in registers. The group walks K in chunks of G:
// each lane reads one (a, idx) pair (coalesced), the pairs are broadcast by shuffles, and every lane
// reads its columns of the selected value row (a coalesced row read per key). The sum runs over j in
// order (deterministic). An index outside [0, M) makes the row NaN. Contiguous inputs; 64-bit offsets.
// Launch: 1-D grid, blockDim.x a multiple of 32, no shared memory.
#pragma once
#include "smm_common.cuh"

template <typename S, int C>
__device__ void smm_av_impl(const S* __restrict__ a, const S* __restrict__ v, const int* __restrict__ idx,
                            S* __restrict__ out, i64 rows, int N, int M, int K, int d, int G) {
    typedef typename Acc<S>::type A;
    const int groups = blockDim.x / G;
    const int g = threadIdx.x / G, lane = threadIdx.x % G;
    const unsigned mask = group_mask(G);
    for (i64 row = (i64)blockIdx.x * groups + g; row < rows; row += (i64)gridDim.x * groups) {
        const S* vb = v + (row / N) * (i64)M * d;
        const S* arow = a + row * K;
        const int* irow = idx + row * K;
        A acc[C];
#pragma unroll
        for (int c = 0; c < C; ++c) acc[c] = 0;
        bool bad = false;
        for (int j0 = 0; j0 < K; j0 += G) {
            const int j = j0 + lane;
            const A aj = j < K ? to_acc(ldg(arow + j)) : A(0);
            const int mj = j < K ? ldg(irow + j) : 0;
            const int count = min(G, K - j0);
#pragma unroll 4
            for (int t = 0; t < count; ++t) {
                const A w = __shfl_sync(mask, aj, t, G);
                const int m = __shfl_sync(mask, mj, t, G);
                if (m < 0 || m >= M) {
                    bad = true;
                    continue;
                }
                const S* vrow = vb + (i64)m * d;
#pragma unroll
                for (int c = 0; c < C; ++c) {
                    const int e = lane + c * G;
                    if (e < d) acc[c] += w * to_acc(ldg(vrow + e));
                }
            }
        }
        S* orow = out + row * d;
#pragma unroll
        for (int c = 0; c < C; ++c) {
            const int e = lane + c * G;
            if (e < d) orow[e] = from_acc<S>(bad ? quiet_nan<A>() : acc[c]);
        }
    }
}

#define SMM_AV(NAME, S, C)                                                                               \
    extern "C" __global__ void NAME(const S* a, const S* v, const int* idx, S* out, i64 rows, int N,     \
                                    int M, int K, int d, int G) {                                         \
        smm_av_impl<S, C>(a, v, idx, out, rows, N, M, K, d, G);                                         \
    }
#define SMM_AV_ALL_C(PREFIX, S) \
    SMM_AV(PREFIX##_c1, S, 1) SMM_AV(PREFIX##_c2, S, 2) SMM_AV(PREFIX##_c4, S, 4) SMM_AV(PREFIX##_c8, S, 8)
