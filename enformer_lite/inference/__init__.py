"""Using a trained model: open it for one head, predict with test-time averaging, map back to bigWig units.

- :func:`open_model` → :class:`TrainedModel` (model, head, geometry, tracks) from a checkpoint or model file.
- :func:`predict` – mean prediction over reverse-complement / shift passes (:class:`TTAConfig`).
- :func:`untransform` – training scale → original scale in an explicit unit; :func:`tss_sum` – TSS bin ± flank.
- :func:`enformer_lite.inference.evaluate.evaluate` and :func:`enformer_lite.inference.predict_tracks.predict_tracks`
  are the evaluate and predict stages.
"""

from enformer_lite.inference.checkpoint import ModelBuilder, load_checkpoint
from enformer_lite.inference.signal import Untransform, tss_sum, untransform
from enformer_lite.inference.trained import TrainedModel, check_against_checkpoint, open_model
from enformer_lite.inference.tta import TTAConfig, predict, resolve_device

__all__ = [
    "ModelBuilder",
    "TTAConfig",
    "TrainedModel",
    "Untransform",
    "check_against_checkpoint",
    "load_checkpoint",
    "open_model",
    "predict",
    "resolve_device",
    "tss_sum",
    "untransform",
]
