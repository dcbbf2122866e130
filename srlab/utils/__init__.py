"""Run bookkeeping: config trees, environment facts (git SHA, package versions), summary files."""
