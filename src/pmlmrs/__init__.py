"""pmlmrs: 1H MRS of PML lesions, from scanner files to fits, cohort statistics and IRIS alerts.

The top level stays light: heavy dependencies (JAX, plotting, pandas, SQLAlchemy) are imported
inside the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pmlmrs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

from pmlmrs import errors
from pmlmrs.core import Geometry, Header, ProcessingStep, Spectrum
from pmlmrs.io import load, save

__all__ = ["__version__", "errors", "Spectrum", "Header", "Geometry", "ProcessingStep", "load", "save"]
