"""Flooding belief-propagation LDPC decoding, bit-identical to Sionna's and faster.

Sionna's :class:`~sionna.phy.fec.ldpc.LDPCBPDecoder` keeps the messages in edge order
and, in every iteration, moves them between its padded check-node (CN) and variable-node
(VN) layouts with generic gathers, mask multiplications, zero-filled buffers, index_put
scatters and permutations. :class:`FastLDPCBPDecoder` is that decoder (same parity-check
matrix, same parameters, same node-update functions) with the message passing of the
flooding schedule replaced by two precomputed ``index_select`` gathers per iteration:

* CN -> VN: ``[bs, C*dc]`` c2v messages (Sionna's padded CN layout, ``C`` check nodes of
  degree at most ``dc``) straight into the padded VN layout ``[bs, V, dv]``, where they are
  summed with the channel LLRs into the a-posteriori values ``x_tot`` ``[bs, V]``;
* VN -> CN: the extrinsic v2c message of an edge is ``x_tot[v] - c2v[edge]``, computed in
  the CN layout directly (one gather of ``x_tot``, one subtraction, one clamp), so the
  padded VN-layout extrinsics of Sionna are never formed.

Identity with Sionna holds by construction: every reduction (the VN sums, the CN sums
and products) runs on a tensor of the same shape and layout, with the same (zero or
neutral) padding, as in Sionna, and transcendental functions run on the same
``[bs, C, dc]`` tensors, so their vectorisation is the same too; the remaining steps are
exactly rounded arithmetic (``+ - *``, abs, min, clamp), whose results do not depend on
the layout. The check-node updates are Sionna's (:data:`CN_UPDATES` holds an in-place
rewrite of ``boxplus-phi`` with the same operations in the same order, one ``exp``
computed once instead of twice). The only possible difference is the sign of an exact
zero message, which no later step can see (every CN update maps ``sign(0)`` to ``+1``,
and hard decisions use ``<= 0``): decoded bits, and soft outputs up to ``-0.0 == 0.0``,
are identical.

:class:`FastLDPC5GDecoder` reuses :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`'s rate
recovery (filler bits, puncturing, pruning, interleaving) around this core: Python's
method resolution order puts :class:`FastLDPCBPDecoder` between the two Sionna classes,
so ``LDPC5GDecoder.call``'s ``super().call(...)`` runs the fast BP core.

Features the fast path does not cover (a custom/layered CN schedule, node-update
callbacks, a non-``sum`` VN update, ``return_state`` or an initial ``msg_v2c``) fall
back to Sionna's own decoding loop.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPCBPDecoder
from sionna.phy.fec.ldpc.decoding import (
    cn_update_minsum,
    cn_update_offset_minsum,
    cn_update_phi,
    cn_update_tanh,
    vn_update_sum,
)

__all__ = ["FastLDPCBPDecoder", "FastLDPC5GDecoder", "cn_update_phi_inplace", "CN_UPDATES"]


# ---------------------------------------------------------------------------------------
# Check-node update
# ---------------------------------------------------------------------------------------


def _phi_(x: torch.Tensor) -> torch.Tensor:
    """``phi(x) = log(e^x + 1) - log(e^x - 1)`` of Sionna's ``cn_update_phi``, in place on ``x``.

    Same clamping bounds per dtype and the same operations as Sionna (``exp(x)`` is
    computed once: Sionna evaluates it twice, with the same result).
    """
    if x.dtype == torch.float32:
        x.clamp_(min=8.5e-8, max=16.635532)
    elif x.dtype == torch.float64:
        x.clamp_(min=1e-12, max=28.324079)
    else:
        x.clamp_(min=1e-7, max=20.0)
    e = x.exp_()
    plus = e + 1
    return plus.log_().sub_(e.sub_(1).log_())


def cn_update_phi_inplace(msg_v2c: torch.Tensor, mask: torch.Tensor,
                          llr_clipping: Optional[float] = None) -> torch.Tensor:
    """Sionna's ``cn_update_phi`` (boxplus via ``phi``) with fewer passes over memory.

    :param msg_v2c: ``[bs, C, dc]`` v2c messages in the padded CN layout; padded slots
        must hold ``+-0.0`` or any non-negative value (their sign counts as +1).
    :param mask: ``[C, dc]`` 1.0 for an edge, 0.0 for padding.
    :param llr_clipping: Clip the outgoing messages to this magnitude (None: no clipping).
    :returns: ``[bs, C, dc]`` c2v messages, 0 at padded slots; bit-identical to Sionna's
        ``cn_update_phi`` on the same valid messages (up to the sign of zero at padding).
    """
    # +-1 with sign(+-0) = +1 as in Sionna (sign, then 0 -> 1); padded slots (+0) give +1
    sign = torch.sign(msg_v2c).add_(0.5).sign_()
    sign.mul_(sign.prod(dim=2, keepdim=True))
    msg_phi = _phi_(msg_v2c.abs()).mul_(mask)
    msg_e = _phi_(msg_phi.sum(dim=2, keepdim=True) - msg_phi)
    msg_out = sign.mul_(msg_e).mul_(mask)
    if llr_clipping is not None:
        msg_out.clamp_(-llr_clipping, llr_clipping)
    return msg_out


#: The CN updates of the fast path, by Sionna's function: Sionna's own, or a bit-identical
#: rewrite. Each zeroes the padded slots of its output (the fast VN gather relies on it).
CN_UPDATES: Dict[Callable, Callable] = {
    cn_update_phi: cn_update_phi_inplace,
    cn_update_tanh: cn_update_tanh,
    cn_update_minsum: cn_update_minsum,
    cn_update_offset_minsum: cn_update_offset_minsum,
}


# ---------------------------------------------------------------------------------------
# Decoders
# ---------------------------------------------------------------------------------------


class FastLDPCBPDecoder(LDPCBPDecoder):
    """:class:`~sionna.phy.fec.ldpc.LDPCBPDecoder` with a faster flooding-BP core.

    Same constructor, parameters and outputs as Sionna's decoder (see the module
    docstring for the identity argument). Input ``llr_ch`` ``[..., n]`` logits
    (``log P(1)/P(0)``, Sionna's convention); output ``[..., n]`` hard bits
    (``hard_out=True``) or logits.
    """

    def __init__(self, pcm: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(pcm, *args, **kwargs)
        self._build_fast_graph()

    def _build_fast_graph(self) -> None:
        """Precompute the gathers between Sionna's padded CN and VN layouts.

        Sionna's edges ``e`` are sorted by VN; the CN layout slot ``c*dc + j`` holds edge
        ``v2c_perm[cn_row_splits[c] + j]`` and the VN layout slot ``v*dv + i`` holds edge
        ``vn_row_splits[v] + i``.
        """
        num_c, num_v = self._num_cns, self._num_vns
        dc, dv = self._max_cn_degree, self._max_vn_degree
        cn_splits = self._cn_row_splits.cpu().numpy().astype(np.int64)
        vn_splits = self._vn_row_splits.cpu().numpy().astype(np.int64)
        v2c_perm = self._v2c_perm.cpu().numpy().astype(np.int64)
        vn_of_edge = np.asarray(self._vn_idx, dtype=np.int64)

        cn_deg, vn_deg = np.diff(cn_splits), np.diff(vn_splits)
        cn_valid = np.arange(dc)[None, :] < cn_deg[:, None]  # [C, dc]
        vn_valid = np.arange(dv)[None, :] < vn_deg[:, None]  # [V, dv]
        cn_slot_edge = v2c_perm[(cn_splits[:-1, None] + np.arange(dc)[None, :])[cn_valid]]
        # CN slot of every edge, for the CN -> VN gather
        slot_of_edge = np.empty(self._num_edges, dtype=np.int64)
        slot_of_edge[cn_slot_edge] = np.flatnonzero(cn_valid.ravel())
        # VN layout: edges in place, padding reads a padded CN slot (its c2v is 0) when
        # there is one, else any slot and is zeroed by the VN mask afterwards
        cn_pad = np.flatnonzero(~cn_valid.ravel())
        vn_src = np.full((num_v, dv), cn_pad[0] if cn_pad.size else 0, dtype=np.int64)
        vn_src[vn_valid] = slot_of_edge[(vn_splits[:-1, None] + np.arange(dv)[None, :])[vn_valid]]
        self._vn_pad_mask = bool(vn_valid.size and not vn_valid.all() and not cn_pad.size)
        # CN layout: the VN of every edge; padding reads index V, a zero appended to x_tot
        cn_vn = np.full((num_c, dc), num_v, dtype=np.int64)
        cn_vn[cn_valid] = vn_of_edge[cn_slot_edge]

        # buffers follow .to(device); not persistent: state_dict() stays Sionna's
        self.register_buffer("_fast_vn_src", torch.tensor(vn_src.ravel(), device=self.device), persistent=False)
        self.register_buffer("_fast_cn_vn", torch.tensor(cn_vn.ravel(), device=self.device), persistent=False)
        self._fast_cn_update = CN_UPDATES.get(self._cn_update)

    def _fast_path(self, msg_v2c: Optional[torch.Tensor]) -> bool:
        """Whether :meth:`call` can run the fast core (else Sionna's loop)."""
        return (self._scheduling == "flooding" and msg_v2c is None and not self._return_state
                and not self._v2c_callbacks and not self._c2v_callbacks
                and self._vn_update is vn_update_sum and self._fast_cn_update is not None)

    def call(self, llr_ch: torch.Tensor, /, *, num_iter: Optional[int] = None,
             msg_v2c: Optional[torch.Tensor] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """Flooding BP decoding of ``llr_ch`` ``[..., n]`` -> ``[..., n]`` (see Sionna's ``call``)."""
        if not self._fast_path(msg_v2c):
            return super().call(llr_ch, num_iter=num_iter, msg_v2c=msg_v2c)
        if num_iter is None:
            num_iter = self._num_iter
        llr_max = self._llr_max
        if llr_max is not None:
            llr_ch = llr_ch.clamp(-llr_max, llr_max)
        shape = llr_ch.shape
        llr = llr_ch.reshape(-1, self._num_vns) * -1.0  # [bs, V] "true" LLRs, as Sionna
        bs = llr.shape[0]
        num_c, dc = self._num_cns, self._max_cn_degree
        num_v, dv = self._num_vns, self._max_vn_degree
        cn_mask, vn_mask = self._cn_mask, self._vn_mask

        # [bs, V + 1]: the appended 0 feeds the padded CN slots
        x_tot = torch.nn.functional.pad(llr, (0, 1))
        msg_cn = x_tot.index_select(1, self._fast_cn_vn).view(bs, num_c, dc)  # v2c, CN layout
        for _ in range(num_iter):
            c2v = self._fast_cn_update(msg_cn, cn_mask, llr_max)  # [bs, C, dc]
            msg_vn = c2v.view(bs, -1).index_select(1, self._fast_vn_src).view(bs, num_v, dv)
            if self._vn_pad_mask:
                msg_vn = msg_vn * vn_mask
            x_tot = torch.nn.functional.pad(msg_vn.sum(dim=2) + llr, (0, 1))  # [bs, V + 1]
            msg_cn = x_tot.index_select(1, self._fast_cn_vn).view(bs, num_c, dc).sub_(c2v)
            if llr_max is not None:
                msg_cn.clamp_(-llr_max, llr_max)

        x_hat = x_tot[:, :num_v]
        if self._hard_out:
            x_hat = (x_hat <= 0).to(self.dtype)
        else:  # Sionna returns the clipped a-posteriori values, as logits
            if llr_max is not None:
                x_hat = x_hat.clamp(-llr_max, llr_max)
            x_hat = x_hat * -1.0
        return x_hat.reshape(shape)


class FastLDPC5GDecoder(LDPC5GDecoder, FastLDPCBPDecoder):
    """:class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` (5G NR rate recovery) on the fast BP core.

    Same constructor and call as Sionna's: the MRO is ``FastLDPC5GDecoder ->
    LDPC5GDecoder -> FastLDPCBPDecoder -> LDPCBPDecoder``, so the 5G pre- and
    post-processing is Sionna's and only the BP iterations are replaced. Input
    ``[..., n]`` channel logits, output ``[..., k]`` (``return_infobits``) or ``[..., n]``.
    """
