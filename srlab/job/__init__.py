"""The job driver's helpers (after lightning-hydra-template's ``utils``): each module does one step of a job.

- :mod:`srlab.job.identity`: the job's W&B group, name and persistent run id, its config-group choices.
- :mod:`srlab.job.instantiate`: module, loggers, callbacks and Trainer from the composed config.
- :mod:`srlab.job.summary`: ``summary.json``, built from the finished job and written atomically.

Only :mod:`srlab.train` (the driver ``run.py`` calls) uses them; they may know Hydra.
"""
