"""Tests for stylelib.losses against independent oracles.

Closed forms, a second formulation (explicit loops, einsum), float64 gradcheck, the analytic
gradients of Gatys et al. 2016 (Methods), scaling laws, batch semantics and error messages.
"""

from __future__ import annotations

import contextlib
import doctest

import pytest
import torch
from helpers import DEVICE_DTYPES, TOLERANCE, relative_error

from stylelib import losses
from stylelib.losses import (
    NORMALIZATIONS,
    TV_EPS,
    TV_KINDS,
    content_loss,
    gram_matrix,
    layer_style_loss,
    style_gram,
    style_loss,
    total_loss,
    total_variation,
)


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=dtype)


# --- Oracles written with explicit loops, following the papers' index notation -------------


def loop_gram(f: torch.Tensor, normalization: str) -> torch.Tensor:
    """G_ij = Σ_k F_ik F_jk for one image given as (N, M)."""
    n, m = f.shape
    g = torch.zeros(n, n, dtype=f.dtype)
    for i in range(n):
        for j in range(n):
            for k in range(m):
                g[i, j] += f[i, k] * f[j, k]
    return g if normalization == "gatys" else g / (n * m)


def loop_layer_style(features: torch.Tensor, a: torch.Tensor, normalization: str) -> float:
    """E_l of Gatys Eq. 4 (or Johnson's ‖G − A‖²_F) for one image (1, C, H, W)."""
    _, c, h, w = features.shape
    g = loop_gram(features[0].reshape(c, h * w), normalization)
    total = 0.0
    for i in range(c):
        for j in range(c):
            total += float(g[i, j] - a[0, i, j]) ** 2
    return total / (4 * c**2 * (h * w) ** 2) if normalization == "gatys" else total


def loop_content(f: torch.Tensor, p: torch.Tensor, normalization: str) -> float:
    total = sum(float(x - y) ** 2 for x, y in zip(f.flatten(), p.flatten(), strict=True))
    return 0.5 * total if normalization == "gatys" else total / f[0].numel()


def loop_tv(x: torch.Tensor, kind: str) -> float:
    """TV of one image (1, C, H, W), pixel by pixel."""
    _, c, h, w = x.shape
    total = 0.0
    for ch in range(c):
        for i in range(h):
            for j in range(w):
                dh = float(x[0, ch, i + 1, j] - x[0, ch, i, j]) if i + 1 < h else None
                dw = float(x[0, ch, i, j + 1] - x[0, ch, i, j]) if j + 1 < w else None
                if kind == "isotropic":
                    if dh is not None and dw is not None:
                        total += (dh**2 + dw**2 + TV_EPS) ** 0.5
                    continue
                for d in (dh, dw):
                    if d is not None:
                        total += d**2 if kind == "squared" else abs(d)
    return total


# --- Closed forms ---------------------------------------------------------------------------


def test_gram_of_ones_gatys_is_hw():
    assert torch.equal(gram_matrix(torch.ones(2, 3, 4, 5)), torch.full((2, 3, 3), 20.0))


def test_gram_of_ones_johnson_is_one_over_c():
    g = gram_matrix(torch.ones(2, 3, 4, 5), "johnson")
    torch.testing.assert_close(g, torch.full((2, 3, 3), 1 / 3))


def test_gram_of_hand_made_matrix():
    f = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).reshape(1, 2, 1, 3)
    expected = torch.tensor([[[14.0, 32.0], [32.0, 77.0]]])
    assert torch.equal(gram_matrix(f), expected)
    torch.testing.assert_close(gram_matrix(f, "johnson"), expected / 6)


@pytest.mark.parametrize("kind", TV_KINDS)
def test_tv_of_constant_is_zero(kind):
    tv = total_variation(torch.full((2, 3, 5, 4), 0.7, dtype=torch.float64), kind)
    # Isotropic TV is zero up to its eps: sqrt(eps) on each of the C·(H−1)·(W−1) cells.
    expected = 3 * 4 * 3 * TV_EPS**0.5 if kind == "isotropic" else 0.0
    assert tv.item() == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("kind", TV_KINDS)
