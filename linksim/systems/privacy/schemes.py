"""The privacy schemes of the privacy-ToSC paper as one transmit / listen / classify path.

A :class:`SchemeLink` wraps a trained :class:`~.networks.PrivacyTransceiver` with the
scheme's mechanism and gives every party the same view of one transmission:

* :meth:`SchemeLink.transmit`: images ``[N, C, H, W]`` -> a :class:`Transmission`: the
  channel symbols ``tx`` ``[N, k, 2]`` (unit average energy per symbol) that any
  listener's channel receives, with what the legitimate receiver shares with the
  transmitter (nonces) and the LBVQ indices;
* :meth:`SchemeLink.listen`: a listener's channel output -> its input features: the
  received symbols (still encrypted: only :meth:`SchemeLink.logits` decrypts), or for
  LBVQ the codewords of the hard-detected indices (the attacker knows the codebook);
* :meth:`SchemeLink.logits`: the legitimate receiver's task head (decrypting first).

Schemes (``../shared/notes/privacy-tosc-analysis.md`` section 2):

=============  ======================================================================
deepjscc       power-normalised analog symbols (no privacy)
dp             symbols, clipped (``clipped``) plus Laplace/Gaussian noise, power-normalised again
encryption     symbols under a keyed transform (:class:`~linksim.privacy.KeyedTransform`),
               a fresh nonce per image; the model is DeepJSCC's (the transform is
               orthogonal and commutes with AWGN in distribution)
vfe            DeepJSCC trained with the variational-IB KL of Shao et al. (log-uniform prior)
ibal           VFE plus an adversarial term against a simulated inversion network
lbvq           ``k`` latents of ``d`` quantised to ``K`` learned codewords; indices as Gray
               ``K``-QAM, hard detection, codeword lookup
uis            UIS-ToSC: LBVQ's link trained with the VIB KL term on the latents and IBAL's
               adversarial term (the authors' code: the KL on a branch that is not sent)
=============  ======================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from ...layers.power import PowerNormalization
from ...privacy import DPMechanism, KeyedTransform

SCHEMES = ("deepjscc", "dp", "encryption", "vfe", "ibal", "lbvq", "uis")
#: Schemes that send codebook indices.
QUANTISED = ("lbvq", "uis")
#: Schemes trained with the VIB KL term.
WITH_IB = ("vfe", "ibal", "uis")
#: Schemes trained against a simulated inversion network.
ADVERSARIAL = ("ibal", "uis")

#: Molchanov et al. (2017): ``-KL ~ k1 sigmoid(k2 + k3 log alpha) - 0.5 log(1 + 1/alpha) - k1``.
_KL_K1, _KL_K2, _KL_K3 = 0.63576, 1.87320, 1.48695


def vib_kl(symbols: torch.Tensor, noise_std: float) -> torch.Tensor:
    """VFE's KL term per image ``[N]``: the log-uniform-prior approximation summed over the real values.

    ``alpha_i = sigma^2 / z_i^2`` with ``sigma`` the channel noise per real dimension at the
    training SNR (the channel is the stochastic part of the bottleneck, as in Shao et al.).

    :param symbols: ``[N, ...]`` transmitted real values.
    :param noise_std: ``sigma`` per real dimension.
    """
    z2 = symbols.reshape(symbols.shape[0], -1).square().clamp(min=1e-8)
    log_alpha = math.log(noise_std ** 2) - torch.log(z2)
    neg_kl = _KL_K1 * torch.sigmoid(_KL_K2 + _KL_K3 * log_alpha) - 0.5 * torch.log1p(torch.exp(-log_alpha)) - _KL_K1
    return -neg_kl.sum(-1)


@dataclass
class Transmission:
    """One batch on the air.

    :ivar tx: ``[N, k, 2]`` channel symbols (what every listener's channel receives).
    :ivar nonces: ``[N]`` public nonces of the encryption (None without encryption).
    :ivar indices: ``[N, k]`` LBVQ codebook indices sent (None for analog schemes).
    :ivar latents: ``[N, k, d]`` LBVQ's unquantised latents (for the straight-through gradient).
    """

    tx: torch.Tensor
    nonces: Optional[np.ndarray] = None
    indices: Optional[torch.Tensor] = None
    latents: Optional[torch.Tensor] = None


class SchemeLink:
    """A transceiver with its scheme's mechanism (module docstring).

    :param scheme: One of :data:`SCHEMES`.
    :param model: The :class:`~.networks.PrivacyTransceiver` (with a codebook for ``lbvq``).
    :param dp: The mechanism of ``dp``.
    :param encryption: The keyed transform of ``encryption``.
    :param index_link: An :class:`~linksim.systems.mvqvae.index_link.IndexLink` for ``lbvq``
        (its constellation and labelling; the listener's channel is given per call).
    """

    def __init__(self, scheme: str, model: Any, *, dp: Optional[DPMechanism] = None,
                 encryption: Optional[KeyedTransform] = None, index_link: Any = None) -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}")
        self.scheme, self.model, self.dp, self.encryption, self.index_link = scheme, model, dp, encryption, index_link
        self._power = PowerNormalization()

    @property
    def listener_values(self) -> int:
        """Real values per image a listener's features hold (``2k``, or ``k d`` for LBVQ)."""
        return self.model.k * self.model.latent_dim

    # ------------------------------------------------------------------ transmitter
    def transmit(self, x: torch.Tensor, *, training: bool = False, rng: Optional[np.random.Generator] = None,
                 generator: Optional[torch.Generator] = None) -> Transmission:
        """Encode, quantise or privatise, and encrypt ``x`` ``[N, C, H, W]``.

        :param rng: NumPy generator of the nonces (default: Sionna's).
        :param generator: torch generator of the DP noise (default: Sionna's).
        """
        import sionna.phy

        model = self.model
        if self.scheme in QUANTISED:
            latents = model.latents(x, training=training)
            _, indices = model.quantizer(latents)
            symbols = self.index_link.map(indices)  # [N, k] complex, unit average energy
            return Transmission(torch.stack([symbols.real, symbols.imag], -1).to(latents.dtype), indices=indices,
                                latents=latents)
        s = model.encoder(x, training=training)  # [N, k, 2], energy k
        if self.scheme == "dp":
            gen = generator if generator is not None else sionna.phy.config.torch_rng(str(s.device))
            noisy = self.dp.privatize(s.reshape(s.shape[0], -1), gen)
            s = self._power(noisy.reshape(s.shape))  # post-processing: DP kept, power budget kept
        if self.scheme == "encryption":
            rng = rng if rng is not None else sionna.phy.config.np_rng
            nonces = self.encryption.nonces(s.shape[0], rng)
            cipher = self.encryption.encrypt(s.reshape(s.shape[0], -1), nonces)
            return Transmission(cipher.reshape(s.shape), nonces=nonces)
        return Transmission(s)

    # ------------------------------------------------------------------ listeners
    def listen(self, sent: Transmission, received: torch.Tensor, *, straight_through: bool = False) -> torch.Tensor:
        """A listener's features from its channel output ``received`` ``[N, k, 2]``.

        Analog schemes: ``received`` itself (ciphertext for ``encryption``). LBVQ: the
        codewords ``[N, k, d]`` of the nearest-point decisions; with ``straight_through``
        the gradient goes to the unquantised latents (training).
        """
        if self.scheme not in QUANTISED:
            return received
        complex_rx = torch.complex(received[..., 0].float(), received[..., 1].float())
        bits = self.index_link.hard_bits(complex_rx, self.model.k)
        indices = self.index_link.from_bits(bits)
        codewords = self.model.quantizer.lookup(indices)
        if straight_through:
            return sent.latents + (codewords - sent.latents).detach()
        return codewords

    def received_indices(self, received: torch.Tensor) -> torch.Tensor:
        """LBVQ: the indices a listener detects from ``received`` ``[N, k, 2]``."""
        complex_rx = torch.complex(received[..., 0].float(), received[..., 1].float())
        return self.index_link.from_bits(self.index_link.hard_bits(complex_rx, self.model.k))

    def logits(self, sent: Transmission, received: torch.Tensor, *, training: bool = False) -> torch.Tensor:
        """The legitimate receiver's class logits ``[N, classes]`` from its channel output."""
        features = self.listen(sent, received, straight_through=training)
        if self.scheme == "encryption":
            plain = self.encryption.decrypt(features.reshape(features.shape[0], -1), sent.nonces)
            features = plain.reshape(features.shape)
        return self.model.head(features, training=training)

    def tx_power(self, sent: Transmission) -> torch.Tensor:
        """``[N]`` mean energy per complex symbol of each image."""
        return sent.tx.square().sum(-1).mean(-1)
