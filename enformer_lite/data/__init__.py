"""The data layer: everything between the user's files and the model's arrays.

- :mod:`~enformer_lite.data.fasta` – FASTA access (pyfaidx), chromosome-name aliases; :mod:`~enformer_lite.data.sequence` – base codes, one-hot.
- :mod:`~enformer_lite.data.bigwig` – bigWig pooling into bins; :mod:`~enformer_lite.data.tracks` – the tracks table and its transform.
- :mod:`~enformer_lite.data.windows` – tiling and splits (windows.bed); :mod:`~enformer_lite.data.geometry` – the one window geometry.
- :mod:`~enformer_lite.data.genes` – gene TSSs; :mod:`~enformer_lite.data.candidates` – candidate elements; :mod:`~enformer_lite.data.bed` – BED records;
  :mod:`~enformer_lite.data.regions` – ``chrom:start-end`` regions.
- :mod:`~enformer_lite.data.extract` – extraction and merge; :mod:`~enformer_lite.data.h5` – the ``data.h5`` contract (writer and reader);
  :mod:`~enformer_lite.data.dataset` – lazy row reader for models.
"""
