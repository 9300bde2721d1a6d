"""Reader and writer registry: each format sniffs the file; ``load`` picks the first that matches.

A reader module registers itself with :func:`register_reader` at import time; ``pmlmrs.io``
imports every reader module once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pmlmrs.config import ReadOptions
from pmlmrs.core import Spectrum
from pmlmrs.errors import ReadError, UnknownFormatError, WriteError, check_option

__all__ = ["Reader", "Writer", "register_reader", "register_writer", "readers", "writers",
           "find_reader", "load", "save"]


@dataclass(frozen=True)
class Reader:
    """One file format that can be read.

    ``sniff(path) -> bool`` must be cheap and never raise; ``read(path, options) -> Spectrum``
    raises ReadError subclasses naming the file and field.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    sniff: Callable[[Path], bool]
    read: Callable[[Path, ReadOptions], Spectrum]


@dataclass(frozen=True)
class Writer:
    """One file format that can be written: ``write(spectrum, path) -> None``."""

    name: str
    extensions: tuple[str, ...]
    write: Callable[[Spectrum, Path], None]


_READERS: dict[str, Reader] = {}
_WRITERS: dict[str, Writer] = {}

#: Modules that register the built-in readers and writers; imported on first use so that
#: ``import pmlmrs`` stays light (spec2nii, pydicom and nibabel load only when a file is read).
_BUILTIN_MODULES = (
    "pmlmrs.io.nifti_mrs",
    "pmlmrs.io.lcmodel",
    "pmlmrs.io.jmrui",
    "pmlmrs.io.text",
    "pmlmrs.io.vendor",
)
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    import importlib

    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)
    _builtins_loaded = True


def register_reader(reader: Reader) -> Reader:
    """Add a reader (a later registration with the same name replaces the earlier one)."""
    _READERS[reader.name] = reader
    return reader


def register_writer(writer: Writer) -> Writer:
    """Add a writer."""
    _WRITERS[writer.name] = writer
    return writer


def readers() -> dict[str, Reader]:
    """The registered readers by name."""
    _load_builtins()
    return dict(_READERS)


def writers() -> dict[str, Writer]:
    """The registered writers by name."""
    _load_builtins()
    return dict(_WRITERS)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def find_reader(path: str | Path) -> Reader:
    """The reader for *path*: first one whose sniff accepts it (readers claiming the extension first).

    Raises
    ------
    ReadError
        The file does not exist or is empty.
    UnknownFormatError
        No reader recognised it; the message says what was found and which formats exist.
    """
    _load_builtins()
    p = Path(path)
    if not p.exists():
        raise ReadError("no such file or directory", p)
    if p.is_file() and p.stat().st_size == 0:
        raise ReadError("the file is empty (0 bytes)", p)
    suffix = _suffix(p)
    ordered = sorted(_READERS.values(), key=lambda r: suffix not in r.extensions)
    for reader in ordered:
        if reader.sniff(p):
            return reader
    if p.is_dir():
        raise UnknownFormatError("is a folder, and not one a reader takes (a Bruker scan folder, a Varian .fid "
                                 "folder); give the data file inside it", p)
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError:
        head = b""
    if suffix in (".sdat", ".spar"):
        other = ".spar" if suffix == ".sdat" else ".sdat"
        companion = [q for q in p.parent.glob(p.stem + ".*") if q.suffix.lower() == other]
        if not companion:
            raise UnknownFormatError(f"Philips {suffix.upper()[1:]} without its {other.upper()[1:]} file "
                                     f"({p.with_suffix(other).name} or {p.with_suffix(other.upper()).name}): "
                                     "keep the pair in one folder", p)
    known = ", ".join(f"{r.name} ({' '.join(r.extensions)})" for r in _READERS.values())
    raise UnknownFormatError(
        f"cannot work out the file type (extension {suffix or 'none'!r}, first bytes {head!r}); "
        f"supported formats: {known}. If the extension is unusual, name the reader: format=... (pmlmrs.io.load) or --format (pmlmrs info, pmlmrs convert).",
        p,
    )


def load(path: str | Path, *, format: str | None = None, options: ReadOptions | None = None,
         **option_values) -> Spectrum:
    """Read any supported MRS file into a :class:`~pmlmrs.core.Spectrum`.

    Parameters
    ----------
    path : str or Path
        The file (or, for formats stored as a folder, the folder).
    format : str, optional
        A reader name from :func:`readers` to skip sniffing.
    options : ReadOptions, optional
        Header values for formats that lack them; keyword arguments build one instead
        (``central_frequency=123.2, spectral_width=4000, echo_time=30``).

    Returns
    -------
    Spectrum
        In the NIfTI-MRS conjugation convention, with a ``read`` provenance step.
    """
    _load_builtins()
    p = Path(path)
    if options is None:
        options = ReadOptions.from_dict(option_values)
    elif option_values:
        options = options.replace(**option_values)
    if format is not None:
        check_option("format", format, tuple(_READERS))
        reader = _READERS[format]
        if not p.exists():
            raise ReadError("no such file or directory", p)
    else:
        reader = find_reader(p)
    return reader.read(p, options)


def save(spectrum: Spectrum, path: str | Path, *, format: str | None = None, force: bool = False) -> Path:
    """Write *spectrum*; the format follows the extension (``.nii.gz``/``.nii`` NIfTI-MRS, ``.raw`` LCModel).

    Raises WriteError if the file exists and *force* is false.
    """
    _load_builtins()
    p = Path(path)
    if p.exists() and not force:
        raise WriteError("exists; pass force=True (CLI: --force) to overwrite", p)
    if format is None:
        suffix = _suffix(p)
        matches = [w for w in _WRITERS.values() if suffix in w.extensions]
        if not matches:
            known = ", ".join(f"{w.name} ({' '.join(w.extensions)})" for w in _WRITERS.values())
            raise WriteError(f"no writer for extension {suffix!r}; writers: {known}", p)
        writer = matches[0]
    else:
        check_option("format", format, tuple(_WRITERS))
        writer = _WRITERS[format]
    p.parent.mkdir(parents=True, exist_ok=True)
    writer.write(spectrum, p)
    return p
