"""Johnson, Alahi, Fei-Fei (2016): a feed-forward network trained once per style; and
Dumoulin, Shlens, Kudlur (2017): one network for many styles.

``config`` the training config, its presets and its checkpoint kinds; ``network`` the
transform network, its files (stylelib's and the PyTorch examples') and ``stylize_image``;
``conditional`` conditional instance normalisation and the multi-style network;
``published`` the published 26-style network read from its ONNX file; ``multistyle`` the
multi-style networks' files and the contact sheet; ``train`` training either against the
VGG-16 perceptual loss; ``cli`` the ``stylelib train``, ``stylize`` and ``styles`` commands.
"""
