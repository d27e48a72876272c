"""linksim.adversarial: the semantic-noise attacks and adversarial weight perturbation.

Every check can fail: the budget constraints are exact, FGSM is PGD with one full step,
and on a small model trained here (softmax regression on 2000 real MNIST digits, 2 s) the
attack must hurt more than random noise of the same size.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from linksim import adversarial as adv
from linksim.data.npm_datasets import EMBEDDED_DIR


@pytest.fixture(scope="module")
def digits_model():
    """A softmax regression trained on 2000 real digits, with 500 held-out test digits."""
    data = np.load(EMBEDDED_DIR / "mnist_10k.npz")
    x = torch.tensor(data["x_train"][:2000], dtype=torch.float32).reshape(2000, -1) / 255.0
    y = torch.tensor(data["y_train"][:2000]).long()
    x_test = torch.tensor(data["x_test"][:500], dtype=torch.float32).reshape(500, -1) / 255.0
    y_test = torch.tensor(data["y_test"][:500]).long()
    torch.manual_seed(0)
    model = torch.nn.Linear(784, 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, x_test, y_test


def _loss(model, labels):
    return lambda images: torch.nn.functional.cross_entropy(model(images), labels, reduction="sum")


def test_pgd_stays_in_the_ball_and_box_and_one_full_step_is_fgsm(digits_model):
    model, x, y = digits_model
    eps = 0.05
    adv_x = adv.pgd_linf(_loss(model, y), x, eps, steps=7)
    assert (adv_x - x).abs().max() <= eps + 1e-7 and adv_x.min() >= 0 and adv_x.max() <= 1
    assert torch.equal(adv.pgd_linf(_loss(model, y), x, eps, steps=1, step_size=eps), adv.fgsm(_loss(model, y), x, eps))


def test_pgd_hurts_an_undefended_model_more_than_random_noise(digits_model):
    model, x, y = digits_model
    eps = 0.05
    gen = torch.Generator().manual_seed(1)
    noise = (x + eps * (torch.randint(0, 2, x.shape, generator=gen) * 2.0 - 1.0)).clamp(0, 1)
    attacked = adv.pgd_linf(_loss(model, y), x, eps, steps=10)
    with torch.no_grad():
        clean_loss, noise_loss, pgd_loss = (_loss(model, y)(v).item() / len(y) for v in (x, noise, attacked))
        clean_acc = (model(x).argmax(-1) == y).float().mean().item()
        pgd_acc = (model(attacked).argmax(-1) == y).float().mean().item()
    assert clean_acc > 0.8
    assert pgd_loss > noise_loss + 1.0 and pgd_loss > clean_loss + 1.0
    assert pgd_acc < clean_acc - 0.3


def test_sign_of_zero_is_plus_one_and_bad_arguments():
    assert adv.sign(torch.tensor([-2.0, 0.0, 3.0])).tolist() == [-1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="epsilon"):
        adv.pgd_linf(lambda v: v.sum(), torch.zeros(2), -0.1)
    with pytest.raises(ValueError, match="scalar"):
        adv.fgsm(lambda v: v, torch.zeros(2), 0.1)


def test_weight_perturbation_budget_ascent_and_exact_restore(digits_model):
    model, x, y = digits_model
    model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    torch.manual_seed(2)
    saved = [p.detach().clone() for p in model.parameters()]
    awp = adv.WeightPerturbation(model.parameters(), gamma=5e-3)
    assert len(awp.params) == 2  # the two weight matrices, not the biases

    def loss():
        return torch.nn.functional.cross_entropy(model(x), y)

    before = loss().item()
    thetas = [p.detach().clone() for p in awp.params]
    nus = awp.perturb(loss)
    for nu, theta in zip(nus, thetas):
        assert nu.norm() <= 5e-3 * theta.norm() * (1 + 1e-5)
        assert nu.norm() >= 5e-3 * theta.norm() * (1 - 1e-5)  # the full budget (non-zero gradient)
    assert loss().item() >= before
    awp.restore()
    assert all(torch.equal(p, s) for p, s in zip(model.parameters(), saved))


def test_universal_receiver_noise_norm_direction_and_effect():
    torch.manual_seed(3)
    uses, nr, na = 8, 2, 2
    # the receiver only looks at the first two channel uses: a universal perturbation
    # should put its power there (with i.i.d. attacker channels, direction within a use
    # cannot matter: H_a dx is CN(0, |dx_u|^2 I) whatever dx_u's direction)
    weight = torch.zeros(3, uses, nr, dtype=torch.complex64)
    weight[:, :2] = torch.randn(3, 2, nr, dtype=torch.complex64)

    def logits(rx):
        return torch.einsum("cun,...un->...c", weight.conj(), rx).real

    def loss_for(label):
        return lambda rx: torch.nn.functional.cross_entropy(logits(rx).unsqueeze(0), torch.tensor([label]))

    samples = 30
    rx = [torch.randn(uses, nr, dtype=torch.complex64) * 0.1 for _ in range(samples)]
    h_a = [torch.randn(uses, nr, na, dtype=torch.complex64) for _ in range(samples)]
    eps = 3.0

    # step 4's direction for a known H and one step: H^H grad / ||H^H grad||
    one = adv.universal_receiver_noise(loss_for(0), rx[:1], h_a[:1], eps, steps=1)
    x0 = rx[0].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_for(0)(x0), x0)
    direction = (h_a[0].conj().transpose(-1, -2) @ grad.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(one, eps * direction / direction.abs().square().sum().sqrt(), atol=1e-5)

    # every sample carries label 0; the attacker wants to push it away
    dx = adv.universal_receiver_noise(loss_for(0), rx, h_a, eps, steps=5)
    assert dx.abs().square().sum().sqrt().item() == pytest.approx(eps, rel=1e-6)
    assert dx[:2].abs().square().sum() > 0.9 * eps ** 2  # the power goes where the receiver looks
    random_dx = torch.randn(uses, na, dtype=torch.complex64)
    random_dx = eps * random_dx / random_dx.abs().square().sum().sqrt()
    test_h = torch.randn(2000, uses, nr, na, dtype=torch.complex64)

    def mean_loss(delta):
        rxs = 0.1 * torch.randn(2000, uses, nr, dtype=torch.complex64) + (test_h @ delta.unsqueeze(-1)).squeeze(-1)
        return torch.nn.functional.cross_entropy(logits(rxs), torch.zeros(2000, dtype=torch.long)).item()

    universal, random = mean_loss(dx), mean_loss(random_dx)
    assert universal > random + 0.1, (universal, random)


def test_a_shipped_learned_image_system_is_evaluated_under_semantic_noise(tmp_path, monkeypatch):
    """image_jscc takes an ``epsilon`` sweep: PGD against its judge, then the real channel.
    The shipped DeepJSCC of semcc_awgn_20db_mnist at 1/2.5 (no training: the weights are shipped)."""
    from linksim.assembly import Runtime
    from linksim.runner import seed_everything, set_up_system
    from linksim.scenario import parse_scenario
    from linksim.weights import WeightStore

    def refuse(self, key):
        raise AssertionError(f"{self.kind} weights {key} are not shipped")

    monkeypatch.setattr(WeightStore, "training_lock", refuse)
    scenario = parse_scenario({
        "name": "semcc_awgn_20db_mnist", "seed": 1,
        "data": {"type": "images", "source": "mnist_10k", "layout": "rgb32"}, "channel": {"type": "awgn"},
        "sweep": {"parameter": "epsilon", "values": [0, 0.1], "fixed": {"snr_db": 20, "bandwidth_ratio": "1/2.5"}},
        "systems": [{"label": "DeepJSCC", "type": "image_jscc", "params": {"method": "deepjscc"}}],
        "metrics": ["accuracy", "psnr"], "monte_carlo": {"batch_size": 64, "max_batches": 1, "target_errors": None}})
    system = set_up_system(scenario, 0, Runtime(cache_dir=tmp_path / "cache"))
    assert system.simulate_needs_gradients
    results = []
    for point in scenario.sweep.points():
        seed_everything(11)
        results.append(system.simulate(64, dict(point)))
    clean, attacked = (r["correct"] / r["trials"] for r in results)
    assert clean > 0.8 and attacked < clean - 0.3, (clean, attacked)
    seed_everything(11)
    assert system.simulate(64, dict(scenario.sweep.points()[1])) == results[1]  # seeded, attack included
