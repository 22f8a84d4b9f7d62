"""Arbitrary style transfer with adaptive instance normalisation (under construction)."""
