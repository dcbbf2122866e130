// driver.cpp: runs one emulated kernel launch described by a spec file (written by harness.py).
//
//   kernel NAME
//   launch GRID BLOCK SHARED_BYTES SEED
//   buffer NAME KIND SIZE COUNT OFFSET in|out PATH    (KIND f/i/u/s, SIZE bytes per element)
//   arg p BUFFER | arg i INT32 | arg l INT64            (in parameter order)
//
// Buffers are read from their files into allocations whose data starts OFFSET bytes past a 256-byte
// boundary, between 256-byte red zones. After the launch the red zones must be intact and `in` buffers
// unchanged; `out` buffers are written back to their files. Any violation aborts with a message.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kernel_table.h"

namespace {

constexpr std::size_t kRed = 256;

struct Buffer {
    std::string name, path;
    char kind = 'f';
    std::size_t size = 0, count = 0, offset = 0;
    bool out = false;
    unsigned char* raw = nullptr;
    unsigned char* data = nullptr;
    std::vector<unsigned char> before;  // the contents at launch
    std::size_t bytes() const { return size * count; }
    std::size_t total() const { return kRed + offset + bytes() + kRed; }
};

void load(Buffer& b) {
    b.raw = static_cast<unsigned char*>(std::aligned_alloc(kRed, (b.total() + kRed - 1) / kRed * kRed));
    std::memset(b.raw, 0xFF, b.total());
    b.data = b.raw + kRed + b.offset;
    std::ifstream in(b.path, std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(b.data), static_cast<std::streamsize>(b.bytes())))
        emu::fail("cannot read %zu bytes of buffer '%s' from %s", b.bytes(), b.name.c_str(), b.path.c_str());
    b.before.assign(b.data, b.data + b.bytes());
}

void check_and_store(const Buffer& b) {
    for (std::size_t i = 0; i < b.total(); ++i) {
        const bool red = i < kRed + b.offset || i >= kRed + b.offset + b.bytes();
        if (red && b.raw[i] != 0xFF)
            emu::fail("the kernel wrote outside buffer '%s' (byte %lld relative to its start)",
                      b.name.c_str(), (long long)i - (long long)(kRed + b.offset));
    }
    if (!b.out) {
        if (std::memcmp(b.before.data(), b.data, b.bytes()) != 0)
            emu::fail("the kernel modified its input buffer '%s'", b.name.c_str());
        return;
    }
    std::ofstream out(b.path, std::ios::binary | std::ios::trunc);
    if (!out.write(reinterpret_cast<const char*>(b.data), static_cast<std::streamsize>(b.bytes())))
        emu::fail("cannot write buffer '%s' to %s", b.name.c_str(), b.path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) emu::fail("usage: %s SPEC", argv[0]);
    std::ifstream spec(argv[1]);
    if (!spec) emu::fail("cannot open spec %s", argv[1]);
    std::string kernel, line;
    emu::Config config{0, 0, 0, 0};
    std::vector<Buffer> buffers;
    std::vector<std::string> arg_lines;
    buffers.reserve(64);
    while (std::getline(spec, line)) {
        std::istringstream words(line);
        std::string key;
        words >> key;
        if (key == "kernel") {
            words >> kernel;
        } else if (key == "launch") {
            words >> config.grid >> config.block >> config.shared >> config.seed;
        } else if (key == "buffer") {
            Buffer b;
            std::string mode;
            words >> b.name >> b.kind >> b.size >> b.count >> b.offset >> mode >> b.path;
            b.out = mode == "out";
            buffers.push_back(b);
        } else if (key == "arg") {
            arg_lines.push_back(line);
        } else if (!key.empty()) {
            emu::fail("spec %s: unknown line '%s'", argv[1], line.c_str());
        }
    }
    for (Buffer& b : buffers) {
        load(b);
        emu::register_global(b.name, b.data, b.bytes(), b.out);
    }
    std::vector<emu::Arg> args;
    for (const std::string& l : arg_lines) {
        std::istringstream words(l.substr(4));
        emu::Arg a{0, 0, nullptr, 0, 0, ""};
        std::string what;
        words >> a.kind >> what;
        if (a.kind == 'p') {
            const Buffer* found = nullptr;
            for (const Buffer& b : buffers)
                if (b.name == what) found = &b;
            if (!found) emu::fail("spec %s: argument names no buffer: '%s'", argv[1], l.c_str());
            a.data = found->data;
            a.elem_kind = found->kind;
            a.elem_size = found->size;
            a.name = found->name;
        } else {
            a.value = std::stoll(what);
        }
        args.push_back(a);
    }
    for (const auto& [p, n] : emu::shared_arrays) emu::register_shared(p, n);
    for (const emu::Kernel& k : emu::kernels) {
        if (kernel != k.name) continue;
        k.launch(args, config);
        for (const Buffer& b : buffers) check_and_store(b);
        return 0;
    }
    emu::fail("no kernel named '%s' in the emulated sources", kernel.c_str());
}
