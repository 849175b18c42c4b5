"""Files named in a tracks table (inputs of the extraction and track-plot rules)."""

from __future__ import annotations

import os

from enformer_lite.data.tracks import read_tracks_table


def track_files(table: str | os.PathLike[str]) -> list[str]:
    """bigWig files of a tracks table, in track order (InputError for a bad table)."""
    return [spec.file for spec in read_tracks_table(table)]
