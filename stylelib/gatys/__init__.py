"""Gatys, Ecker, Bethge (2016): style transfer by optimising the pixels of one image.

``config`` the config and its presets (the paper, the authors' code, the PyTorch tutorial);
``objective`` the targets and one evaluation of the loss; ``transfer`` the loop (L-BFGS or
Adam, coarse-to-fine, blends, colour); ``explore`` the lessons' experiments built on it
(feature inversion, texture synthesis, sweeps, the gradient balance); ``cli`` the
``stylelib transfer`` and ``stylelib demo`` commands.
"""
