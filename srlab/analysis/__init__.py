"""Attribution analysis of SR networks: LAM (Local Attribution Maps) and the diffusion index (DI).

``lam(net, lr, h, w)`` attributes one SR output box to the LR pixels; ``lam_probes`` measures the mean DI
over a fixed list of (image, box) probes, as a test run logs it (``docs/analysis.md``).
"""

from srlab.analysis.lam import LAMResult, diffusion_index, gini, lam
from srlab.analysis.probes import DEFAULT_PROBES, Probe, lam_probes, parse_probes

__all__ = [
    "DEFAULT_PROBES",
    "LAMResult",
    "Probe",
    "diffusion_index",
    "gini",
    "lam",
    "lam_probes",
    "parse_probes",
]
