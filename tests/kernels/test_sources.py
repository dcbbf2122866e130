"""The CUDA sources compile to PTX for sm_80 and sm_90 (no GPU needed), and compile errors name file and line."""

import shutil

import pytest

from srlab_kernels import sources

ARCHS = ["sm_80", "sm_90"]
SOURCES = sources.sources()
needs_nvcc = pytest.mark.skipif(sources.nvcc_path() is None, reason="nvcc is not on PATH")
needs_nvrtc = pytest.mark.skipif(
    sources.nvrtc_problem() is not None, reason=f"no NVRTC: {sources.nvrtc_problem()}"
)
BROKEN = '#include "helper.cuh"\nextern "C" __global__ void f(float* x) {\n    x[0] = undefined_name;\n}\n'


def test_the_three_kernel_sources_are_shipped():
    assert [p.name for p in SOURCES] == ["smm_av.cu", "smm_qk.cu", "smm_scatter.cu"]


def test_at_least_one_compiler_is_available():
    assert sources.nvcc_path() is not None or sources.nvrtc_problem() is None


@needs_nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_nvcc_compiles_each_source_standalone(path, arch):
    """``nvcc -ptx -arch=ARCH FILE`` with no other flag (compile_nvcc passes none)."""
    ptx = sources.compile_nvcc(path, arch)
    assert f".target {arch}" in ptx and ".entry" in ptx


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_nvrtc_compiles_each_source_as_cupy_does(path, arch):
    ptx = sources.compile_nvrtc(path, arch)
    assert ".entry smm_" in ptx


def test_inlined_source_needs_no_include_and_keeps_line_numbers():
    for path in SOURCES:
        text = sources.source_text(path)
        include_line = path.read_text().splitlines().index('#include "smm_common.cuh"') + 1
        assert "#include" not in text and "struct bf16" in text
        assert f'#line {include_line + 1} "{path}"' in text


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
