"""Training, evaluation and prediction with PyTorch Lightning.

Main entry points:

- :class:`EnformerDataModule` – lazy HDF5 loaders, organisms alternating, RC/shift augmentation.
- :class:`EnformerModule` – Poisson (or Poisson-multinomial) loss, AdamW, warm-up + decay, Pearson metrics.
- :func:`train` – fit with checkpoints and resume; ``enformer-lite train``.
- :func:`load_model` – rebuild a trained model from a checkpoint alone.
- :func:`evaluate` – per-track and TSS Pearson on the test split; ``enformer-lite evaluate``.
- :func:`predict_tracks` – predicted bigWigs; ``enformer-lite predict``.
"""

from enformer_lite.training.config import AugmentConfig, OptimConfig, TrainConfig, TrainerConfig
from enformer_lite.training.data import EnformerDataModule
from enformer_lite.training.evaluate import EvalConfig, evaluate
from enformer_lite.training.inference import TTAConfig, predict
from enformer_lite.training.module import EnformerModule, load_model
from enformer_lite.training.predict import PredictConfig, predict_tracks
from enformer_lite.training.train import train

__all__ = [
    "AugmentConfig",
    "EnformerDataModule",
    "EnformerModule",
    "EvalConfig",
    "OptimConfig",
    "PredictConfig",
    "TTAConfig",
    "TrainConfig",
    "TrainerConfig",
    "evaluate",
    "load_model",
    "predict",
    "predict_tracks",
    "train",
]
