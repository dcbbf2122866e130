import errno
import os
import tempfile

import pytest
import torch

from srlab.lit.checkpoint_io import AtomicCheckpointIO, atomic_torch_save


def test_atomic_save_roundtrip(tmp_path):
    path = tmp_path / "sub" / "a.ckpt"
    AtomicCheckpointIO().save_checkpoint({"x": torch.arange(3)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.arange(3))
    assert [p.name for p in path.parent.iterdir()] == ["a.ckpt"]


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"v": 1}, path)

    def broken(obj, f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match=f"cannot write checkpoint {path}: No space left on device"):
        atomic_torch_save({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt"]


def test_unwritable_dir_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(OSError, match=f"cannot write checkpoint {blocker / 'x.ckpt'}"):
        atomic_torch_save({}, blocker / "x.ckpt")


def test_full_disk_at_fsync_keeps_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"v": 1}, path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=f"cannot write checkpoint {path}: No space left on device") as info:
        AtomicCheckpointIO().save_checkpoint({"v": 2}, path)
    assert info.value.__cause__.errno == errno.ENOSPC
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt"]


def test_unwritable_checkpoint_dir_is_named_and_previous_kept(tmp_path, monkeypatch):
    """A read-only dir (simulated: tests may run as root, which ignores permissions)."""
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"v": 1}, path)

    def denied(**kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OSError, match=f"cannot write checkpoint {path}: Permission denied"):
        AtomicCheckpointIO().save_checkpoint({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"v": 1}
