"""Linear-combination fitting: model, optimiser, baseline, CRLB, ``FitResult``."""

from pmlmrs.fit.result import FitResult

__all__ = ["FitResult"]
