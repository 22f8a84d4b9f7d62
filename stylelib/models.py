"""The catalogue of community model files (under construction)."""
