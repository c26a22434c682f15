"""LP-AE (the LP-AE paper, docs/references.md) for generic parametric LP families, its baselines and benchmark.

* :mod:`mimpc.lpae.torch_lp`: an LP family as torch buffers (rows, objective, feature scaling);
* :mod:`mimpc.lpae.autoencoder`: the LP-AE model, loss, annealed-penalty trainer;
* :mod:`mimpc.lpae.baselines`: Euclidean projection and the supervised QP-layer model;
* :mod:`mimpc.lpae.evaluation`: feasibility / gap metrics and the noise and masking corruptions;
* :mod:`mimpc.bench.lpae`: the driver of ``mimpc bench lpae`` (Table 1 and ablations);
* :mod:`mimpc.lpae.policy`: LP-AE for MI-MPC, the solver-free policy trained by
  ``mimpc train --method lpae`` and run by the ``lpae`` controller.
"""

from mimpc.lpae.autoencoder import LPAEConfig, LPAutoencoder, lpae_loss, penalty_weight, train_lpae
from mimpc.lpae.baselines import EuclideanProjector, QPLayerConfig, QPLayerModel, train_qp_layer
from mimpc.lpae.evaluation import add_noise, decision_metrics, mask_features
from mimpc.lpae.torch_lp import TorchLP

__all__ = [
    "LPAEConfig",
    "LPAutoencoder",
    "lpae_loss",
    "penalty_weight",
    "train_lpae",
    "EuclideanProjector",
    "QPLayerConfig",
    "QPLayerModel",
    "train_qp_layer",
    "add_noise",
    "decision_metrics",
    "mask_features",
    "TorchLP",
]
