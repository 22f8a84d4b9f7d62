"""Checks of lesson 06's exercise: PSNR, the number super-resolution papers report first.

PSNR = 10 · log10(MAX² / MSE) in decibels, with MAX the largest possible pixel value (1 for
the library's images in [0, 1]) and MSE the mean squared error over the C·H·W values of one
image. :func:`check_psnr` compares the student's ``psnr(estimate, reference)`` with
:func:`stylelib.superres.quality.psnr` (one value per image, shape ``(B,)``) and names the usual
slips: 20 · log10 of the MSE, the natural logarithm, a peak of 255, a sum instead of a mean,
one number for the whole batch, the error not squared.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from stylelib import superres
from stylelib.superres.quality import psnr as reference

from .harness import Exercise, Factor, check_exercise, randn

# (B, C, H, W): one image first; a batch of 3 (so that one number for the batch shows); one
# channel; H ≠ W everywhere; one float32 input.
PSNR_CASES = [
    ((1, 3, 8, 9), torch.float64),
    ((3, 3, 6, 7), torch.float64),
    ((2, 1, 5, 8), torch.float64),
    ((2, 3, 7, 6), torch.float32),
]
# float32 timing input: two 512 x 512 photos, vectorised in milliseconds; a Python loop over
# their 1.5 million values takes far longer than harness.SLOW_SECONDS.
TIMING_IMAGES = (2, 3, 512, 512)
DEFINITION = "PSNR = 10 · log10(1 / MSE) for images in [0, 1], MSE the mean over C·H·W"


def _images(shape, dtype, seed, grad):
    """A reference photo in [0, 1] and an estimate of it with small errors."""
    generator = torch.Generator().manual_seed(seed)
    reference = torch.rand(tuple(shape), generator=generator, dtype=dtype)
    estimate = (reference + 0.1 * randn(shape, dtype, seed + 100)).detach()
    return estimate.requires_grad_(grad), reference


def _shape_hint(got: tuple, args: tuple) -> str | None:
    b, c = args[0].shape[:2]
    if got == ():
        return (
            "it returns one number for the whole batch: compute the MSE of each image "
            "(.mean(dim=(1, 2, 3))) and return one PSNR per image, shape (B,)"
        )
    if got == (b, c):
        return (
            f"it returns one PSNR per channel, shape {got}: average the squared errors over "
            "the channels too"
        )
    return None


def check_psnr(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(estimate, reference) -> (B,)``: the PSNR of each image, in dB, peak 1.

    The reference is :func:`stylelib.superres.quality.psnr`, which the answer may not call.
    """

    def factors(args):
        return [
            Factor(
                "2",
                2,
                large="10 · log10 goes with the mean squared error (20 · log10 with its square "
                f"root, the RMSE), not 20 · log10 of the MSE: {DEFINITION}",
                small="10 · log10 goes with the mean *squared* error: square the differences "
                f"and don't take a root; {DEFINITION}",
            ),
            Factor(
                "ln 10",
                2.302585092994046,
                large=f"use log10 (decibels), not the natural logarithm: {DEFINITION}",
                small=f"use log10 (decibels), not the natural logarithm: {DEFINITION}",
            ),
        ]

    def known(args):
        estimate, reference = args
        diff = estimate - reference
        mse = diff.pow(2).flatten(1).mean(dim=1)
        return [
            (
                10 * torch.log10(255**2 / mse),
                "the peak value is 1 for images in [0, 1], not 255 (that is for 8-bit pixels "
                f"0-255): {DEFINITION}",
            ),
            (
                -10 * torch.log10(diff.pow(2).flatten(1).sum(dim=1)),
                f"the MSE is a mean over the C·H·W values, not a sum: {DEFINITION}",
            ),
            (
                -10 * torch.log10(diff.abs().flatten(1).mean(dim=1)),
                f"you used |ŷ − y|: square the differences, {DEFINITION}",
            ),
            (
                (-10 * torch.log10(diff.pow(2).mean())).expand(estimate.shape[0]),
                "every image got the PSNR of the whole batch: take the MSE of each image "
                "(.mean(dim=(1, 2, 3))), then its PSNR",
            ),
            (
                10 * torch.log10(mse),
                f"your value has the wrong sign: it is 10 · log10(1 / MSE) = −10 · log10(MSE); "
                f"{DEFINITION}",
            ),
        ]

    ex = Exercise(
        "psnr",
        "psnr (peak 1, dB)",
        ("estimate", "reference"),
        _images,
        reference,
        PSNR_CASES,
        TIMING_IMAGES,
        factors,
        known,
        _shape_hint,
        forbid=(superres,),
    )
    check_exercise(fn, ex)


__all__ = ["check_psnr"]