def test_tv_of_horizontal_ramp_matches_closed_form(kind):
    c, h, w, step = 3, 4, 6, -0.25
    ramp = (step * torch.arange(w, dtype=torch.float64)).expand(1, c, h, w)
    expected = {
        "squared": c * h * (w - 1) * step**2,
        "l1": c * h * (w - 1) * abs(step),
        "isotropic": c * (h - 1) * (w - 1) * (step**2 + TV_EPS) ** 0.5,
    }[kind]
    assert total_variation(ramp, kind).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_content_loss_of_known_difference(normalization):
    p = rand(1, 3, 4, 5)
    d = 0.3
    expected = 0.5 * p.numel() * d**2 if normalization == "gatys" else d**2
    loss = content_loss(p + d, p, normalization)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


# --- A second formulation -------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_gram_matches_loops_and_einsum(normalization):
    f = rand(2, 3, 2, 3)
    g = gram_matrix(f, normalization)
    for b in range(2):
        torch.testing.assert_close(g[b], loop_gram(f[b].reshape(3, 6), normalization))
    einsum = torch.einsum("bik,bjk->bij", f.flatten(2), f.flatten(2))
    torch.testing.assert_close(g, einsum if normalization == "gatys" else einsum / 18)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_layer_style_loss_matches_loops(normalization):
    f, a = rand(1, 3, 2, 3, seed=1), gram_matrix(rand(1, 3, 2, 3, seed=2), normalization)
    expected = loop_layer_style(f, a, normalization)
    assert layer_style_loss(f, a, normalization).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_content_loss_matches_loops(normalization):
    f, p = rand(1, 2, 3, 3, seed=1), rand(1, 2, 3, 3, seed=2)
    expected = loop_content(f, p, normalization)
    assert content_loss(f, p, normalization).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("kind", TV_KINDS)
def test_total_variation_matches_loops(kind):
    x = rand(1, 2, 3, 4)
    assert total_variation(x, kind).item() == pytest.approx(loop_tv(x, kind), rel=1e-12)


# --- Gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_gradcheck_gram_content_and_layer_style(normalization):
    f = rand(2, 3, 2, 3, seed=1).requires_grad_()
    p = rand(1, 3, 2, 3, seed=2).requires_grad_()
    a = gram_matrix(rand(2, 3, 2, 3, seed=3), normalization).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: gram_matrix(x, normalization), (f,))
    assert torch.autograd.gradcheck(lambda x, y: content_loss(x, y, normalization), (f, p))
    assert torch.autograd.gradcheck(lambda x, y: layer_style_loss(x, y, normalization), (f, a))


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_gradcheck_style_loss(normalization):
    f1, f2 = rand(1, 2, 3, 3, seed=1).requires_grad_(), rand(1, 4, 2, 2, seed=2).requires_grad_()
    targets = {"a": gram_matrix(rand(1, 2, 3, 3, seed=3), normalization)}
    targets["b"] = gram_matrix(rand(1, 4, 2, 2, seed=4), normalization)

    def loss(x1, x2):
        return style_loss({"a": x1, "b": x2}, targets, {"a": 0.3, "b": 2.0}, normalization)

    assert torch.autograd.gradcheck(loss, (f1, f2))


@pytest.mark.parametrize("kind", TV_KINDS)
def test_gradcheck_total_variation(kind):
    # Differences of a random image are far from zero, where |·| and sqrt are smooth.
    x = rand(2, 2, 3, 4).requires_grad_()
    assert torch.autograd.gradcheck(lambda y: total_variation(y, kind), (x,))


