"""What the benchmarks share: timing a call as the fastest of several after a warm-up.

The fastest run, not the mean, because these machines are shared and noisy: other work only
ever adds time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def fastest(fn: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs)
