import pytest

from srlab.cli import main, parse_size


def test_flops_prints_params_macs_and_per_layer_sparsity(capsys):
    assert main(["flops", "attn=pfa", "input=64x48"]) == 0
    out = capsys.readouterr().out
    assert "input=64x48" in out and "MACs" in out
    assert "similarity MACs" in out and "(0.750 of dense)" in out
    assert out.splitlines()[-1].split() == ["5", "16", "8"]  # the last layer: 16 inherited keys, keeps 8


def test_bad_input_size_and_unknown_command(capsys):
    assert main(["flops", "input=64"]) == 2
    assert "input='64': expected <width>x<height>" in capsys.readouterr().err
    assert main(["bogus"]) == 2
    assert "unknown command 'bogus'" in capsys.readouterr().err
    assert parse_size("640x360") == (360, 640)
    with pytest.raises(ValueError, match="must be positive"):
        parse_size("0x5")