def test_gradcheck_total_loss():
    c, s, t = (rand(1, seed=i).squeeze().requires_grad_() for i in range(3))
    assert torch.autograd.gradcheck(
        lambda x, y, z: total_loss(x, y, alpha=0.5, beta=3.0, tv=z, tv_weight=0.1), (c, s, t)
    )


def test_content_gradient_is_f_minus_p():
    """Gatys et al. 2016, Methods: ∂L_content/∂F = F − P."""
    f, p = rand(1, 3, 2, 3, seed=1).requires_grad_(), rand(1, 3, 2, 3, seed=2)
    (grad,) = torch.autograd.grad(content_loss(f, p), f)
    torch.testing.assert_close(grad, f.detach() - p)


def test_layer_style_gradient_matches_gatys_formula():
    """Gatys et al. 2016, Methods: ∂E_l/∂F = 1/(N² M²) ((F)ᵀ (G − A))ᵀ in (N, M) layout."""
    n, h, w = 3, 2, 3
    m = h * w
    f = rand(1, n, h, w, seed=1).requires_grad_()
    a = gram_matrix(rand(1, n, h, w, seed=2))
    (grad,) = torch.autograd.grad(layer_style_loss(f, a), f)
    f_nm = f.detach().reshape(n, m)
    g = f_nm @ f_nm.T
    expected = (f_nm.T @ (g - a[0])).T / (n**2 * m**2)
    torch.testing.assert_close(grad.reshape(n, m), expected)


# --- Structure, scaling and batch semantics -------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_gram_is_symmetric(normalization):
    g = gram_matrix(rand(2, 4, 3, 3), normalization)
    torch.testing.assert_close(g, g.transpose(1, 2))


def test_gatys_gram_scales_with_positions_and_johnson_gram_does_not():
    f = rand(1, 3, 2, 3)
    tiled = torch.cat([f, f], dim=3)  # same content, twice the positions M
    torch.testing.assert_close(gram_matrix(tiled), 2 * gram_matrix(f))
    torch.testing.assert_close(gram_matrix(tiled, "johnson"), gram_matrix(f, "johnson"))


def test_gatys_layer_style_loss_is_invariant_to_tiling_when_target_is_rescaled():
    f, a = rand(1, 3, 2, 3, seed=1), gram_matrix(rand(1, 3, 2, 3, seed=2))
    tiled = torch.cat([f, f], dim=2)  # M_x = 2 M_a, so A is rescaled by M_x / M_a = 2
    torch.testing.assert_close(layer_style_loss(tiled, 2 * a), layer_style_loss(f, a))


@pytest.mark.parametrize("normalization", ["gatys", "johnson"])
def test_style_gram_of_a_tiled_style_equals_the_tiled_images_gram(normalization):
    # A style image tiled twice has the same statistics at twice the positions: its style
    # Gram, made for an image of M_x positions, must not depend on how large the style was.
    a = rand(1, 3, 2, 3, seed=3)
    tiled = torch.cat([a, a], dim=3)
    for positions in (6, 12, 30):
        torch.testing.assert_close(
            style_gram(a, positions, normalization), style_gram(tiled, positions, normalization)
        )
    torch.testing.assert_close(style_gram(a, 6, normalization), gram_matrix(a, normalization))


def test_losses_of_a_batch_are_the_mean_of_each_image():
    f, p = rand(3, 2, 3, 3, seed=1), rand(3, 2, 3, 3, seed=2)
    for normalization in NORMALIZATIONS:
        a = gram_matrix(p, normalization)
        for fn, x, y in [(content_loss, f, p), (layer_style_loss, f, a)]:
            each = [fn(x[b : b + 1], y[b : b + 1], normalization) for b in range(3)]
            torch.testing.assert_close(fn(x, y, normalization), torch.stack(each).mean())
    for kind in TV_KINDS:
        each = torch.stack([total_variation(f[b : b + 1], kind) for b in range(3)])
        torch.testing.assert_close(total_variation(f, kind), each.mean())


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_batch_one_target_broadcasts(normalization):
    f, p = rand(3, 2, 3, 3, seed=1), rand(1, 2, 3, 3, seed=2)
    a = gram_matrix(p, normalization)
    torch.testing.assert_close(
        content_loss(f, p, normalization), content_loss(f, p.expand(3, -1, -1, -1), normalization)
    )
    torch.testing.assert_close(
        layer_style_loss(f, a, normalization),
        layer_style_loss(f, a.expand(3, -1, -1), normalization),
    )


