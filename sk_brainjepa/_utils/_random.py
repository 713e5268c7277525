"""One seed source: turn ``random_state`` into independent numpy/torch seeds.

Library code never touches the global numpy or torch RNG. Estimators call
:func:`spawn_seeds` once in ``fit`` and hand a separate integer seed to each
consumer (weights, masks, shuffles, crops), so that changing how many draws one
consumer makes does not shift another's stream.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state


def spawn_seeds(random_state, n: int) -> list[int]:
    """Draw ``n`` independent 63-bit integer seeds from ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        As in scikit-learn. ``None`` draws fresh entropy.
    n : int
        Number of seeds.

    Returns
    -------
    seeds : list of int
    """
    rng = check_random_state(random_state)
    return [
        int(s) for s in rng.randint(0, np.iinfo(np.int64).max, size=n, dtype=np.int64)
    ]


def numpy_generator(random_state) -> np.random.Generator:
    """A ``numpy.random.Generator`` seeded from a scikit-learn ``random_state``."""
    return np.random.default_rng(spawn_seeds(random_state, 1)[0])
