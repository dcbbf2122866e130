"""What a job shows and keeps beyond its metrics: W&B extras (focus panels, artifacts), offline-run reading,
and a console with one line per message (third-party noise filtered, everything still in the run's log file)."""
