"""``srlab lam``: the picture and DI for run dirs and the released PlainUSR weights; errors name what is wrong."""

import re
import time
from pathlib import Path

import pytest
import torch

from srlab.cli import main
from srlab.config.compose import compose_config, model_spec
from srlab.nets import build_net
from srlab.results import RunSummary, write_summary

WEIGHTS = (Path(__file__).resolve().parents[2] / "../shared/weights/plainusr").resolve()
needs_weights = pytest.mark.skipif(
    not WEIGHTS.is_dir(), reason=f"official PlainUSR weights not found at {WEIGHTS} (the shared/ folder)"
)
SMALL = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 2, "window_size": 4,
         "upsampler": "pixelshuffledirect"}  # fmt: skip


def run_dir(folder: Path, spec: dict, seed: int = 0) -> Path:
    """A finished-run folder as srlab writes it: summary.json (with the model spec) and net_ema.pth."""
    folder.mkdir(parents=True)
    torch.manual_seed(seed)
    net = build_net(spec)
    write_summary(folder / "summary.json", RunSummary(str(folder), "train", {}, {}, spec, 0, 0, metrics={}))
    torch.save({"params_ema": net.state_dict()}, folder / "net_ema.pth")
    return folder


def dis(out: str) -> list[float]:
    return [float(v) for v in re.findall(r"^DI +([\d.]+) ", out, flags=re.M)]


def test_two_runs_side_by_side(tmp_path, capsys):
    a, b = run_dir(tmp_path / "a", SMALL, 0), run_dir(tmp_path / "b", SMALL, 1)
    out = tmp_path / "fig" / "lam.png"
    args = ["lam", "-w", str(a), "-w", str(b), "chelsea", "--box", "104,176", "--fold", "3", "--crop", "24"]
    assert main([*args, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert len(dis(printed)) == 2 and all(0 < d <= 100 for d in dis(printed))
    assert out.is_file() and out.stat().st_size > 10_000 and f"wrote {out}" in printed
    from srlab.analysis.cli import _label

    assert _label(str(a)) == str(a)  # a run dir without choices: its path
    write_summary(a / "summary.json", RunSummary(str(a), "train", {"attn": "pfa"}, {"window": 8, "seed": 2}, SMALL,
                                                 0, 0, metrics={}))  # fmt: skip
    assert _label(str(a)) == f"pfa · window 8 · seed 2 ({a})" and _label("x/net.pth") == "net.pth"


def test_errors_name_the_box_the_image_and_the_weights(tmp_path, capsys):
    a = run_dir(tmp_path / "a", SMALL)
    assert main(["lam", "-w", str(a), "chelsea", "--box", "290,10", "--fold", "2"]) == 2
    err = capsys.readouterr().err
    assert "--box 290,10 with --window 16: outside chelsea (SR 300×450 at ×2)" in err and "H ≤ 283" in err
    assert main(["lam", "-w", str(a), "chelsea", "--box", "1;2"]) == 2
    assert "--box '1;2': expected H,W" in capsys.readouterr().err
    bad = tmp_path / "bad.pth"
    bad.write_text("not a checkpoint")
    assert main(["lam", "-w", str(bad), "chelsea", "--box", "1,2"]) == 2
    assert str(bad) in capsys.readouterr().err
    assert main(["lam", "-w", str(tmp_path / "nope"), "chelsea", "--box", "1,2"]) == 2
    assert f"-w {tmp_path / 'nope'}: weights file not found" in capsys.readouterr().err
    assert main(["lam", "-w", str(a), str(tmp_path / "x.png"), "--box", "1,2"]) == 2
    assert "x.png: no such image file" in capsys.readouterr().err


@needs_weights
def test_released_plainusr_at_the_defaults(tmp_path, capsys):
    out = tmp_path / "lam.png"
    weights = [str(WEIGHTS / "PlainUSRU_Rep_x2.pth"), str(WEIGHTS / "PlainUSRS_Rep_x2.pth")]
    assert (
        main(["lam", "-w", weights[0], "-w", weights[1], "chelsea", "--box", "104,176", "-o", str(out)]) == 0
    )
    values = dis(capsys.readouterr().out)
    assert len(values) == 2 and all(0 < d < 100 for d in values) and out.is_file()


@pytest.mark.slow
def test_tiny_run_at_the_defaults_on_cpu(tmp_path, capsys):
    tiny = run_dir(tmp_path / "tiny", model_spec(compose_config(["model=tiny"])))
    start = time.perf_counter()
    assert main(["lam", "-w", str(tiny), "chelsea", "--box", "104,176", "-o", str(tmp_path / "lam.png")]) == 0
    print(f"srlab lam, tiny at the defaults: {time.perf_counter() - start:.1f} s")
    assert len(dis(capsys.readouterr().out)) == 1
