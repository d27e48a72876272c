"""Keyed encryption of real feature vectors: permutation, permutation with signs, rotation.

The paper's "key-guided feature shuffling" (ref. [8]) as a keyed transform ``T_{key,nonce}``
of the ``n`` real coordinates of a message:

* ``shuffle``: a permutation; ``shuffle_sign``: a permutation and ``+-1`` signs;
* ``rotation``: a Haar-random orthogonal ``n x n`` matrix (QR of a Gaussian matrix with
  the sign convention that makes it Haar); with power-normalised features the ciphertext
  is uniform on the sphere whatever the image, so the secrecy is perfect.

Every transform is orthogonal: it keeps the power and commutes with AWGN in distribution
(``T^-1 (T z + w) = z + T^-1 w`` and ``T^-1 w`` has the law of ``w``), so the receiver
that holds the key sees exactly the plain link's statistics.

Keys: with ``keys: per_message`` each message draws a fresh public nonce and the transform
comes from a pseudo-random function of (key, nonce) (NumPy's ``SeedSequence``), which the
attacker cannot evaluate without the key; ``keys: static`` uses one transform for every
message (the negative control: a fixed linear map that a learning attacker inverts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np
import torch

from ..errors import UserError

Mode = Literal["shuffle", "shuffle_sign", "rotation"]
KeyPolicy = Literal["per_message", "static"]


@dataclass(frozen=True)
class KeyedTransform:
    """A keyed orthogonal transform of ``dimension`` real coordinates.

    :param dimension: ``n`` (``2k`` for ``k`` complex symbols).
    :param key: the secret key (a non-negative integer below ``2**63``).
    :param mode: ``shuffle``, ``shuffle_sign`` or ``rotation``.
    :param keys: ``per_message`` (a fresh nonce per message) or ``static``.
    """

    dimension: int
    key: int
    mode: Mode = "shuffle"
    keys: KeyPolicy = "per_message"

    def __post_init__(self) -> None:
        if self.dimension < 2:
            raise UserError(f"encryption: needs at least 2 coordinates, got {self.dimension}")
        if not 0 <= self.key < 2**63:
            raise UserError(f"encryption.key: must be in [0, 2**63), got {self.key}")

    def nonces(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``[count]`` public nonces for ``count`` messages (all 0 with a static key)."""
        if self.keys == "static":
            return np.zeros(count, dtype=np.uint64)
        return rng.integers(0, 2**63, size=count, dtype=np.uint64)

    def _generator(self, nonce: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.key, int(nonce)]))

    def _parts(self, nonce: int) -> tuple:
        """(permutation ``[n]``, signs ``[n]`` or None, rotation ``[n, n]`` or None) of one message."""
        gen = self._generator(nonce)
        n = self.dimension
        if self.mode == "rotation":
            q, r = np.linalg.qr(gen.standard_normal((n, n)))
            return None, None, q * np.sign(np.diag(r))  # Haar: fix the signs of R's diagonal
        permutation = gen.permutation(n)
        signs = gen.choice(np.array([-1.0, 1.0]), size=n) if self.mode == "shuffle_sign" else None
        return permutation, signs, None

    def encrypt(self, z: torch.Tensor, nonces: np.ndarray) -> torch.Tensor:
        """``z`` ``[N, n]`` real -> ciphertext ``[N, n]`` (message ``i`` under ``nonces[i]``)."""
        return self._apply(z, nonces, inverse=False)

    def decrypt(self, y: torch.Tensor, nonces: np.ndarray) -> torch.Tensor:
        """The inverse of :meth:`encrypt` with the same nonces (bit-exact for permutations and signs)."""
        return self._apply(y, nonces, inverse=True)

    def _apply(self, z: torch.Tensor, nonces: np.ndarray, *, inverse: bool) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.dimension:
            raise ValueError(f"expected [N, {self.dimension}] features, got {tuple(z.shape)}")
        if len(nonces) != z.shape[0]:
            raise ValueError(f"{len(nonces)} nonces for {z.shape[0]} messages")
        unique, which = np.unique(np.asarray(nonces, dtype=np.uint64), return_inverse=True)
        parts = [self._parts(int(nonce)) for nonce in unique]
        if self.mode == "rotation":
            q = torch.as_tensor(np.stack([p[2] for p in parts])[which], dtype=z.dtype, device=z.device)
            q = q.transpose(1, 2) if inverse else q  # y = Q z; z = Q^T y
            return torch.bmm(q, z.unsqueeze(-1)).squeeze(-1)
        perm = torch.as_tensor(np.stack([p[0] for p in parts])[which], dtype=torch.long, device=z.device)
        signs: Optional[torch.Tensor] = None
        if self.mode == "shuffle_sign":
            signs = torch.as_tensor(np.stack([p[1] for p in parts])[which], dtype=z.dtype, device=z.device)
        if not inverse:  # y[j] = s[j] * z[perm[j]]
            y = torch.gather(z, 1, perm)
            return y * signs if signs is not None else y
        x = z * signs if signs is not None else z  # s = +-1 is its own inverse
        out = torch.empty_like(x)
        out.scatter_(1, perm, x)
        return out
