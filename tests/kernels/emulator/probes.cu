// probes.cu: tiny kernels that check the emulator itself (correct CUDA next to deliberate bugs).
// Compiled into the emulator driver only; never shipped, never compiled for a GPU.
#include "smm_half.cuh"

// out[t] = the lane id that thread t reads through __shfl_sync(full warp, lane id, src, width).
extern "C" __global__ void probe_shfl(int* out, int src, int width) {
    out[threadIdx.x] = __shfl_sync(0xffffffffu, (int)(threadIdx.x & 31), src, width);
}

// Lanes >= `live` return first, then the rest shuffle over the full warp: a mask naming exited lanes.
extern "C" __global__ void probe_shfl_after_exit(int* out, int live) {
    if ((int)(threadIdx.x & 31) >= live) return;
    out[threadIdx.x] = __shfl_sync(0xffffffffu, (int)threadIdx.x, 0);
}

// Each lane publishes its id in shared memory and reads its neighbour's, with or without __syncwarp.
extern "C" __global__ void probe_neighbour(float* out, int sync) {
    extern __shared__ float probe_smem[];
    const unsigned lane = threadIdx.x & 31;
    probe_smem[threadIdx.x] = (float)lane;
    if (sync) __syncwarp();
    out[threadIdx.x] = probe_smem[(threadIdx.x & ~31u) | ((lane + 1) & 31)];
}

// Threads below `live` reverse their ids through shared memory across warps; the others exit first.
extern "C" __global__ void probe_reverse(float* out, int live) {
    extern __shared__ float probe_smem[];
    if ((int)threadIdx.x >= live) return;
    probe_smem[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = probe_smem[live - 1 - (int)threadIdx.x];
}

// out[0] = in[i] through the read-only cache (i past the end is an out-of-bounds read).
extern "C" __global__ void probe_ldg(const float* in, float* out, int i) { out[0] = __ldg(in + i); }

// Lanes 0 and 1 wait in different collectives with the same mask: neither can complete.
extern "C" __global__ void probe_deadlock(int* out) {
    if (threadIdx.x == 0) __syncwarp(0x3u);
    if (threadIdx.x == 1) out[1] = __shfl_sync(0x3u, 1, 0);
}

// The portable 16-bit conversions of smm_half.cuh (what the kernels run off the GPU), element by element.
extern "C" __global__ void probe_narrow(const float* x, unsigned short* half, unsigned short* bfloat, long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        half[i] = from_acc<f16>(__ldg(x + i)).bits;
        bfloat[i] = from_acc<bf16>(__ldg(x + i)).bits;
    }
}
extern "C" __global__ void probe_widen(const unsigned short* bits, float* from_half, float* from_bfloat, long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        from_half[i] = to_acc(f16{__ldg(bits + i)});
        from_bfloat[i] = to_acc(bf16{__ldg(bits + i)});
    }
}

// Inline PTX, which the emulator must refuse loudly rather than skip.
extern "C" __global__ void probe_asm(float* out) {
    float f = 0.0f;
    asm("mov.f32 %0, 1.0;" : "=f"(f));
    out[0] = f;
}
