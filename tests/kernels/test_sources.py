"""The CUDA sources compile to PTX (no GPU needed), and compile errors name file and line.

Each compiler's tests skip with the reason when it is absent (a laptop without a CUDA toolkit or CuPy).
``SRLAB_REQUIRE_KERNEL_COMPILE`` lists the compilers whose tests must run instead (comma-separated, ``nvcc``
and/or ``nvrtc``): ``.ci/run`` sets ``nvcc``, so on CI a missing compiler fails rather than skips.
"""

import os
import re
import shutil

import pytest

from srlab_kernels import sources

ARCHS = ["sm_75", "sm_80", "sm_90"]  # T4 (pre-Ampere: bf16 narrowing in portable code), A100, H100
SOURCES = sources.sources()
REQUIRED = {c.strip() for c in os.environ.get("SRLAB_REQUIRE_KERNEL_COMPILE", "").split(",") if c.strip()}
if REQUIRED - {"nvcc", "nvrtc"}:
    raise ValueError(f"SRLAB_REQUIRE_KERNEL_COMPILE={','.join(sorted(REQUIRED))}: expected nvcc and/or nvrtc")
needs_nvcc = pytest.mark.skipif(
    sources.nvcc_path() is None and "nvcc" not in REQUIRED,
    reason="nvcc is not on PATH (no CUDA toolkit); SRLAB_REQUIRE_KERNEL_COMPILE=nvcc makes this a failure",
)
needs_nvrtc = pytest.mark.skipif(
    sources.nvrtc_problem() is not None and "nvrtc" not in REQUIRED,
    reason=f"no NVRTC ({sources.nvrtc_problem()}); SRLAB_REQUIRE_KERNEL_COMPILE=nvrtc makes this a failure",
)
BROKEN = '#include "helper.cuh"\nextern "C" __global__ void f(float* x) {\n    x[0] = undefined_name;\n}\n'


def test_one_module_per_dtype_family_is_shipped():
    assert [p.name for p in SOURCES] == ["smm_bf16.cu", "smm_fp16.cu", "smm_fp32_fp64.cu"]


def test_fp32_fp64_module_holds_no_16bit_code():
    """A 16-bit problem on some GPU (e.g. bf16 before sm_80) cannot take the fp32/fp64 kernels down with it."""
    text = sources.source_text(sources.CUDA_DIR / "smm_fp32_fp64.cu")
    assert "asm(" not in text and "struct f16" not in text and "struct bf16" not in text


def test_inlined_source_needs_no_include_and_keeps_line_numbers():
    for path in SOURCES:
        text = sources.source_text(path)
        lines = path.read_text().splitlines()
        last_include = max(i for i, line in enumerate(lines) if line.startswith("#include")) + 1
        assert "#include" not in text and "smm_qk_impl" in text
        assert f'#line 1 "{sources.CUDA_DIR.resolve() / "smm_common.cuh"}"' in text
        assert text.count("typedef long long i64;") == 1  # each header once
        assert f'#line {last_include + 1} "{path}"' in text
        after = text.split(f'#line {last_include + 1} "{path}"\n', 1)[1]
        assert after.splitlines()[0] == lines[last_include]  # the line the directive names follows it


@needs_nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_nvcc_compiles_each_source_standalone(path, arch):
    """``nvcc -ptx -arch=ARCH FILE`` with no other flag (compile_nvcc passes none)."""
    ptx = sources.compile_nvcc(path, arch)
    assert f".target {arch}" in ptx and ".entry" in ptx
    uses_bf16_cvt = re.search(r"cvt\.rn\.bf16\.f32", ptx) is not None
    assert uses_bf16_cvt == (path.name == "smm_bf16.cu" and arch != "sm_75")  # sm_80+ instruction only there


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_nvrtc_compiles_each_source_as_cupy_does(path, arch):
    ptx = sources.compile_nvrtc(path, arch)
    assert ".entry smm_" in ptx


def _broken(tmp_path):
    (tmp_path / "helper.cuh").write_text("#pragma once\ntypedef float real;\n")
    path = tmp_path / "broken.cu"
    path.write_text(BROKEN)
    return path


@needs_nvcc
def test_nvcc_error_names_file_and_line(tmp_path):
    path = _broken(tmp_path)
    with pytest.raises(sources.KernelCompileError, match=r"broken\.cu:3: .*undefined_name") as err:
        sources.compile_nvcc(path)
    assert err.value.line == 3


@needs_nvrtc
def test_nvrtc_error_names_file_and_line_through_the_inlined_header(tmp_path):
    path = _broken(tmp_path)
    with pytest.raises(sources.KernelCompileError, match=r"broken\.cu:3: .*undefined_name") as err:
        sources.compile_nvrtc(path)
    assert err.value.file == str(path) and err.value.line == 3


def test_missing_nvcc_is_reported(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="nvcc is not on PATH"):
        sources.compile_nvcc(SOURCES[0])
