// cuda_emu.h: CUDA's execution model on the CPU, enough to run srlab's kernels unmodified under g++.
//
// Included (through kernel_table.h) before the .cu sources; test harness only, never shipped. It emulates:
// - `__global__`/`__device__`/`__forceinline__`/`__shared__` vanish; `extern __shared__ T name[]` binds to a
//   per-launch buffer the harness defines (blocks run one at a time, so one buffer is one block's memory).
// - threadIdx/blockIdx/blockDim/gridDim are globals the scheduler sets. Blocks run one after another in a
//   seeded random order; the threads of a block are fibers (ucontext) on one OS thread, each running until
//   it blocks in __syncthreads/__syncwarp/__shfl_sync or exits; the next runnable fiber is picked at random.
//   A thread that reads shared data before the barrier that publishes it therefore reads the 0xFF poison.
// - Warp collectives complete when every named lane has arrived with the same operation and mask. As on
//   sm_70+, __syncwarp ignores exited lanes; a __shfl_sync whose mask names an exited or missing lane, a
//   source lane outside the mask or a mask without the caller is undefined on the GPU and aborts here.
//   A block in which no fiber can run but some have not exited is a deadlock and aborts with each wait.
// - __ldg and atomicAdd check the address against the buffers the harness registered (bounds, alignment,
//   read-only inputs for __ldg, writable outputs for atomics); atomicAdd is std::atomic_ref::fetch_add.
// - Inline PTX (`asm`) cannot run on a CPU: it compiles to an abort naming the statement. srlab's only PTX
//   (the 16-bit conversions of smm_half.cuh) sits under `#if defined(__CUDA_ARCH__)`, which g++ does not
//   define: the emulator runs their portable round-to-nearest-even code instead.
// Every violation prints "cuda_emu: error ..." with the block and thread and calls std::abort().
#pragma once

#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};
struct alignas(16) uint4 {
    unsigned int x, y, z, w;
};

inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

