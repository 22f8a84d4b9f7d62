"""stylelib.checks.superres: wrong and right answers to lesson 06's PSNR exercise.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from helpers import catalogue_tests

from stylelib import checks
from stylelib.checks import superres as MODULE
from stylelib.superres import quality as superres_quality

CATALOGUE: dict = {}


def psnr_right(estimate, reference):
    mse = (estimate - reference).pow(2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(1 / mse)


def psnr_rmse(estimate, reference):
    rmse = (estimate - reference).pow(2).flatten(1).mean(dim=1).sqrt()
    return 20 * torch.log10(1 / rmse)


def psnr_mse_loss(estimate, reference):
    mse = F.mse_loss(estimate, reference, reduction="none").mean(dim=(1, 2, 3))
    return -10 * torch.log10(mse)


def psnr_natural_log(estimate, reference):
    mse = (estimate - reference).pow(2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(mse.new_tensor(1.0)) - 10 * torch.log(mse) / math.log(10)


def psnr_library(estimate, reference):
    return superres_quality.psnr(estimate, reference)


def psnr_twenty(estimate, reference):
    return 20 * torch.log10(1 / (estimate - reference).pow(2).mean(dim=(1, 2, 3)))


def psnr_ln(estimate, reference):
    return 10 * torch.log(1 / (estimate - reference).pow(2).mean(dim=(1, 2, 3)))


def psnr_255(estimate, reference):
    return 10 * torch.log10(255**2 / (estimate - reference).pow(2).mean(dim=(1, 2, 3)))


def psnr_sum(estimate, reference):
    return 10 * torch.log10(1 / (estimate - reference).pow(2).sum(dim=(1, 2, 3)))


def psnr_abs(estimate, reference):
    return 10 * torch.log10(1 / (estimate - reference).abs().mean(dim=(1, 2, 3)))


def psnr_batch_number(estimate, reference):
    return 10 * torch.log10(1 / (estimate - reference).pow(2).mean())


def psnr_batch_broadcast(estimate, reference):
    value = 10 * torch.log10(1 / (estimate - reference).pow(2).mean())
    return value.expand(estimate.shape[0])


def psnr_per_channel(estimate, reference):
    return 10 * torch.log10(1 / (estimate - reference).pow(2).mean(dim=(2, 3)))


def psnr_rmse_ten(estimate, reference):
    rmse = (estimate - reference).pow(2).mean(dim=(1, 2, 3)).sqrt()
    return 10 * torch.log10(1 / rmse)


def psnr_sign(estimate, reference):
    return 10 * torch.log10((estimate - reference).pow(2).mean(dim=(1, 2, 3)))


def psnr_numpy(estimate, reference):
    a, b = estimate.detach().numpy(), reference.detach().numpy()
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
    return 10 * np.log10(1 / mse)


CATALOGUE["psnr"] = (
    checks.check_psnr,
    {},
    [
        (psnr_library, "the library's own answer"),
        (psnr_twenty, "not 20 · log10 of the MSE"),
        (psnr_ln, "not the natural logarithm"),
        (psnr_255, "not 255"),
        (psnr_sum, "not a sum"),
        (psnr_abs, "square the differences"),
        (psnr_batch_number, "one number for the whole batch"),
        (psnr_batch_broadcast, "PSNR of the whole batch"),
        (psnr_per_channel, "one PSNR per channel"),
        (psnr_rmse_ten, "don't take a root"),
        (psnr_sign, "wrong sign"),
        (psnr_numpy, "not a torch.Tensor"),
    ],
    [psnr_right, psnr_rmse, psnr_mse_loss, psnr_natural_log],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)
