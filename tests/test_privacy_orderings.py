"""The privacy-ToSC orderings that follow from the mechanisms, measured on the shipped Fig. 3 models.

Loaded from the shipped weights (training forbidden), every system of
``privacy_cifar_awgn.yaml`` (embedded images) and of ``privacy_fashion_awgn.yaml`` (real
Fashion-MNIST) sends :data:`IMAGES` test images at 4 and 12 dB:

* DP: a smaller budget leaks less (MI 0.05 < 0.1 < 0.9);
* fresh-key encryption leaks the least of all schemes, its attacker is within 0.5 dB of the
  mean image, and its task accuracy is DeepJSCC's (the same model; the key holder decrypts exactly);
* LBVQ loses more accuracy from 12 to 4 dB than any analog scheme (16-QAM index errors).

and every system of ``privacy_attributes.yaml`` (Table II) on the ``noisy`` task: learned by
every scheme (balanced accuracy), with a real spread between seeds; the class-inference
attacker near chance against fresh-key encryption.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

from linksim.assembly import Runtime
from linksim.runner import batch_seed, seed_everything, set_up_system
from linksim.scenario import load_scenario
from linksim.stats import wilson_interval
from linksim.vision import quality
from linksim.weights import WeightStore

REPO = Path(__file__).resolve().parents[1]
IMAGES = 300
SNRS = (4.0, 12.0)
#: How far (dB) the fresh-key encryption attacker may read above the mean image: on Fashion-MNIST a
#: shuffle's multiset of feature values tells the garment's brightness (measured 1.2 dB; 500 images).
MEAN_IMAGE_MARGIN_DB = {"privacy_cifar_awgn": 0.5, "privacy_fashion_awgn": 1.5}


@pytest.fixture(scope="module", params=sorted(MEAN_IMAGE_MARGIN_DB))
def measured(request, tmp_path_factory) -> Dict[str, Dict[float, Dict[str, float]]]:
    def refuse(self: WeightStore, key: str) -> Any:
        raise AssertionError(f"{self.kind} weights {key} are not shipped")

    patch = pytest.MonkeyPatch()
    patch.setattr(WeightStore, "training_lock", refuse)
    try:
        scenario = load_scenario(REPO / "scenarios" / f"{request.param}.yaml")
        runtime = Runtime(cache_dir=tmp_path_factory.mktemp("cache"))
        out: Dict[str, Dict[float, Dict[str, float]]] = {}
        for index, spec in enumerate(scenario.systems):
            system = set_up_system(scenario, index, runtime)
            out[spec.label] = {}
            for snr in SNRS:
                seed_everything(batch_seed(scenario.seed, "orderings", int(snr), 0))
                stats = system.simulate(IMAGES, {"snr_db": snr})
                out[spec.label][snr] = {"accuracy": stats["correct"] / stats["trials"],
                                        "correct": stats["correct"],
                                        "mi": stats["mi_leakage_sum"] / stats["mi_leakage_count"],
                                        "psnr": stats["attacker_psnr_sum"] / stats["attacker_psnr_count"]}
            if spec.label == "DeepJSCC-Encryption":  # the mean of the attacker's own images
                test = system.dataset.split("test").images
                _, attackers = system._splits((0.0, 0.0, ""))
                mean = np.broadcast_to(attackers.mean(0).round().astype(np.uint8), test.shape)
                out["mean image"] = {12.0: {"psnr": float(quality.psnr_per_image(test, mean).mean()),
                                            "margin_db": MEAN_IMAGE_MARGIN_DB[request.param]}}
    finally:
        patch.undo()
    return out


@pytest.mark.slow
def test_a_smaller_budget_leaks_less(measured):
    for snr in SNRS:
        mi = [measured[f"DeepJSCC-DP-{eps}"][snr]["mi"] for eps in ("0.05", "0.1", "0.9")]
        assert mi[0] < mi[1] < mi[2], (snr, mi)


@pytest.mark.slow
def test_fresh_key_encryption_leaks_least_and_costs_no_accuracy(measured):
    schemes = [label for label in measured if label != "mean image"]
    for snr in SNRS:
        mi = {label: measured[label][snr]["mi"] for label in schemes}
        assert min(mi, key=mi.get) == "DeepJSCC-Encryption", (snr, mi)
        low, high = wilson_interval(measured["DeepJSCC (no privacy)"][snr]["correct"], IMAGES, 0.99)
        assert low <= measured["DeepJSCC-Encryption"][snr]["accuracy"] <= high
    mean_image = measured["mean image"][12.0]
    assert abs(measured["DeepJSCC-Encryption"][12.0]["psnr"] - mean_image["psnr"]) < mean_image["margin_db"]


QUANTISED = ("DeepJSCC-LBVQ", "UIS-ToSC")


@pytest.mark.slow
def test_lbvq_loses_most_accuracy_at_low_snr(measured):
    """LBVQ's drop from 12 to 4 dB (0.15 in the 500-image run) beats every analog scheme's.

    UIS-ToSC, quantised too, drops 0.08 there: within the sampling spread of the analog
    schemes' largest drops, so it is reported (README), not asserted.
    """
    drop = {label: values[12.0]["accuracy"] - values[4.0]["accuracy"] for label, values in measured.items()
            if label != "mean image"}
    analog = {label: d for label, d in drop.items() if label not in QUANTISED}
    assert drop["DeepJSCC-LBVQ"] > max(analog.values()), drop


@pytest.fixture(scope="module")
def table2(tmp_path_factory) -> Dict[str, Dict[str, float]]:
    """Every system of ``privacy_attributes.yaml`` (shipped, training forbidden) on the ``noisy`` task."""
    def refuse(self: WeightStore, key: str) -> Any:
        raise AssertionError(f"{self.kind} weights {key} are not shipped")

    from linksim.metrics import get_metric

    patch = pytest.MonkeyPatch()
    patch.setattr(WeightStore, "training_lock", refuse)
    try:
        scenario = load_scenario(REPO / "scenarios" / "privacy_attributes.yaml")
        runtime = Runtime(cache_dir=tmp_path_factory.mktemp("cache"))
        out: Dict[str, Dict[str, float]] = {}
        point = {"attribute": 1.0, "snr_db": 12.0}  # noisy
        for index, spec in enumerate(scenario.systems):
            system = set_up_system(scenario, index, runtime)
            seed_everything(batch_seed(scenario.seed, "table2", 1, 0))
            stats = system.simulate(IMAGES, point)
            out[spec.label] = {"balanced": get_metric("balanced_accuracy").estimate(stats).value,
                               "seeds": get_metric("accuracy_seeds").estimate(stats).std,
                               "leakage": stats["attribute_correct"] / stats["attribute_trials"]}
    finally:
        patch.undo()
    return out


@pytest.mark.slow
def test_table2_noisy_is_learned_by_every_scheme_and_encryption_hides_the_class(table2):
    """The shipped Table II models: every scheme learns ``noisy`` (balanced accuracy, so not the majority
    class) with a real spread between its 5 seeds; the class-inference attacker is near chance (10 %)
    against fresh-key encryption and well above it against DeepJSCC."""
    for label, values in table2.items():
        assert values["balanced"] > 0.85, (label, values)
        assert 0 < values["seeds"] < 0.05, (label, values)
    assert table2["DeepJSCC-Encryption"]["leakage"] < 0.15
    assert table2["DeepJSCC (no privacy)"]["leakage"] > table2["DeepJSCC-Encryption"]["leakage"] + 0.03
