"""Training with PyTorch Lightning (and nothing else: using a trained model is :mod:`enformer_lite.inference`).

- :class:`EnformerDataModule` – lazy HDF5 loaders, organisms alternating, RC/shift augmentation.
- :class:`EnformerModule` – Poisson (or Poisson-multinomial) loss, AdamW, warm-up + decay, Pearson metrics.
- :func:`train` – fit with checkpoints and resume; from a pretrained trunk with ``train.finetune``
  (:mod:`enformer_lite.training.finetune`: head, linear, lora, full; leakage guard in
  :mod:`enformer_lite.training.leakage`).
"""

from enformer_lite.training.config import AugmentConfig, OptimConfig, TrainConfig, TrainerConfig
from enformer_lite.training.data import EnformerDataModule
from enformer_lite.training.module import EnformerModule
from enformer_lite.training.train import train

__all__ = [
    "AugmentConfig",
    "EnformerDataModule",
    "EnformerModule",
    "OptimConfig",
    "TrainConfig",
    "TrainerConfig",
    "train",
]