namespace emu {

constexpr std::size_t kDefaultSharedLimit = 48 * 1024;  // dynamic shared memory without cudaFuncSetAttribute
constexpr std::size_t kStackBytes = 256 * 1024;         // per fiber
constexpr unsigned kMaxBlock = 1024;

enum class Op : unsigned char { running, syncthreads, syncwarp, shfl, exited };

struct Lane {  // one CUDA thread of the running block
    ucontext_t ctx;
    Op op;
    unsigned mask;      // lanes named by the pending warp collective
    int src, width;     // __shfl_sync operands
    std::size_t bytes;  // size of the shuffled value
    std::uint64_t value, result;
};

struct Region {  // a global buffer the harness allocated
    std::string name;
    std::uintptr_t lo, hi;
    bool writable;
};

struct Runtime {
    std::vector<Lane> lanes;
    std::vector<unsigned> ready;  // lanes that can run
    char* stacks = nullptr;
    ucontext_t scheduler;
    unsigned current = 0;
    bool in_kernel = false;
    std::mt19937_64 rng;
    std::function<void()> body;  // the kernel call every thread runs
    std::vector<Region> regions;
    std::vector<std::pair<unsigned char*, std::size_t>> shared;  // extern __shared__ arrays
};
inline Runtime rt;

[[noreturn]] inline void fail(const char* fmt, ...) {
    std::fprintf(stderr, "cuda_emu: error");
    if (rt.in_kernel) std::fprintf(stderr, " in block %u thread %u", blockIdx.x, threadIdx.x);
    std::fprintf(stderr, ": ");
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::fflush(stderr);
    std::abort();
}

[[noreturn]] inline void inline_ptx(const char* text, const char* file, int line) {
    fail("%s:%d: inline PTX cannot run on the CPU emulator: asm(%s)", file, line, text);
}

inline void register_global(const std::string& name, const void* p, std::size_t bytes, bool writable) {
    const auto lo = reinterpret_cast<std::uintptr_t>(p);
    rt.regions.push_back({name, lo, lo + bytes, writable});
}

inline void register_shared(unsigned char* p, std::size_t bytes) { rt.shared.emplace_back(p, bytes); }

// Abort unless [p, p + sizeof(T)) lies in one registered buffer, aligned, readable (or writable).
template <typename T>
void check_global(const T* p, bool write, const char* op) {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    if (a % alignof(T) != 0) fail("%s of %zu bytes at misaligned address %p", op, sizeof(T), (const void*)p);
    const Region* near = nullptr;  // the closest buffer, for the message
    const auto distance = [a](const Region& r) { return a < r.lo ? r.lo - a : a - r.hi; };
    for (const Region& r : rt.regions) {
        if (a >= r.lo && a + sizeof(T) <= r.hi) {
            if (write && !r.writable) fail("%s writes the read-only input '%s'", op, r.name.c_str());
            if (!write && r.writable)
                fail("%s (read-only cache) reads '%s', a buffer the kernel writes", op, r.name.c_str());
            return;
        }
        if (!near || distance(r) < distance(*near)) near = &r;
    }
    if (!near) fail("%s at %p: no global buffer is registered", op, (const void*)p);
    const long long off = (long long)(a - near->lo);
    fail("%s of %zu bytes out of bounds: byte offset %lld of '%s' (%zu bytes)", op, sizeof(T), off,
         near->name.c_str(), (std::size_t)(near->hi - near->lo));
}

inline void resume(unsigned id) {
    rt.current = id;
    threadIdx = {id, 0, 0};
    swapcontext(&rt.scheduler, &rt.lanes[id].ctx);
}

inline void suspend() { swapcontext(&rt.lanes[rt.current].ctx, &rt.scheduler); }

inline void release(unsigned id) {
    rt.lanes[id].op = Op::running;
    if (id != rt.current) rt.ready.push_back(id);
}

// Complete the warp collective lane `id` waits in once every non-exited lane of its mask waits in the same
// one (operation, mask, value size); shuffles read each lane's source slot. True when it completed.
inline bool try_complete_warp(unsigned id) {
    const Lane& me = rt.lanes[id];
    const unsigned base = id & ~31u;
    for (unsigned l = 0; l < 32; ++l) {
        if (!(me.mask >> l & 1u)) continue;
        const Lane& o = rt.lanes[base + l];
        if (o.op == Op::exited) continue;
        if (o.op != me.op || o.mask != me.mask || o.bytes != me.bytes) return false;
    }
    const Op op = me.op;
    const unsigned mask = me.mask;
    for (unsigned l = 0; l < 32; ++l) {
        Lane& o = rt.lanes[base + l];
        if (!(mask >> l & 1u) || o.op == Op::exited) continue;
        if (op == Op::shfl) {
            const unsigned src = (l & ~unsigned(o.width - 1)) | (unsigned(o.src) & unsigned(o.width - 1));
            o.result = rt.lanes[base + src].value;
        }
    }
    for (unsigned l = 0; l < 32; ++l)
        if ((mask >> l & 1u) && rt.lanes[base + l].op == op) release(base + l);
    return true;
}

// Complete __syncthreads once every non-exited thread of the block waits in it. True when it completed.
inline bool try_complete_block() {
    bool waiting = false;
    for (const Lane& l : rt.lanes) {
        if (l.op == Op::exited) continue;
        if (l.op != Op::syncthreads) return false;
        waiting = true;
    }
    if (!waiting) return false;
    for (unsigned i = 0; i < rt.lanes.size(); ++i)
        if (rt.lanes[i].op == Op::syncthreads) release(i);
    return true;
}

// Arrive at a warp collective (shuffle or __syncwarp), wait for the others, return the shuffled value.
inline std::uint64_t warp_op(Op op, const char* name, unsigned mask, std::uint64_t value, int src, int width,
                             std::size_t bytes) {
    const unsigned id = rt.current, lane = id & 31u, base = id - lane;
    if (!(mask >> lane & 1u)) fail("%s: mask 0x%08x does not name the calling lane %u", name, mask, lane);
    for (unsigned l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        if (base + l >= rt.lanes.size())
            fail("%s: mask 0x%08x names lane %u, which does not exist (blockDim.x = %zu)", name, mask, l,
                 rt.lanes.size());
        if (op == Op::shfl && rt.lanes[base + l].op == Op::exited)
            fail("%s: mask 0x%08x names lane %u, which has exited (undefined on the GPU)", name, mask, l);
    }
    if (op == Op::shfl) {
        if (width < 1 || width > 32 || (width & (width - 1)) != 0)
            fail("%s: width %d is not a power of two in [1, 32]", name, width);
        const unsigned from = (lane & ~unsigned(width - 1)) | (unsigned(src) & unsigned(width - 1));
        if (!(mask >> from & 1u))
            fail("%s: lane %u reads lane %u (srcLane %d, width %d), which is not in mask 0x%08x", name, lane,
                 from, src, width, mask);
    }
    Lane& me = rt.lanes[id];
    me.op = op;
    me.mask = mask;
    me.value = value;
    me.src = src;
    me.width = width;
    me.bytes = bytes;
    if (!try_complete_warp(id)) suspend();
    return rt.lanes[id].result;
}

inline void lane_exit() {
    const unsigned id = rt.current, lane = id & 31u, base = id - lane;
    rt.lanes[id].op = Op::exited;
    const unsigned end = std::min<unsigned>(base + 32, rt.lanes.size());
    for (unsigned o = base; o < end; ++o) {
        const Lane& w = rt.lanes[o];
        if (w.op == Op::shfl && (w.mask >> lane & 1u))
            fail("exits while lane %u waits in __shfl_sync with mask 0x%08x, which names it", o - base,
                 w.mask);
    }
    for (unsigned o = base; o < end; ++o)
        if (rt.lanes[o].op == Op::syncwarp && (rt.lanes[o].mask >> lane & 1u)) try_complete_warp(o);
    try_complete_block();
    setcontext(&rt.scheduler);
}

inline void lane_main() {
    rt.body();
    lane_exit();
}

inline const char* op_name(Op op) {
    switch (op) {
        case Op::running: return "runnable";
        case Op::syncthreads: return "__syncthreads";
        case Op::syncwarp: return "__syncwarp";
        case Op::shfl: return "__shfl_sync";
        case Op::exited: return "exited";
    }
    return "?";
}

[[noreturn]] inline void deadlock() {
    std::string what;
    for (unsigned i = 0; i < rt.lanes.size();) {
        unsigned j = i;
        const Lane& a = rt.lanes[i];
        while (j + 1 < rt.lanes.size() && rt.lanes[j + 1].op == a.op && rt.lanes[j + 1].mask == a.mask) ++j;
        char line[160];
        std::snprintf(line, sizeof line, "\n  threads %u-%u: %s%s", i, j, op_name(a.op),
                      a.op == Op::shfl || a.op == Op::syncwarp ? " mask " : "");
        what += line;
        if (a.op == Op::shfl || a.op == Op::syncwarp) {
            std::snprintf(line, sizeof line, "0x%08x", a.mask);
            what += line;
        }
        i = j + 1;
    }
    rt.in_kernel = false;
    fail("deadlock in block %u: no thread can run%s", blockIdx.x, what.c_str());
}

inline void run_block(unsigned threads) {
    rt.lanes.assign(threads, Lane{});
    rt.ready.clear();
    for (unsigned i = 0; i < threads; ++i) {
        Lane& l = rt.lanes[i];
        l.op = Op::running;
        getcontext(&l.ctx);
        l.ctx.uc_stack.ss_sp = rt.stacks + std::size_t(i) * kStackBytes;
        l.ctx.uc_stack.ss_size = kStackBytes;
        l.ctx.uc_link = nullptr;
        makecontext(&l.ctx, lane_main, 0);
        rt.ready.push_back(i);
    }
    while (!rt.ready.empty()) {
        const std::size_t k = rt.rng() % rt.ready.size();
        const unsigned id = rt.ready[k];
        rt.ready[k] = rt.ready.back();
        rt.ready.pop_back();
        resume(id);
    }
    for (const Lane& l : rt.lanes)
        if (l.op != Op::exited) deadlock();
}

// One stack per possible thread, each with a guard page at its low end: an overflow faults at once.
inline void allocate_stacks() {
    const std::size_t bytes = kMaxBlock * kStackBytes;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("cannot map %u fiber stacks", kMaxBlock);
    rt.stacks = static_cast<char*>(p);
    for (unsigned i = 0; i < kMaxBlock; ++i)
        mprotect(rt.stacks + std::size_t(i) * kStackBytes, 4096, PROT_NONE);
}

// Run `body` as a 1-D launch <<<grid, block, shared_bytes>>>, blocks in a random order drawn from `seed`.
inline void launch(unsigned grid, unsigned block, std::size_t shared_bytes, std::uint64_t seed,
                   std::function<void()> body) {
    if (grid < 1 || grid > 0x7fffffffu) fail("grid of %u blocks is outside [1, 2^31 - 1]", grid);
    if (block < 1 || block > kMaxBlock) fail("block of %u threads is outside [1, %u]", block, kMaxBlock);
    if (shared_bytes > kDefaultSharedLimit)
        fail("%zu bytes of dynamic shared memory exceed the %zu a launch gets without opting in",
             shared_bytes, kDefaultSharedLimit);
    for (const auto& [p, n] : rt.shared)
        if (shared_bytes > n)
            fail("%zu bytes of dynamic shared memory, the emulator holds %zu", shared_bytes, n);
    if (!rt.stacks) allocate_stacks();
    rt.rng.seed(seed);
    rt.body = std::move(body);
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    std::vector<unsigned> order(grid);
    for (unsigned b = 0; b < grid; ++b) order[b] = b;
    std::shuffle(order.begin(), order.end(), rt.rng);
    for (unsigned b : order) {
        blockIdx = {b, 0, 0};
        for (const auto& [p, n] : rt.shared) std::memset(p, 0xFF, n);  // poison: NaN as float or double
        rt.in_kernel = true;
        run_block(block);
        rt.in_kernel = false;
        for (const auto& [p, n] : rt.shared)
            for (std::size_t i = shared_bytes; i < n; ++i)
                if (p[i] != 0xFF)
                    fail("block %u wrote byte %zu of dynamic shared memory, past the %zu launched", b, i,
                         shared_bytes);
    }
}

}  // namespace emu

