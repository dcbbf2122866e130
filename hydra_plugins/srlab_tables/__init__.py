"""srlab's Hydra plugins: :class:`~hydra_plugins.srlab_tables.table_sweeper.TableSweeper`."""
