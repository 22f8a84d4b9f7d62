"""stylelib.checks.gatys_loop: wrong and right answers to lesson 03's whole-loop exercise.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from helpers import catalogue_tests

from stylelib import checks
from stylelib.checks import gatys_loop as MODULE

CATALOGUE: dict = {}

# --- gatys_transfer (lesson 03) ---------------------------------------------------------------


def gram(f):
    b, n, h, w = f.shape
    f = f.reshape(b, n, h * w)
    return f @ f.transpose(1, 2)


def layer_style(f, target):
    _, n, h, w = f.shape
    return (gram(f) - target).pow(2).sum() / (4 * n**2 * (h * w) ** 2)


def make_loop(
    name,
    *,
    detach=True,
    style_of=None,
    swap=False,
    half=0.5,
    style_norm=True,
    optimizer="lbfgs",
    start="content",
    clamp="each",
    steps_offset=0,
    max_iter=1,
    content_from_x=False,
    weight=None,
    new_optimizer=False,
    result="detach",
    library_gram=False,
    line_search=None,
):
    """A student's loop with one mistake switched on (all off: a right answer)."""

    def gatys_transfer(
        features_fn, content, style, content_layers, style_layers, alpha, beta, steps
    ):
        if swap:
            alpha, beta = beta, alpha
        g = gram
        if library_gram:
            from stylelib.losses import gram_matrix as g
        with torch.set_grad_enabled(not detach):
            p = features_fn(content)
            a = features_fn(style if style_of is None else style_of(content, style))
        targets = {n: p[n] for n in content_layers}
        grams = {n: g(a[n]) for n in style_layers}
        w = 1 / len(style_layers) if weight is None else weight
        if start == "content":
            x = content.clone().requires_grad_(True)
        else:
            x = torch.rand(content.shape, dtype=content.dtype).requires_grad_(True)

        def make():
            if optimizer == "adam":
                return torch.optim.Adam([x], lr=0.02)
            return torch.optim.LBFGS([x], max_iter=max_iter, line_search_fn=line_search)

        opt = make()

        def closure():
            opt.zero_grad()
            f = features_fn(x)
            content_term = 0
            for n in content_layers:
                target = f[n].detach() if content_from_x else targets[n]
                content_term = content_term + half * (f[n] - target).pow(2).sum()
            if style_norm:
                style_term = sum(w * layer_style(f[n], grams[n]) for n in style_layers)
            else:
                style_term = sum(w * (g(f[n]) - grams[n]).pow(2).sum() for n in style_layers)
            loss = alpha * content_term + beta * style_term
            loss.backward()
            return loss

        for _ in range(steps + steps_offset):
            if new_optimizer:
                opt = make()
            opt.step(closure)
            if clamp == "each":
                with torch.no_grad():
                    x.clamp_(0, 1)
        if clamp == "end":
            with torch.no_grad():
                x.clamp_(0, 1)
        if result == "x":
            return x
        if result == "numpy":
            return x.detach().numpy()
        return x.detach()

    gatys_transfer.__name__ = f"gatys_{name}"
    return gatys_transfer


def gatys_right(features_fn, content, style, content_layers, style_layers, alpha, beta, steps):
    with torch.no_grad():
        p = features_fn(content)
        a = features_fn(style)
    targets = {name: p[name] for name in content_layers}
    grams = {name: gram(a[name]) for name in style_layers}
    x = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([x], max_iter=1)

    def closure():
        optimizer.zero_grad()
        f = features_fn(x)
        content_loss = sum(0.5 * (f[n] - targets[n]).pow(2).sum() for n in content_layers)
        style_loss = sum(layer_style(f[n], grams[n]) for n in style_layers) / len(style_layers)
        loss = alpha * content_loss + beta * style_loss
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def gatys_tutorial_style(
    features_fn, content, style, content_layers, style_layers, alpha, beta, steps
):
    """The PyTorch tutorial's habits: .detach() targets, clamp at the start of the closure."""
    p, a = features_fn(content), features_fn(style)
    targets = [(n, p[n].detach()) for n in content_layers]
    grams = []
    for n in style_layers:
        f = a[n].detach()
        grams.append((n, torch.einsum("bchw,bdhw->bcd", f, f)))
    x = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([x], lr=1, max_iter=1, tolerance_grad=0, tolerance_change=0)
    weight = 1.0 / len(style_layers)

    def closure():
        x.data.clamp_(0, 1)
        optimizer.zero_grad()
        f = features_fn(x)
        loss = 0
        for n, target in targets:
            loss = loss + alpha * F.mse_loss(f[n], target, reduction="sum") / 2
        for n, target in grams:
            _, c, h, w = f[n].shape
            g = torch.einsum("bchw,bdhw->bcd", f[n], f[n])
            loss = loss + beta * weight * ((g - target) ** 2).sum() / (4 * c**2 * (h * w) ** 2)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    x.data.clamp_(0, 1)
    return x.detach()


