"""A learned system of your own: a tiny autoencoder over linksim's channel, trained by the kit.

The README's example of a learned plugin (``tests/plugins/autoencoder.yaml`` runs it):
a real source vector of ``dim`` values is sent in ``symbols`` complex channel uses. The
encoder is one dense layer and the power normalization of eq. (2); linksim's
differentiable channel follows; the decoder is two dense layers. Training is one
objective of :class:`linksim.learning.TrainingLoop`, and :func:`linksim.learning.load_or_train`
caches the weights under a key of everything that shapes them. The module also adds a
metric, ``recon_snr_db``, that the scenario names.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, FrozenSet, Mapping, Optional

import keras
import sionna.phy
import torch
from pydantic import Field

from linksim import ParamsModel
from linksim.layers import ChannelLayer, PowerNormalization
from linksim.learning import Batches, Objective, TrainingLoop, TrainingReport, load_or_train, weight_key
from linksim.metrics import MeanMetric
from linksim.registry import metrics, systems, validate_model
from linksim.systems import System
from linksim.systems.base import SystemContext
from linksim.weights import WeightStore


@metrics.register("recon_snr_db", summary="Reconstruction SNR 10 log10(|x|^2 / |x - x_hat|^2), mean over messages [dB].")
def _recon_snr_db() -> MeanMetric:
    return MeanMetric("recon_snr_db", "recon_snr_db")


class Autoencoder(keras.Model):
    """``x [B, dim]`` -> ``symbols`` complex channel uses -> ``x_hat [B, dim]``."""

    def __init__(self, dim: int, symbols: int, channel: Dict[str, Any], train_snr_db: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.symbols = symbols
        self.encoder = keras.layers.Dense(2 * symbols)
        self.power = PowerNormalization()
        self.channel = ChannelLayer(channel, snr_db=train_snr_db)
        self.hidden = keras.layers.Dense(64, activation="relu")
        self.decoder = keras.layers.Dense(dim)

    def call(self, x: Any, snr_db: Any = None, training: Optional[bool] = None) -> Any:
        z = self.power(torch.reshape(self.encoder(x), (-1, self.symbols, 2)))
        y = self.channel(z, snr_db=snr_db, training=training)
        return self.decoder(self.hidden(torch.reshape(y, (-1, 2 * self.symbols))))


@systems.register("tiny_autoencoder")
class TinyAutoencoder(System):
    """A learned transceiver for Gaussian vectors over the scenario's channel (README example)."""

    class Params(ParamsModel):
        dim: int = Field(8, ge=1, le=256, description="real values per message")
        symbols: int = Field(4, ge=1, le=256, description="complex channel uses per message")

    class Training(ParamsModel):
        epochs: int = Field(20, ge=1, le=1000)
        batch_size: int = Field(64, ge=2, le=4096)
        learning_rate: float = Field(0.01, gt=0, le=1)
        num_train: int = Field(4096, ge=2, le=10**6)
        train_snr_db: float = Field(10.0, ge=-50, le=100)

    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"mse", "recon_snr_db"})
    accepts_training: ClassVar[bool] = True
    MODEL = "tiny_autoencoder-1"

    @classmethod
    def training_settings(cls, context: SystemContext) -> "TinyAutoencoder.Training":
        return validate_model(cls.Training, context.training or {}, field="training")

    @classmethod
    def validate_context(cls, params: ParamsModel, context: SystemContext) -> None:
        cls.training_settings(context)

    def setup(self) -> None:
        p, t = self.params, self.training_settings(self.context)
        if self.context.quick:
            t = t.model_copy(update={"epochs": 2, "num_train": 256})
        key = weight_key(self.MODEL, p.model_dump(), t.model_dump(), {"channel": self.context.channel},
                         {"seed": self.context.seed})

        def build() -> Autoencoder:
            model = Autoencoder(p.dim, p.symbols, dict(self.context.channel), t.train_snr_db)
            model(torch.zeros(2, p.dim))  # create the weights
            return model

        def train(model: Autoencoder) -> TrainingReport:
            x = torch.randn(t.num_train, p.dim, generator=torch.Generator().manual_seed(self.context.seed))
            return self.training_loop(model, x, t).run()

        store = WeightStore(self.context.cache_dir, "tiny_autoencoder")
        self.trained = load_or_train(store, key, build=build, train=train,
                                     seed={"seed": self.context.seed, "key": key},
                                     info={"system": "tiny_autoencoder", "params": p.model_dump(),
                                           "training_settings": t.model_dump()})

    def loss(self, model: Autoencoder, batch: Any) -> torch.Tensor:
        """Mean squared error of one training batch."""
        x = batch[0]
        return torch.mean((model(x, training=True) - x) ** 2)

    def training_loop(self, model: Autoencoder, x: torch.Tensor, t: "TinyAutoencoder.Training") -> TrainingLoop:
        name = f"{self.context.label!r} (tiny_autoencoder) training"
        objective = Objective("mse", [model], lambda batch: self.loss(model, batch), t.learning_rate)
        return TrainingLoop(name, Batches([x], t.batch_size), [objective], epochs=t.epochs, seed=self.context.seed)

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        gen = sionna.phy.config.torch_rng("cpu")
        x = torch.randn(batch_size, self.params.dim, generator=gen)
        x_hat = self.trained.model(x, snr_db=float(point["snr_db"]), training=False)
        err = torch.mean((x - x_hat) ** 2, dim=1).double()
        snr = 10 * torch.log10(torch.mean(x ** 2, dim=1).double() / err)
        return {"mse_sum": float(err.sum()), "mse_sumsq": float((err ** 2).sum()), "mse_count": batch_size,
                "recon_snr_db_sum": float(snr.sum()), "recon_snr_db_sumsq": float((snr ** 2).sum()),
                "recon_snr_db_count": batch_size}

    def trained_weights(self) -> list:
        return [("tiny_autoencoder", self.trained.key)]

    def provenance(self) -> Dict[str, Any]:
        return {"weights": self.trained.key, "source": self.trained.source, "data": "i.i.d. N(0, 1) vectors"}
