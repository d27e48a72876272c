"""The masked VQ-VAE at the paper's scale (``params.preset: paper``, issue 12), checked on a CPU.

* the preset sets the paper's shapes (224 px, patch 16, ViT width 768 x 14 blocks x 12 heads,
  MLP 4x, codebook dimension 256) and ``training: {preset: paper}`` where the scenario is
  silent; fields the scenario gives win;
* through the system, an image costs Table I's exact 196 symbols at patch 16 and 784 at
  patch 8, and each encoder block is a ViT-B block (7,087,872 weights);
* ``params.image_size`` resizes the images inside the ViT (constant images stay constant, the
  range stays [0, 1]) and the reconstruction decoder returns the data's own size;
* the GPU scenario ``scenarios/gpu/mvqvae_snr_paper.yaml`` parses, and runs in ``--quick``
  mode on the shipped MNIST digits (its CIFAR-10 is not here);
* bad settings exit 2 naming the field.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
import yaml

from linksim.errors import UserError

REPO = Path(__file__).resolve().parents[1]
GPU_SCENARIO = REPO / "scenarios" / "gpu" / "mvqvae_snr_paper.yaml"
SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}
MNIST = {"type": "images", "source": "mnist_10k", "layout": "rgb32"}
#: Weights of one ViT-B block: attention (qkv, output) + MLP 768 -> 3072 -> 768 + two LayerNorms.
VIT_B_BLOCK = (768 * 2304 + 2304) + (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * 2 * 768


@pytest.fixture(autouse=True)
def _one_thread():
    from linksim.systems.training import torch_threads

    with torch_threads(1):
        yield


def _scenario(systems: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"name": "mvq_paper", "seed": 1, "data": MNIST, "channel": SVD1,
            "sweep": {"parameter": "snr_db", "values": [3]}, "systems": systems, "metrics": ["accuracy"],
            "monte_carlo": {"batch_size": 8, "max_batches": 1, "target_errors": None}}


def _built(params: Dict[str, Any], tmp_path: Path, training: Dict[str, Any] = None) -> Any:
    from linksim.assembly import Runtime, build_system
    from linksim.scenario import parse_scenario

    spec: Dict[str, Any] = {"label": "S", "type": "masked_vqvae", "params": params}
    if training:
        spec["training"] = training
    return build_system(parse_scenario(_scenario([spec])), 0, Runtime(cache_dir=tmp_path / "cache"))


def test_the_paper_preset_sets_the_papers_shapes_and_training_and_given_fields_win(tmp_path) -> None:
    system = _built({"preset": "paper", "pretrain": {}}, tmp_path)
    p = system.params
    assert (p.patch, p.image_size, p.width, p.depth, p.heads, p.mlp_ratio, p.codebook_dim) == \
        (16, 224, 768, 14, 12, 4, 256)
    assert system.training.preset == "paper" and system.stage().epochs == 50
    assert system.pretrain_config() == {"width": 512, "depth": 8, "heads": 16}
    assert system.params.reconstruction_settings().width == 512
    mine = _built({"preset": "paper", "width": 384, "heads": 6, "pretrain": {"depth": 2}}, tmp_path,
                  {"preset": "cpu"})
    assert mine.params.width == 384 and mine.params.depth == 14 and mine.training.preset == "cpu"
    assert mine.pretrain_config() == {"width": 512, "depth": 2, "heads": 16}
    cpu = _built({}, tmp_path)
    assert cpu.params.image_size is None and cpu.params.mlp_ratio == 2 and cpu.training.preset == "cpu"
    assert "image_size" not in cpu.config() and "mlp_ratio" not in cpu.config()  # the shipped keys stay


@pytest.mark.parametrize("patch, symbols", [(16, 196), (8, 784)])
def test_an_image_costs_table_1s_symbols_at_the_paper_preset(patch: int, symbols: int, tmp_path) -> None:
    system = _built({"preset": "paper", "patch": patch}, tmp_path)
    assert system.symbols_per_image() == symbols


def test_the_paper_encoder_is_built_of_vit_b_blocks_over_196_patches() -> None:
    from linksim.systems.mvqvae.networks import build_encoder
    from linksim.systems.mvqvae.params import PAPER_ARCH

    encoder = build_encoder((32, 32, 3), PAPER_ARCH, 256, 10, fim=False)
    assert encoder.num_positions == 196 and len(encoder.blocks) == 14
    assert all(sum(int(w.value.numel()) for w in block.weights) == VIT_B_BLOCK for block in encoder.blocks)
    tokens, _ = encoder(torch.rand(2, 3, 32, 32), torch.arange(98).unsqueeze(0).expand(2, -1))
    assert tokens.shape == (2, 98, 256)


def test_images_are_resized_inside_the_vit_and_reconstructions_come_back_at_the_datas_size() -> None:
    from linksim.systems.mvqvae.networks import build_decoder, resize_images

    grey = torch.full((2, 3, 32, 32), 0.3)
    up = resize_images(grey, 224)
    assert up.shape == (2, 3, 224, 224) and torch.allclose(up, torch.full_like(up, 0.3), atol=1e-6)
    noisy = resize_images(torch.rand(2, 3, 32, 32), 224)
    assert float(noisy.min()) >= 0.0 and float(noisy.max()) <= 1.0
    assert torch.allclose(resize_images(up, 32), grey, atol=1e-6)
    assert resize_images(grey, None) is grey and resize_images(grey, 32) is grey
    decoder = build_decoder((32, 32, 3), 16, 8, {"width": 16, "depth": 1, "heads": 2}, input_size=224)
    assert decoder.num_positions == 196
    with torch.no_grad():
        out = decoder(torch.rand(2, 98, 8), torch.arange(98).unsqueeze(0).expand(2, -1))
    assert out.shape == (2, 3, 32, 32) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_the_gpu_scenario_parses_and_runs_quick_on_the_shipped_digits(tmp_path, fetched_data) -> None:
    from linksim.cli import main
    from linksim.scenario import load_scenario

    scenario = load_scenario(GPU_SCENARIO)
    assert all(dict(s.params)["preset"] == "paper" for s in scenario.systems)
    doc = yaml.safe_load(GPU_SCENARIO.read_text())
    doc["data"] = MNIST
    doc["sweep"] = {"parameter": "snr_db", "values": [3], "fixed": {"epsilon": 0.012}}
    path = tmp_path / "paper_quick.yaml"
    path.write_text(yaml.safe_dump(doc))
    code = main(["run", str(path), "--quick", "--out", str(tmp_path / "out"), "--plots", str(tmp_path / "plots"),
                 "--cache", str(tmp_path / "cache"), "--no-progress"])
    assert code == 0
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()
    symbols = {r.split(",")[2]: float(r.split(",")[4]) for r in rows[1:] if ",symbols_per_message," in r}
    assert symbols["MVQ+FIM+AT"] == 196 and symbols["JSCC"] == 196 and symbols["JPEG+LDPC"] > 196


@pytest.mark.parametrize("params, message", [
    ({"preset": "huge"}, "params.preset"),
    ({"image_size": 100, "patch": 16}, "params: image_size"),
    ({"preset": "paper", "image_size": 200}, "params: image_size"),
    ({"mlp_ratio": 0}, "params.mlp_ratio"),
])
def test_bad_paper_settings_name_the_field(params, message) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario([{"label": "S", "type": "masked_vqvae", "params": params}]))


def test_a_patch_that_does_not_divide_the_images_suggests_image_size_and_exits_2(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_scenario([{"label": "S", "type": "masked_vqvae", "params": {"patch": 5}}])))
    done = subprocess.run([sys.executable, "-m", "linksim", "validate", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert "params.patch" in done.stderr and "image_size" in done.stderr and "Traceback" not in done.stderr
