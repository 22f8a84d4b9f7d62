"""Huang & Belongie (2017): any style in one forward pass, adaptive instance normalisation.

``config`` the decoder's training config, its presets and its checkpoint kind; ``layer`` the
AdaIN layer (statistics, α, interpolation, masks); ``networks`` the encoder and decoder in
the PyTorch port's layout, their files, ``stylize``; ``losses`` the decoder's content and
style losses; ``train`` training the decoder; ``cli`` the ``stylelib adain`` and
``stylelib train-adain`` commands.
"""