def gatys_grad_by_hand(
    features_fn, content, style, content_layers, style_layers, alpha, beta, steps
):
    """Targets from one batched call, the gradient by autograd.grad, a copy_ projection."""
    with torch.no_grad():
        both = features_fn(torch.cat([content, style]))
    targets = {n: both[n][:1] for n in content_layers}
    grams = {}
    for n in style_layers:
        f = both[n][1:].flatten(2)
        grams[n] = torch.bmm(f, f.transpose(1, 2))
    x = content.detach().clone()
    x.requires_grad_(True)
    optimizer = torch.optim.LBFGS([x], max_iter=1, history_size=50)

    def closure():
        f = features_fn(x)
        total = x.new_zeros(())
        for n in content_layers:
            total = total + alpha * 0.5 * ((f[n] - targets[n]) ** 2).sum()
        for n in style_layers:
            b, c, h, w = f[n].shape
            m = f[n].flatten(2)
            e = ((torch.bmm(m, m.transpose(1, 2)) - grams[n]) ** 2).sum() / (4 * c**2 * h**2 * w**2)
            total = total + beta * e / len(style_layers)
        (x.grad,) = torch.autograd.grad(total, x)
        return total

    for _ in range(steps):
        optimizer.step(closure)
        with torch.no_grad():
            x.copy_(x.clamp(0, 1))
    return x.detach().clone()


def gatys_via_transfer(
    features_fn, content, style, content_layers, style_layers, alpha, beta, steps
):
    from stylelib.gatys.transfer import transfer
    from stylelib.presets import get as preset

    config = replace(
        preset("gatys2016"),
        weights="random",
        size=max(content.shape[-2:]),
        steps=steps,
        init="content",
        content_weight=alpha,
        style_weight=beta,
        device="cpu",
    )
    return transfer(content, style, config, progress=False).image


def gatys_optimises_the_content(
    features_fn, content, style, content_layers, style_layers, alpha, beta, steps
):
    with torch.no_grad():
        a = features_fn(style)
        p = features_fn(content)
    grams = {n: gram(a[n]) for n in style_layers}
    x = content.requires_grad_(True)  # the caller's tensor itself
    optimizer = torch.optim.LBFGS([x], max_iter=1)

    def closure():
        optimizer.zero_grad()
        f = features_fn(x)
        loss = alpha * sum(0.5 * (f[n] - p[n]).pow(2).sum() for n in content_layers)
        loss = loss + beta * sum(layer_style(f[n], grams[n]) for n in style_layers) / 2
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    return x.detach()


CATALOGUE["gatys_transfer"] = (
    checks.check_gatys_loop,
    {},
    [
        (make_loop("targets_attached", detach=False), "back-propagates into its targets"),
        (
            make_loop("style_grams_of_content", style_of=lambda c, s: c),
            "style image never goes through features_fn",
        ),
        (make_loop("swapped_weights", swap=True), "α and β are swapped"),
        (make_loop("no_half", half=1.0), "lacks the ½ of Eq. 1"),
        (make_loop("no_style_normalisation", style_norm=False), "1/(4 N_l² M_l²)"),
        (make_loop("adam", optimizer="adam"), "as Adam's does"),
        (make_loop("from_noise", start="noise"), "white noise?"),
        (make_loop("no_clamp", clamp="none"), "outside [0, 1]"),
        (make_loop("clamp_at_end", clamp="end"), "only at the end"),
        (make_loop("one_step_short", steps_offset=-1), "steps instead of steps="),
        (make_loop("one_step_more", steps_offset=1), "steps instead of steps="),
        (make_loop("default_max_iter", max_iter=20), "max_iter=1"),
        (make_loop("strong_wolfe", line_search="strong_wolfe"), "line_search_fn='strong_wolfe'"),
        (make_loop("content_target_from_x", content_from_x=True), "follows x"),
        (make_loop("paper_weights", weight=0.2), "w_l = 1/5"),
        (make_loop("unweighted_layers", weight=1.0), "not weighted"),
        (make_loop("new_optimizer_each_step", new_optimizer=True), "curvature memory"),
        (make_loop("returns_x", result="x"), "requires grad"),
        (make_loop("returns_numpy", result="numpy"), "numpy array"),
        (gatys_optimises_the_content, "modifies its input content"),
        (make_loop("library_gram", library_gram=True), "the library's own answer"),
        (gatys_via_transfer, "the library's own answer"),
    ],
    [gatys_right, gatys_tutorial_style, gatys_grad_by_hand, make_loop("by_switches")],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)


def test_every_known_mistake_changes_the_image():
    """Each mistake the check can name gives an image that differs from the reference's."""
    with MODULE.one_thread():
        for case in MODULE.CASES:
            content, style = MODULE._images(case)
            expected, _ = MODULE._loop(MODULE._TinyNet(), content, style, *case[1:])
            for mistake, message in MODULE._mistakes(case[2], case[-1]):
                variant, _ = MODULE._loop(MODULE._TinyNet(), content, style, *case[1:], **mistake)
                assert MODULE._differs(variant, expected), message
