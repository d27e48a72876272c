"""Exact-MAP Turbo decoding, bit-identical to Sionna's, with cheaper trellis recursions.

:class:`TurboMapDecoder` performs the floating-point operations of Sionna's
``TurboDecoder(algorithm="map", hard_out=True)`` (``sionna.phy.fec.turbo``, whose
component decoder is ``sionna.phy.fec.conv.BCJRDecoder``) on the same operands, so it
returns the same decisions (and the same LLRs, bit for bit); ``tests/test_turbo_fast.py``
checks this against Sionna. It is faster because it does less *around* that arithmetic:

* the branch metrics of both component codes depend only on the channel LLRs: computed
  once per call instead of once per component decoding (``2 num_iter`` times);
* the branch probabilities ``gamma`` of all trellis steps (a-priori factor times branch
  metric) are computed in one vectorised pass per component decoding, in the order
  each recursion reads them;
* everything runs time-major with the batch innermost (``[T, 2 S, B]``): gathering
  states and summing the two branches into a state are copies and additions of
  contiguous rows of ``B`` values, instead of gathers along a short last axis;
* the output LLR sums of a backward step share one transpose and one reduction with
  the normalisation of that step.

Which operations may move: per-element operations (products, quotients, ``exp``,
``log``, negation, clipping) give the same value wherever they run, so they are batched
over steps and done in another layout. A sum of two terms is one rounding in any order.
The sums over the ``S`` states (normalisation, output LLRs) are the only longer
reductions, and the order in which torch adds up a short axis may depend on the CPU's
vector width and on the device (on this project's AVX-512 host it happens to be
sequential); they therefore run as in Sionna: ``torch.sum`` over the last axis of a
contiguous ``[..., B, S]`` tensor.

Notation: ``B`` blocks, ``k`` information bits, ``mu = 3`` memory (tail steps),
``T = k + mu`` trellis steps, ``S = 8`` states, ``O = 4`` output symbols (systematic,
parity) of a component code, ``n = 3 k + 4 mu`` code bits.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Dict

import numpy as np
import torch
from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder
from sionna.phy.fec.utils import int2bin

__all__ = ["TurboMapDecoder"]

#: Clip applied by Sionna's TurboDecoder to the extrinsic LLRs between the components.
EXTRINSIC_CLIP = 20.0


@dataclass(frozen=True)
class _Tables:
    """Constant tensors of one code on one device (indices ``int64``, signs float32).

    Branches are numbered in two orders: the *from order* puts branch ``(s, b)`` (from
    state ``s`` with input bit ``b``) at ``b S + s``; the *to order* puts the ``m``-th
    branch into state ``j`` (Sionna's ``from_nodes[j, m]``) at ``m S + j``.

    :ivar cw1: ``[2 T]`` codeword positions of component 1's (systematic, parity) pairs.
    :ivar cw2: ``[2 T]`` the same for component 2 (its systematic part interleaved).
    :ivar perm: ``[k]`` interleaver: ``x_interleaved = x[perm]`` along the bit axis.
    :ivar inv_perm: ``[k]`` de-interleaver.
    :ivar out_sign: ``[O, 2]`` ``1 - 2 c`` for the two bits ``c`` of each output symbol.
    :ivar in_sign: ``[2]`` ``1 - 2 b`` for the input bit ``b`` (``[1, -1]``).
    :ivar branch_out: ``[2 S]`` output symbol of each branch, from order.
    :ivar to_state: ``[2 S]`` next state of each branch, from order.
    :ivar from_state: ``[2 S]`` from-state of each branch, to order.
    :ivar to_order: ``[2 S]`` from-order position of each branch, to order.
    """

    cw1: torch.Tensor
    cw2: torch.Tensor
    perm: torch.Tensor
    inv_perm: torch.Tensor
    out_sign: torch.Tensor
    in_sign: torch.Tensor
    branch_out: torch.Tensor
    to_state: torch.Tensor
    from_state: torch.Tensor
    to_order: torch.Tensor

    def to(self, device: torch.device) -> "_Tables":
        """The same tables on ``device``."""
        return _Tables(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def _build_tables(encoder: TurboEncoder, k: int, n: int) -> _Tables:
    """Read the code's tables (on the CPU) off Sionna's own trellis, interleaver and rearrangement."""
    ref = TurboDecoder(encoder, num_iter=1, hard_out=True, algorithm="map")
    ref.build(torch.Size([1, n]))
    # Sionna's codeword rearrangement applied to the positions 1..n: a pure gather.
    probe = torch.arange(1, n + 1, dtype=torch.float32, device=ref.device).unsqueeze(0)
    y1, y2 = ref._convenc_cws(probe)
    if bool((y1 == 0).any()) or bool((y2 == 0).any()):
        raise NotImplementedError("TurboMapDecoder: punctured codes are not supported")
    positions = torch.arange(k, dtype=torch.float32, device=ref.device).unsqueeze(0)
    interleaver = encoder.internal_interleaver

    trellis = encoder.trellis
    ns = int(trellis.ns)
    op_by_fromnode = trellis.op_by_fromnode.cpu().long()  # [S, 2]: (from-state, input bit) -> symbol
    to_nodes = trellis.to_nodes.cpu().long()  # [S, 2]: (from-state, input bit) -> next state
    from_nodes = trellis.from_nodes.cpu().long()  # [S, 2]: (state j, m) -> from-state
    ip_by_tonode = trellis.ip_by_tonode.cpu().long()  # [S, 2]: (state j, m) -> input bit
    out_bits = torch.tensor(np.stack([int2bin(o, 2) for o in range(4)]), dtype=torch.float32)
    return _Tables(
        cw1=y1[0].cpu().long() - 1,
        cw2=y2[0].cpu().long() - 1,
        perm=interleaver(positions)[0].cpu().long(),
        inv_perm=interleaver(positions, inverse=True)[0].cpu().long(),
        out_sign=1.0 - 2.0 * out_bits,
        in_sign=1.0 - 2.0 * torch.arange(2, dtype=torch.float32),
        branch_out=op_by_fromnode.t().reshape(2 * ns),
        to_state=to_nodes.t().reshape(2 * ns),
        from_state=from_nodes.t().reshape(2 * ns),
        to_order=(ns * ip_by_tonode + from_nodes).t().reshape(2 * ns),
    )


class TurboMapDecoder:
    """Hard-output exact-MAP decoder of a terminated rate-1/3 Turbo code, bit-identical to Sionna's.

    :param encoder: The Sionna ``TurboEncoder`` (``terminate=True``, rate 1/3).
    :param k: Information bits per block.
    :param num_iter: Turbo iterations (each runs both component BCJR decoders).

    ``decoder(llr)`` takes ``[..., n]`` float channel LLRs (Sionna's convention: positive
    means bit 1) and returns ``[..., k]`` float 0/1 decisions, exactly those of
    ``TurboDecoder(encoder, num_iter=num_iter, hard_out=True, algorithm="map")``;
    :meth:`llr` returns the LLRs before the decision (``hard_out=False``).
    """

    def __init__(self, encoder: TurboEncoder, k: int, num_iter: int) -> None:
        trellis = encoder.trellis
        if not encoder.terminate or trellis.conv_k != 1 or trellis.conv_n != 2:
            raise NotImplementedError("TurboMapDecoder: terminated codes with rate-1/2 RSC components only")
        if num_iter < 1:
            raise ValueError("TurboMapDecoder: num_iter must be at least 1")
        self.k = int(k)
        self.num_iter = int(num_iter)
        self.mu = int(encoder.constraint_length) - 1
        self.num_states = int(trellis.ns)
        self.num_steps = self.k + self.mu
        self.n = 3 * self.k + 4 * self.mu
        self._tables: Dict[torch.device, _Tables] = {torch.device("cpu"): _build_tables(encoder, self.k, self.n)}

    def _tables_on(self, device: torch.device) -> _Tables:
        if device not in self._tables:
            self._tables[device] = self._tables[torch.device("cpu")].to(device)
        return self._tables[device]

    def __call__(self, llr: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` channel LLRs -> ``[..., k]`` float 0/1 hard decisions."""
        return (self.llr(llr) > 0.0).to(llr.dtype)

    @torch.no_grad()
    def llr(self, llr: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` channel LLRs -> ``[..., k]`` a-posteriori LLRs of the information bits."""
        if llr.shape[-1] != self.n:
            raise ValueError(f"TurboMapDecoder: last dimension must be n={self.n}, got {llr.shape[-1]}")
        lead = llr.shape[:-1]
        flat = llr.reshape(-1, self.n)
        tab = self._tables_on(flat.device)
        k = self.k
        y1 = flat.index_select(1, tab.cw1).t().contiguous()  # [2T, B]
        y2 = flat.index_select(1, tab.cw2).t().contiguous()
        sys1, sys2 = y1[0: 2 * k: 2], y2[0: 2 * k: 2]  # [k, B]
        bm1, bm2 = self._branch_metrics(y1, tab), self._branch_metrics(y2, tab)  # [T, O, B]
        tail = flat.new_zeros(self.mu, flat.shape[0])
        llr_1e = flat.new_zeros(self.num_steps, flat.shape[0])  # [T, B]
        ws = _Workspace.allocate(self.num_steps, self.num_states, y1)
        for _ in range(self.num_iter):
            llr_1i = self._bcjr(bm1, llr_1e, tab, ws)  # [k, B]
            extrinsic = llr_1i - sys1 - llr_1e[:k]
            llr_2e = torch.cat([extrinsic.index_select(0, tab.perm), tail])
            llr_2e = torch.clamp(llr_2e, min=-EXTRINSIC_CLIP, max=EXTRINSIC_CLIP)
            llr_2i = self._bcjr(bm2, llr_2e, tab, ws)
            extrinsic = llr_2i - llr_2e[:k] - sys2
            llr_1e = torch.clamp(extrinsic.index_select(0, tab.inv_perm), min=-EXTRINSIC_CLIP, max=EXTRINSIC_CLIP)
            llr_1e = torch.cat([llr_1e, tail])
        return llr_2i.index_select(0, tab.inv_perm).t().reshape(*lead, k)

    @staticmethod
    def _branch_metrics(y: torch.Tensor, tab: _Tables) -> torch.Tensor:
        """``[2T, B]`` component codeword LLRs -> ``[T, O, B]`` branch metrics (probabilities).

        ``exp(sum_j 0.5 ((-y_j) (1 - 2 c_j)))`` for each output symbol ``c``, as Sionna's
        ``BCJRDecoder._bmcalc`` (which flips to the ``log P(0)/P(1)`` convention first).
        """
        pairs = (-1.0 * y).t().reshape(y.shape[1], -1, 1, 2)  # [B, T, 1, 2]
        half = 0.5 * (pairs * tab.out_sign)  # [B, T, O, 2]
        return torch.exp(half.sum(dim=-1)).permute(1, 2, 0).contiguous()

    def _bcjr(self, bm: torch.Tensor, llr_a: torch.Tensor, tab: _Tables, ws: "_Workspace") -> torch.Tensor:
        """One component decoding: ``[T, O, B]`` branch metrics, ``[T, B]`` a-priori LLRs -> ``[k, B]`` LLRs.

        Forward-backward recursion with per-step normalisation, as Sionna's
        ``BCJRDecoder`` (``algorithm="map"``, ``hard_out=False``, terminated).
        """
        num_steps, _, batch = bm.shape
        ns = self.num_states
        # gamma[t, b S + s] = exp(0.5 (-a_t) (1 - 2 b)) * bm[t, output of branch (s, b)]   [T, 2S, B]
        prior = torch.exp((0.5 * (-1.0 * llr_a)).unsqueeze(1) * tab.in_sign.unsqueeze(-1))  # [T, 2, B]
        torch.index_select(bm, 1, tab.branch_out, out=ws.scratch)
        gamma = torch.mul(prior.unsqueeze(2), ws.scratch.view(num_steps, 2, ns, batch),
                          out=ws.gamma.view(num_steps, 2, ns, batch)).view(num_steps, 2 * ns, batch)
        gamma_to = torch.index_select(gamma, 1, tab.to_order, out=ws.scratch)  # to order

        alpha = ws.alpha  # alpha[0] holds the start state
        alphas = alpha.unbind(0)
        for a_t, g_t, a_next in zip(alphas, gamma_to.unbind(0), alphas[1:]):
            into = g_t * a_t.index_select(0, tab.from_state)  # [2S, B], to order
            into = into[:ns] + into[ns:]
            torch.div(into, into.t().contiguous().sum(dim=-1), out=a_next)

        # alpha_t gamma_t per branch (from order); times beta_{t+1}, summed over states, below
        alpha_gamma = torch.mul(alpha[:-1].unsqueeze(1), gamma.view(num_steps, 2, ns, batch),
                                out=ws.scratch.view(num_steps, 2, ns, batch)).view(num_steps, 2 * ns, batch)
        beta_sum, products = ws.work[:ns], ws.work[ns:]
        stacked = ws.work.view(3, ns, batch).transpose(1, 2)  # [3, B, S]
        beta = alpha[0]  # terminated: the trellis ends in the start state
        for g_t, ag_t, sums_t in zip(reversed(gamma.unbind(0)), reversed(alpha_gamma.unbind(0)),
                                     reversed(ws.sums.unbind(0))):
            beta_to = beta.index_select(0, tab.to_state)  # [2S, B]: beta_{t+1} at each branch's next state
            from_s = g_t * beta_to
            torch.add(from_s[:ns], from_s[ns:], out=beta_sum)
            torch.mul(ag_t, beta_to, out=products)
            torch.sum(stacked.contiguous(), dim=-1, out=sums_t)  # normaliser, P(b=0), P(b=1)
            beta = beta_sum / sums_t[0]
        sums = ws.sums[: self.k]
        return -1.0 * torch.log(sums[:, 1] / sums[:, 2])


@dataclass
class _Workspace:
    """Buffers of one decoding call, reused by all its component decodings (fresh
    multi-megabyte tensors for every component decoding would cost page faults).

    :ivar alpha: ``[T + 1, S, B]`` forward state probabilities (``alpha[t]``: before
        step ``t``); ``alpha[0]`` is the start (and, terminated, the end) state.
    :ivar gamma: ``[T, 2 S, B]`` branch probabilities, from order.
    :ivar scratch: ``[T, 2 S, B]``: the branch metrics per branch, then gamma in to
        order, then alpha times gamma.
    :ivar sums: ``[T, 3, B]`` per step: the backward normaliser, and the unnormalised
        probabilities of input bit 0 and 1.
    :ivar work: ``[3 S, B]``: a backward step's unnormalised beta and ``alpha gamma beta``.
    """

    alpha: torch.Tensor
    gamma: torch.Tensor
    scratch: torch.Tensor
    sums: torch.Tensor
    work: torch.Tensor

    @classmethod
    def allocate(cls, num_steps: int, num_states: int, like: torch.Tensor) -> "_Workspace":
        """Buffers for ``like.shape[-1]`` blocks, with ``like``'s dtype and device."""
        batch = like.shape[-1]
        alpha = like.new_empty(num_steps + 1, num_states, batch)
        alpha[0] = 0.0
        alpha[0, 0] = 1.0
        return cls(alpha=alpha, gamma=like.new_empty(num_steps, 2 * num_states, batch),
                   scratch=like.new_empty(num_steps, 2 * num_states, batch),
                   sums=like.new_empty(num_steps, 3, batch), work=like.new_empty(3 * num_states, batch))
