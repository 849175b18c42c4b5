"""A pretrained model's published heads as a checkpoint every later stage opens (``train.finetune: none``).

``model.pretrained`` names weights in any form :func:`enformer_lite.model.pretrained.read_pretrained`
reads; ``model.pretrained_tracks`` names each published head's targets table (the basenji/Enformer
``targets_human.txt`` format, or an enformer-lite tracks table), so the head's outputs carry
identifiers and descriptions; ``model.pretrained_heads`` maps a genome of the config to the head that
scores it (default: the head of the genome's own name). An enformer-lite checkpoint used as
``model.pretrained`` brings its own tracks tables.

:func:`published_checkpoint` writes what ``enformer-lite train`` would: a Lightning-style checkpoint
dict whose ``hyper_parameters`` hold ``model_config``, ``track_ids`` and ``data_meta`` (window
geometry from the genome's ``data.h5``, the published tracks table, ``published: true``), with one
head per genome named after it. Evaluate, predict, variants, contributions and plots open it with
:func:`enformer_lite.inference.trained.open_model` like any trained checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from enformer_lite.atomic import atomic_output
from enformer_lite.data.h5 import H5Meta
from enformer_lite.data.tracks import TrackSpec, read_tracks_table, tracks_from_records
from enformer_lite.errors import InputError
from enformer_lite.model.checkpoint import load_torch_file
from enformer_lite.model.config import ModelConfig
from enformer_lite.model.pretrained import Pretrained, read_pretrained

log = logging.getLogger(__name__)

PRETRAINED_KEYS = ("pretrained", "pretrained_tracks", "pretrained_heads", "pretrained_regions")
"""Keys of the ``model:`` section that name a pretrained model (not architecture fields)."""
PUBLISHED_PREFIX = "published_"
"""Name prefix of the published heads a fine-tuned checkpoint keeps (``published_human``)."""


@dataclass(frozen=True)
class PretrainedSource:
    """Where a pretrained model and its tracks tables are (the ``model.pretrained*`` keys)."""

    path: str
    tracks: dict[str, str] = field(default_factory=dict)
    """Published head → targets table."""
    heads: dict[str, str] = field(default_factory=dict)
    """Genome → published head that scores it (default: the genome's name)."""
    regions: str | None = None
    """BED of the regions the pretrained model was trained on (leakage guard)."""

    @classmethod
    def from_model_params(cls, params: Mapping[str, Any]) -> tuple[PretrainedSource | None, dict[str, Any]]:
        """Split the ``model:`` section into the pretrained source (None without ``pretrained``) and the rest."""
        rest = {k: v for k, v in params.items() if k not in PRETRAINED_KEYS}
        if not params.get("pretrained"):
            stray = [k for k in PRETRAINED_KEYS[1:] if params.get(k)]
            if stray:
                raise InputError(f"config model.{stray[0]}: needs model.pretrained (the weights it describes)")
            return None, rest
        for key in ("pretrained_tracks", "pretrained_heads"):
            if not isinstance(params.get(key) or {}, Mapping):
                raise InputError(f"config model.{key}: expected a mapping of head (or genome) names")
        return cls(
            str(params["pretrained"]),
            {str(k): str(v) for k, v in (params.get("pretrained_tracks") or {}).items()},
            {str(k): str(v) for k, v in (params.get("pretrained_heads") or {}).items()},
            str(params["pretrained_regions"]) if params.get("pretrained_regions") else None,
        ), rest

    def head_of(self, genome: str, available: Mapping[str, int]) -> str:
        """The published head that scores ``genome``; InputError names the key when there is none."""
        head = self.heads.get(genome, genome)
        if head not in available:
            raise InputError(
                f"config model.pretrained_heads: {self.path} has heads {', '.join(sorted(available))} and none for "
                f"genome {genome!r}; map it, e.g. pretrained_heads: {{{genome}: {sorted(available)[0]}}}"
            )
        return head

    def read(self, target_length: int | None = None) -> Pretrained:
        """The pretrained weights, cropping to ``target_length`` bins when given (the data's)."""
        overrides = {"target_length": target_length} if target_length else {}
        return read_pretrained(self.path, ModelConfig.from_preset("enformer"), overrides)


def published_tables(source: PretrainedSource, pretrained: Pretrained) -> dict[str, tuple[TrackSpec, ...]]:
    """Head → tracks table, for every head that has one (from ``pretrained_tracks`` or the checkpoint itself).

    InputError names the key and file when a table does not list exactly the head's outputs.
    """
    heads = pretrained.config.heads
    unknown = sorted(set(source.tracks) - set(heads))
    if unknown:
        raise InputError(f"config model.pretrained_tracks: {source.path} has no head {unknown[0]!r} "
                         f"(heads: {', '.join(sorted(heads))})")
    tables = {head: tuple(read_tracks_table(path)) for head, path in source.tracks.items()}
    own = _checkpoint_tables(Path(source.path))
    for head, tracks in own.items():
        tables.setdefault(head, tracks)
    for head, tracks in tables.items():
        if len(tracks) != heads[head]:
            where = source.tracks.get(head, source.path)
            raise InputError(f"config model.pretrained_tracks.{head}: {where} lists {len(tracks)} tracks, "
                             f"but head {head!r} of {source.path} predicts {heads[head]}")
    return tables


def _checkpoint_tables(path: Path) -> dict[str, tuple[TrackSpec, ...]]:
    """Tracks tables stored in an enformer-lite checkpoint (empty for other weight files)."""
    if not path.is_file() or path.suffix == ".safetensors":
        return {}
    blob = load_torch_file(path)
    meta = ((blob.get("hyper_parameters") or {}).get("data_meta") or {}) if isinstance(blob, dict) else {}
    return {head: tuple(tracks_from_records(summary["tracks"])) for head, summary in meta.items() if "tracks" in summary}


def published_summary(tracks: tuple[TrackSpec, ...], data: H5Meta, head: str, source: str) -> dict[str, Any]:
    """A ``data_meta`` entry for a published head: the data's geometry with the published tracks table."""
    return {
        "genome": data.genome, "window_length": data.window_length, "bin_size": data.bin_size,
        "target_length": data.target_length, "tracks": [asdict(t) for t in tracks],
        "fingerprint": f"pretrained:{source}:{head}", "published": True, "published_head": head,
    }


def check_geometry(pretrained: Pretrained, data: H5Meta, source: str) -> None:
    """The pretrained model must pool to the data's bins (its crop follows the data's target length)."""
    if pretrained.config.bin_size != data.bin_size:
        raise InputError(f"config model.pretrained: {source} predicts {pretrained.config.bin_size}-bp bins, but "
                         f"{data.path} has bin_size {data.bin_size}; set windows.bin_size to match")


def rename_heads(state: Mapping[str, torch.Tensor], names: Mapping[str, str]) -> dict[str, torch.Tensor]:
    """The trunk's tensors plus head ``old`` as head ``new`` for each ``new → old`` in ``names``."""
    out = {k: v for k, v in state.items() if not k.startswith("heads.")}
    for new, old in names.items():
        for part in ("weight", "bias"):
            out[f"heads.{new}.{part}"] = state[f"heads.{old}.{part}"].clone()
    return out


def published_checkpoint(source: PretrainedSource, metas: Mapping[str, H5Meta]) -> dict[str, Any]:
    """The checkpoint dict of the published heads, one per genome of ``metas`` (genome → data.h5 meta)."""
    first = next(iter(metas.values()))
    pretrained = source.read(first.target_length)
    tables = published_tables(source, pretrained)
    names = {genome: source.head_of(genome, pretrained.config.heads) for genome in metas}
    for genome, head in names.items():
        check_geometry(pretrained, metas[genome], source.path)
        if head not in tables:
            raise InputError(f"config model.pretrained_tracks: no targets table for head {head!r} of {source.path} "
                             f"(it scores genome {genome!r}); name one, e.g. pretrained_tracks: {{{head}: targets.txt}}")
    cfg = dataclasses.replace(pretrained.config, heads={g: pretrained.config.heads[h] for g, h in names.items()})
    state = rename_heads(pretrained.state_dict, names)
    hparams = {
        "model_config": cfg.to_dict(),
        "track_ids": {g: [t.id for t in tables[h]] for g, h in names.items()},
        "optim": {},
        "data_meta": {g: published_summary(tables[h], metas[g], h, source.path) for g, h in names.items()},
        "log_per_track": False,
    }
    log.info("published heads of %s: %s", pretrained.source, ", ".join(f"{g} <- {h} ({len(tables[h])} tracks)"
                                                                        for g, h in names.items()))
    return {"state_dict": {f"model.{k}": v for k, v in state.items()}, "hyper_parameters": hparams,
            "global_step": 0, "pretrained": {"source": source.path, "heads": names}}


def write_checkpoint(blob: Mapping[str, Any], out: str | os.PathLike[str]) -> None:
    """Save a checkpoint dict atomically (loadable with ``weights_only=True``)."""
    with atomic_output(out) as tmp:
        torch.save(dict(blob), tmp)
