"""What a finished job leaves behind, and how to recognise the same job again.

- :mod:`srlab.results.summary`: :class:`RunSummary`, the typed, versioned ``summary.json`` that the job
  writes and every reader (``srlab runs``, ``srlab table``, ``srlab.viz``, the notebooks) reads.
- :mod:`srlab.results.run_key`: :func:`run_key`, the hash of everything that determines a job's result.

No Hydra, Lightning or network code here: plain data (run keys take a composed config node).
"""

from srlab.results.run_key import code_fingerprint, run_key
from srlab.results.summary import SCHEMA_VERSION, RunSummary, find_summaries, read_summary, write_summary

__all__ = [
    "SCHEMA_VERSION",
    "RunSummary",
    "code_fingerprint",
    "find_summaries",
    "read_summary",
    "run_key",
    "write_summary",
]
