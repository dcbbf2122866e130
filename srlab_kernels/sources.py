"""The CUDA sources in ``srlab_kernels/cuda`` and their compilation to PTX (no GPU needed).

Each ``.cu`` file (one module per dtype family: ``smm_fp32_fp64``, ``smm_fp16``, ``smm_bf16``) includes the
op templates ``smm_qk.cuh``, ``smm_av.cuh``, ``smm_scatter.cuh`` and their helpers. :func:`source_text`
inlines those headers (with ``#line`` directives, so errors keep the original file and line) and gives the
self-contained text that NVRTC compiles, both here and in :mod:`srlab_kernels.cupy_backend` (CuPy's kernel
cache then keys on the whole text). :func:`compile_nvcc` and :func:`compile_nvrtc` turn a source into PTX for an architecture and raise
:class:`KernelCompileError` naming the file and line of the first error; CI runs them for every source.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CUDA_DIR = Path(__file__).parent / "cuda"
NVRTC_OPTIONS = ("-std=c++17",)
"""Options shared by every NVRTC compile (CuPy adds the architecture of the device it compiles for)."""

_INCLUDE = re.compile(r'^#include "([^"]+)"[ \t]*$', re.MULTILINE)
_ERROR = re.compile(
    r"^(?P<file>[^\n(]+)\((?P<line>\d+)\): (?:catastrophic )?error[^:]*: (?P<msg>.*)$", re.MULTILINE
)


class KernelCompileError(RuntimeError):
    """A CUDA source failed to compile; ``file`` and ``line`` locate the first error."""

    def __init__(self, compiler: str, path: Path, log: str) -> None:
        found = _ERROR.search(log)
        self.file = found["file"].strip() if found else str(path)
        self.line = int(found["line"]) if found else None
        where = f"{self.file}:{self.line}" if found else self.file
        first = found["msg"] if found else "(no error line in the log)"
        super().__init__(f"{compiler} failed on {where}: {first}\n{log.strip()}")


def sources() -> list[Path]:
    """Every kernel source (``*.cu``) shipped with srlab_kernels, sorted by name."""
    return sorted(CUDA_DIR.glob("*.cu"))


def source_text(path: Path) -> str:
    """The source with every local ``#include "…"`` inlined between ``#line`` directives: recursively, each
    header once (as its ``#pragma once`` asks), so NVRTC needs no include path."""
    seen: set[Path] = set()

    def expand(file: Path) -> str:
        text = file.read_text()

        def inline(match: re.Match[str]) -> str:
            header = (file.parent / match[1]).resolve()
            if header in seen:
                return ""  # an empty line: the numbering of the rest of the file is unchanged
            seen.add(header)
            body = expand(header).replace("#pragma once", "")
            line = text.count("\n", 0, match.start()) + 2
            return f'#line 1 "{header}"\n{body}\n#line {line} "{file}"'

        return _INCLUDE.sub(inline, text)

    return expand(Path(path))


def nvcc_path() -> str | None:
    """``nvcc`` on PATH, or None."""
    return shutil.which("nvcc")


def compile_nvcc(path: Path, arch: str = "sm_90") -> str:
    """PTX of ``path`` by ``nvcc -ptx -arch=ARCH FILE`` (no other flag: the file must stand alone)."""
    nvcc = nvcc_path()
    if nvcc is None:
        raise FileNotFoundError("nvcc is not on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        ptx = Path(tmp) / "out.ptx"
        done = subprocess.run(
            [nvcc, "-ptx", f"-arch={arch}", str(path), "-o", str(ptx)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise KernelCompileError("nvcc", Path(path), done.stdout + done.stderr)
        return ptx.read_text()


def nvrtc_problem() -> str | None:
    """Why NVRTC (through ``cupy.cuda.nvrtc``) cannot compile here, or None when it can."""
    try:
        from cupy.cuda import nvrtc

        nvrtc.getVersion()
    except Exception as err:  # ImportError, or a missing/broken libnvrtc (several exception types)
        return f"{type(err).__name__}: {err}"
    return None


def compile_nvrtc(path: Path, arch: str = "sm_90") -> str:
    """PTX of :func:`source_text` of ``path`` by NVRTC for ``compute_XX`` of ``arch`` (as CuPy compiles it)."""
    from cupy.cuda import nvrtc

    path = Path(path)
    virtual = arch.replace("sm_", "compute_")
    prog = nvrtc.createProgram(source_text(path), str(path), (), ())
    try:
        try:
            nvrtc.compileProgram(prog, (*NVRTC_OPTIONS, f"--gpu-architecture={virtual}"))
        except nvrtc.NVRTCError as err:
            raise KernelCompileError("NVRTC", path, nvrtc.getProgramLog(prog)) from err
        return nvrtc.getPTX(prog).decode()
    finally:
        nvrtc.destroyProgram(prog)
