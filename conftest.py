"""Everything pytest runs (tests and notebooks) uses quick mode: small sizes, few steps."""

import os

os.environ.setdefault("STYLELIB_QUICK", "1")
