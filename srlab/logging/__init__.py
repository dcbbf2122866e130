"""What a job shows and keeps beyond its results: the console, the model summary, W&B extras.

- :mod:`srlab.logging.console`: one console line per message, third-party noise filtered (console only);
- :mod:`srlab.logging.model_summary`: the layer table with srlab's params and MACs (Lightning's is off);
- :mod:`srlab.logging.focus_panels`: attention-focus panels per layer in W&B at validation;
- :mod:`srlab.logging.wandb_run`: the ``logger.wandb.srlab`` switches, run and model artifacts;
- :mod:`srlab.logging.wandb_offline`: read an offline W&B run back (tests, checks before ``wandb sync``).

Nothing here changes a result, so it lives outside the folders whose code the run key fingerprints
(:data:`srlab.results.run_key.RESULT_CODE`).
"""
