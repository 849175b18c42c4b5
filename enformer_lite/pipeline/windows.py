"""Window geometry from the ``windows:`` config section, and the chromosomes of a windows.bed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from enformer_lite.data.windows import WindowSpec, read_bed
from enformer_lite.errors import InputError


def window_spec(windows: Mapping[str, Any]) -> WindowSpec:
    """The config's window geometry, checked; ValueError ("bad config: ...") when inconsistent."""
    try:
        return WindowSpec(**windows)
    except InputError as err:
        raise ValueError(f"bad config: {err}") from err


def window_args(windows: Mapping[str, Any]) -> str:
    """Window-geometry flags of ``enformer-lite windows`` and ``extract``."""
    return (
        f"--length {windows['length']} --stride {windows['stride']} --bin-size {windows['bin_size']} "
        f"--target-length {windows['target_length']} --max-n-fraction {windows['max_n_fraction']}"
    )


def window_chroms(bed: str | os.PathLike[str]) -> list[str]:
    """Chromosomes with at least one window, in the order of the windows.bed."""
    return list(dict.fromkeys(window.chrom for window in read_bed(os.fspath(bed))))
