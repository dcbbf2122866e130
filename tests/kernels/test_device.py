"""The device a timing names: the CPU's model and thread count, or the GPU's name."""

import re

import pytest
import torch

from srlab_kernels.device import device_name


def test_cpu_names_its_model_and_threads():
    name = device_name("cpu")
    assert re.fullmatch(rf"cpu: \S.* \({torch.get_num_threads()} threads\)", name), name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_is_named_by_cuda():
    assert device_name("cuda") == torch.cuda.get_device_name(0)
