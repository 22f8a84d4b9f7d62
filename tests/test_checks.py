"""stylelib.checks: the harness, and the loss-term exercises' catalogues (lessons 00, 02, 04).

Every wrong implementation below is a mistake students make (or public code contains); the
check must reject it with an AssertionError whose message names the mistake (the keyword).
Every right implementation is another correct formulation; the check must accept it and
print its success line. ``CATALOGUE`` gathers them so their number per check is tested.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import catalogue_tests

from stylelib import checks, losses

# --- gram_matrix (Gatys: G = F Fᵀ) ------------------------------------------------------------


def gram_einsum(features):
    return torch.einsum("bchw,bdhw->bcd", features, features)


def gram_bmm(features):
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2))


def gram_matmul_mT(features):
    f = features.flatten(2)
    return f @ f.mT


def gram_loop_over_batch(features):
    return torch.stack([x.flatten(1) @ x.flatten(1).T for x in features])


def gram_functional_linear(features):
    return torch.stack([F.linear(x, x) for x in features.flatten(2)])


def gram_over_positions(features):  # Fᵀ F: (B, M, M)
    f = features.flatten(2)
    return f.mT @ f


def gram_divided(features):  # Johnson's normalisation where Gatys is asked for
    b, c, h, w = features.shape
    return gram_bmm(features) / (c * h * w)


def gram_no_batch(features):
    f = features[0].flatten(1)
    return f @ f.T


def gram_view_not_transpose(features):
    b, c, h, w = features.shape
    return features.view(b, c, h * w) @ features.view(b, h * w, c)


def gram_first_image_only(features):
    f = features[0].flatten(1)
    return (f @ f.T).expand(features.shape[0], -1, -1)


def gram_batch_into_channels(features):
    f = features.reshape(-1, features.shape[2] * features.shape[3])
    return f @ f.T


def gram_inplace_relu(features):
    return gram_bmm(features.relu_())


def gram_detached(features):
    return gram_bmm(features.detach())


def gram_half_detached(features):  # right values, but autograd sees only one factor
    f = features.flatten(2)
    return f @ f.detach().mT


def gram_numpy(features):
    f = features.numpy().reshape(features.shape[0], features.shape[1], -1)
    return torch.from_numpy(f @ f.transpose(0, 2, 1))


def gram_float32(features):
    b, c, _, _ = features.shape
    out = torch.zeros(b, c, c)
    out[:] = gram_bmm(features)
    return out


def gram_pixel_loop(features):  # right, but one Python step per term of every G_ij
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    rows = []
    for n in range(b):
        for i in range(c):
            for j in range(c):
                total = 0
                for k in range(h * w):
                    total = total + f[n, i, k] * f[n, j, k]
                rows.append(total)
    return torch.stack(rows).reshape(b, c, c)


# --- gram_matrix (Johnson: F Fᵀ / (C·H·W)) ----------------------------------------------------


def gram_johnson_einsum(features):
    c, h, w = features.shape[1:]
    return torch.einsum("bik,bjk->bij", features.flatten(2), features.flatten(2)) / (c * h * w)


def gram_johnson_numel(features):
    f = features.flatten(2)
    return f @ f.mT / features[0].numel()


def gram_johnson_hw(features):
    return gram_bmm(features) / (features.shape[2] * features.shape[3])


def gram_johnson_bchw(features):  # ÷ B·C·H·W: right for one image only
    return gram_bmm(features) / features.numel()


def gram_johnson_twice(features):
    return gram_johnson_numel(features) / features[0].numel()


def gram_johnson_unnormalised(features):
    return gram_bmm(features)


def gram_johnson_over_positions(features):
    f = features.flatten(2)
    return f.mT @ f / features[0].numel()


# --- content_loss (Gatys: ½ Σ (F − P)², batch mean) --------------------------------------------


def content_half_sum(features, target):
    return 0.5 * ((features - target) ** 2).sum() / features.shape[0]


def content_mse_sum(features, target):
    return 0.5 * F.mse_loss(features, target, reduction="sum") / len(features)


def content_per_image_loop(features, target):
    return torch.stack(
        [0.5 * (f - p).pow(2).sum() for f, p in zip(features, target, strict=True)]
    ).mean()


def content_norm(features, target):
    per_image = torch.linalg.vector_norm((features - target).flatten(1), dim=1)
    return (0.5 * per_image**2).mean()


def content_no_half(features, target):
    return ((features - target) ** 2).sum() / features.shape[0]


def content_mean(features, target):
    return ((features - target) ** 2).mean()


def content_half_mean(features, target):
    return 0.5 * ((features - target) ** 2).mean()


def content_sum_over_batch(features, target):
    return 0.5 * ((features - target) ** 2).sum()


def content_per_image(features, target):
    return 0.5 * ((features - target) ** 2).flatten(1).sum(1)


def content_first_image(features, target):
    return 0.5 * ((features[0] - target[0]) ** 2).sum()


def content_inplace(features, target):
    features -= target
    return 0.5 * (features**2).sum() / features.shape[0]


def content_item(features, target):
    return content_half_sum(features, target).item()


def content_detached(features, target):
    return content_half_sum(features.detach(), target)


def content_pixel_loop(features, target):  # right, but one Python step per element
    b, c, h, w = features.shape
    total = 0
    for n in range(b):
        for i in range(c):
            for y in range(h):
                for x in range(w):
                    total = total + (features[n, i, y, x] - target[n, i, y, x]) ** 2
    return 0.5 * total / b


# --- content_loss (Johnson: ‖F − P‖² / (C·H·W), batch mean) ------------------------------------


def content_johnson_mse(features, target):
    return F.mse_loss(features, target)


def content_johnson_per_image(features, target):
    per_image = (features - target).pow(2).flatten(1).sum(1) / features[0].numel()
    return per_image.mean()


def content_johnson_with_half(features, target):
    return 0.5 * F.mse_loss(features, target)


def content_johnson_unnormalised(features, target):
    return (features - target).pow(2).sum() / len(features)


def content_johnson_hw(features, target):
    hw = features.shape[2] * features.shape[3]
    return (features - target).pow(2).sum() / (hw * len(features))


def content_johnson_sum_over_batch(features, target):
    return F.mse_loss(features, target, reduction="sum") / features[0].numel()


def content_johnson_inplace(features, target):
    return features.sub_(target).pow(2).mean()


def content_johnson_numpy(features, target):
    return torch.tensor(np.mean((features.numpy() - target.numpy()) ** 2))


# --- layer_style_loss (Gatys Eq. 4) ---------------------------------------------------------


def layer_style_bmm(features, target_gram):
    b, n, h, w = features.shape
    m = h * w
    return ((gram_bmm(features) - target_gram) ** 2).sum() / (4 * n**2 * m**2) / b


def layer_style_mse(features, target_gram):
    n, m = features.shape[1], features[0, 0].numel()
    sse = F.mse_loss(gram_einsum(features), target_gram, reduction="sum")
    return sse / (4 * n**2 * m**2 * len(features))


def layer_style_loop(features, target_gram):
    terms = []
    for f, a in zip(features, target_gram, strict=True):
        f = f.flatten(1)
        n, m = f.shape
        terms.append(((f @ f.T - a) ** 2).sum() / (4 * n**2 * m**2))
    return sum(terms) / len(terms)


def layer_style_unnormalised(features, target_gram):
    return ((gram_bmm(features) - target_gram) ** 2).sum() / len(features)


def layer_style_no_four(features, target_gram):
    return layer_style_bmm(features, target_gram) * 4


def layer_style_not_squared(features, target_gram):
    n, m = features.shape[1], features.shape[2] * features.shape[3]
    return ((gram_bmm(features) - target_gram) ** 2).sum() / (4 * n * m) / len(features)


def layer_style_johnson_divisor(features, target_gram):  # ÷ C·H·W, as in Johnson's Gram
    c, h, w = features.shape[1:]
    return ((gram_bmm(features) - target_gram) ** 2).sum() / (c * h * w) / len(features)


def layer_style_mean_entries(features, target_gram):
    n, m = features.shape[1], features.shape[2] * features.shape[3]
    return ((gram_bmm(features) - target_gram) ** 2).mean() / (4 * n**2 * m**2)


def layer_style_positions_gram(features, target_gram):
    n, m = features.shape[1], features.shape[2] * features.shape[3]
    return ((gram_over_positions(features) - target_gram) ** 2).sum() / (4 * n**2 * m**2)


def layer_style_sum_over_batch(features, target_gram):
    return layer_style_bmm(features, target_gram) * len(features)


def layer_style_first_image(features, target_gram):
    return layer_style_bmm(features[:1], target_gram[:1])


def layer_style_inplace_target(features, target_gram):
    b, n, h, w = features.shape
    diff = target_gram.sub_(gram_bmm(features))
    return (diff**2).sum() / (4 * n**2 * (h * w) ** 2) / b


def layer_style_detached(features, target_gram):
    return layer_style_bmm(features.detach(), target_gram)


def layer_style_pixel_loop(features, target_gram):  # a per-term loop for the Gram inside
    b, n, h, w = features.shape
    return ((gram_pixel_loop(features) - target_gram) ** 2).sum() / (4 * n**2 * (h * w) ** 2) / b


# --- style_loss (Σ_l w_l E_l) ------------------------------------------------------------------


def style_per_layer(features, target_grams, layer_weights):
    total = 0
    for name, gram in target_grams.items():
        total = total + layer_weights[name] * layer_style_bmm(features[name], gram)
    return total


def style_library_per_layer(features, target_grams, layer_weights):  # a shortcut
    total = 0
    for name, gram in target_grams.items():
        total = total + layer_weights[name] * losses.layer_style_loss(features[name], gram)
    return total


def style_own_layer_loss(features, target_grams, layer_weights):
    return sum(layer_weights[k] * layer_style_loop(features[k], a) for k, a in target_grams.items())


def style_stacked(features, target_grams, layer_weights):
    names = list(target_grams)
    terms = torch.stack([layer_style_mse(features[n], target_grams[n]) for n in names])
    weights = terms.new_tensor([layer_weights[n] for n in names])
    return (weights * terms).sum()


def style_stacked_on_the_cpu(features, target_grams, layer_weights):  # no device=: CPU only
    names = list(target_grams)
    terms = torch.stack([layer_style_mse(features[n], target_grams[n]) for n in names])
    weights = torch.tensor([layer_weights[n] for n in names], dtype=terms.dtype)
    return (weights * terms).sum()


def style_no_weights(features, target_grams, layer_weights):
    return sum(layer_style_bmm(features[k], a) for k, a in target_grams.items())


def style_plain_mean(features, target_grams, layer_weights):
    return style_no_weights(features, target_grams, layer_weights) / len(target_grams)


def style_weighted_mean(features, target_grams, layer_weights):
    return style_per_layer(features, target_grams, layer_weights) / len(target_grams)


def style_returns_in_loop(features, target_grams, layer_weights):
    for name, gram in target_grams.items():
        return layer_weights[name] * layer_style_bmm(features[name], gram)


def style_overwrites(features, target_grams, layer_weights):
    for name, gram in target_grams.items():
        loss = layer_weights[name] * layer_style_bmm(features[name], gram)
    return loss


def style_unnormalised_layers(features, target_grams, layer_weights):
    return sum(
        layer_weights[k] * layer_style_unnormalised(features[k], a) for k, a in target_grams.items()
    )


def style_first_layer_sizes(features, target_grams, layer_weights):
    first = features[next(iter(target_grams))]
    n, m = first.shape[1], first[0, 0].numel()
    total = 0
    for name, gram in target_grams.items():
        total = total + layer_weights[name] * layer_style_unnormalised(features[name], gram)
    return total / (4 * n**2 * m**2)


def style_loops_over_features(features, target_grams, layer_weights):
    return sum(layer_weights[k] * layer_style_bmm(f, target_grams[k]) for k, f in features.items())


def style_zip_by_position(features, target_grams, layer_weights):
    pairs = zip(target_grams.items(), layer_weights.values(), strict=True)
    return sum(w * layer_style_bmm(features[k], a) for (k, a), w in pairs)


def style_detaches_a_layer(features, target_grams, layer_weights):
    total = 0
    for name, gram in target_grams.items():
        f = features[name].detach() if name == "conv2_1" else features[name]
        total = total + layer_weights[name] * layer_style_bmm(f, gram)
    return total


def style_no_four(features, target_grams, layer_weights):
    return 4 * style_per_layer(features, target_grams, layer_weights)


def style_item(features, target_grams, layer_weights):
    return float(style_per_layer(features, target_grams, layer_weights))


# --- total_variation ---------------------------------------------------------------------------


def tv_slices(image):
    d_h = image[:, :, 1:, :] - image[:, :, :-1, :]
    d_w = image[:, :, :, 1:] - image[:, :, :, :-1]
    return (d_h.pow(2).sum() + d_w.pow(2).sum()) / image.shape[0]


def tv_diff(image):
    return sum(image.diff(dim=d).pow(2).flatten(1).sum(1) for d in (2, 3)).mean()


def tv_conv2d(image):  # difference kernels applied channel by channel
    c = image.shape[1]
    k_h = image.new_tensor([[-1.0], [1.0]]).expand(c, 1, 2, 1)
    k_w = torch.tensor([[-1.0, 1.0]], dtype=image.dtype, device=image.device).expand(c, 1, 1, 2)
    d_h, d_w = F.conv2d(image, k_h, groups=c), F.conv2d(image, k_w, groups=c)
    return (d_h.pow(2).sum() + d_w.pow(2).sum()) / len(image)


def tv_l1(image):
    return sum(image.diff(dim=d).abs().sum() for d in (2, 3)) / len(image)


def tv_only_h(image):
    return image.diff(dim=2).pow(2).sum() / len(image)


def tv_roll(image):
    d_h = image.roll(-1, dims=2) - image
    d_w = image.roll(-1, dims=3) - image
    return (d_h.pow(2).sum() + d_w.pow(2).sum()) / len(image)


def tv_mean(image):
    return image.diff(dim=2).pow(2).mean() + image.diff(dim=3).pow(2).mean()


def tv_sum_over_batch(image):
    return image.diff(dim=2).pow(2).sum() + image.diff(dim=3).pow(2).sum()


def tv_channels(image):  # treats the tensor as (B, H, W, C)
    return (image.diff(dim=1).pow(2).sum() + image.diff(dim=2).pow(2).sum()) / len(image)


def tv_inplace_clamp(image):
    return tv_slices(image.clamp_(0, 1))


def tv_detached(image):
    return tv_slices(image.detach())


def tv_pixel_loop(image):  # right, but one Python step per pixel
    b, c, h, w = image.shape
    total = 0
    for n in range(b):
        for i in range(c):
            for y in range(h):
                for x in range(w):
                    if y + 1 < h:
                        total = total + (image[n, i, y + 1, x] - image[n, i, y, x]) ** 2
                    if x + 1 < w:
                        total = total + (image[n, i, y, x + 1] - image[n, i, y, x]) ** 2
    return total / b


def tv_isotropic_slices(image):
    d_h = image[:, :, 1:, :-1] - image[:, :, :-1, :-1]
    d_w = image[:, :, :-1, 1:] - image[:, :, :-1, :-1]
    return (d_h**2 + d_w**2 + 1e-8).sqrt().sum() / len(image)


def tv_isotropic_per_image(image):
    d_h, d_w = image.diff(dim=2)[..., :-1], image.diff(dim=3)[..., :-1, :]
    return torch.stack(
        [(h**2 + w**2 + 1e-8).sqrt().sum() for h, w in zip(d_h, d_w, strict=True)]
    ).mean()


def tv_isotropic_sum_over_batch(image):
    return tv_isotropic_slices(image) * len(image)


def tv_isotropic_inplace(image):
    return tv_isotropic_slices(image.sigmoid_())


def tv_isotropic_detached(image):
    return tv_isotropic_slices(image.detach())


# --- total_loss (α·L_content + β·L_style) --------------------------------------------------


def total_plain(content_loss, style_loss, alpha, beta):
    return alpha * content_loss + beta * style_loss


def total_torch_add(content_loss, style_loss, alpha, beta):
    return torch.add(alpha * content_loss, style_loss, alpha=beta)


def total_dot(content_loss, style_loss, alpha, beta):
    weights = content_loss.new_tensor([alpha, beta])
    return torch.stack([content_loss, style_loss]) @ weights


def total_dot_on_the_cpu(content_loss, style_loss, alpha, beta):  # no device=: CPU only
    weights = torch.tensor([alpha, beta], dtype=content_loss.dtype)
    return torch.stack([content_loss, style_loss]) @ weights


def total_swapped(content_loss, style_loss, alpha, beta):
    return beta * content_loss + alpha * style_loss


def total_ratio(content_loss, style_loss, alpha, beta):
    return alpha / beta * content_loss + style_loss


def total_no_alpha(content_loss, style_loss, alpha, beta):
    return content_loss + beta * style_loss


def total_no_beta(content_loss, style_loss, alpha, beta):
    return alpha * content_loss + style_loss


def total_halved(content_loss, style_loss, alpha, beta):
    return (alpha * content_loss + beta * style_loss) / 2


def total_item(content_loss, style_loss, alpha, beta):
    return (alpha * content_loss + beta * style_loss).item()


def total_detached(content_loss, style_loss, alpha, beta):
    return (alpha * content_loss + beta * style_loss).detach()


def gram_johnson_linear(features):
    b, c, h, w = features.shape
    f = features.flatten(2)
    return torch.stack([F.linear(image, image) for image in f]) / (c * h * w)


def content_johnson_loop_over_batch(features, target):
    return torch.stack(
        [(f - p).pow(2).mean() for f, p in zip(features, target, strict=True)]
    ).mean()


def tv_isotropic_diff(image):
    d_h = image.diff(dim=2)[:, :, :, :-1]
    d_w = image.diff(dim=3)[:, :, :-1, :]
    return (d_h**2 + d_w**2 + 1e-8).sqrt().flatten(1).sum(1).mean()


# --- Shortcuts and inputs beyond the tame ones ------------------------------------------------


def gram_library(features):  # the library's own answer, wrapped
    return losses.gram_matrix(features)


def gram_johnson_library(features):
    return losses.gram_matrix(features, "johnson")


def content_library(features, target):
    return losses.content_loss(features, target)


def content_johnson_library(features, target):
    return losses.content_loss(features, target, "johnson")


def layer_style_library(features, target_gram):
    return losses.layer_style_loss(features, target_gram)


def tv_library(image):
    return losses.total_variation(image)


def tv_isotropic_library(image):
    return losses.total_variation(image, "isotropic")


def total_library(content_loss, style_loss, alpha, beta):
    return losses.total_loss(content_loss, style_loss, alpha=alpha, beta=beta)


def tv_clamps_the_image(image):  # right on images in [0, 1] only
    return tv_slices(image.clamp(0, 1))


def tv_l1_sqrt(image):  # |x| as sqrt(x²): no gradient where neighbours are equal
    d_h = image[:, :, 1:, :] - image[:, :, :-1, :]
    d_w = image[:, :, :, 1:] - image[:, :, :, :-1]
    return ((d_h**2).sqrt().sum(dim=(1, 2, 3)) + (d_w**2).sqrt().sum(dim=(1, 2, 3))).mean()


def tv_isotropic_no_eps(image):
    d_h = image[:, :, 1:, :-1] - image[:, :, :-1, :-1]
    d_w = image[:, :, :-1, 1:] - image[:, :, :-1, :-1]
    return (d_h**2 + d_w**2).sqrt().sum(dim=(1, 2, 3)).mean()


def gram_scaled_in_place_after_use(features):  # the product's backward needs f unchanged
    f = features.flatten(2).clone()
    gram = f @ f.mT
    f /= f.shape[-1]
    return gram


def gram_on_the_cpu(features):  # the result is made on the CPU whatever the input's device
    b, c = features.shape[:2]
    f = features.flatten(2)
    out = torch.zeros(b, c, c, dtype=features.dtype)
    return out + f @ f.transpose(1, 2)


def tv_l1_slices(image):
    d_h = image[:, :, 1:, :] - image[:, :, :-1, :]
    d_w = image[:, :, :, 1:] - image[:, :, :, :-1]
    return (d_h.abs().sum(dim=(1, 2, 3)) + d_w.abs().sum(dim=(1, 2, 3))).mean()


def tv_l1_conv2d(image):  # difference kernels applied channel by channel
    c = image.shape[1]
    k_h = image.new_tensor([[[[-1.0], [1.0]]]]).repeat(c, 1, 1, 1)
    k_w = image.new_tensor([[[[-1.0, 1.0]]]]).repeat(c, 1, 1, 1)
    d_h, d_w = F.conv2d(image, k_h, groups=c), F.conv2d(image, k_w, groups=c)
    return (d_h.abs().flatten(1).sum(1) + d_w.abs().flatten(1).sum(1)).mean()


def tv_l1_only_w(image):
    return image.diff(dim=3).abs().sum() / len(image)


def tv_l1_clamped(image):
    return tv_l1(image.clamp(0, 1))


def tv_l1_library(image):
    return losses.total_variation(image, "l1")


def tv_l1_roll(image):
    return sum((image.roll(-1, dims=d) - image).abs().sum() for d in (2, 3)) / len(image)


def tv_l1_where(image):  # |d| as where(d >= 0, d, -d): slope +1 at ties, a valid subgradient
    return sum(torch.where(d >= 0, d, -d).sum() for d in (image.diff(dim=2), image.diff(dim=3))) / (
        len(image)
    )


def tv_l1_where_strict(image):  # where(d > 0, d, -d): slope -1 at ties, valid too
    d_h, d_w = image.diff(dim=2), image.diff(dim=3)
    return (torch.where(d_h > 0, d_h, -d_h).sum() + torch.where(d_w > 0, d_w, -d_w).sum()) / len(
        image
    )


def tv_l1_relu_pair(image):  # |d| = relu(d) + relu(-d): slope 0 at ties, as .abs()
    diffs = (image.diff(dim=2), image.diff(dim=3))
    return sum((F.relu(d) + F.relu(-d)).flatten(1).sum(1) for d in diffs).mean()


def tv_l1_steep_at_ties(image):  # slope 3 where d = 0: outside |d|'s subdifferential [-1, 1]
    def steep_abs(d):
        return torch.where(d == 0, 3 * d, d.abs())

    return sum(steep_abs(image.diff(dim=k)).sum() for k in (2, 3)) / len(image)


def gram_through_data(features):  # writes into the caller's tensor behind autograd's back
    features.data.clamp_(-10, 10).mul_(1.0001)
    return gram_bmm(features)


def gram_hides_from_the_grader(features):
    import sys

    sys.setprofile(None)
    return losses.gram_matrix(features)


def style_adds_a_key(features, target_grams, layer_weights):
    layer_weights.setdefault("conv4_1", 0.0)  # "just in case": the caller's dict grows
    return style_per_layer(features, target_grams, {k: layer_weights[k] for k in target_grams})


def style_normalises_weights_in_place(features, target_grams, layer_weights):
    total = sum(layer_weights.values())
    for name in layer_weights:
        layer_weights[name] = layer_weights[name] / total * total  # same numbers, new objects
    return style_per_layer(features, target_grams, layer_weights)


# --- The catalogue ---------------------------------------------------------------------------

# check name -> (check, keyword arguments, [(wrong, keyword in the message)], [right])
CATALOGUE = {
    "gram_matrix": (
        checks.check_gram_matrix,
        {},
        [
            (gram_over_positions, "Fᵀ F"),
            (gram_divided, "C·H·W (= 60) times too small"),
            (gram_no_batch, "batch dimension is missing"),
            (gram_view_not_transpose, "not symmetric"),
            (gram_first_image_only, "first image"),
            (gram_batch_into_channels, "batch dimension"),
            (gram_inplace_relu, "in place"),
            (gram_detached, "breaks the gradient"),
            (gram_half_detached, "wrong gradient with respect to features"),
            (gram_numpy, "numpy"),
            (gram_float32, "float32"),
            (gram_pixel_loop, "too slow"),
            (gram_library, "the library's own answer"),
            (gram_on_the_cpu, "another device"),
            (gram_scaled_in_place_after_use, "gradient cannot be computed"),
            (gram_through_data, "in place"),
            (gram_hides_from_the_grader, "profiler"),
        ],
        [gram_einsum, gram_bmm, gram_matmul_mT, gram_loop_over_batch, gram_functional_linear],
    ),
    "gram_matrix[johnson]": (
        checks.check_gram_matrix,
        {"normalization": "johnson"},
        [
            (gram_johnson_unnormalised, "divide by C·H·W"),
            (gram_johnson_hw, "C (= 3) times too large"),
            (gram_johnson_bchw, "correct for B = 1 but not for B = 3"),
            (gram_johnson_twice, "C·H·W (= 60) times too small"),
            (gram_johnson_over_positions, "Fᵀ F"),
            (gram_johnson_library, "the library's own answer"),
        ],
        [gram_johnson_einsum, gram_johnson_numel, gram_johnson_linear],
    ),
    "content_loss": (
        checks.check_content_loss,
        {},
        [
            (content_no_half, "½"),
            (content_mean, "mean instead of sum"),
            (content_half_mean, "mean instead of sum"),
            (content_sum_over_batch, "average over the batch"),
            (content_per_image, "one loss per image"),
            (content_first_image, "first image"),
            (content_inplace, "in place"),
            (content_item, "Python float"),
            (content_detached, "breaks the gradient"),
            (content_pixel_loop, "too slow"),
            (content_library, "the library's own answer"),
        ],
        [content_half_sum, content_mse_sum, content_per_image_loop, content_norm],
    ),
    "content_loss[johnson]": (
        checks.check_content_loss,
        {"normalization": "johnson"},
        [
            (content_johnson_with_half, "no ½"),
            (content_johnson_unnormalised, "divide by C·H·W"),
            (content_johnson_hw, "C (= 3) times too large"),
            (content_johnson_sum_over_batch, "average over the batch"),
            (content_johnson_inplace, "in place"),
            (content_johnson_numpy, "numpy"),
            (content_johnson_library, "the library's own answer"),
        ],
        [content_johnson_mse, content_johnson_per_image, content_johnson_loop_over_batch],
    ),
    "layer_style_loss": (
        checks.check_layer_style_loss,
        {},
        [
            (layer_style_unnormalised, "4·N²·M² (= 14400) times too large"),
            (layer_style_no_four, "forgot the 4"),
            (layer_style_not_squared, "square N and M"),
            (layer_style_johnson_divisor, "you divided by N·M"),
            (layer_style_mean_entries, "averaged the N × N entries"),
            (layer_style_positions_gram, "raised RuntimeError"),
            (layer_style_sum_over_batch, "average over the batch"),
            (layer_style_first_image, "first image"),
            (layer_style_inplace_target, "target_gram in place"),
            (layer_style_detached, "breaks the gradient"),
            (layer_style_pixel_loop, "too slow"),
            (layer_style_library, "the library's own answer"),
        ],
        [layer_style_bmm, layer_style_mse, layer_style_loop],
    ),
    "style_loss": (
        checks.check_style_loss,
        {},
        [
            (style_no_weights, "forgot the layer weights"),
            (style_plain_mean, "averaged the layers"),
            (style_weighted_mean, "averaged instead of the weighted sum"),
            (style_returns_in_loop, "only the first layer"),
            (style_overwrites, "only the last layer"),
            (style_unnormalised_layers, "per-layer normalisation"),
            (style_first_layer_sizes, "first layer's N and M"),
            (style_loops_over_features, "KeyError"),
            (style_zip_by_position, "by name"),
            (style_no_four, "forgot the 4"),
            (style_detaches_a_layer, "features['conv2_1']: it does not depend on it"),
            (style_item, "Python float"),
            (style_stacked_on_the_cpu, "another device"),
            (style_library_per_layer, "the library's own answer"),
            (style_adds_a_key, "adds ['conv4_1']"),
            (style_normalises_weights_in_place, "replaces the entries"),
        ],
        [style_per_layer, style_own_layer_loss, style_stacked],
    ),
    "total_variation": (
        checks.check_total_variation,
        {},
        [
            (tv_l1, "l1 TV"),
            (tv_only_h, "only differences along H"),
            (tv_roll, "torch.roll"),
            (tv_mean, "mean instead of sum"),
            (tv_sum_over_batch, "average over the batch"),
            (tv_channels, "channels"),
            (tv_inplace_clamp, "in place"),
            (tv_detached, "breaks the gradient"),
            (tv_isotropic_slices, "isotropic TV"),
            (tv_pixel_loop, "too slow"),
            (tv_library, "the library's own answer"),
            (tv_clamps_the_image, "values beyond [0, 1]"),
        ],
        [tv_slices, tv_diff, tv_conv2d],
    ),
    "total_variation[l1]": (
        checks.check_total_variation,
        {"kind": "l1"},
        [
            (tv_l1_sqrt, "NaN or infinite"),
            (tv_slices, "squared TV"),
            (tv_l1_only_w, "only differences along W"),
            (tv_l1_clamped, "values beyond [0, 1]"),
            (tv_l1_roll, "wraps around the border"),
            (tv_l1_library, "the library's own answer"),
            (tv_l1_steep_at_ties, "Only at the flat patch"),
        ],
        [tv_l1, tv_l1_slices, tv_l1_conv2d, tv_l1_where, tv_l1_where_strict, tv_l1_relu_pair],
    ),
    "total_variation[isotropic]": (
        checks.check_total_variation,
        {"kind": "isotropic"},
        [
            (tv_slices, "squared TV"),
            (tv_l1, "l1 TV"),
            (tv_isotropic_sum_over_batch, "average over the batch"),
            (tv_isotropic_inplace, "in place"),
            (tv_isotropic_detached, "breaks the gradient"),
            (tv_isotropic_library, "the library's own answer"),
            (tv_isotropic_no_eps, "you left out ε"),
        ],
        [tv_isotropic_slices, tv_isotropic_per_image, tv_isotropic_diff],
    ),
    "total_loss": (
        checks.check_total_loss,
        {},
        [
            (total_swapped, "swapped"),
            (total_ratio, "ratio α/β"),
            (total_no_alpha, "forgot α"),
            (total_no_beta, "forgot β"),
            (total_halved, "no ½"),
            (total_item, "Python float"),
            (total_detached, "breaks the gradient"),
            (total_library, "the library's own answer"),
            (total_dot_on_the_cpu, "another device"),
        ],
        [total_plain, total_torch_add, total_dot],
    ),
}

(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, checks.loss_terms)


def library_copy(tmp_path):
    """stylelib.losses's own code, loaded from another file: the same arithmetic, not the
    library's functions (which the checks refuse as answers)."""
    import importlib.util
    import inspect

    source = inspect.getsource(losses).replace("from .config import", "from stylelib.config import")
    path = tmp_path / "my_losses.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("my_losses", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_library_formulas_pass_their_own_checks(tmp_path, capsys):
    own = library_copy(tmp_path)
    checks.check_gram_matrix(own.gram_matrix)
    checks.check_gram_matrix(lambda f: own.gram_matrix(f, "johnson"), "johnson")
    checks.check_content_loss(own.content_loss)
    checks.check_layer_style_loss(own.layer_style_loss)
    checks.check_style_loss(own.style_loss)
    for kind in losses.TV_KINDS:
        checks.check_total_variation(lambda image, k=kind: own.total_variation(image, k), kind)
    checks.check_total_loss(own.total_loss)  # alpha and beta are keyword-only there
    out = capsys.readouterr().out
    assert out.count("✓") == 6 + len(losses.TV_KINDS)
    assert "✓ gram_matrix (Gatys): correct on 5 inputs, batched, differentiable, fast" in out


