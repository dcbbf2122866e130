"""A console with one line per message, without third-party noise srlab cannot fix; the run's log file keeps all.

Hydra's job logging writes each message once to the console and once to ``<run dir>/<task>.log``.
:func:`tidy_console` (``run.py``, first thing in a job) removes the second console handler that
``import lightning`` adds to its ``lightning`` logger, which printed every Lightning line twice, and routes
Python warnings through logging so they reach the log file too. :class:`ConsoleNoise`, a filter on the
console handler only (``conf/hydra/default.yaml``), drops the messages listed in :data:`NOISE`.
"""

from __future__ import annotations

import logging
import re

__all__ = ["NOISE", "ConsoleNoise", "tidy_console"]

# (logger name prefix, message pattern): dropped from the console only. Each names a message of a library
# that srlab cannot change; docs/console.md lists them.
NOISE: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Lightning advertises its cloud products when no LitLogger / LitModelCheckpoint is used.
    ("lightning.pytorch", re.compile(r"^💡 Tip: ")),
    # Lightning 2.6 calls a torch.utils._pytree API that torch 2.13 deprecates (Lightning's to fix).
    ("py.warnings", re.compile(r"`isinstance\(treespec, LeafSpec\)` is deprecated")),
    # Optuna imports alembic, which logs each of its plugins at INFO when a sweep starts.
    ("alembic.runtime.plugins", re.compile(r"^setup plugin ")),
)


class ConsoleNoise(logging.Filter):
    """A handler filter that drops the records of :data:`NOISE` (use it on the console handler only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(record.name.startswith(name) and rx.search(message) for name, rx in NOISE)


def tidy_console() -> None:
    """Remove Lightning's own stderr handler (its records still reach Hydra's handlers through the root logger)
    and send Python warnings through the ``py.warnings`` logger (console less :data:`NOISE`, and the log file)."""
    import lightning  # noqa: F401  (importing it adds the handler)

    logger = logging.getLogger("lightning")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    logging.captureWarnings(True)
