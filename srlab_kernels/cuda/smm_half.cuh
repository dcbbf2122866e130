// 16-bit storage types of the srlab kernels and their conversions to and from the fp32 accumulator.
//
// fp16/bf16 travel as 16-bit storage structs (no <cuda_fp16.h>/<cuda_bf16.h>: see smm_common.cuh). Widening
// is exact; narrowing rounds to nearest even. On the GPU the conversions are the PTX `cvt` instructions the
// CUDA headers use, except bf16 narrowing below sm_80 (no `cvt.rn.bf16.f32` there), which takes the portable
// code below. Off the GPU (no __CUDA_ARCH__: the CPU emulator in tests/kernels/emulator) every conversion
// takes the portable code: plain integer arithmetic, bit-exact round-to-nearest-even, NaN stays NaN.
#pragma once
#include "smm_common.cuh"

struct f16 { unsigned short bits; };
struct bf16 { unsigned short bits; };

// IEEE binary16 bits -> float, exactly (subnormals, signed zeros, infinities and NaN payloads kept).
__device__ __forceinline__ float half_bits_to_float(unsigned short h) {
    const unsigned sign = (unsigned)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (man << 13));
    if (exp != 0u) return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
    return __uint_as_float(sign | __float_as_uint((float)man * 5.9604644775390625e-8f));  // man * 2^-24
}

// float -> IEEE binary16 bits, round to nearest even (overflow to infinity, underflow through subnormals).
__device__ __forceinline__ unsigned short float_to_half_bits(float f) {
    const unsigned x = __float_as_uint(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (unsigned short)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // quiet NaN
    if (ax >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);  // >= 65520 rounds to infinity
    if (ax >= 0x38800000u)  // a normal half (>= 2^-14): rebias the exponent, round away 13 mantissa bits
        return (unsigned short)(sign | ((ax + 0xfffu + ((ax >> 13) & 1u) - 0x38000000u) >> 13));
    const unsigned e = ax >> 23;
    if (e < 102u) return (unsigned short)sign;  // below 2^-25: rounds to zero (ties to even included)
    // A subnormal half counts units of 2^-24: round (1.m * 2^(e-127)) / 2^-24 to an integer; 1024 units is
    // the smallest normal, whose bits are the same integer.
    const unsigned m = (ax & 0x7fffffu) | 0x800000u, shift = 126u - e;  // 14..24
    const unsigned n = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    return (unsigned short)(sign | (n + ((rem > half || (rem == half && (n & 1u))) ? 1u : 0u)));
}

// float -> bfloat16 bits, round to nearest even (overflow to infinity, NaN stays a quiet NaN).
__device__ __forceinline__ unsigned short float_to_bfloat16_bits(float f) {
    const unsigned x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((x >> 16) | 0x40u);
    return (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float to_acc(f16 x) {
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits));
    return f;
#else
    return half_bits_to_float(x.bits);
#endif
}
__device__ __forceinline__ float to_acc(bf16 x) { return __uint_as_float(((unsigned int)x.bits) << 16); }

template <> __device__ __forceinline__ f16 from_acc<f16>(float x) {
    f16 h;
#if defined(__CUDA_ARCH__)
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(x));
#else
    h.bits = float_to_half_bits(x);
#endif
    return h;
}
template <> __device__ __forceinline__ bf16 from_acc<bf16>(float x) {
    bf16 h;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h.bits) : "f"(x));
#else
    h.bits = float_to_bfloat16_bits(x);
#endif
    return h;
}
