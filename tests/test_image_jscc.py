"""Learned image transceivers: shapes, power, losses against their equations, training."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch

from linksim.errors import UserError
from linksim.vision import quality as common
from linksim.learning.stages import StageSettings
from linksim.systems.semcc.losses import info_nce, soft_update, supervised_contrastive
from linksim.systems.semcc.networks import ProjectionHead, SemanticDecoder, SemanticEncoder, build_transceiver
from linksim.vision.resnet import ResNet20
from linksim.vision.training import augment, fit

SHAPE = (32, 32, 3)


# ----------------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("ratio,k", [(1 / 24, 128), (1 / 12, 256), (1 / 6, 512), (1 / 4, 768), (1 / 2.5, 1229)])
def test_symbols_per_image_for_cifar_sized_images(ratio: float, k: int) -> None:
    assert common.symbols_for_ratio(ratio, SHAPE) == k


def test_ratio_giving_no_symbol_is_rejected() -> None:
    with pytest.raises(UserError, match="bandwidth_ratio.*0 channel uses"):
        common.symbols_for_ratio(1e-5, SHAPE)
    with pytest.raises(UserError, match="sweep"):
        common.symbols_for_ratio(1.5, SHAPE, field="sweep")


def test_psnr_and_ssim_of_known_images() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    assert np.all(common.psnr_per_image(a, a) == common.PSNR_CAP_DB)
    assert np.allclose(common.ssim_per_image(a, a), 1.0)
    b = a.astype(np.float32) / 255 + 0.1  # constant offset: MSE = 0.01 exactly (before clipping)
    assert np.allclose(common.psnr_per_image(a, b), 20.0, atol=1e-4)
    noisy = np.clip(a / 255 + rng.normal(0, 0.2, a.shape), 0, 1)
    assert np.all(common.ssim_per_image(a, noisy) < 0.9)


def test_ssim_matches_scikit_image_when_available() -> None:
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    a = rng.random((1, 32, 32, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    ref = metrics.structural_similarity(a[0], b[0], data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False)
    assert common.ssim_per_image(a, b)[0] == pytest.approx(ref, abs=1e-6)


def test_statistics_are_additive_sums() -> None:
    a = np.zeros((4, 8, 8, 1), np.uint8)
    stats = common.image_statistics(a, a, labels=np.array([0, 1, 2, 3]), predicted=np.array([0, 1, 0, 0]),
                                    symbols=np.full(4, 16), payload_bits=np.full(4, 128), lost=np.array([0, 1, 0, 0], bool))
    assert stats["correct"] == 2 and stats["trials"] == 4
    assert stats["symbols_per_message_sum"] == 64 and stats["bpp_sum"] == 4 * 128 / 64
    assert stats["images_lost"] == 1 and stats["images"] == 4


# ----------------------------------------------------------------------------- networks
@pytest.mark.parametrize("k", [128, 1229])
def test_encoder_meets_the_power_constraint_of_eq2(k: int) -> None:
    enc, dec = SemanticEncoder(k, SHAPE, width=8), SemanticDecoder(k, SHAPE, width=8)
    x = torch.rand(5, 3, 32, 32)
    s = enc(x, training=False)
    assert tuple(s.shape) == (5, k, 2)
    energy = (s.detach() ** 2).sum(dim=(1, 2))
    assert torch.allclose(energy, torch.full((5,), float(k)), rtol=1e-4)  # ||s||^2 = k P with P = 1
    x_hat = dec(s, training=False)
    assert tuple(x_hat.shape) == (5, 3, 32, 32)
    assert float(x_hat.min()) >= 0 and float(x_hat.max()) <= 1


def test_resnet20_has_twenty_weight_layers_and_64_features() -> None:
    net = ResNet20(10, [0.5] * 3, [0.25] * 3)
    x = torch.rand(2, 3, 32, 32)
    assert tuple(net(x).shape) == (2, 10)
    assert tuple(net.backbone(x).shape) == (2, 64)
    convs = [w for w in net.weights if w.path.endswith("kernel") and len(w.shape) == 4]
    dense = [w for w in net.weights if w.path.endswith("kernel") and len(w.shape) == 2]
    shortcuts = [w for w in convs if w.shape[0] == 1]  # 1x1 projection shortcuts are not counted
    assert len(convs) - len(shortcuts) + len(dense) == 20


def test_projection_head_outputs_unit_vectors() -> None:
    q = ProjectionHead(64, 32)(torch.randn(7, 64))
    assert tuple(q.shape) == (7, 32)
    assert torch.allclose(q.norm(dim=-1), torch.ones(7), atol=1e-5)


def test_augment_keeps_shape_and_content_scale() -> None:
    x = torch.rand(6, 3, 32, 32)
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and float(out.max()) <= 1


# ----------------------------------------------------------------------------- losses
def _unit(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_info_nce_equals_eq8_written_out() -> None:
    qa, qb, tau = _unit(4, 8, 0), _unit(4, 8, 1), 0.3
    q = torch.cat([qa, qb])
    terms: List[float] = []
    for i in range(8):
        pos = (i + 4) % 8
        num = math.exp(float(q[i] @ q[pos]) / tau)
        den = sum(math.exp(float(q[i] @ q[m]) / tau) for m in range(8) if m != i)
        terms.append(-math.log(num / den))
    assert float(info_nce(qa, qb, tau)) == pytest.approx(np.mean(terms), rel=1e-5)


def test_info_nce_prefers_aligned_views() -> None:
    qa = _unit(16, 8, 2)
    assert float(info_nce(qa, qa, 0.1)) < float(info_nce(qa, _unit(16, 8, 3), 0.1))


def test_supervised_contrastive_equals_eq13_written_out() -> None:
    qa, qb, tau = _unit(5, 6, 4), _unit(5, 6, 5), 0.5
    labels = torch.tensor([0, 1, 0, 2, 1])
    q, y = torch.cat([qa, qb]), torch.cat([labels, labels])
    terms = []
    for i in range(10):
        positives = [j for j in range(10) if j != i and y[j] == y[i]]
        negatives = [m for m in range(10) if y[m] != y[i]]
        den = sum(math.exp(float(q[i] @ q[m]) / tau) for m in negatives)
        terms.append(-np.mean([math.log(math.exp(float(q[i] @ q[j]) / tau) / den) for j in positives]))
    assert float(supervised_contrastive(qa, qb, labels, tau)) == pytest.approx(np.mean(terms), rel=1e-5)


def test_soft_update_is_eq14() -> None:
    a, b = SemanticEncoder(16, (8, 8, 1), width=4), SemanticEncoder(16, (8, 8, 1), width=4)
    x = torch.rand(2, 1, 8, 8)
    a(x), b(x)
    before = [w.numpy().copy() for w in a.weights]
    soft_update(a, b, 0.75)
    for old, new, src in zip(before, a.weights, b.weights):
        assert np.allclose(new.numpy(), 0.75 * old + 0.25 * src.numpy(), atol=1e-6)


# ----------------------------------------------------------------------------- training
class _TinyData:
    """Two visibly different classes of 8x8 grey images."""

    def __init__(self, n: int = 64) -> None:
        rng = np.random.default_rng(0)
        self.labels = np.arange(n) % 2
        base = np.where(self.labels[:, None, None, None] == 0, 60, 190)
        self.images = np.clip(base + rng.normal(0, 20, (n, 8, 8, 1)), 0, 255).astype(np.uint8)


class _Judge:
    def __init__(self, model: Any) -> None:
        self.model = model


@pytest.mark.parametrize("method", ["deepjscc", "deepsc", "semcc", "semre"])
def test_each_training_method_reduces_its_loss(method: str, tmp_path: Path) -> None:
    from linksim.layers.channel import ChannelLayer
    from linksim.systems.semcc.jscc import ImageJsccParams
    from linksim.systems.semcc.methods import train_method
    from linksim.systems.training import seed_training
    from linksim.weights import WeightStore

    seed_training({"test": "reduces its loss", "method": method})  # not whatever ran before in the session
    data = _TinyData()
    shape = (8, 8, 1)
    model = build_transceiver(8, shape, width=8)
    judge = ResNet20(2, [0.5], [0.3], width=4, blocks=1)
    judge(torch.zeros(2, 1, 8, 8))
    fit([judge], lambda x, y: torch.nn.functional.cross_entropy(judge(x, training=True), y), data.images,
        data.labels, StageSettings(3, 16, 1e-2), seed=0, name="judge", log=None)
    histories: Dict[str, List[float]] = {}

    import linksim.systems.semcc.methods as methods

    real_fit = methods.fit

    trained_heads: List[Any] = []

    def recording_fit(models: Any, loss: Any, images: Any, labels: Any, settings: Any, **kw: Any) -> List[float]:
        heads = [m for m in models if isinstance(m, ProjectionHead)]
        before = [w.numpy().copy() for h in heads for w in h.trainable_weights]
        out = real_fit(models, loss, images, labels, settings, **kw)
        after = [w.numpy() for h in heads for w in h.trainable_weights]
        trained_heads.extend(not np.allclose(a, b) for a, b in zip(before, after))
        histories[kw["name"]] = out
        return out

    methods.fit = recording_fit
    try:
        params = ImageJsccParams(method=method, bandwidth_ratio=0.125, temperature=0.5, beta=0.5)
        stages = {"pretrain": StageSettings(6, 16, 3e-3), "finetune": StageSettings(3, 16, 1e-3)}
        train_method(method, model, ChannelLayer({"type": "awgn"}, 10.0), data.images, data.labels,
                     stages=stages, params=params, alpha1=0.5, alpha2=0.5, classifier=_Judge(judge), seed=0,
                     log=None, store=WeightStore(tmp_path, "images"), stage1_key="stage1")
    finally:
        methods.fit = real_fit
    first = next(iter(histories.values()))
    assert first[-1] < first[0], histories
    if method in ("semcc", "semre"):  # the projection head psi is trained with theta_1, theta_2
        assert trained_heads and all(trained_heads)
    if method == "semcc":
        assert (tmp_path / "weights" / "images" / "stage1.weights.h5").exists()
        assert len(histories) == 2


# ----------------------------------------------------------------------------- scenario checks
def _scenario(**over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {
        "name": "img", "data": {"type": "images", "source": "embedded", "num_train": 64, "num_test": 32},
        "channel": {"type": "awgn"},
        "sweep": {"parameter": "bandwidth_ratio", "values": ["1/24", "1/12"], "fixed": {"snr_db": 5}},
        "systems": [{"label": "J", "type": "image_jscc", "params": {"method": "deepjscc"}}],
        "metrics": ["psnr"],
    }
    base.update(over)
    return base


def test_valid_image_scenario_parses_fractions() -> None:
    from linksim.scenario import parse_scenario

    scenario = parse_scenario(_scenario())
    assert [p["bandwidth_ratio"] for p in scenario.sweep.points()] == [1 / 24, 1 / 12]


@pytest.mark.parametrize("change,message", [
    ({"sweep": {"parameter": "bandwidth_ratio", "values": [1e-5], "fixed": {"snr_db": 5}}}, "0 channel uses"),
    ({"sweep": {"parameter": "snr_db", "values": [5]}}, "params.bandwidth_ratio: required"),
    ({"sweep": {"parameter": "alpha", "values": [0.5], "fixed": {"snr_db": 5, "bandwidth_ratio": 0.1}}}, "DeepJSCC"),
    ({"channel": {"type": "mimo", "nt": 2, "nr": 2}}, "channel.type"),
    ({"data": {"type": "babi"}}, "data.type"),
])
def test_bad_image_scenarios_name_the_field(change: Dict[str, Any], message: str) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario(**change))


def test_train_only_rejects_unknown_labels(tmp_path: Path, capsys: Any) -> None:
    from linksim.cli import main

    path = tmp_path / "s.yaml"
    import yaml

    path.write_text(yaml.safe_dump(_scenario()))
    assert main(["train", str(path), "--quick", "--only", "nope", "--cache", str(tmp_path / "c")]) == 2
    assert "--only: no system labelled 'nope'" in capsys.readouterr().err


def test_quick_run_trains_tiny_models_and_reports_every_metric(tmp_path: Path) -> None:
    from linksim.runner import run_scenario
    from linksim.scenario import parse_scenario

    spec = _scenario(metrics=["psnr", "ssim", "accuracy", "symbols_per_message"],
                     systems=[{"label": "J", "type": "image_jscc", "params": {"method": "deepjscc"}},
                              {"label": "R", "type": "image_jscc", "params": {"method": "semre"}}],
                     monte_carlo={"batch_size": 8, "max_batches": 1, "target_errors": None})
    result = run_scenario(parse_scenario(spec), out=tmp_path / "run", plots_dir=tmp_path / "plots", quick=True,
                          cache_dir=tmp_path / "cache", progress=False)
    text = result.csv_path.read_text()
    assert "symbols_per_message" in text and "ssim" in text
    import csv

    symbols = [float(r["value"]) for r in csv.DictReader(text.splitlines()) if r["metric"] == "symbols_per_message"]
    assert sorted(set(symbols)) == [128.0, 256.0]  # k = round(3072 / 24), round(3072 / 12)


def test_fit_refuses_a_model_without_weights() -> None:
    head = ProjectionHead(8, 4)  # not built: no weights yet
    with pytest.raises(RuntimeError, match="no trainable weights"):
        fit([head], lambda x, y: x.sum(), np.zeros((4, 8, 8, 1), np.uint8), np.zeros(4, np.int64),
            StageSettings(1, 2, 1e-3), seed=0, name="t", log=None)


def test_auto_width_carries_every_symbol() -> None:
    from linksim.systems.semcc.jscc import auto_width

    widths = [auto_width(common.symbols_for_ratio(r, SHAPE), SHAPE) for r in (1 / 24, 1 / 12, 1 / 6, 1 / 4, 0.4)]
    assert widths == [16, 16, 16, 24, 39]
