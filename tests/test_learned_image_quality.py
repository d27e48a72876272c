"""Shipped learned image systems do better than sending nothing (issue 10).

For every sweep point of the listed shipped scenarios, each listed system (loaded from
the shipped weights; training is forbidden) sends :data:`IMAGES` test images through its
channel; its mean PSNR must beat that of the constant image (the training split's mean
image) on the same test images. SemRE's judged accuracy must also be clearly above
chance (0.1) at the largest ratio: its reconstructions are not all put in one class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
import sionna.phy
import torch

from linksim.assembly import Runtime
from linksim.runner import seed_everything, set_up_system
from linksim.scenario import load_scenario
from linksim.vision import quality
from linksim.weights import WeightStore

REPO = Path(__file__).resolve().parents[1]
IMAGES = 200

#: (scenario, labels of the learned systems it ships that must beat a constant image);
#: :data:`KNOWN_BELOW` lists the measured exceptions as strict xfails.
#: Not listed: the ablation rows of semcc_ablation (w/o. FT: stage 1 only; w/o. CL: DeepSC from scratch,
#: as the paper defines them), degraded by design; its baselines are the SemCC models of
#: semcc_awgn_5db and semcc_rayleigh_5db, checked there.
CHECKED: List[Tuple[str, List[str]]] = [
    ("semcc_awgn_20db.yaml", ["DeepJSCC", "DeepSC", "SemCC", "SemRE"]),
    ("semcc_awgn_5db.yaml", ["DeepJSCC", "DeepSC", "SemCC", "SemRE"]),
    ("semcc_rayleigh_5db.yaml", ["DeepJSCC", "DeepSC", "SemCC", "SemRE"]),
    ("semcc_rayleigh_20db.yaml", ["DeepJSCC", "DeepSC", "SemCC", "SemRE"]),
    ("semcc_awgn_20db_mnist.yaml", ["DeepJSCC", "DeepSC", "SemCC", "SemRE"]),
    ("semcc_awgn_20db_fashion.yaml", ["DeepJSCC", "DeepSC", "SemCC", "SemRE"]),
]


#: Known shortfalls, kept visible: a strict xfail fails the suite once the system is fixed.
KNOWN_BELOW: Dict[Tuple[str, str], str] = {
    ("semcc_awgn_5db.yaml", "SemCC"): "at k/n = 1/24 and 5 dB SemCC trades PSNR for accuracy: 13.41 dB against the "
                                      "constant image's 13.61 dB, with accuracy 0.53 (DeepSC 0.37)",
}


def _cases() -> List[Any]:
    out = []
    for scenario_file, labels in CHECKED:
        for label in labels:
            reason = KNOWN_BELOW.get((scenario_file, label))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(scenario_file, label, marks=marks, id=f"{scenario_file}-{label}"))
    return out


def _constant_image_psnr(system: Any, images: np.ndarray) -> float:
    train = system.dataset.split("train").images
    mean = train.reshape(len(train), -1).astype(np.float64).mean(axis=0).reshape(train.shape[1:])
    constant = np.broadcast_to(np.round(mean).astype(np.uint8), images.shape)
    return float(np.mean(quality.psnr_per_image(images, constant)))


@pytest.mark.slow
@pytest.mark.parametrize("scenario_file,label", _cases())
def test_learned_systems_beat_a_constant_image(scenario_file: str, label: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, fetched_data: Any) -> None:
    fetched_data(REPO / "scenarios" / scenario_file)
    torch.set_num_threads(1)

    def refuse(self: WeightStore, key: str) -> Any:
        raise AssertionError(f"{self.kind} weights {key} are not shipped")

    monkeypatch.setattr(WeightStore, "training_lock", refuse)
    scenario = load_scenario(REPO / "scenarios" / scenario_file)
    runtime = Runtime(cache_dir=tmp_path / "cache")
    report: Dict[str, Dict[str, Any]] = {}
    for index, spec in enumerate(scenario.systems):
        if spec.label != label:
            continue
        system = set_up_system(scenario, index, runtime)
        accuracies = []
        for point in scenario.sweep.points():
            seed_everything(12345)
            with torch.inference_mode():
                stats = system.simulate(IMAGES, dict(point))
            # simulate draws its test images from sionna's np_rng first: draw them again
            seed_everything(12345)
            test = system.dataset.split("test")
            drawn = test.images[sionna.phy.config.np_rng.integers(0, len(test), size=IMAGES)]
            learned = stats["psnr_sum"] / stats["psnr_count"]
            constant = _constant_image_psnr(system, drawn)
            accuracy = stats["correct"] / stats["trials"]
            accuracies.append(accuracy)
            report.setdefault(spec.label, {})[f"1/{1 / point['bandwidth_ratio']:.3g}"] = (
                round(learned, 2), round(constant, 2), round(accuracy, 3))
            assert learned > constant, (spec.label, point, learned, constant)
        if spec.label == "SemRE":
            assert accuracies[-1] > 0.2, report  # chance is 0.1 on 10 classes
    print(report)
