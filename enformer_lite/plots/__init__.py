"""Figures of the workflow's results (matplotlib, Agg backend).

Each figure function takes plain arrays or tables and returns a
:class:`matplotlib.figure.Figure`; :func:`enformer_lite.plots.style.save_figure`
writes it as PNG and/or PDF. Readers of the result files live next to the
figure functions so that each module can be used on its own:

- :mod:`.tracks`: observed and predicted signal over a genomic region, with genes and elements;
- :mod:`.accuracy`: per-track Pearson and predicted vs observed CAGE at TSSs;
- :mod:`.training`: training curves from Lightning's CSV log;
- :mod:`.variants`: effects of the strongest variants and the distribution of scores;
- :mod:`.contributions`: element contributions to a gene and enhancer–gene links.
"""
