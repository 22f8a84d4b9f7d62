"""Johnson, Alahi, Fei-Fei (2016): a feed-forward network trained once per style.

``config`` the training config, its presets and its checkpoint kind; ``network`` the
transform network, its files (stylelib's and the PyTorch examples') and ``stylize_image``;
``train`` training it against the VGG-16 perceptual loss; ``cli`` the ``stylelib train`` and
``stylelib stylize`` commands.
"""