@pytest.mark.parametrize(
    "check, answer",
    [
        (checks.check_gram_matrix, losses.gram_matrix),
        (checks.check_content_loss, losses.content_loss),
        (checks.check_layer_style_loss, losses.layer_style_loss),
        (checks.check_style_loss, losses.style_loss),
        (checks.check_total_variation, losses.total_variation),
        (checks.check_total_loss, losses.total_loss),
    ],
)
def test_the_library_itself_is_refused_as_an_answer(check, answer):
    with pytest.raises(AssertionError, match="the library's own answer"):
        check(answer)


def test_messages_name_the_input_shape_and_the_paper():
    with pytest.raises(AssertionError) as info:
        checks.check_layer_style_loss(layer_style_unnormalised)
    message = str(info.value)
    assert "features=(1, 3, 4, 5) float64" in message
    assert "divide by 4 N² M² as in Gatys Eq. 4 (N = C = 3, M = H·W = 20)" in message


def test_exception_is_reported_in_one_line_with_type_and_shape():
    def broken(features):
        raise ValueError("oops\nsecond line")

    with pytest.raises(
        AssertionError, match=r"raised ValueError: oops \(on features=\(1, 3, 4, 5\)"
    ):
        checks.check_gram_matrix(broken)


def test_failure_on_a_batch_after_a_single_image_says_so():
    with pytest.raises(AssertionError, match="correct for B = 1 but not for B = 3"):
        checks.check_content_loss(content_first_image)


