"""The ``privacy_tosc`` system: keys, data split, schemes' paths, the eavesdropper, bad input (``--quick`` models)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from linksim.assembly import Runtime, build_system
from linksim.cli import main
from linksim.scenario import load_scenario
from linksim.systems.privacy.schemes import vib_kl
from linksim.vision.training import to_tensor

BASE = {
    "name": "privacy_tiny", "seed": 1,
    "data": {"type": "images", "source": "embedded"},
    "channel": {"type": "awgn"},
    "sweep": {"parameter": "snr_db", "values": [12]},
    "metrics": ["accuracy", "mi_leakage", "attacker_psnr"],
    "monte_carlo": {"batch_size": 8, "max_batches": 1, "target_errors": None},
}


def _scenario(tmp_path: Path, systems, **extra):
    doc = {**BASE, "systems": systems, **extra}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_scenario(path), path


def _system(tmp_path: Path, params, index: int = 0, **extra):
    scenario, _ = _scenario(tmp_path, [{"label": "S", "type": "privacy_tosc", "params": params}], **extra)
    return build_system(scenario, index, Runtime(cache_dir=tmp_path / "cache", quick=True))


def test_encryption_shares_deepjscc_weights_but_not_its_attacker(tmp_path):
    plain = _system(tmp_path, {"scheme": "deepjscc"})
    enc = _system(tmp_path, {"scheme": "encryption"})
    static = _system(tmp_path, {"scheme": "encryption", "encryption": {"keys": "static"}})
    assert enc.transceiver_key((0.0, 0.0, "")) == plain.transceiver_key((0.0, 0.0, "")) == static.transceiver_key((0.0, 0.0, ""))
    keys = {plain.attacker_key((0.0, 0.0, "")), enc.attacker_key((0.0, 0.0, "")), static.attacker_key((0.0, 0.0, ""))}
    assert len(keys) == 3  # the attacker sees other inputs: trained for each


def test_the_attacker_key_follows_its_victim(tmp_path):
    a = _system(tmp_path, {"scheme": "dp", "dp": {"epsilon": 0.1}})
    b = _system(tmp_path, {"scheme": "dp", "dp": {"epsilon": 0.9}})
    assert a.transceiver_key((0.1, 0.0, "")) != a.transceiver_key((0.9, 0.0, "")) == b.transceiver_key((0.9, 0.0, ""))
    assert a.attacker_key((0.1, 0.0, "")) != a.attacker_key((0.9, 0.0, ""))
    wider = _system(tmp_path, {"scheme": "dp", "dp": {"epsilon": 0.1}, "symbols": 64})
    assert wider.attacker_key((0.1, 0.0, "")) != a.attacker_key((0.1, 0.0, ""))


def test_the_attackers_images_are_disjoint_from_the_victims(tmp_path):
    system = _system(tmp_path, {"scheme": "deepjscc"})
    (legit, _), aux = system._splits((0.0, 0.0, ""))
    train = system.dataset.split("train").images
    n = len(legit)
    assert np.array_equal(legit, train[:n]) and np.array_equal(aux, train[n: n + len(aux)])
    assert len(aux) == n > 0


def test_vib_kl_is_the_closed_form():
    sigma = 0.1776
    z = torch.tensor([[0.05, 0.3, 1.0, 3.0]])
    alpha = sigma ** 2 / z.square()
    k1, k2, k3 = 0.63576, 1.87320, 1.48695
    expected = -(k1 * torch.sigmoid(k2 + k3 * torch.log(alpha)) - 0.5 * torch.log1p(1 / alpha) - k1)
    per_value = torch.stack([vib_kl(z[:, i: i + 1], sigma) for i in range(4)], -1)[0]
    assert torch.allclose(per_value, expected[0], rtol=1e-5)
    assert torch.all(per_value >= 0) and torch.all(per_value[:-1] <= per_value[1:])  # falls as alpha grows


@pytest.fixture(scope="module")
def quick_links(tmp_path_factory):
    """DeepJSCC, encryption and LBVQ quick systems, set up (trained tiny) in one cache."""
    tmp = tmp_path_factory.mktemp("privacy")
    out = {}
    for scheme in ("deepjscc", "encryption", "lbvq"):
        system = _system(tmp, {"scheme": scheme})
        system.setup()
        out[scheme] = system
    return out


def test_encryption_is_lossless_for_the_key_holder_and_useless_without_it(quick_links):
    plain, enc = quick_links["deepjscc"]._links[(0.0, 0.0, "")][0], quick_links["encryption"]._links[(0.0, 0.0, "")][0]
    images = quick_links["deepjscc"].dataset.split("test").images[:64]
    x = to_tensor(images)
    with torch.no_grad():
        sent_plain = plain.transmit(x)
        sent_enc = enc.transmit(x, rng=np.random.default_rng(0))
        assert torch.equal(enc.logits(sent_enc, sent_enc.tx), plain.logits(sent_plain, sent_plain.tx))
        assert not torch.allclose(sent_enc.tx, sent_plain.tx)
        wrong = sent_enc.__class__(sent_enc.tx, nonces=sent_enc.nonces + np.uint64(1))
        agree = (enc.logits(wrong, sent_enc.tx).argmax(-1) == plain.logits(sent_plain, sent_plain.tx).argmax(-1))
    assert float(agree.float().mean()) < 0.9  # the wrong key scrambles the features


def test_lbvq_sends_only_constellation_points(quick_links):
    system = quick_links["lbvq"]
    link = system._links[(0.0, 0.0, "")][0]
    x = to_tensor(system.dataset.split("test").images[:16])
    with torch.no_grad():
        sent = link.transmit(x)
    points = link.index_link.modulation.points
    symbols = torch.complex(sent.tx[..., 0], sent.tx[..., 1])
    assert symbols.shape == (16, 128)
    assert torch.all((symbols.unsqueeze(-1) - points).abs().min(-1).values < 1e-6)
    assert sent.indices.min() >= 0 and sent.indices.max() < 16
    assert torch.equal(link.received_indices(sent.tx), sent.indices)  # noiseless: the indices come back
    codewords = link.listen(sent, sent.tx)
    assert torch.equal(codewords, link.model.quantizer.lookup(sent.indices))


def test_the_eavesdropper_has_its_own_noise(quick_links, tmp_path):
    system = quick_links["deepjscc"]
    tx = torch.zeros(4000, 16, 2)
    legit = system._legit(tx, snr_db=10.0)
    eve = system.eavesdropper.intercept(tx, 16.0)
    assert abs(float(eve.var()) / (10 ** (-1.6) / 2) - 1) < 0.03
    rho = np.corrcoef(legit.flatten().numpy(), eve.flatten().numpy())[0, 1]
    assert abs(rho) < 0.01
    offset = _system(tmp_path, {"scheme": "deepjscc", "eavesdropper": {"snr_offset_db": 6}})
    assert offset.eavesdropper.snr_db({"snr_db": 10}) == 16
    assert offset.eavesdropper.snr_db({"snr_db": 10, "eve_snr_db": -3}) == -3
    tap = _system(tmp_path, {"scheme": "deepjscc", "eavesdropper": {"tap": "channel_input"}})
    assert tap.eavesdropper.intercept(tx, 0.0) is tx


def test_a_quick_run_gives_every_metric(quick_links):
    system = quick_links["lbvq"]
    stats = system.simulate(8, {"snr_db": 12.0})
    for name in ("correct", "trials", "attacker_psnr_sum", "attacker_ssim_sum", "mi_leakage_sum", "tx_power_sum",
                 "attacker_correct", "symbol_errors", "symbols"):
        assert name in stats
    assert stats["symbols"] == 8 * 128
    assert math.isfinite(stats["mi_leakage_sum"])


@pytest.mark.parametrize("params, extra, field", [
    ({"scheme": "dp", "dp": {"epsilon": 0}}, {}, "params.dp.epsilon"),
    ({"scheme": "dp", "dp": {"epsilon": -0.5}}, {}, "params.dp.epsilon"),
    ({"scheme": "dp", "dp": {"epsilon": 2, "mechanism": "gaussian", "calibration": "strict"}}, {}, "params.dp.epsilon"),
    ({"scheme": "deepjscc"}, {"sweep": {"parameter": "epsilon", "values": [0.1], "fixed": {"snr_db": 12}}}, "sweep"),
    ({"scheme": "dp"}, {"sweep": {"parameter": "epsilon", "values": [0.1, 0], "fixed": {"snr_db": 12}}}, "sweep"),
    ({"scheme": "deepjscc", "eavesdropper": {"channel": {"type": "mimo", "num_tx": 2, "num_rx": 2}}}, {},
     "params.eavesdropper.channel"),
    ({"scheme": "deepjscc"}, {"training": {"num_train": 9000}}, "training"),
])
def test_bad_input_exits_2_naming_the_field(tmp_path, capsys, params, extra, field):
    system = {"label": "S", "type": "privacy_tosc", "params": params}
    if "training" in extra:
        system["training"] = extra.pop("training")
    doc = {**BASE, "systems": [system], **extra}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


# ---------------------------------------------------------------------------------- any learned image link
VICTIM = {"type": "image_jscc", "params": {"method": "deepjscc", "bandwidth_ratio": 1 / 24}}


def test_an_eavesdropped_link_keeps_its_own_numbers_and_adds_the_attack(tmp_path):
    from linksim.runner import seed_everything

    scenario, _ = _scenario(tmp_path, [{"label": "S", "type": "eavesdropped",
                                        "params": {"victim": VICTIM, "eavesdropper": {"attribute": "class"}}}],
                            metrics=["accuracy", "mi_leakage", "attacker_psnr", "attribute_leakage"])
    runtime = Runtime(cache_dir=tmp_path / "cache", quick=True)
    wrapped = build_system(scenario, 0, runtime)
    alone, _ = _scenario(tmp_path, [{"label": "S", "type": "image_jscc", "params": VICTIM["params"]}],
                         metrics=["accuracy", "psnr"])
    plain = build_system(alone, 0, runtime)
    wrapped.setup()
    plain.setup()
    point = {"snr_db": 12.0}
    assert wrapped.victim.victim_key(point) == plain.model_key(plain._model_point(point))
    seed_everything(5)
    stats = wrapped.simulate(8, point)
    seed_everything(5)
    own = plain.simulate(8, point)
    assert {k: stats[k] for k in own} == own
    assert {"attacker_psnr_sum", "mi_leakage_sum", "attacker_correct"} <= set(stats)
    assert stats["attribute_trials"] == 8 and 0 <= stats["attribute_correct"] <= 8  # reads the class
    assert any(kind == "privacy" for kind, _ in wrapped.trained_weights())


@pytest.mark.parametrize("victim, field", [
    ({"type": "bitlink", "params": {}}, "params.victim.type"),
    ({"type": "privacy_tosc", "params": {"scheme": "deepjscc"}}, "params.victim.type"),
    ({"type": "no_such_system"}, "params.victim.type"),
    ({"type": "image_jscc", "params": {"method": "deepjscc", "bandwidth_ratio": 2}}, "params.victim.params"),
])
def test_a_victim_without_symbols_exits_2_naming_the_field(tmp_path, capsys, victim, field):
    doc = {**BASE, "systems": [{"label": "S", "type": "eavesdropped", "params": {"victim": victim}}]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


# ---------------------------------------------------------------------------------- Table I
def test_table1_counts_are_exact(tmp_path):
    from linksim.systems.privacy.cost import parameter_count
    from linksim.systems.privacy.networks import TaskHead, build_inverter
    from linksim.systems.semcc.networks import SemanticEncoder

    def cost(params):
        scenario, _ = _scenario(tmp_path, [{"label": "S", "type": "privacy_cost", "params": params}],
                                metrics=["params_m", "params_train_m", "gflops"])
        system = build_system(scenario, 0, Runtime(cache_dir=tmp_path / "cache", quick=True))
        stats = system.simulate(1, {"snr_db": 12.0})
        return {name: stats[f"{name}_sum"] for name in ("params_m", "params_train_m", "gflops")}, system

    plain, system = cost({"scheme": "deepjscc"})
    assert cost({"scheme": "dp"})[0] == plain == cost({"scheme": "encryption"})[0]  # noise and keys add nothing
    ibal, _ = cost({"scheme": "ibal"})
    adversary = build_inverter(256, system.image_shape, 8)
    assert ibal["params_m"] == plain["params_m"]
    assert round(ibal["params_train_m"] * 1e6) == round(plain["params_m"] * 1e6) + parameter_count(adversary)
    lbvq, _ = cost({"scheme": "lbvq"})
    width = 8  # --quick
    encoder = SemanticEncoder(128 * 16 // 2, system.image_shape, width)
    head = TaskHead(128 * 16, system.image_shape, 10, width)
    encoder(torch.zeros(2, 3, 32, 32))
    head(torch.zeros(2, 128, 16))
    assert round(lbvq["params_m"] * 1e6) == parameter_count(encoder) + parameter_count(head) + 16 * 16
    assert plain["gflops"] > 0 and lbvq["gflops"] > plain["gflops"]


def test_an_attack_metric_without_an_eavesdropper_exits_2(tmp_path, capsys):
    """Attack metrics need an eavesdropper: a plain image_jscc reports none (wrap it in eavesdropped)."""
    doc = {**BASE, "metrics": ["accuracy", "attacker_psnr"],
           "systems": [{"label": "S", "type": "image_jscc", "params": VICTIM["params"]}]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "metrics[1]" in err and "attacker_psnr" in err and "Traceback" not in err
