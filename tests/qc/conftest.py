"""Make the synthetic-FitResult helper of tests/quant importable here."""

import sys
from pathlib import Path

_QUANT = str(Path(__file__).resolve().parents[1] / "quant")
if _QUANT not in sys.path:
    sys.path.insert(0, _QUANT)
