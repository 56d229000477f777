"""runtime.modules: the helpers the exporter copies by source into the standalone script."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from graph.catalogue import INIT_CHOICES, REGISTRY
from runtime import modules
from tests.imports import top_modules

torch.set_num_threads(1)


def test_imports_only_torch_math_and_the_standard_library():
    names = top_modules(inspect.getsource(modules))
    assert names <= {"__future__", "math", "torch"}, names


def test_fn_table_covers_every_fn_target_in_the_catalogue():
    targets = {t.torch[3:] for t in REGISTRY.values() if t.torch.startswith("fn.")}
    assert targets == set(modules.FUNCTIONS)


def test_maxout_takes_the_max_over_its_pieces():
    m = modules.Maxout(3, 2, 4)
    x = torch.randn(7, 3)
    pieces = F.linear(x, m.weight, m.bias).view(7, 2, 4)
    assert torch.equal(m(x), pieces.max(-1).values)
    assert sum(p.numel() for p in m.parameters()) == 3 * 2 * 4 + 2 * 4


@pytest.mark.parametrize("make", [
    lambda p: modules.DropConnectLinear(20, 30, dropconnect=p),
    lambda p: modules.DropConnectConv1d(2, 3, 3, dropconnect=p),
    lambda p: modules.DropConnectConv2d(2, 3, 3, dropconnect=p),
    lambda p: modules.Maxout(20, 10, 2, dropconnect=p),
])
def test_dropconnect_drops_weights_while_training_only(make):
    torch.manual_seed(0)
    m = make(0.5)
    shape = {modules.DropConnectConv1d: (4, 2, 8), modules.DropConnectConv2d: (4, 2, 6, 6)}.get(type(m), (4, 20))
    x = torch.randn(*shape)
    m.eval()
    plain = m(x)
    m.dropconnect = 0.0
    assert torch.equal(m(x), plain)  # inference uses the weights unchanged
    m.dropconnect = 0.5
    m.train()
    torch.manual_seed(1)
    a = m(x)
    torch.manual_seed(1)
    assert torch.equal(m(x), a)  # driven by the global RNG: reproducible
    assert not torch.allclose(a, plain)
    assert [k for k, _ in m.named_parameters()] == ["weight", "bias"]


def test_dropconnect_scales_kept_weights():
    w = torch.ones(1000, 100)
    torch.manual_seed(0)
    d = modules.dropconnect_weight(w, 0.25, True)
    kept = d[d != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.75))
    assert abs((d == 0).float().mean().item() - 0.25) < 0.01
    assert modules.dropconnect_weight(w, 0.25, False) is w


def test_step_and_sign_have_zero_gradients():
    x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    assert modules.step(x).tolist() == [0.0, 0.0, 1.0]
    assert modules.sign(x).tolist() == [-1.0, 0.0, 1.0]
    (modules.step(x).sum() + modules.sign(x).sum()).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_functions():
    a, b = torch.ones(2, 3), torch.full((2, 3), 2.0)
    assert torch.equal(modules.add([a, b, b]), torch.full((2, 3), 5.0))
    assert modules.cat([a, b], dim=1).shape == (2, 6)
    assert modules.reshape(torch.arange(12.0).view(2, 6), (3, 2)).shape == (2, 3, 2)


def test_causal_mask_hides_later_steps():
    mask = modules.causal_mask(torch.zeros(2, 4, 3))
    assert mask.dtype == torch.bool and mask.shape == (4, 4)
    assert mask.tolist()[1] == [False, False, True, True]  # step 1 sees steps 0 and 1
    attn = nn.MultiheadAttention(6, 2, batch_first=True)
    x = torch.randn(1, 4, 6)
    y = attn(x, x, x, need_weights=False, attn_mask=mask)[0]
    x2 = x.clone()
    x2[0, 3] += 1.0  # a change at the last step leaves the earlier steps' outputs alone
    y2 = attn(x2, x2, x2, need_weights=False, attn_mask=mask)[0]
    assert torch.allclose(y[0, :3], y2[0, :3]) and not torch.allclose(y[0, 3], y2[0, 3])


@pytest.mark.parametrize("scheme", INIT_CHOICES)
def test_every_weight_init_choice(scheme):
    torch.manual_seed(0)
    w = torch.empty(400, 200)
    w.fill_(7.0)
    modules.init_weight(w, scheme)
    std = w.std().item()
    if scheme == "default":
        assert torch.all(w == 7.0)  # torch's own init happened at construction; nothing changes
    elif scheme == "zeros":
        assert torch.all(w == 0)
    elif scheme == "small_random":
        assert std == pytest.approx(0.01, rel=0.05)
    elif scheme == "lecun":
        assert std == pytest.approx(1 / math.sqrt(200), rel=0.05)
    elif scheme in ("xavier_uniform", "xavier_normal"):
        assert std == pytest.approx(math.sqrt(2 / 600), rel=0.05)
    elif scheme in ("he_uniform", "he_normal"):
        assert std == pytest.approx(math.sqrt(2 / 200), rel=0.05)
    elif scheme == "sparse":
        nonzero = (w != 0).float().mean(0)  # per column (input)
        assert torch.allclose(nonzero, torch.full_like(nonzero, 0.1))
    else:
        raise AssertionError(f"no check for {scheme}")


def test_init_uses_conv_fan_in_and_bias_choices():
    conv = nn.Conv2d(3, 8, 5)
    modules.apply_init(conv, "lecun", "constant", 0.01)
    assert conv.weight.std().item() == pytest.approx(1 / math.sqrt(3 * 25), rel=0.15)
    assert torch.all(conv.bias == 0.01)
    modules.apply_init(conv, "default", "zeros")
    assert torch.all(conv.bias == 0)
    with pytest.raises(ValueError):
        modules.init_weight(conv.weight, "nope")


def test_family_target_per_loss_family():
    y = torch.tensor([0, 2, 1])
    assert torch.equal(modules.family_target("class", y, 3), y)
    assert modules.family_target("binary", torch.tensor([0, 1]), 2).tolist() == [[0.0], [1.0]]
    assert modules.family_target("regress", y, 3).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    real = torch.tensor([[0.5], [1.5]], dtype=torch.float64)
    assert modules.family_target("regress", real, 0).dtype == torch.float32


def test_family_correct_per_family_and_threshold():
    pred = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0]])
    assert modules.family_correct("class", pred, torch.tensor([0, 1, 1]), None).item() == 2
    onehot = modules.family_target("regress", torch.tensor([0, 1, 1]), 2)
    assert modules.family_correct("regress", pred, onehot, None).item() == 2
    t = torch.tensor([[1.0], [0.0], [1.0]])
    assert modules.family_correct("binary", torch.tensor([[0.3], [-1.0], [-0.2]]), t, 0.0).item() == 2
    assert modules.family_correct("binary", torch.tensor([[0.6], [0.4], [0.45]]), t, 0.5).item() == 2


def test_regularization_penalty_and_layer_weights():
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0], [0.0, 3.0]]))
    ws = modules.layer_weights(lin)
    assert len(ws) == 1 and ws[0] is lin.weight  # biases excluded
    penalty = modules.regularization_penalty([(ws[0], 0.1, 0.01)])
    assert penalty.item() == pytest.approx(0.1 * 6 + 0.01 * 14)
    assert modules.regularization_penalty([(ws[0], 0.0, 0.0)]) is None
    lstm = nn.LSTM(3, 4)
    assert len(modules.layer_weights(lstm)) == 2


def test_max_norm_projects_each_unit():
    w = torch.tensor([[3.0, 4.0], [0.3, 0.4]], requires_grad=True)
    modules.apply_max_norm([(w, 1.0)])
    norms = w.detach().norm(dim=1)
    assert norms[0].item() == pytest.approx(1.0, rel=1e-5)
    assert norms[1].item() == pytest.approx(0.5)


def test_binary_losses_count_correct_with_their_own_threshold():
    """Probabilities (BCELoss) are cut at 0.5, logits (BCEWithLogitsLoss) at 0: the one rule is
    the loss type's declared threshold, read by runtime.build.binary_threshold."""
    from runtime.build import binary_threshold

    pred, t = torch.tensor([[0.6], [0.4], [-0.1]]), torch.tensor([[1.0], [0.0], [0.0]])
    probs = binary_threshold(REGISTRY["BCELoss"])
    logits = binary_threshold(REGISTRY["BCEWithLogitsLoss"])
    assert (probs, logits) == (0.5, 0.0)
    assert modules.family_correct("binary", pred, t, probs).item() == 3
    assert modules.family_correct("binary", pred, t, logits).item() == 2  # 0.4 > 0: positive
    assert modules.family_target("regress", torch.tensor([1]), 2).tolist() == [[0.0, 1.0]]
