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

The harness (:mod:`.harness`: running the student's function, comparing values, the drivers)
is apart from the checks, which live by lesson: :mod:`.arithmetic` (01), :mod:`.loss_terms`
(00, 02, 04), :mod:`.closure` (03) and :mod:`.transform_net` (04).

What the checks do not verify: inputs other than the ones generated here, and the order of
floating-point operations (values are compared with a tolerance relative to their size).

Example (the test cell of an nbgrader exercise)::

    >>> from stylelib import checks
    >>> checks.check_gram_matrix(gram_matrix)  # doctest: +SKIP
    ✓ gram_matrix (Gatys): correct on 4 inputs, batched, differentiable, fast
"""

from .arithmetic import (
    check_conv_output_size,
    check_conv_params,
    check_network_params,
    check_receptive_field,
    check_vgg_shapes,
)
from .closure import check_closure
from .harness import RTOL, SEED, SLOW_SECONDS, Factor
from .loss_terms import (
    CONTENT_LAYER,
    FEATURE_CASES,
    IMAGE_CASES,
    STYLE_CASES,
    STYLE_LAYERS,
    STYLE_WEIGHTS,
    TIMING_ELEMENTWISE,
    TIMING_FEATURES,
    TIMING_IMAGE,
    TOTAL_LOSS_CASES,
    TV_FORMULAS,
    check_content_loss,
    check_gram_matrix,
    check_layer_style_loss,
    check_style_loss,
    check_total_loss,
    check_total_variation,
)
from .transform_net import check_residual_block

__all__ = [
    "CONTENT_LAYER",
    "FEATURE_CASES",
    "IMAGE_CASES",
    "RTOL",
    "SEED",
    "SLOW_SECONDS",
    "STYLE_CASES",
    "STYLE_LAYERS",
    "STYLE_WEIGHTS",
    "TIMING_ELEMENTWISE",
    "TIMING_FEATURES",
    "TIMING_IMAGE",
    "TOTAL_LOSS_CASES",
    "TV_FORMULAS",
    "Factor",
    "check_closure",
    "check_content_loss",
    "check_conv_output_size",
    "check_conv_params",
    "check_gram_matrix",
    "check_layer_style_loss",
    "check_network_params",
    "check_receptive_field",
    "check_residual_block",
    "check_style_loss",
    "check_total_loss",
    "check_total_variation",
    "check_vgg_shapes",
]
