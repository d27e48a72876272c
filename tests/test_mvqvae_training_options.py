"""The masked VQ-VAE's training options (issue 12): MAE pre-training, training on the noise
map, the reduction of eq. (12)'s terms, eq. (17) and Algorithm 3's interleaved schedule.

* :func:`transfer_pretrained` starts a masked VQ-VAE's encoder and codebook from the
  pre-training model exactly, and leaves its FIM and receiver alone; :func:`transfer_decoder`
  starts the Fig. 11(b) decoder from the pre-training decoder; mismatched shapes are refused;
* the pre-training learns to reconstruct: a short run beats sending nothing (the mean image),
  an untrained model does not, so the comparison can fail;
* a pre-trained model (``params.pretrain``) has its own key chained to the pre-training's key,
  which models with and without FIM share; the models without it keep their keys; its weights
  list names the pre-training checkpoint;
* ``params.vq_terms: mean`` divides eq. (12)'s terms by ``D`` and keys the weights only when set;
* Algorithm 3 step 2 (``noise_map.train_temperature``): the first epoch masks at random, the
  later ones by the map measured after each epoch; it keys the weights, the test-time
  temperature does not;
* eq. (17) is ``-||F^T F||_F / K`` (-1 for parallel features, -1/sqrt(K) for orthogonal ones);
  Algorithm 3's interleaved schedule alternates whole passes: the codebook pass moves no FIM
  weight, the FIM pass no codebook vector;
* bad settings name the field.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, List

import pytest
import torch
import yaml

from linksim.errors import UserError

SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}
MNIST = {"type": "images", "source": "mnist_10k", "layout": "rgb32"}
TINY = {"width": 16, "depth": 1, "heads": 2, "hidden": 32, "codebook_dim": 8, "codebook_size": 16}
TINY_DECODER = {"width": 16, "depth": 1, "heads": 2}
CONFIG = {"patch": 4, **TINY}


@pytest.fixture(autouse=True)
def _one_thread():
    from linksim.systems.training import torch_threads

    with torch_threads(1):
        yield


def _scenario(systems: List[Dict[str, Any]], metrics: List[str] = None, **over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {"name": "mvq_pretrain", "seed": 1, "data": MNIST, "channel": SVD1,
                            "sweep": {"parameter": "snr_db", "values": [3]}, "systems": systems,
                            "metrics": metrics or ["accuracy"],
                            "monte_carlo": {"batch_size": 16, "max_batches": 1, "target_errors": None}}
    base.update(over)
    return base


def _built(params: Dict[str, Any], training: Dict[str, Any] = None, tmp_path=None, metrics=None,
           quick: bool = False) -> Any:
    from linksim.assembly import Runtime, build_system
    from linksim.scenario import parse_scenario

    spec: Dict[str, Any] = {"label": "S", "type": "masked_vqvae", "params": params}
    if training:
        spec["training"] = training
    return build_system(parse_scenario(_scenario([spec], metrics)), 0, Runtime(cache_dir=tmp_path / "cache", quick=quick))


def _equal(a: Any, b: Any) -> bool:
    return all(torch.equal(x.value, y.value) for x, y in zip(a.weights, b.weights)) and len(a.weights) == len(b.weights)


# ---------------------------------------------------------------- transfers
def test_transfer_starts_encoder_and_codebook_exactly_and_leaves_fim_and_receiver() -> None:
    from linksim.systems.mvqvae.networks import build_model, build_pretrainer, transfer_pretrained

    torch.manual_seed(0)
    pretrained = build_pretrainer((32, 32, 3), CONFIG, TINY_DECODER, 10)
    model = build_model("mvqvae", (32, 32, 3), {**CONFIG, "fim": True}, 10)
    fim = [w.value.detach().clone() for w in model.encoder.fim.weights]
    receiver = [w.value.detach().clone() for w in model.receiver.weights]
    assert not torch.equal(model.encoder.embed.kernel.value, pretrained.encoder.embed.kernel.value)
    transfer_pretrained(pretrained, model)
    for a, b in [(pretrained.encoder.embed, model.encoder.embed), (pretrained.encoder.norm, model.encoder.norm),
                 (pretrained.encoder.project, model.encoder.project), (pretrained.quantizer, model.quantizer),
                 *zip(pretrained.encoder.blocks, model.encoder.blocks)]:
        assert _equal(a, b)
    assert torch.equal(pretrained.encoder.position.value, model.encoder.position.value)
    assert all(torch.equal(v, w.value) for v, w in zip(fim, model.encoder.fim.weights))
    assert all(torch.equal(v, w.value) for v, w in zip(receiver, model.receiver.weights))
    # the same images give the same tokens (without the FIM's reweighting, which starts uniform)
    x, positions = torch.rand(2, 3, 32, 32), torch.arange(32).unsqueeze(0).expand(2, -1)
    plain = build_model("mvqvae", (32, 32, 3), {**CONFIG, "fim": False}, 10)
    transfer_pretrained(pretrained, plain)
    assert torch.allclose(plain.encode(x, positions)[0], pretrained.encoder(x, positions)[0])


def test_transfers_refuse_other_architectures() -> None:
    from linksim.systems.mvqvae.networks import (build_decoder, build_model, build_pretrainer, transfer_decoder,
                                                 transfer_pretrained)

    pretrained = build_pretrainer((32, 32, 3), CONFIG, TINY_DECODER, 10)
    with pytest.raises(ValueError, match="architecture"):
        transfer_pretrained(pretrained, build_model("mvqvae", (32, 32, 3), {**CONFIG, "depth": 2, "fim": False}, 10))
    with pytest.raises(ValueError, match="architecture"):
        transfer_pretrained(pretrained, build_model("mvqvae", (32, 32, 3),
                                                    {**CONFIG, "codebook_size": 32, "fim": False}, 10))
    with pytest.raises(ValueError, match="architecture"):
        transfer_decoder(pretrained, build_decoder((32, 32, 3), 4, 8, {"width": 32, "depth": 1, "heads": 2}))
    decoder = build_decoder((32, 32, 3), 4, 8, TINY_DECODER)
    transfer_decoder(pretrained, decoder)
    assert _equal(pretrained.decoder, decoder)


# ---------------------------------------------------------------- the pre-training learns
def test_pretraining_beats_sending_nothing_and_an_untrained_model_does_not(tmp_path, fetched_data) -> None:
    """Mean image: MSE about 0.052 on these digits. Ten short epochs of MAE pre-training on 1024
    digits (J = 256, decoder width 32) must reconstruct the test digits (half the patches sent,
    as trained; ideal link) below 0.9 of it (measured 0.039; scenario seeds 2 and 3: 0.036,
    0.037); with 0 epochs the sigmoid of about
    0.5 everywhere is far worse (0.25)."""
    from linksim.systems.mvqvae.masking import kept_positions
    from linksim.vision.training import to_tensor

    mse = {}
    for epochs in (10, 0):
        training = {"num_train": 1024, "pretrain": {"epochs": epochs, "batch_size": 32, "learning_rate": 3e-3},
                    "model": {"epochs": 0, "batch_size": 64, "learning_rate": 1e-3}}
        system = _built({**TINY, "codebook_size": 256, "pretrain": {"width": 32, "depth": 1, "heads": 2}}, training,
                        tmp_path / str(epochs))
        system.setup()
        pretrained, record = system._pretrained(system.default_point())
        assert record["source"] == "cache"  # trained by setup, loaded again here
        test = to_tensor(system.dataset.split("test").images[:300])
        positions = kept_positions(300, 64, 0.5, torch.Generator().manual_seed(0))  # as trained
        with torch.no_grad():
            mse[epochs] = float(torch.nn.functional.mse_loss(pretrained.reconstruct(test, positions), test))
        reference = system.mean_image_reference()["mse"]
        assert 0.03 < reference < 0.08
    assert mse[10] < 0.9 * reference, (mse, reference)
    assert mse[0] > 1.5 * reference, (mse, reference)


def test_a_pretrained_model_and_its_decoder_start_from_the_pretraining(tmp_path, fetched_data) -> None:
    """With 0 epochs of the task and of the decoder, what the system serves is exactly the transfer."""
    training = {"num_train": 64, "pretrain": {"epochs": 1, "batch_size": 32, "learning_rate": 1e-3},
                "model": {"epochs": 0, "batch_size": 32, "learning_rate": 1e-3},
                "decoder": {"epochs": 0, "batch_size": 32, "learning_rate": 1e-3}}
    system = _built({**TINY, "fim": True, "pretrain": TINY_DECODER, "reconstruction": TINY_DECODER}, training,
                    tmp_path, metrics=["accuracy", "psnr"])
    system.setup()
    mp = system.default_point()
    served = system.served[mp]
    pretrained, _ = system._pretrained(mp)
    assert _equal(pretrained.encoder.embed, served.model.encoder.embed)
    assert _equal(pretrained.quantizer, served.model.quantizer)
    assert _equal(pretrained.decoder, served.decoder)
    weights = system.trained_weights()
    assert ("mvqvae", system.pretrain_key(mp)) in weights and ("mvqvae", served.key) in weights
    assert ("mvqvae", served.decoder_key) in weights and len(set(weights)) == 3
    info = system.provenance()
    assert info["pretrain"]["checkpoints"]["J=16,M_r=0.5"]["key"] == system.pretrain_key(mp)
    assert "from the MAE pre-training decoder" in info["footer_note"]


def test_pretraining_keys(tmp_path) -> None:
    base = _built({"fim": True, "adversarial": {}}, tmp_path=tmp_path)
    assert base.model_key() == "01356882c67811a3"  # the shipped model: no pre-training, key unchanged
    pre = _built({"fim": True, "adversarial": {}, "pretrain": {}}, tmp_path=tmp_path)
    no_fim = _built({"adversarial": {}, "pretrain": {}}, tmp_path=tmp_path)
    assert pre.model_key() != base.model_key() and pre.model_key() != no_fim.model_key()
    assert pre.pretrain_key() == no_fim.pretrain_key()  # one pre-training serves both
    wider = _built({"fim": True, "adversarial": {}, "pretrain": {"width": 32}}, tmp_path=tmp_path)
    longer = _built({"fim": True, "adversarial": {}, "pretrain": {}},
                    {"pretrain": {"epochs": 3, "batch_size": 64, "learning_rate": 1e-3}}, tmp_path)
    for other in (wider, longer):
        assert other.pretrain_key() != pre.pretrain_key() and other.model_key() != pre.model_key()
    # the decoder starts from the pre-training decoder only when the architectures match
    assert pre._decoder_starts_pretrained() and not wider._decoder_starts_pretrained()
    assert pre.decoder_key() != wider.decoder_key()


# ---------------------------------------------------------------- Algorithm 3 step 2
def test_training_on_the_noise_map_masks_at_random_first_then_by_the_latest_map(monkeypatch) -> None:
    from linksim.learning.stages import StageSettings
    from linksim.phy.channels import build_channel
    from linksim.systems.mvqvae import training
    from linksim.systems.mvqvae.index_link import IndexLink
    from linksim.systems.mvqvae.networks import build_model

    calls: List[Any] = []
    real = training.kept_positions

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(kwargs.get("scores"))
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "kept_positions", spy)
    maps = iter([torch.arange(64, dtype=torch.float64), torch.arange(64, dtype=torch.float64).flip(0)])
    measured: List[torch.Tensor] = []

    def measure() -> torch.Tensor:
        measured.append(next(maps))
        return measured[-1]

    torch.manual_seed(0)
    model = build_model("mvqvae", (32, 32, 3), {**CONFIG, "fim": False}, 10)
    noise_map = training.NoiseMapMasking(measure, temperature=1.0)
    images, labels = torch.rand(32, 3, 32, 32).numpy(), torch.randint(0, 10, (32,)).numpy()
    training.train_classifier_link(model, images, labels, StageSettings(2, 16, 1e-3), snr_db=3.0, masking_ratio=0.5,
                                   link=IndexLink(16, build_channel(SVD1)), adversarial=None,
                                   weights=training.Objectives(), seed=1, name="test", noise_map=noise_map)
    assert len(measured) == 2 and noise_map.scores is measured[-1]  # measured after every epoch
    assert calls[:2] == [None, None]  # epoch 1: random
    assert len(calls) == 4 and all(c is measured[0] for c in calls[2:])  # epoch 2: the first map


def test_noise_map_training_keys_the_weights_and_the_test_temperature_does_not(tmp_path) -> None:
    base = _built({"fim": True, "adversarial": {}, "masking": "noise_map"}, tmp_path=tmp_path)
    trained = _built({"fim": True, "adversarial": {}, "masking": "noise_map",
                      "noise_map": {"train_temperature": 1.0}}, tmp_path=tmp_path)
    tested = _built({"fim": True, "adversarial": {}, "masking": "noise_map",
                     "noise_map": {"train_temperature": 1.0, "temperature": 1.0}}, tmp_path=tmp_path)
    other = _built({"fim": True, "adversarial": {}, "masking": "noise_map",
                    "noise_map": {"train_temperature": 1.0, "score": "index_change"}}, tmp_path=tmp_path)
    assert base.model_key() == "01356882c67811a3"  # a test-time map keeps the random-masking model
    assert trained.model_key() != base.model_key() and tested.model_key() == trained.model_key()
    assert other.model_key() != trained.model_key()


def test_a_quick_run_pretrains_and_trains_on_the_map(tmp_path, fetched_data) -> None:
    from linksim.runner import seed_everything

    system = _built({"masking": "noise_map", "pretrain": {}, "noise_map": {"train_temperature": 1.0}},
                    tmp_path=tmp_path, quick=True)
    system.setup()
    seed_everything(3)
    stats = system.simulate(8, {"snr_db": 3.0})
    assert stats["trials"] == 8 and stats["indices"] == 8 * 32
    record = system.provenance()
    assert "noise map" in record["masking"]["trained_with"] and "pretrain" in record


# ---------------------------------------------------------------- eq. (12)'s reduction
def test_vq_terms_mean_divides_the_sum_by_d_and_keys_the_weights_only_when_set(tmp_path) -> None:
    from linksim.systems.mvqvae.codebook import VectorQuantizer

    torch.manual_seed(0)
    quantizer = VectorQuantizer(16, 8)
    quantizer.build((None, 8))
    z_e = torch.randn(4, 5, 8)
    indices = quantizer.indices(z_e)
    total = quantizer.loss_terms(z_e, indices)
    mean = quantizer.loss_terms(z_e, indices, "mean")
    for a, b in zip(total, mean):
        assert float(b.detach()) == pytest.approx(float(a.detach()) / 8, rel=1e-6) and float(a.detach()) > 0
    with pytest.raises(ValueError, match="reduction"):
        quantizer.loss_terms(z_e, indices, "max")
    base = _built({"fim": True, "adversarial": {}, "vq_terms": "sum"}, tmp_path=tmp_path)
    per_value = _built({"fim": True, "adversarial": {}, "vq_terms": "mean"}, tmp_path=tmp_path)
    pre = _built({"fim": True, "adversarial": {}, "pretrain": {}}, tmp_path=tmp_path)
    pre_mean = _built({"fim": True, "adversarial": {}, "pretrain": {}, "vq_terms": "mean"}, tmp_path=tmp_path)
    assert base.model_key() == "01356882c67811a3" and per_value.model_key() != base.model_key()
    assert pre_mean.pretrain_key() != pre.pretrain_key()


def test_at_j_4_the_summed_vq_terms_collapse_the_codebook_and_the_averaged_ones_do_not(tmp_path, fetched_data) -> None:
    """The J = 4 collapse of Fig. 5 (README), at the shipped architecture: 40 steps on 1280 real
    digits (no AT, no FIM). Summed over the 32 values, the commitment term shrinks the encoder's
    tokens onto one code (perplexity 1.00 for seeds 1-3); averaged, 2.2-3.9 codes are in use."""
    from linksim.learning.stages import StageSettings
    from linksim.phy.channels import build_channel
    from linksim.systems.mvqvae.codebook import usage_perplexity
    from linksim.systems.mvqvae.index_link import IndexLink
    from linksim.systems.mvqvae.masking import kept_positions
    from linksim.systems.mvqvae.networks import build_model
    from linksim.systems.mvqvae.training import Objectives, train_classifier_link
    from linksim.vision.training import to_tensor

    data = _built({}, tmp_path=tmp_path).dataset
    train, test = data.split("train"), data.split("test")
    images, labels = to_tensor(train.images[:1280]).numpy(), train.labels[:1280]
    probe = to_tensor(test.images[:256])
    positions = kept_positions(256, 64, 0.5, torch.Generator().manual_seed(0))
    config = {"patch": 4, "width": 64, "depth": 4, "heads": 4, "hidden": 128, "codebook_dim": 32,
              "codebook_size": 4, "fim": False}
    perplexity = {}
    for reduction in ("sum", "mean"):
        torch.manual_seed(1)
        model = build_model("mvqvae", (32, 32, 3), config, 10)
        train_classifier_link(model, images, labels, StageSettings(2, 64, 1e-3), snr_db=3.0, masking_ratio=0.5,
                              link=IndexLink(4, build_channel(SVD1)), adversarial=None,
                              weights=Objectives(vq_terms=reduction), seed=1, name="J=4")
        with torch.no_grad():
            indices = model.quantizer.indices(model.encode(probe, positions)[0])
        perplexity[reduction] = usage_perplexity(indices, 4)
    assert perplexity["sum"] < 1.05 and perplexity["mean"] > 1.8, perplexity


# ---------------------------------------------------------------- eq. (17) and Algorithm 3's passes
def test_semantic_similarity_loss_is_minus_the_normalised_gram_norm() -> None:
    from linksim.systems.mvqvae.losses import semantic_similarity_loss

    parallel = torch.tensor([[[1.0, 0.0], [2.0, 0.0], [0.5, 0.0]]])
    assert float(semantic_similarity_loss(parallel)) == pytest.approx(-1.0)
    orthogonal = torch.eye(4).unsqueeze(0) * 3.0
    assert float(semantic_similarity_loss(orthogonal)) == pytest.approx(-0.5)  # -1/sqrt(4)
    f = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]])
    unit = torch.nn.functional.normalize(f[0], dim=-1)
    expected = -float(torch.linalg.matrix_norm(unit @ unit.T)) / 3  # the paper's -||F^T F||, Frobenius, / K
    assert float(semantic_similarity_loss(f)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="B, K, D"):
        semantic_similarity_loss(torch.zeros(3, 2))


def test_interleaved_schedule_alternates_whole_passes_over_disjoint_weight_groups(monkeypatch) -> None:
    from linksim.learning.stages import StageSettings
    from linksim.phy.channels import build_channel
    from linksim.systems.mvqvae import training
    from linksim.systems.mvqvae.index_link import IndexLink
    from linksim.systems.mvqvae.networks import build_model

    torch.manual_seed(0)
    model = build_model("mvqvae", (32, 32, 3), {**CONFIG, "fim": True}, 10)
    codebook = model.quantizer.codebook.detach().clone()
    fim = [w.value.detach().clone() for w in model.encoder.fim.weights]
    seen: List[str] = []
    real = training.interleaved_passes

    def spy(*args: Any, **kwargs: Any) -> Any:
        passes = real(*args, **kwargs)
        for objective in passes:
            inner = objective.loss
            objective.loss = (lambda f, name: lambda batch: (seen.append(name), f(batch))[1])(inner, objective.name)
        return passes

    monkeypatch.setattr(training, "interleaved_passes", spy)
    images, labels = torch.rand(48, 3, 32, 32).numpy(), torch.randint(0, 10, (48,)).numpy()
    report = training.train_classifier_link(
        model, images, labels, StageSettings(1, 16, 1e-2), snr_db=3.0, masking_ratio=0.5,
        link=IndexLink(16, build_channel(SVD1)), adversarial=None, weights=training.Objectives(similarity=0.1),
        seed=1, name="test", schedule="interleaved")
    assert seen == ["codebook pass (eq. 12)"] * 3 + ["FIM pass (eqs. 16 + 17)"] * 3  # one epoch: two whole passes
    assert report.steps == {"codebook pass (eq. 12)": 3, "FIM pass (eqs. 16 + 17)": 3}
    assert not torch.equal(codebook, model.quantizer.codebook)  # the codebook pass moved the codebook
    assert any(not torch.equal(v, w.value) for v, w in zip(fim, model.encoder.fim.weights))  # the FIM pass, the FIM
    vq, task = training.interleaved_passes(model, training.Batches([torch.zeros(4)], 2), lambda t: None,
                                           StageSettings(1, 2, 1e-3))
    vq_ids = {id(w) for w in vq.models[0].trainable_weights}
    task_ids = {id(w) for w in task.models[0].trainable_weights}
    assert not vq_ids & {id(w) for w in model.encoder.fim.trainable_weights}
    assert not task_ids & {id(w) for w in model.quantizer.trainable_weights}
    with pytest.raises(ValueError, match="schedule"):
        training.train_classifier_link(model, images, labels, StageSettings(1, 16, 1e-3), snr_db=3.0,
                                       masking_ratio=0.5, link=IndexLink(16, build_channel(SVD1)), adversarial=None,
                                       weights=training.Objectives(), seed=1, name="t", schedule="sometimes")


def test_similarity_and_schedule_key_the_weights_only_when_set(tmp_path) -> None:
    base = _built({"fim": True, "adversarial": {}, "similarity": 0.0, "schedule": "merged"}, tmp_path=tmp_path)
    both = _built({"fim": True, "adversarial": {}, "similarity": 0.01, "schedule": "interleaved"}, tmp_path=tmp_path)
    one = _built({"fim": True, "adversarial": {}, "schedule": "interleaved"}, tmp_path=tmp_path)
    assert base.model_key() == "01356882c67811a3"
    assert len({base.model_key(), both.model_key(), one.model_key()}) == 3


# ---------------------------------------------------------------- bad settings
@pytest.mark.parametrize("params, message", [
    ({"scheme": "jscc", "pretrain": {}}, "params.pretrain|pretrain"),
    ({"scheme": "digital", "pretrain": {}}, "pretrain"),
    ({"pretrain": {"width": 30, "heads": 4}}, "params.pretrain: heads"),
    ({"pretrain": {"depth": 0}}, "params.pretrain.depth"),
    ({"noise_map": {"train_temperature": 1.0}}, "noise_map"),
    ({"masking": "noise_map", "noise_map": {"train_temperature": -1}}, "params.noise_map.train_temperature"),
    ({"vq_terms": "max"}, "params.vq_terms"),
    ({"scheme": "jscc", "similarity": 0.1}, "similarity"),
    ({"scheme": "digital", "schedule": "interleaved"}, "schedule"),
    ({"schedule": "alternating"}, "params.schedule"),
])
def test_bad_pretraining_and_map_training_settings_name_the_field(params, message) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario([{"label": "S", "type": "masked_vqvae", "params": params}]))


def test_bad_pretraining_settings_exit_2_naming_the_field(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_scenario([{"label": "S", "type": "masked_vqvae",
                                               "training": {"pretrain": {"epochs": -1, "batch_size": 8,
                                                                         "learning_rate": 1e-3}},
                                               "params": {"pretrain": {}}}])))
    done = subprocess.run([sys.executable, "-m", "linksim", "validate", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert "training.pretrain.epochs" in done.stderr and "Traceback" not in done.stderr
