"""Johnson, Alahi, Fei-Fei (2016, Sec. 4): single-image super-resolution, same loss.

``config`` the config, its presets and its checkpoint kind; ``degrade`` the low-resolution
inputs (blur, bicubic); ``quality`` PSNR and SSIM; ``network`` the upscaling network and
``upscale_image``; ``train`` training it on a pixel or a feature loss; ``cli`` the
``stylelib train-sr`` and ``stylelib upscale`` commands.
"""