def test_inputs_are_not_modified():
    f, p = rand(2, 2, 3, 3, seed=1).requires_grad_(), rand(2, 2, 3, 3, seed=2)
    a = gram_matrix(p)
    before = [t.detach().clone() for t in (f, p, a)]
    loss = total_loss(
        content_loss(f, p),
        style_loss({"x": f}, {"x": a}),
        alpha=1.0,
        beta=1.0,
        tv=total_variation(f, "isotropic"),
        tv_weight=1.0,
    )
    loss.backward()
    for t, saved in zip((f, p, a), before, strict=True):
        assert torch.equal(t.detach(), saved)


def test_style_loss_default_weights():
    feats = {name: rand(1, 2, 3, 3, seed=i) for i, name in enumerate(["a", "b", "c", "extra"])}
    for normalization in NORMALIZATIONS:
        targets = {
            n: gram_matrix(rand(1, 2, 3, 3, seed=10 + i), normalization)
            for i, n in enumerate("abc")
        }
        per_layer = [layer_style_loss(feats[n], targets[n], normalization) for n in "abc"]
        expected = sum(per_layer) / 3 if normalization == "gatys" else sum(per_layer)
        torch.testing.assert_close(
            style_loss(feats, targets, normalization=normalization), expected
        )


def test_style_loss_uses_given_weights():
    feats = {"a": rand(1, 2, 3, 3, seed=1), "b": rand(1, 2, 3, 3, seed=2)}
    targets = {"a": gram_matrix(rand(1, 2, 3, 3, seed=3)), "b": gram_matrix(rand(1, 2, 3, 3))}
    expected = 0.2 * layer_style_loss(feats["a"], targets["a"]) + 5.0 * layer_style_loss(
        feats["b"], targets["b"]
    )
    torch.testing.assert_close(style_loss(feats, targets, {"a": 0.2, "b": 5.0}), expected)


def test_total_loss_weights_each_term():
    c, s, t = torch.tensor(2.0), torch.tensor(3.0), torch.tensor(5.0)
    assert total_loss(c, s, alpha=1e-3, beta=1.0).item() == pytest.approx(3.002)
    assert total_loss(c, s, alpha=1.0, beta=2.0, tv=t, tv_weight=0.5).item() == 10.5


