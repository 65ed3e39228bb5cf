"""The unbiased pass@k estimator of Chen et al. (2021), "Evaluating Large Language Models
Trained on Code", in its numerically stable product form.

With n samples of which c are correct, pass@k = 1 - C(n - c, k) / C(n, k): the chance that k
samples drawn without replacement from the n contain at least one correct one. The binomials
overflow for large n, so it is computed as 1 - prod_{i = n-c+1}^{n} (1 - k / i).
"""

from __future__ import annotations

from collections.abc import Sequence

from azr_agents.errors import AZRConfigError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with `n` samples, `c` of them correct.

    Raises `AZRConfigError` when k > n: the estimator needs at least k samples, and returning 0
    or 1 there (as some harnesses do) silently reports a number that was never measured.
    """
    if not 0 <= c <= n or k < 1:
        raise AZRConfigError(f"pass@k needs 0 <= c <= n and k >= 1 (got n={n}, c={c}, k={k})")
    if k > n:
        raise AZRConfigError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    result = 1.0
    for i in range(n - c + 1, n + 1):
        result *= 1.0 - k / i
    return 1.0 - result


def mean_pass_at_k(scored: Sequence[Sequence[bool]], k: int) -> float | None:
    """pass@k averaged over problems (a fraction in [0, 1]); None when some problem has < k
    samples."""
    if not scored or any(len(row) < k for row in scored):
        return None
    return sum(pass_at_k(len(row), sum(map(bool, row)), k) for row in scored) / len(scored)
