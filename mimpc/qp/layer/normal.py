"""Normal matrices ``H + F' diag(D) F`` of the reduced relaxed QP and their batched factorisation.

Shared by the interior-point iterations, the active-set polish and the backward pass, so that all
three assemble the ``n_w x n_w`` matrix the same way: one matrix product with the precomputed
table of :class:`~mimpc.qp.layer.condensing.NormalMatrixTable`, then one batched Cholesky.
"""

from __future__ import annotations

import torch

from mimpc.qp.layer.condensing import ReducedQP

__all__ = ["solver_data", "newton_matrix", "factorize", "KAPPA"]

# penalty of the augmented-Lagrangian sweeps relative to the largest eigenvalue of H: large for
# fast sweeps (error factor ~ 1/kappa per sweep), small enough for a Cholesky that stays accurate
# (condition ~ kappa); the sweeps run in residual form, so rounding does not grow with kappa
KAPPA = {torch.float64: 1e8, torch.float32: 1e3}


def solver_data(red: ReducedQP, dtype: torch.dtype, device: torch.device | str) -> dict:
    """Tensors of ``red`` on ``device`` plus the constants the solvers need (cached).

    Adds ``C`` (soft rows of ``F``), ``row_norm2`` (squared row norms of ``F``), ``H_scale`` (largest
    eigenvalue of ``H``), ``kappa`` (augmented-Lagrangian penalty per row), ``reg`` (relative
    diagonal shift for failed factorisations) and ``K0_chol`` (Cholesky factor of ``H + F'F``).
    """
    if dtype not in KAPPA:
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    data = red.torch(dtype, device)
    if "K0_chol" in data:
        return data
    F = data["F"]
    data["C"] = F[: red.n_soft]
    rn = (F * F).sum(dim=1)
    data["row_norm2"] = rn
    h_scale = float(torch.linalg.eigvalsh(data["H"].double()).max()) if red.n_w else 1.0
    data["H_scale"] = h_scale
    kappa = KAPPA[dtype] * h_scale / rn.clamp_min(torch.finfo(dtype).tiny)
    data["kappa"] = torch.where(rn > 1e-12 * h_scale, kappa, torch.zeros_like(kappa))
    data["reg"] = 1e-12 if dtype == torch.float64 else 1e-6
    data["pdas_scale"] = torch.where(
        rn > 1e-12 * h_scale, h_scale / rn.clamp_min(torch.finfo(dtype).tiny), torch.zeros_like(rn)
    )
    ones = torch.ones(1, red.m, dtype=dtype, device=F.device)
    data["K0_chol"] = torch.linalg.cholesky(newton_matrix(data, ones)[0])
    return data


def newton_matrix(data: dict, weights: torch.Tensor) -> torch.Tensor:
    """``H + F' diag(weights) F`` for ``weights (B, m)``, as a full symmetric ``(B, n_w, n_w)`` tensor."""
    T, O = data["T"], data["O"]
    vals = (weights @ T) @ O if T is not None else weights @ O
    vals = vals + data["H_tril"]
    n_w = data["H"].shape[0]
    K = weights.new_zeros(weights.shape[0], n_w, n_w)
    K[:, data["tril_rows"], data["tril_cols"]] = vals
    K[:, data["tril_cols"], data["tril_rows"]] = vals
    return K


def factorize(K: torch.Tensor, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched Cholesky with per-sample regularisation on failure.

    Returns the factors and a ``(B,)`` bool tensor marking samples that could not be factorised
    even with a relative diagonal shift of ``reg * 1e6`` (their factor is the identity, so that
    solves stay finite; the caller flags them).
    """
    L, info = torch.linalg.cholesky_ex(K)
    bad = info != 0
    if not bool(bad.any()):
        return L, bad
    n = K.shape[-1]
    eye = torch.eye(n, dtype=K.dtype, device=K.device)
    scale = K.diagonal(dim1=-2, dim2=-1).abs().amax(-1).clamp_min(1.0)
    shift = reg
    for _ in range(3):
        idx = bad.nonzero().squeeze(1)
        Kb = K[idx] + (shift * scale[idx])[:, None, None] * eye
        Lb, info_b = torch.linalg.cholesky_ex(Kb)
        L[idx] = Lb
        bad[idx] = info_b != 0
        if not bool(bad.any()):
            return L, bad
        shift *= 1e3
    L[bad] = eye
    return L, bad
