"""`azr bench`: the estimator bandit (`bandit.py`) and the runner of `benchmarks/` scripts."""
