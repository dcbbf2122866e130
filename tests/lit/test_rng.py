import torch

from srlab.lit.rng import RNGState


def test_rng_state_round_trip_replays_the_same_draws():
    callback = RNGState()
    torch.manual_seed(3)
    torch.rand(5)
    state = callback.state_dict()
    expected = torch.rand(4)
    torch.manual_seed(99)  # a resumed process starts elsewhere
    callback.load_state_dict(state)
    assert torch.equal(torch.rand(4), expected)
