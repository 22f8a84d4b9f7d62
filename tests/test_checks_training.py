"""stylelib.checks.training: wrong and right answers to lesson 05's training exercises.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from helpers import catalogue_tests

from stylelib import checks, losses
from stylelib import trainset as library_trainset
from stylelib.checks import training as MODULE

CATALOGUE: dict = {}

# --- feature_loss (Johnson Eq. 2) ---------------------------------------------------------------


def feature_loss_right(features, target):
    b, c, h, w = features.shape
    return ((features - target) ** 2).flatten(1).sum(dim=1).div(c * h * w).mean()


def feature_loss_mean(features, target):
    return ((features - target) ** 2).mean()  # the mean over B·C·H·W is the same number


def feature_loss_mse(features, target):
    return F.mse_loss(features, target)


def feature_loss_norm_squared(features, target):
    per_image = torch.linalg.vector_norm((features - target).flatten(1), dim=1) ** 2
    return (per_image / features[0].numel()).mean()


def feature_loss_library(features, target):
    return losses.content_loss(features, target, "johnson")


def feature_loss_sum(features, target):
    return ((features - target) ** 2).sum() / features.shape[0]


def feature_loss_gatys(features, target):
    return 0.5 * ((features - target) ** 2).flatten(1).sum(1).mean()


def feature_loss_half(features, target):
    return 0.5 * ((features - target) ** 2).mean()


def feature_loss_hw_only(features, target):
    h, w = features.shape[-2:]
    return ((features - target) ** 2).flatten(1).sum(1).mean() / (h * w)


def feature_loss_batch_sum(features, target):
    c, h, w = features.shape[1:]
    return ((features - target) ** 2).sum() / (c * h * w)


def feature_loss_not_squared(features, target):
    return torch.linalg.vector_norm(features - target) / features[0].numel()


def feature_loss_l1(features, target):
    return (features - target).abs().mean()


def feature_loss_first_image(features, target):
    return ((features[0] - target[0]) ** 2).mean()


def feature_loss_per_image(features, target):
    return ((features - target) ** 2).mean(dim=(1, 2, 3))


def feature_loss_float(features, target):
    return ((features - target) ** 2).mean().item()


def feature_loss_detached(features, target):
    return ((features.detach() - target) ** 2).mean()


CATALOGUE["feature_loss"] = (
    checks.check_feature_loss,
    {},
    [
        (feature_loss_library, "the library's own answer"),
        (feature_loss_sum, "C·H·W"),
        (feature_loss_gatys, "Gatys's content loss"),
        (feature_loss_half, "no ½"),
        (feature_loss_hw_only, "not only by H·W"),
        (feature_loss_batch_sum, "average over the batch"),
        (feature_loss_not_squared, "the norm is squared"),
        (feature_loss_l1, "square the differences"),
        (feature_loss_first_image, "only the first image"),
        (feature_loss_per_image, "one loss per image"),
        (feature_loss_float, "Python float"),
        (feature_loss_detached, "breaks the gradient"),
    ],
    [feature_loss_right, feature_loss_mean, feature_loss_mse, feature_loss_norm_squared],
)

# --- train_step (Johnson Eq. 1, Sec. 4.1) ----------------------------------------------------


def step_right(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    stylized = net(photos)
    loss = loss_fn(stylized, photos)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_zero_grad_last(net, optimizer, photos, loss_fn):
    loss = loss_fn(net(photos), photos)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()  # as PyTorch's own tutorial does
    return float(loss.detach())


def step_net_zero_grad(net, optimizer, photos, loss_fn):
    net.train()
    net.zero_grad(set_to_none=False)
    loss = loss_fn(net(photos), photos)
    loss.backward()
    optimizer.step()
    return loss.detach().item()


def step_autograd_grad(net, optimizer, photos, loss_fn):
    params = list(net.parameters())
    loss = loss_fn(net(photos), photos)
    for p, g in zip(params, torch.autograd.grad(loss, params), strict=True):
        p.grad = g
    optimizer.step()
    return loss.item()


def step_library(net, optimizer, photos, loss_fn):
    photos, _ = library_trainset.collate([(photo, []) for photo in photos])
    return step_right(net, optimizer, photos, loss_fn)


def step_no_zero_grad(net, optimizer, photos, loss_fn):
    loss = loss_fn(net(photos), photos)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_before_backward(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos)
    optimizer.step()
    loss.backward()
    return loss.item()


def step_no_step(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos)
    loss.backward()
    return loss.item()


def step_loss_on_photos(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    net(photos)
    loss = loss_fn(photos, photos)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_swapped(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(photos, net(photos))
    loss.backward()
    optimizer.step()
    return loss.item()


def step_returns_tensor(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos)
    loss.backward()
    optimizer.step()
    return loss


def step_detached(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    with torch.no_grad():
        stylized = net(photos)
    loss = loss_fn(stylized, photos)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_backward_twice(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos)
    loss.backward()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_backward_twice_retained(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos)
    loss.backward(retain_graph=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_new_optimizer(net, optimizer, photos, loss_fn):
    optimizer = type(optimizer)(net.parameters(), **optimizer.defaults)
    return step_right(net, optimizer, photos, loss_fn)


def step_returns_loss_after(net, optimizer, photos, loss_fn):
    step_right(net, optimizer, photos, loss_fn)
    with torch.no_grad():
        return loss_fn(net(photos), photos).item()


def step_returns_none(net, optimizer, photos, loss_fn):
    step_right(net, optimizer, photos, loss_fn)


def step_loss_times_batch(net, optimizer, photos, loss_fn):  # "the loss of the whole batch"
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos) * photos.shape[0]
    loss.backward()
    optimizer.step()
    return loss.item() / photos.shape[0]


def step_loss_times_len(net, optimizer, photos, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos)
    (len(photos) * loss).backward()
    optimizer.step()
    return loss.item()


def step_update_by_hand(net, optimizer, photos, loss_fn):  # SGD written out: no momentum
    optimizer.zero_grad()
    loss = loss_fn(net(photos), photos)
    loss.backward()
    with torch.no_grad():
        for p in net.parameters():
            p -= optimizer.param_groups[0]["lr"] * p.grad
    return loss.item()


def step_update_by_hand_data(net, optimizer, photos, loss_fn):
    for p in net.parameters():
        p.grad = None
    loss = loss_fn(net(photos), photos)
    loss.backward()
    for p in net.parameters():
        p.data.add_(p.grad, alpha=-0.1)
    return loss.item()


CATALOGUE["train_step"] = (
    checks.check_train_step,
    {},
    [
        (step_library, "the library's own answer"),
        (step_no_zero_grad, "zero_grad"),
        (step_before_backward, "did not change"),
        (step_no_step, "did not change"),
        (step_loss_on_photos, "on the photos instead of the stylised images"),
        (step_swapped, "swapped"),
        (step_returns_tensor, "Python float"),
        (step_detached, "cut off from the network"),
        (step_backward_twice, "called twice"),
        (step_backward_twice_retained, "twice the loss's"),
        (step_new_optimizer, "new optimizer"),
        (step_loss_times_batch, "multiplied by the batch size"),
        (step_loss_times_len, "multiplied by the batch size"),
        (step_update_by_hand, "updated by hand"),
        (step_update_by_hand_data, "updated by hand"),
        (step_returns_loss_after, "loss after the update"),
        (step_returns_none, "returns NoneType"),
    ],
    [step_right, step_zero_grad_last, step_net_zero_grad, step_autograd_grad],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)