def test_check_of_a_non_function_fails_clearly():
    with pytest.raises(AssertionError, match="expected your gram_matrix function"):
        checks.check_gram_matrix(None)


def test_unknown_options_are_the_instructors_error():
    with pytest.raises(ValueError, match="normalization"):
        checks.check_gram_matrix(gram_bmm, normalization="ulyanov")
    with pytest.raises(ValueError, match="kind"):
        checks.check_total_variation(tv_slices, kind="l2")


def test_time_limit_interrupts_and_restores_the_alarm_handler(monkeypatch):
    monkeypatch.setattr(checks.harness, "SLOW_SECONDS", 0.2)  # where run() reads it
    handler = signal.getsignal(signal.SIGALRM)

    def forever(features):
        while True:
            pass

    with pytest.raises(AssertionError, match="too slow: it took more than 0.2 s"):
        checks.check_gram_matrix(forever)
    assert signal.getsignal(signal.SIGALRM) is handler
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_inputs_are_fresh_and_seeded():
    seen = []

    def spy(features):
        if features.device.type == "cpu":  # the device check runs on shapes only
            seen.append(features.clone())
        return gram_bmm(features)

    checks.check_gram_matrix(spy)
    again = []

    def spy_again(features):
        if features.device.type == "cpu":
            again.append(features.clone())
        return gram_bmm(features)

    checks.check_gram_matrix(spy_again)
    assert len(seen) == len(again) > len(checks.FEATURE_CASES)
    assert all(torch.equal(a, b) for a, b in zip(seen, again, strict=True))
    assert len({tuple(f.shape) for f in seen}) >= 3
    assert {f.dtype for f in seen} == {torch.float32, torch.float64}