// ---- CUDA device functions used by the sources ----

template <typename T>
T __ldg(const T* p) {
    emu::check_global(p, false, "__ldg");
    return *p;
}

inline float atomicAdd(float* p, float v) {
    emu::check_global(p, true, "atomicAdd");
    return std::atomic_ref<float>(*p).fetch_add(v);
}
inline double atomicAdd(double* p, double v) {
    emu::check_global(p, true, "atomicAdd");
    return std::atomic_ref<double>(*p).fetch_add(v);
}

inline void __syncthreads() {
    emu::rt.lanes[emu::rt.current].op = emu::Op::syncthreads;
    if (!emu::try_complete_block()) emu::suspend();
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
    emu::warp_op(emu::Op::syncwarp, "__syncwarp", mask, 0, 0, 32, 0);
}

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "__shfl_sync moves at most 8 bytes");
    std::uint64_t bits = 0;
    std::memcpy(&bits, &var, sizeof(T));
    bits = emu::warp_op(emu::Op::shfl, "__shfl_sync", mask, bits, src_lane, width, sizeof(T));
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline float __uint_as_float(unsigned int x) { return std::bit_cast<float>(x); }
inline unsigned int __float_as_uint(float x) { return std::bit_cast<unsigned int>(x); }
inline double __longlong_as_double(long long x) { return std::bit_cast<double>(x); }

inline int min(int a, int b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }

#define __global__
#define __device__
#define __host__
#define __shared__
#define __forceinline__ inline
// Defined last: system headers above may use the keyword. g++ accepts a macro named like a keyword.
#define asm(...) ::emu::inline_ptx(#__VA_ARGS__, __FILE__, __LINE__)