def test_docstring_examples_run():
    result = doctest.testmod(losses, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --- Errors that teach ----------------------------------------------------------------------


@contextlib.contextmanager
def raises_one_line(match: str):
    """pytest.raises(ValueError, match=...) that also checks the message is a single line."""
    with pytest.raises(ValueError, match=match) as info:
        yield info
    assert "\n" not in str(info.value)


def test_unknown_normalization_names_the_valid_ones():
    f = torch.ones(1, 2, 2, 2)
    for call in (
        lambda: gram_matrix(f, "mean"),
        lambda: content_loss(f, f, "mean"),
        lambda: layer_style_loss(f, gram_matrix(f), "mean"),
        lambda: style_loss({"a": f}, {"a": gram_matrix(f)}, normalization="mean"),
    ):
        with raises_one_line("'gatys', 'johnson'.*'mean'"):
            call()


def test_features_that_are_not_4d_are_refused():
    with raises_one_line(r"\(B, C, H, W\).*\(2, 3, 3\)"):
        gram_matrix(torch.ones(2, 3, 3))
    with raises_one_line(r"\(B, C, H, W\)"):
        content_loss(torch.ones(2, 3, 3), torch.ones(2, 3, 3))
    with raises_one_line(r"\(B, C, H, W\)"):
        total_variation(torch.ones(3, 4, 4))


def test_content_target_of_another_shape_names_both_shapes():
    with raises_one_line(r"\(2, 3, 4, 4\).*\(2, 3, 4, 5\)"):
        content_loss(torch.ones(2, 3, 4, 4), torch.ones(2, 3, 4, 5))
    with raises_one_line(r"\(3, 3, 4, 4\).*\(2, 3, 4, 4\)"):
        content_loss(torch.ones(3, 3, 4, 4), torch.ones(2, 3, 4, 4))


def test_target_gram_of_wrong_shape_is_refused():
    f = torch.ones(2, 3, 4, 4)
    with raises_one_line(r"\(1 or 2, 3, 3\).*\(2, 4, 4\)"):
        layer_style_loss(f, torch.ones(2, 4, 4))
    with raises_one_line(r"\(B, C, C\).*\(3, 3\)"):
        layer_style_loss(f, torch.ones(3, 3))


def test_style_loss_missing_layers_are_listed():
    f = torch.ones(1, 2, 2, 2)
    targets = {"relu1_1": gram_matrix(f), "relu2_1": gram_matrix(f)}
    with raises_one_line(r"\['relu2_1'\]"):
        style_loss({"relu1_1": f}, targets)
    with raises_one_line(r"missing \['relu2_1'\]"):
        style_loss({"relu1_1": f, "relu2_1": f}, targets, {"relu1_1": 1.0})
    with raises_one_line(r"unexpected \['relu9_9'\]"):
        weights = {"relu1_1": 1.0, "relu2_1": 1.0, "relu9_9": 1.0}
        style_loss({"relu1_1": f, "relu2_1": f}, targets, weights)
    with raises_one_line("empty"):
        style_loss({"relu1_1": f}, {})


def test_unknown_tv_kind_lists_the_kinds():
    with raises_one_line("'squared', 'l1', 'isotropic'.*'l2'"):
        total_variation(torch.ones(1, 1, 2, 2), "l2")


def test_tv_weight_without_tv_is_refused():
    with raises_one_line("tv_weight"):
        total_loss(torch.tensor(1.0), torch.tensor(1.0), alpha=1.0, beta=1.0, tv_weight=1.0)


# --- Every device and dtype -----------------------------------------------------------------


@pytest.mark.parametrize("device, dtype", DEVICE_DTYPES)
@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_losses_agree_with_float64_on_every_device_and_dtype(device, dtype, normalization):
    """Each loss and its gradient on ``device`` in ``dtype`` against float64 on the CPU."""
    f, p = rand(2, 4, 5, 6, seed=11), rand(2, 4, 5, 6, seed=12)
    a = gram_matrix(rand(1, 4, 5, 6, seed=13), normalization)
    losses_of = {
        "gram": lambda f, p, a: gram_matrix(f, normalization).square().sum(),
        "content": lambda f, p, a: content_loss(f, p, normalization),
        "layer style": lambda f, p, a: layer_style_loss(f, a, normalization),
        "tv": lambda f, p, a: total_variation(f[:, :3]),
    }
    tolerance = TOLERANCE[str(dtype)[6:]]
    for name, loss in losses_of.items():
        x64 = f.detach().clone().requires_grad_(True)
        loss(x64, p.double(), a.double()).backward()
        x = f.detach().to(device, dtype).clone().requires_grad_(True)
        value = loss(x, p.to(device, dtype), a.to(device, dtype))
        value.backward()
        assert value.device.type == device and value.dtype == dtype, name
        assert x.grad.device.type == device and x.grad.dtype == dtype, name
        reference = loss(f.double(), p.double(), a.double())
        assert relative_error(value, reference) < tolerance, name
        assert relative_error(x.grad, x64.grad) < tolerance, name
