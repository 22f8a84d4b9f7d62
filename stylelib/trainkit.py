"""What every trained method of the course shares (under construction)."""
