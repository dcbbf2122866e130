// smm_qk: out[b, n, j] = q[b, n] . k[b, idx[b, n, j]]     q (B, N, d), k (B, M, d), idx int32 (B, N, K).
//
// One group of G lanes per query row (G = 8/16/32, picked by the host from K): the group stages q[b, n]
// in shared memory (accumulation type), then lane t handles keys j = t, t+G, ... : a coalesced read of
// idx[b, n, j], one dot product over the key row (16-byte loads when aligned), a coalesced store.
// An index outside [0, M) yields NaN (never an out-of-bounds read). Contiguous inputs; 64-bit offsets.
// Launch: 1-D grid, blockDim.x a multiple of 32, dynamic shared memory (blockDim.x / G) * d * sizeof(acc).
#pragma once
#include "smm_common.cuh"

template <typename S, bool VEC16>
__device__ void smm_qk_impl(const S* __restrict__ q, const S* __restrict__ k, const int* __restrict__ idx,
                            S* __restrict__ out, i64 rows, int N, int M, int K, int d, int G) {
    typedef typename Acc<S>::type A;
    extern __shared__ unsigned char smem_raw[];
    A* smem = reinterpret_cast<A*>(smem_raw);
    const int groups = blockDim.x / G;
    const int g = threadIdx.x / G, lane = threadIdx.x % G;
    const unsigned mask = group_mask(G);
    A* sq = smem + (i64)g * d;
    for (i64 row = (i64)blockIdx.x * groups + g; row < rows; row += (i64)gridDim.x * groups) {
        const S* qrow = q + row * d;
        for (int e = lane; e < d; e += G) sq[e] = to_acc(ldg(qrow + e));
        __syncwarp(mask);
        const S* kb = k + (row / N) * (i64)M * d;
        const int* irow = idx + row * K;
        S* orow = out + row * K;
        for (int j = lane; j < K; j += G) {
            const int m = ldg(irow + j);
            A acc = quiet_nan<A>();
            if (m >= 0 && m < M) acc = dot_row<S, VEC16>(sq, kb + (i64)m * d, d);
            orow[j] = from_acc<S>(acc);
        }
        __syncwarp(mask);
    }
}

#define SMM_QK(NAME, S, VEC16)                                                                           \
    extern "C" __global__ void NAME(const S* q, const S* k, const int* idx, S* out, i64 rows, int N,     \
                                    int M, int K, int d, int G) {                                         \
        smm_qk_impl<S, VEC16>(q, k, idx, out, rows, N, M, K, d, G);                                     \
    }
