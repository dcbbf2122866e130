"""Seeded bugs and a sanitizer build: does the CPU emulation suite catch what it claims to catch?

    python tests/kernels/emulator/seeded_bugs.py [--only NAME ...] [--no-ubsan]

Each seeded bug is one textual edit to a copy of ``srlab_kernels/cuda``; the emulation tests
(``tests/kernels/test_emulated.py``) are then run against that copy (``SRLAB_EMU_CUDA_DIR``, see
``harness.py``) and must fail. Two control runs must pass: the unmodified sources, and the unmodified
sources under UndefinedBehaviorSanitizer (``SRLAB_EMU_CXXFLAGS=-fsanitize=undefined
-fno-sanitize-recover=all``: any UB report aborts the launch, so the test fails). Prints one line per run
with the first failing test; exits 1 if a seeded bug went unnoticed or a control run failed. Each run
compiles the emulator once (about 10-20 s on 2 cores) and runs the tests up to the first failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CUDA_DIR = ROOT / "srlab_kernels" / "cuda"
TESTS = ROOT / "tests" / "kernels" / "test_emulated.py"
UBSAN = "-fsanitize=undefined -fno-sanitize-recover=all"

# name: (file, text, replacement, occurrence (1-based) of ``text`` to replace)
BUGS: dict[str, tuple[str, str, str, int]] = {
    "qk-first-syncwarp-removed": ("smm_qk.cuh", "__syncwarp(mask);", ";", 1),
    "qk-second-syncwarp-removed": ("smm_qk.cuh", "__syncwarp(mask);", ";", 2),
    "av-full-warp-mask": ("smm_av.cuh", "const unsigned mask = group_mask(G);", "const unsigned mask = 0xffffffffu;", 1),
    "csr-store-off-by-one": ("smm_scatter.cuh", "out[r * d + e]", "out[r * d + e + 1]", 1),
    "vector-load-past-the-row": ("smm_common.cuh", "for (int e0 = 0; e0 < d; e0 += per)", "for (int e0 = 0; e0 <= d; e0 += per)", 1),
    "atomic-range-check-removed": ("smm_scatter.cuh", "if (m < 0 || m >= M) continue;", ";", 1),
    "bf16-narrowing-truncates": ("smm_half.cuh", "(x + 0x7fffu + ((x >> 16) & 1u)) >> 16", "x >> 16", 1),
    "fp16-subnormal-ties-away": ("smm_half.cuh", "rem > half ||", "rem >= half ||", 1),
}  # fmt: skip


def seed(target: Path, file: str, text: str, replacement: str, occurrence: int) -> None:
    """Replace the ``occurrence``-th ``text`` in ``target/file`` (an error if there are fewer)."""
    path = target / file
    source = path.read_text()
    starts = [m.start() for m in re.finditer(re.escape(text), source)]
    if len(starts) < occurrence:
        raise ValueError(f"{file}: {text!r} occurs {len(starts)} times, cannot edit occurrence {occurrence}")
    at = starts[occurrence - 1]
    path.write_text(source[:at] + replacement + source[at + len(text) :])


def run_tests(cuda_dir: Path, cxxflags: str = "") -> tuple[bool, str]:
    """(passed, first failure or summary) of the emulation tests built from ``cuda_dir``."""
    env = {**os.environ, "SRLAB_EMU_CUDA_DIR": str(cuda_dir), "SRLAB_EMU_CXXFLAGS": cxxflags}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", str(TESTS), "-x", "-q", "-p", "no:cacheprovider", "--tb=line"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return done.returncode == 0, (failed[0] if failed else (lines[-1] if lines else done.stderr.strip()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BUGS), help="run only these seeded bugs")
    parser.add_argument("--no-ubsan", action="store_true", help="skip the sanitizer control run")
    args = parser.parse_args(argv)
    ok = True
    passed, what = run_tests(CUDA_DIR)
    print(f"control   unmodified sources: {'pass' if passed else 'FAIL'} ({what})", flush=True)
    ok &= passed
    if not args.no_ubsan:
        passed, what = run_tests(CUDA_DIR, UBSAN)
        print(f"control   UBSan build: {'pass' if passed else 'FAIL'} ({what})", flush=True)
        ok &= passed
    for name in args.only or BUGS:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "cuda"
            shutil.copytree(CUDA_DIR, copy)
            seed(copy, *BUGS[name])
            passed, what = run_tests(copy)
        print(f"{'caught' if not passed else 'MISSED'}    {name}: {what}", flush=True)
        ok &= not passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
