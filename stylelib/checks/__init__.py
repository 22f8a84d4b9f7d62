"""Autograder checks for the lessons' exercises: a student's function against the library's.

Each ``check_*`` calls the student's function on fresh seeded inputs of several shapes (one
image and batches, H ≠ W, different channel counts, float64 and float32), compares the result
with the library's own function from :mod:`stylelib.losses` (or a closed form for the
arithmetic exercises) and raises ``AssertionError`` with a one- or two-sentence diagnosis of
*what* is wrong: the shape (and the expected one), a constant factor (named when it is a
known one such as 4·N²·M²), asymmetry, an input modified in place, a broken or wrong
gradient, a batch treated as one image, an exception, or a call too slow to be vectorised.
On success it prints one line, e.g.
``✓ gram_matrix (Gatys): correct on 4 inputs, batched, differentiable, fast``.

The harness (:mod:`.harness`: running the student's function and the drivers; :mod:`.compare`:
comparing values and naming the mistake; :mod:`.guard`: what an answer may not call) is apart
from the checks, which live by lesson: :mod:`.arithmetic` and :mod:`.network` (01),
:mod:`.loss_terms` (00, 02, 04), :mod:`.gradients` (02), :mod:`.closure` and
:mod:`.gatys_loop` (03), :mod:`.transform_net` and :mod:`.training` (04), :mod:`.beyond`
(05), :mod:`.superres` (06), :mod:`.adain` (07), :mod:`.video` (08). Each lists its checks in
``__all__``; this package exports them all.

Every check also runs the answer on a hard input (values beyond [0, 1], a flat patch of
ties) and once on a simulated GPU (:mod:`.device`; ``meta`` where that cannot be made), refuses
answers that change their arguments, and
refuses answers that are, wrap or call the library's own reference code (the library is the
reference, so using it would score without learning; see :func:`.harness.run`), and, in lesson
01, answers that call torchvision's VGG, which is the answer to its VGG exercises in one line.
At a kink (the L1 total variation where neighbours are equal) any subgradient is accepted.

Test cells import a fresh copy of ``stylelib`` from disk before they check (see the
instructor guide in the README), so what a notebook redefines or patches does not count.

What the checks do not verify: inputs other than the ones generated here, and the order of
floating-point operations (values are compared with a tolerance relative to their size).

Example (the test cell of an nbgrader exercise)::

    >>> from stylelib import checks
    >>> checks.check_gram_matrix(gram_matrix)  # doctest: +SKIP
    ✓ gram_matrix (Gatys): correct on 4 inputs, batched, differentiable, fast
"""

from . import (
    adain,
    arithmetic,
    beyond,
    closure,
    gatys_loop,
    gradients,
    loss_terms,
    network,
    superres,
    training,
    transform_net,
    video,
)
from .adain import *  # noqa: F403
from .arithmetic import *  # noqa: F403 - each module's __all__ is its checks
from .beyond import *  # noqa: F403
from .closure import *  # noqa: F403
from .gatys_loop import *  # noqa: F403
from .gradients import *  # noqa: F403
from .harness import RTOL, SEED, SLOW_SECONDS, Factor
from .loss_terms import *  # noqa: F403
from .loss_terms import FEATURE_CASES
from .network import *  # noqa: F403
from .superres import *  # noqa: F403
from .training import *  # noqa: F403
from .transform_net import *  # noqa: F403
from .video import *  # noqa: F403

_MODULES = (arithmetic, beyond, closure, gatys_loop, gradients, loss_terms, network, training)
_MODULES += (transform_net, superres, adain, video)
__all__ = [name for module in _MODULES for name in module.__all__]
__all__ += ["RTOL", "SEED", "SLOW_SECONDS", "Factor", "FEATURE_CASES"]
