"""Read back what an offline W&B run holds: logged keys, images with their captions, artifacts and their files.

wandb 0.31 keeps an offline run's history only in ``<run dir>/wandb/offline-run-*/run-<id>.wandb``: protobuf
``Record`` messages in LevelDB-log framing (32 KiB blocks; each chunk a 7-byte header ``crc32, length, type``
with type full/first/middle/last). :func:`read_offline_run` decodes it without the W&B service, so tests and
users can check a run before ``wandb sync``. A convenience reader: ``summary.json`` stays the record of a job.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OfflineArtifact", "OfflineRun", "find_offline_runs", "read_offline_run"]

_FILE_HEADER = 7  # b":W&B" + magic (2 bytes) + version (1 byte)
_BLOCK = 32768
_CHUNK_HEADER = struct.Struct("<IHB")  # crc32, length, type
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass(frozen=True)
class OfflineArtifact:
    """An artifact logged by the run: ``files`` maps each path inside the artifact to its staged local copy."""

    name: str
    type: str
    files: dict[str, str]


@dataclass
class OfflineRun:
    """What :func:`read_offline_run` found: every logged value per history key (flattened ``a/b/c`` keys, JSON
    decoded, in logging order), the run's group and job type, the config, the final summary and the artifacts."""

    path: Path
    group: str = ""
    job_type: str = ""
    history: dict[str, list[Any]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[OfflineArtifact] = field(default_factory=list)

    def media_keys(self, kind: str) -> list[str]:
        """The logged keys whose values are W&B media of ``kind`` (``images``, ``table``, …), in first-logged order."""
        return [
            key[: -len("/_type")]
            for key, values in self.history.items()
            if key.endswith("/_type") and any(str(v).startswith(kind) for v in values)
        ]

    def images(self) -> dict[str, list[list[str]]]:
        """Image keys → the captions of every logging of that key (one list per log call)."""
        return {key: self.history.get(f"{key}/captions", []) for key in self.media_keys("images")}

    def artifact(self, name_prefix: str) -> OfflineArtifact:
        """The first artifact whose name starts with ``name_prefix``; KeyError listing the names when none does."""
        for art in self.artifacts:
            if art.name.startswith(name_prefix):
                return art
        raise KeyError(
            f"no artifact named {name_prefix}* in {self.path}; logged: {[a.name for a in self.artifacts]}"
        )


def _records(data: bytes) -> list[bytes]:
    """The payloads of a LevelDB-log file (after the W&B file header)."""
    records, pending, pos = [], b"", _FILE_HEADER
    while pos + _CHUNK_HEADER.size <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK_HEADER.size:  # block trailer: zero padding
            pos += left
            continue
        _, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        if kind == 0 and length == 0:  # zero-filled rest of a block
            pos += left
            continue
        start = pos + _CHUNK_HEADER.size
        pending += data[start : start + length]
        pos = start + length
        if kind in (_FULL, _LAST):
            records.append(pending)
            pending = b""
    return records


def _item_key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(run_dir: str | Path) -> OfflineRun:
    """Decode ``run_dir`` (an ``offline-run-*`` folder, or a job dir holding exactly one under ``wandb/``)."""
    from wandb.proto import wandb_internal_pb2 as pb

    folder = Path(run_dir)
    if not folder.name.startswith("offline-run-"):
        runs = find_offline_runs(folder)
        if len(runs) != 1:
            raise FileNotFoundError(f"{folder}: expected one wandb/offline-run-* folder, found {len(runs)}")
        folder = runs[0]
    files = sorted(folder.glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"{folder}: no run-<id>.wandb file")
    run = OfflineRun(path=folder)
    for payload in _records(files[0].read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            for item in record.history.item:
                run.history.setdefault(_item_key(item), []).append(json.loads(item.value_json))
        elif kind == "summary":
            run.summary.update({_item_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind in ("config", "run"):
            if kind == "run":
                run.group, run.job_type = record.run.run_group, record.run.job_type
            config = record.config if kind == "config" else record.run.config
            run.config.update({_item_key(i): json.loads(i.value_json) for i in config.update})
        elif kind == "artifact":
            art = record.artifact
            run.artifacts.append(
                OfflineArtifact(art.name, art.type, {e.path: e.local_path for e in art.manifest.contents})
            )
    return run


def find_offline_runs(job_dir: str | Path) -> list[Path]:
    """The ``offline-run-*`` folders of a job dir (``<job dir>/wandb/``), oldest first."""
    return sorted((Path(job_dir) / "wandb").glob("offline-run-*"))
