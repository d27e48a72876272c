"""The masked VQ-VAE's Figs. 9, 10 and 11(a) (issue 12): activation frequency per feature, the
codebook's cosine similarities and their heat map, and retrieval recall@1."""

from __future__ import annotations

import json
from typing import Any, Dict

import numpy as np
import pytest
import torch
import yaml

from linksim.cli import main
from linksim.errors import UserError
from linksim.systems.mvqvae.codebook import orthogonality_loss
from linksim.systems.mvqvae.probes import (activation_counts, activation_threshold, codebook_summary,
                                           nearest_neighbour_hits, token_activations)

SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}
MNIST = {"type": "images", "source": "mnist_10k", "layout": "rgb32"}


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: these small models run many times slower on two threads of shared cores."""
    from linksim.systems.training import torch_threads

    with torch_threads(1):
        yield


def _scenario(sweep: Dict[str, Any], systems: Any, metrics: Any, **over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {"name": "mvq_probes", "seed": 1, "data": MNIST, "channel": SVD1, "sweep": sweep,
                            "systems": systems, "metrics": metrics,
                            "monte_carlo": {"batch_size": 16, "max_batches": 1, "target_errors": None}}
    base.update(over)
    return base


def _system(scenario: Dict[str, Any], index: int, tmp_path, quick: bool = True) -> Any:
    from linksim.assembly import Runtime
    from linksim.runner import set_up_system
    from linksim.scenario import parse_scenario

    return set_up_system(parse_scenario(scenario), index, Runtime(cache_dir=tmp_path / "cache", quick=quick))


# ---------------------------------------------------------------- Fig. 10: codebook similarity
def test_codebook_summary_gram_is_symmetric_with_unit_diagonal_and_orders_codes_by_use() -> None:
    g = torch.Generator().manual_seed(0)
    codebook = torch.randn(80, 6, generator=g) * torch.rand(80, 1, generator=g)  # norms differ: cosines do not
    indices = torch.cat([torch.full((7,), 5), torch.full((3,), 70), torch.full((5,), 2)]).reshape(3, 5)
    summary = codebook_summary(codebook, indices, top=64)
    gram = summary.gram_top
    assert gram.shape == (64, 64) and np.allclose(np.diag(gram), 1.0, atol=1e-6) and np.allclose(gram, gram.T)
    assert list(summary.top[:4]) == [5, 2, 70, 0]  # by use (7, 5, 3), then unused codes by index
    assert summary.used() == 3 and summary.images == 3
    unit = codebook / codebook.norm(dim=-1, keepdim=True)
    off = (unit @ unit.T).abs()[~torch.eye(80, dtype=torch.bool)]
    assert summary.mean_all == pytest.approx(float(off.mean()), rel=1e-5)
    assert summary.max_all == pytest.approx(float(off.max()), rel=1e-5)
    assert np.allclose(summary.gram_all[5, 70], float(unit[5] @ unit[70]), atol=1e-6)
    counts = np.array([7, 5, 3])
    p = counts / counts.sum()
    assert summary.perplexity == pytest.approx(float(np.exp(-(p * np.log(p)).sum())), rel=1e-6)


def test_orthogonality_steps_lower_the_mean_off_diagonal_cosine() -> None:
    codebook = (torch.randn(16, 32, generator=torch.Generator().manual_seed(1)) + 2.0).requires_grad_()
    before = codebook_summary(codebook, torch.arange(16)).mean_all
    optimizer = torch.optim.Adam([codebook], lr=0.05)
    for _ in range(100):
        optimizer.zero_grad()
        orthogonality_loss(codebook).backward()
        optimizer.step()
    after = codebook_summary(codebook, torch.arange(16)).mean_all
    assert before > 0.7 and after < 0.2  # D = 32 >= J = 16: the term can make them near orthogonal


def _similarity_systems(tmp_path) -> Any:
    from linksim.runner import SHIPPED_SCENARIOS_DIR

    doc = yaml.safe_load((SHIPPED_SCENARIOS_DIR / "mvqvae_similarity.yaml").read_text())
    return [_system(doc, i, tmp_path, quick=False) for i in range(2)]


def test_the_orthogonality_term_lowers_the_similarity_of_the_shipped_pair(tmp_path) -> None:
    """Measured (README): the 64 most-used codes' mean |cosine| 0.36 without the term, 0.21 with
    it; all 256 codes 0.16 and 0.12 (random 32-dimensional vectors: about 0.14)."""
    without, with_term = _similarity_systems(tmp_path)
    assert all(s.served[s.default_point()].record["source"] != "trained" for s in (without, with_term))
    assert without.params.orthogonality == 0 and with_term.params.orthogonality == 1
    a, b = (s._codebook_summary(s.default_point()) for s in (without, with_term))
    assert a.mean_top > b.mean_top + 0.08 and a.mean_all > b.mean_all + 0.02
    matrix = with_term.matrix("codebook_cosine", {"snr_db": 3.0})
    assert matrix.values.shape == (64, 64) and np.allclose(np.diag(matrix.values), 1.0, atol=1e-5)
    assert np.allclose(matrix.values, matrix.values.T, atol=1e-6) and np.all(np.abs(matrix.values) <= 1 + 1e-6)
    assert with_term.matrix("codebook_cosine_all", {"snr_db": 3.0}).values.shape == (256, 256)


def test_similarity_heatmap_and_metrics_end_to_end(tmp_path) -> None:
    doc = _scenario({"parameter": "snr_db", "values": [3]},
                    [{"label": "J16", "type": "masked_vqvae", "params": {"codebook_size": 16, "orthogonality": 0}},
                     {"label": "JSCC", "type": "masked_vqvae", "params": {"scheme": "jscc"}}],
                    ["codebook_cosine_mean", "codebook_cosine_max_all", "codebook_perplexity", "accuracy"],
                    figures=[{"file": "h.pdf", "kind": "heatmap", "matrix": "codebook_cosine", "system": "J16"}])
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "run"
    assert main(["run", str(path), "--quick", "--out", str(out), "--cache", str(tmp_path / "cache"),
                 "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    values = np.array(results["provenance"]["matrices"]["J16"]["codebook_cosine"]["0"]["values"])
    assert values.shape == (16, 16) and np.allclose(np.diag(values), 1.0, atol=1e-5) and np.allclose(values, values.T)
    totals = {r["system"]: r["totals"] for r in results["records"]}
    assert 0 <= totals["J16"]["codebook_cosine_mean_sum"] <= 1 and 1 <= totals["J16"]["codebook_perplexity_sum"] <= 16
    assert "codebook_cosine_mean_sum" not in totals["JSCC"]  # no codebook
    assert (out / "h.pdf").read_bytes().startswith(b"%PDF")


# ---------------------------------------------------------------- Fig. 9: activation frequency
def test_activation_counts_use_only_kept_positions() -> None:
    tokens = torch.tensor([[[1.0, 3.0], [0.0, 0.0]], [[5.0, 5.0], [-1.0, -3.0]]])  # [B=2, K=2, w=2]
    positions = torch.tensor([[0, 2], [2, 3]])
    acts = token_activations(tokens, positions, 4)
    assert torch.isnan(acts[0, 1]) and torch.isnan(acts[1, 0]) and acts[0, 0] == 2.0 and acts[1, 3] == -2.0
    assert activation_threshold(acts, 0.5) == pytest.approx(1.0)  # median of 2, 0, 5, -2
    assert activation_counts(acts, 2, 1.0) == (1.0, 2.0)  # position 2 kept twice, above 1 once (5)
    assert activation_counts(acts, 1, 1.0) == (0.0, 0.0)


def test_activation_frequency_sweep_is_a_proportion_and_reproducible(tmp_path) -> None:
    from linksim.runner import seed_everything

    doc = _scenario({"parameter": "feature", "values": [1, 30, 64], "fixed": {"snr_db": 3}},
                    [{"label": "FIM", "type": "masked_vqvae", "params": {"fim": True, "epsilon": 0.03}}],
                    ["activation_frequency"])
    system = _system(doc, 0, tmp_path)
    for feature in (1, 30, 64):
        seed_everything(feature)
        stats = system.simulate(40, {"snr_db": 3.0, "feature": float(feature)})
        assert set(stats) == {"activations", "activation_trials"}
        assert 0 <= stats["activations"] <= stats["activation_trials"] <= 40
        assert 10 <= stats["activation_trials"] <= 30  # masking ratio 0.5: about half keep the position
        seed_everything(feature)
        assert system.simulate(40, {"snr_db": 3.0, "feature": float(feature)}) == stats


def test_clean_activation_frequency_of_the_shipped_model_averages_the_threshold_share(tmp_path) -> None:
    """The threshold is the 75th percentile of clean training activations: over all features and
    test images about 25 % are activated (shipped MVQ+FIM+AT; measured 0.26)."""
    from linksim.runner import seed_everything

    doc = _scenario({"parameter": "feature", "start": 1, "stop": 64, "step": 1, "fixed": {"snr_db": 3}},
                    [{"label": "S", "type": "masked_vqvae", "params": {"fim": True, "adversarial": {}}}],
                    ["activation_frequency"])
    system = _system(doc, 0, tmp_path, quick=False)
    assert system.served[system.default_point()].record["source"] != "trained"
    activated = kept = 0.0
    for feature in range(1, 65):
        seed_everything(feature)
        stats = system.simulate(100, {"snr_db": 3.0, "feature": float(feature)})
        activated, kept = activated + stats["activations"], kept + stats["activation_trials"]
    assert 0.20 < activated / kept < 0.30


@pytest.mark.parametrize("sweep, params, message", [
    ({"parameter": "feature", "values": [0], "fixed": {"snr_db": 3}}, {}, "feature 0"),
    ({"parameter": "feature", "values": [65], "fixed": {"snr_db": 3}}, {}, "feature 65"),
    ({"parameter": "feature", "values": [2.5], "fixed": {"snr_db": 3}}, {}, "feature 2.5"),
    ({"parameter": "feature", "values": [17], "fixed": {"snr_db": 3}}, {"patch": 8}, "1..16"),
    ({"parameter": "feature", "values": [1], "fixed": {"snr_db": 3}}, {"scheme": "jscc"}, "scheme: mvqvae"),
])
def test_bad_feature_sweeps_name_the_field(sweep, params, message) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario(sweep, [{"label": "S", "type": "masked_vqvae", "params": params}],
                                 ["activation_frequency"]))


# ---------------------------------------------------------------- Fig. 11(a): retrieval
def test_recall_at_1_of_a_perfect_embedding_is_one_and_of_a_random_one_near_chance() -> None:
    g = torch.Generator().manual_seed(3)
    gallery_labels = torch.randint(0, 10, (1000,), generator=g)
    query_labels = torch.randint(0, 10, (4000,), generator=g)
    perfect = torch.eye(10)
    gallery = perfect[gallery_labels] * (1 + torch.rand(1000, 1, generator=g))  # scale does not matter: cosine
    assert nearest_neighbour_hits(perfect[query_labels], query_labels, gallery, gallery_labels) == 4000
    hits = nearest_neighbour_hits(torch.randn(4000, 16, generator=g), query_labels, torch.randn(1000, 16, generator=g),
                                  gallery_labels)
    assert 0.08 < hits / 4000 < 0.12
    flipped = (perfect[(query_labels + 1) % 10])  # always the wrong class
    assert nearest_neighbour_hits(flipped, query_labels, gallery, gallery_labels) == 0


def test_retrieval_queries_are_not_in_the_gallery_and_hits_are_counted(tmp_path) -> None:
    from linksim.runner import seed_everything

    doc = _scenario({"parameter": "snr_db", "values": [40]},
                    [{"label": "MVQ", "type": "masked_vqvae", "params": {"gallery_images": 2003}},
                     {"label": "JSCC", "type": "masked_vqvae", "params": {"scheme": "jscc", "gallery_images": 2003,
                                                                          "ideal_channel": True}}],
                    ["recall_at_1", "accuracy"])
    for index in range(2):
        system = _system(doc, index, tmp_path)
        gallery, labels = system._gallery(system.default_point())
        assert gallery.shape == (64, 32) and labels.shape == (64,)  # quick: at most 64 images, hidden 32
        seed_everything(1)
        stats = system.simulate(24, {"snr_db": 40.0})
        assert stats["retrieval_queries"] == 24 and 0 <= stats["retrieval_hits"] <= 24
    # the whole gallery: 2003 of the 2004 test digits, so every query is the last one (JSCC, ideal link:
    # the same embedding each time, all hits or none)
    system.context.quick = False
    system.served[system.default_point()].gallery = None
    seed_everything(2)
    stats = system.simulate(24, {"snr_db": 40.0})
    assert system._gallery(system.default_point())[0].shape[0] == 2003
    assert stats["retrieval_hits"] in (0.0, 24.0) and stats["correct"] in (0.0, 24.0)


def test_a_gallery_without_queries_is_refused() -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match="params.gallery_images"):
        parse_scenario(_scenario({"parameter": "snr_db", "values": [3]},
                                 [{"label": "S", "type": "masked_vqvae", "params": {"gallery_images": 2004}}],
                                 ["recall_at_1"]))
