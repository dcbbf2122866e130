// kernel_table.h: emulated kernels by name, called with arguments checked against their C++ signatures.
//
// The harness generates one translation unit that includes this header, the .cu sources and a table of
// EMU_KERNEL(name) entries; the driver looks kernels up by name. Each launch argument must match the
// parameter it lands in (a buffer of the pointee's element kind and size, an int32 for `int`, an int64 for
// `long long`), as CuPy's packing of numpy scalars and device pointers must on the GPU.
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cuda_emu.h"

namespace emu {

struct Arg {
    char kind;              // 'p' pointer to a buffer, 'i' int32, 'l' int64
    long long value;        // scalars
    void* data;             // pointers: the buffer's first element
    char elem_kind;         // pointers: 'f' floating, 'i' signed integer, 'u' unsigned integer, 's' other
    std::size_t elem_size;  // pointers: bytes per element
    std::string name;       // pointers: the buffer's name
};

struct Config {
    unsigned grid, block;
    std::size_t shared;
    std::uint64_t seed;
};

using Launcher = void (*)(const std::vector<Arg>&, const Config&);
struct Kernel {
    const char* name;
    Launcher launch;
};

extern const std::vector<Kernel> kernels;                                   // from the generated unit
extern const std::vector<std::pair<unsigned char*, std::size_t>> shared_arrays;  // its extern __shared__

template <typename E>
constexpr char elem_kind() {
    if constexpr (std::is_floating_point_v<E>) return 'f';
    if constexpr (std::is_integral_v<E> && std::is_signed_v<E>) return 'i';
    if constexpr (std::is_integral_v<E>) return 'u';
    return 's';
}

template <typename P>
P convert(const Arg& a, std::size_t i, const char* kernel) {
    if constexpr (std::is_pointer_v<P>) {
        using E = std::remove_cv_t<std::remove_pointer_t<P>>;
        if (a.kind != 'p') fail("%s: parameter %zu is a pointer, the launch passes a scalar", kernel, i);
        if (a.elem_kind != elem_kind<E>() || a.elem_size != sizeof(E))
            fail("%s: parameter %zu points to %c%zu elements, the launch passes '%s' of %c%zu", kernel, i,
                 elem_kind<E>(), sizeof(E), a.name.c_str(), a.elem_kind, a.elem_size);
        return static_cast<P>(a.data);
    } else if constexpr (std::is_same_v<P, int>) {
        if (a.kind != 'i')
            fail("%s: parameter %zu is an int, the launch passes kind '%c'", kernel, i, a.kind);
        return static_cast<int>(a.value);
    } else {
        static_assert(std::is_same_v<P, long long>, "kernel parameter type not emulated");
        if (a.kind != 'l')
            fail("%s: parameter %zu is a long long, the launch passes kind '%c'", kernel, i, a.kind);
        return a.value;
    }
}

template <typename... P, std::size_t... I>
void call(void (*f)(P...), const std::vector<Arg>& args, const Config& c, const char* name,
          std::index_sequence<I...>) {
    if (args.size() != sizeof...(P))
        fail("%s takes %zu arguments, the launch passes %zu", name, sizeof...(P), args.size());
    const std::tuple<P...> values{convert<P>(args[I], I, name)...};
    launch(c.grid, c.block, c.shared, c.seed, [&] { std::apply(f, values); });
}

template <typename... P>
void invoke(void (*f)(P...), const std::vector<Arg>& args, const Config& c, const char* name) {
    call(f, args, c, name, std::index_sequence_for<P...>{});
}

}  // namespace emu

#define EMU_KERNEL(NAME)                                                                              \
    emu::Kernel {                                                                                     \
        #NAME, [](const std::vector<emu::Arg>& a, const emu::Config& c) { emu::invoke(&NAME, a, c, #NAME); } \
    }
