"""What the model learned, checked against the simulator's planted truth.

Modules, in data-flow order:

* :mod:`~enformer_lite.interpret.ism` / :mod:`~enformer_lite.interpret.ism_io`: in-silico saturation
  mutagenesis of TSSs, elements, regions and top variants (spliced conv-tower reuse), HDF5, bigWig, logos;
* :mod:`~enformer_lite.interpret.attribution`: gradient × input (spliced) or ISM over short sequences;
* :mod:`~enformer_lite.interpret.motifs`: TF-MoDISco (modisco-lite) patterns, TOMTOM (memelite) matches
  against the shipped JASPAR matrices, MEME / TSV / BED outputs;
* :mod:`~enformer_lite.interpret.background` / :mod:`~enformer_lite.interpret.calibrate`: a seeded SNP
  background and signed quantiles of variant scores against it, written by ``gather-variants
  --background`` into the variant outputs (TSV columns, HDF5 ``/quantiles``, VCF INFO);
* :mod:`~enformer_lite.interpret.logos`: the logo figures of ISM regions and TF-MoDISco patterns;
* :mod:`~enformer_lite.interpret.pwm` / :mod:`~enformer_lite.interpret.explain`: PWM scan of REF vs ALT
  and one explanation per variant;
* :mod:`~enformer_lite.interpret.truth`: planted instances and the recall/precision/accuracy reports;
* :mod:`~enformer_lite.interpret.run` / :mod:`~enformer_lite.interpret.steps`: the command-level steps.

Configuration: :mod:`~enformer_lite.interpret.config` (the ``interpret:`` section). Commands:
``ism``, ``motifs``, ``background-variants``, ``calibrate-variants``, ``explain-variants``.
"""
