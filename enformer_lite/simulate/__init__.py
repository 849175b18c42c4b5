"""The simulated demo world: genomes, tracks, variants and an exact oracle.

- :mod:`.motifs`: JASPAR matrices and integer log-odds scoring.
- :mod:`.oracle`: expected tracks as a function of sequence; exact variant and element effects.
- :mod:`.genomes`: the two genomes' cell types, TF activities, enhancer programs and tracks.
- :mod:`.world`: the generator behind ``enformer-lite simulate``.
"""

from enformer_lite.simulate.oracle import (
    GeneSet,
    Oracle,
    OracleConfig,
    OracleParams,
    OracleResult,
    TrackSpec,
    VariantEffect,
    element_effect,
    expected_tracks,
    variant_effect,
)

__all__ = [
    "GeneSet",
    "Oracle",
    "OracleConfig",
    "OracleParams",
    "OracleResult",
    "TrackSpec",
    "VariantEffect",
    "element_effect",
    "expected_tracks",
    "variant_effect",
]
