"""Single-image super-resolution with perceptual losses (under construction)."""
