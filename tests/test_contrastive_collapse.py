"""The contrastive methods leave their collapse values (issue 10).

A contrastive term whose projections all coincide sits at a known value (eq. (8):
``log(2B - 1)``; eq. (13): the mean ``log(#negatives)``). These tests pin the values,
the monitor that reports a collapse, the SemRE setting that keeps the contrastive
gradient out of the decoder, and a tiny SemRE run on real MNIST digits that must end
well below its collapse value and beat sending a constant image.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from linksim.layers.channel import ChannelLayer
from linksim.learning.stages import StageSettings
from linksim.registry import build_component, datasets
from linksim.systems.semcc.jscc import ImageJsccParams
from linksim.systems.semcc.losses import info_nce, supervised_contrastive
from linksim.systems.semcc.methods import (ContrastiveMonitor, info_nce_collapse_value, supervised_collapse_value,
                                           train_method)
from linksim.systems.semcc.networks import build_transceiver
from linksim.systems.training import seed_training
from linksim.vision import quality
from linksim.vision.training import to_images, to_tensor


def _same_point(n: int, d: int = 8) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.ones(n, d), dim=1)


def test_collapse_values_are_the_losses_of_coinciding_projections() -> None:
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3])
    q = _same_point(8)
    assert float(info_nce(q, q, 0.1)) == pytest.approx(info_nce_collapse_value(8)) == pytest.approx(math.log(15))
    assert float(supervised_contrastive(q, q, labels, 0.1)) == pytest.approx(supervised_collapse_value(labels))
    # anchors of class 0: 16 - 4 negatives; class 1: 16 - 6; class 2: 14; class 3: 12
    expected = np.mean([math.log(12)] * 4 + [math.log(10)] * 6 + [math.log(14)] * 2 + [math.log(12)] * 4)
    assert supervised_collapse_value(labels) == pytest.approx(expected)
    # separated classes go below it
    q_sep = torch.nn.functional.normalize(torch.nn.functional.one_hot(labels, 8).float(), dim=1)
    assert float(supervised_contrastive(q_sep, q_sep, labels, 0.1)) < 0.5 * supervised_collapse_value(labels)


def test_monitor_reports_a_collapse_and_a_separation() -> None:
    monitor = ContrastiveMonitor("t")
    for ratio in (1.2, 1.0):
        monitor.add(torch.tensor(4.0 * ratio), 4.0)
        monitor.end_epoch(1)
    assert monitor.collapsed and monitor.as_dict()["ratio_to_collapse_per_epoch"] == [1.2, 1.0]
    monitor.add(torch.tensor(3.0), 4.0)
    monitor.end_epoch(3)
    assert not monitor.collapsed


def test_semre_contrastive_gradient_reaches_the_decoder_only_when_asked() -> None:
    """re_encoder_gradient: false (default) trains the decoder by L_rec alone."""
    import linksim.systems.semcc.methods as methods

    grads = {}
    for through in (False, True):
        seed_training({"test": "semre gradient path"})
        model = build_transceiver(8, (8, 8, 1), 4)
        params = ImageJsccParams(method="semre", re_encoder_gradient=through)
        images = np.random.default_rng(0).integers(0, 255, (8, 8, 8, 1), dtype=np.uint8)
        labels = np.arange(8) % 2
        captured = {}

        def capture(models, loss, images, labels, settings, **kw):
            x, y = to_tensor(images), torch.from_numpy(labels)
            captured["value"] = loss(x, y)
            return [0.0]

        real_fit = methods.fit
        methods.fit = capture
        try:
            train_method("semre", model, ChannelLayer({"type": "awgn"}, 20.0), images, labels,
                         stages={"pretrain": StageSettings(1, 8, 1e-3)}, params=params, alpha1=0.0, alpha2=0.5,
                         classifier=None, seed=0, log=None)
        finally:
            methods.fit = real_fit
        decoder = [w.value for w in model.decoder.trainable_weights]
        g = torch.autograd.grad(captured["value"], decoder, allow_unused=True)  # alpha1 = 0: contrastive only
        grads[through] = sum(float(t.abs().sum()) for t in g if t is not None)
    assert grads[False] == 0.0 < grads[True]


@pytest.fixture(scope="module")
def digits():
    data = build_component(datasets, {"type": "images", "source": "mnist_10k"}, field="data")
    train, test = data.split("train"), data.split("test")
    return train.images[:1024], train.labels[:1024], test.images[:256]


def test_semre_on_real_digits_leaves_collapse_and_beats_a_constant_image(digits) -> None:
    images, labels, test_images = digits
    seed_training({"test": "semre on digits"})
    shape = images.shape[1:]  # 28 x 28 x 1
    k = 49  # k/n = 1/16
    model = build_transceiver(k, shape, 8)
    channel = ChannelLayer({"type": "awgn"}, 20.0)
    params = ImageJsccParams(method="semre")
    diagnostics = train_method("semre", model, channel, images, labels,
                               stages={"pretrain": StageSettings(6, 64, 2e-3, 3, 0.5)}, params=params,
                               alpha1=k / images[0].size, alpha2=0.5, classifier=None, seed=0, log=None)
    ratios = diagnostics["contrastive"]["ratio_to_collapse_per_epoch"]
    assert ratios[-1] <= 0.9, ratios  # at least 10 % below log(#negatives)
    with torch.no_grad():
        x_hat = model.decoder(channel(model.encoder(to_tensor(test_images), training=False), training=False),
                              training=False)
    received = quality.to_uint8(to_images(x_hat))
    mean_image = np.broadcast_to(images.astype(np.float64).mean(axis=0).round().astype(np.uint8), test_images.shape)
    learned = float(np.mean(quality.psnr_per_image(test_images, received)))
    constant = float(np.mean(quality.psnr_per_image(test_images, mean_image)))
    assert learned > constant + 0.5, (learned, constant)  # measured: 12.5 dB against 11.8 dB
