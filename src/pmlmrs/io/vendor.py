"""Vendor formats through spec2nii's Python functions (in-process), converted to Spectrum.

======================  ===========================  =========================================
reader name             files                        spec2nii function
======================  ===========================  =========================================
``philips_sdat``        ``X.SDAT`` + ``X.SPAR``      ``Philips.philips.read_sdat_spar_pair``
``philips_dicom``       enhanced MRS ``.dcm``        ``Philips.philips_dcm.multi_file_dicom``,
                                                     else pmlmrs' own pydicom reader
``philips_data_list``   ``X.data`` + ``X.list``      ``Philips.philips_data_list.read_data_list_pair``
                        (+ ``X.SPAR``)
``siemens_twix``        ``.dat``                     ``mapvbvd.mapVBVD`` +
                                                     ``Siemens.twixfunctions.process_twix``
``siemens_rda``         ``.rda``                     ``Siemens.rda.convert_rda``
``siemens_dicom``       ``.IMA``, enhanced ``.dcm``  ``Siemens.dicomfunctions.multi_file_dicom``
``ge_pfile``            ``P*.7``                     ``GE.ge_pfile.read_pfile``
``bruker``              ``fid`` / ``2dseq`` /        ``bruker.read_bruker``
                        scan folder
``varian``              ``X.fid`` folder             ``varian_importer.read_varian``
======================  ===========================  =========================================

spec2nii applies each vendor's conjugation and returns NIfTI-MRS objects; they are turned into
Spectra by :func:`pmlmrs.io.nifti_mrs.spectrum_from_nifti_mrs_object` (which conjugates the stored
array into the Spectrum convention, see :mod:`pmlmrs.io.nifti_mrs`). When a file converts to more
than one data set (e.g. a metabolite and a water-reference part), :func:`pmlmrs.io.load` returns
the metabolite part and :func:`load_all` returns every part by name. Patient name, ID and birth
date never reach the Header. Any error from spec2nii, mapvbvd, pydicom or nibabel becomes a
:class:`~pmlmrs.errors.ReadError` naming the file (chained with ``from``).
"""

from __future__ import annotations

import argparse
import re
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.config import ReadOptions
from pmlmrs.core import Spectrum
from pmlmrs.errors import HeaderFieldError, PmlmrsError, ReadError, UnknownFormatError
from pmlmrs.io._util import (
    apply_read_options,
    dicom_spectroscopy_floats,
    has_dicom_preamble,
    is_phi_key,
    quiet_library,
    read_head,
)
from pmlmrs.io.nifti_mrs import spectrum_from_nifti_mrs_object
from pmlmrs.io.registry import Reader, register_reader

__all__ = ["load_all", "VENDOR_READERS", "find_partner", "companion_files"]

_REF_NAME = re.compile(r"(^|_)(ref|wref|water|noise|mrsref)(_\d+)?$", re.IGNORECASE)


# ---- helpers ------------------------------------------------------------------------------------
def find_partner(path: Path, suffixes: tuple[str, ...]) -> Path | None:
    """The file next to *path* with the same stem and one of *suffixes* (any letter case)."""
    stem = path.name[: len(path.name) - len(path.suffix)]
    wanted = {s.lower() for s in suffixes}
    try:
        for cand in sorted(path.parent.iterdir()):
            cand_stem = cand.name[: len(cand.name) - len(cand.suffix)]
            if cand.is_file() and cand.suffix.lower() in wanted and cand_stem == stem:
                return cand
    except OSError:
        return None
    return None


#: Files read together with a file of this suffix (same stem): {suffix: (partner suffixes, ...)}.
_COMPANIONS: dict[str, tuple[str, ...]] = {
    ".sdat": (".spar",), ".spar": (".sdat",),
    ".data": (".list", ".spar", ".dcm"), ".list": (".data", ".spar", ".dcm"),
}


def companion_files(path: str | Path) -> list[Path]:
    """The other files a reader takes from beside *path* (``X.SPAR`` for ``X.SDAT`` ...); may be empty.

    Their content changes the data read, so they are hashed into provenance and study caches with
    the file itself.
    """
    p = Path(path)
    found = (find_partner(p, (s,)) for s in _COMPANIONS.get(p.suffix.lower(), ()))
    return [q for q in found if q is not None and q != p]


def _convert(path: Path, what: str, func: Callable[[], tuple[list, list]]) -> dict[str, Spectrum]:
    """Run a spec2nii conversion quietly and turn its NIfTI-MRS objects into named Spectra."""
    try:
        with quiet_library("spec2nii"):
            images, names = func()
            from spec2nii.spec2nii import remove_zero_higher_dim_indices

            images = [remove_zero_higher_dim_indices(img)[0] for img in images]
    except PmlmrsError:
        raise
    except KeyError as exc:  # spec2nii looks header fields up directly
        raise ReadError(f"cannot read as {what}: required header field or element {exc.args[0]} is missing "
                        "(truncated file or unsupported variant?)", path) from exc
    except Exception as exc:  # spec2nii/pydicom/nibabel raise anything on odd input
        raise ReadError(f"cannot read as {what}: {type(exc).__name__}: {exc}", path) from exc
    if not images:
        raise ReadError(f"{what}: the converter found no spectroscopy data", path)
    out: dict[str, Spectrum] = {}
    for i, (img, name) in enumerate(zip(images, list(names) + [None] * len(images))):
        key = str(name) if name else f"part{i}"
        if key in out:
            key = f"{key}_{i}"
        try:
            out[key] = spectrum_from_nifti_mrs_object(img, path, format_name=what,
                                                      read_details=f"read {path.name} as {what} via spec2nii")
        except PmlmrsError:
            raise
        except Exception as exc:
            raise ReadError(f"cannot convert the {what} data: {type(exc).__name__}: {exc}", path) from exc
    return out


def _primary(parts: dict[str, Spectrum]) -> tuple[str, Spectrum]:
    for key, spec in parts.items():
        if not _REF_NAME.search(key):
            return key, spec
    key = next(iter(parts))
    return key, parts[key]


def _finish(parts: dict[str, Spectrum], options: ReadOptions | None) -> Spectrum:
    key, spec = _primary(parts)
    others = [k for k in parts if k != key]
    if others:
        vendor = dict(spec.header.vendor)
        vendor["pmlmrs_other_parts"] = {
            "Value": others,
            "Description": "other data sets in the same file; pmlmrs.io.vendor.load_all(path) returns them",
        }
        spec = spec.replace(header=spec.header.replace(vendor=vendor))
        logger.info("%s: read part %r; the file also holds %s (use pmlmrs.io.vendor.load_all)",
                    spec.source, key, others)
    return apply_read_options(spec, options)


def _dicom_meta(path: Path) -> tuple[str, str]:
    """(Manufacturer, SOPClassUID) of a DICOM file, or ("", "") when unreadable."""
    try:
        import pydicom

        ds = pydicom.dcmread(str(path), stop_before_pixels=True,
                             specific_tags=["Manufacturer", "SOPClassUID", "MediaStorageSOPClassUID"])
        sop = str(ds.get("SOPClassUID", "") or getattr(ds.file_meta, "MediaStorageSOPClassUID", ""))
        return str(ds.get("Manufacturer", "")), sop
    except Exception:  # noqa: BLE001 - sniffing never raises
        return "", ""


_MRS_SOP_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.4.2",      # MR Spectroscopy Storage (enhanced)
    "1.3.12.2.1107.5.9.1",              # Siemens CSA Non-Image Storage (syngo spectroscopy)
    "1.3.46.670589.11.0.0.12.1",        # Philips private MR spectrum storage
    "1.3.46.670589.11.0.0.12.2",        # Philips private MR series data storage
)


# ---- Philips SDAT/SPAR --------------------------------------------------------------------------
def _sniff_philips_sdat(path: Path) -> bool:
    suf = path.suffix.lower()
    if suf == ".spar":
        head = read_head(path, 4096)
        return b"samples" in head and find_partner(path, (".sdat",)) is not None
    if suf == ".sdat":
        spar = find_partner(path, (".spar",))
        return spar is not None and b"samples" in read_head(spar, 4096)
    return False


def _read_philips_sdat_parts(path: Path) -> dict[str, Spectrum]:
    with quiet_library("spec2nii"):
        from spec2nii.Philips.philips import read_sdat_spar_pair, read_spar

    if path.suffix.lower() == ".spar":
        spar, sdat = path, find_partner(path, (".sdat",))
    else:
        sdat, spar = path, find_partner(path, (".spar",))
    if sdat is None or spar is None:
        missing = ".SDAT" if sdat is None else ".SPAR"
        raise ReadError(f"Philips SDAT/SPAR needs both files; the matching {missing} is missing", path)
    try:
        params = read_spar(spar)
        samples, rows = int(params["samples"]), int(params.get("rows", 1) or 1)
    except KeyError as exc:
        raise HeaderFieldError(f"SPAR field {exc.args[0]!r} is missing", spar, field=str(exc.args[0])) from exc
    except Exception as exc:
        raise ReadError(f"cannot parse the SPAR header: {type(exc).__name__}: {exc}", spar) from exc
    size = sdat.stat().st_size
    if size != samples * rows * 8:
        raise ReadError(
            f"SDAT holds {size} bytes but the SPAR says samples x rows x 8 = {samples} x {rows} x 8 = "
            f"{samples * rows * 8} (truncated or mismatched pair)", sdat)
    parts = _convert(sdat, "philips_sdat",
                     lambda: read_sdat_spar_pair(sdat, spar, None, [None, None, None], None, None))
    keep = {k: v for k, v in params.items()
            if not is_phi_key(k) and k not in ("examination_name", "scan_date") and v is not None}
    for key, spec in parts.items():
        vendor = dict(spec.header.vendor)
        vendor["SPAR"] = {"Value": {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                                    for k, v in keep.items()},
                          "Description": "SPAR parameters (patient and exam fields removed)"}
        parts[key] = spec.replace(header=spec.header.replace(vendor=vendor))
    return parts


# ---- Philips DICOM ------------------------------------------------------------------------------
def _sniff_philips_dicom(path: Path) -> bool:
    if not has_dicom_preamble(path):
        return False
    manufacturer, sop = _dicom_meta(path)
    return "philips" in manufacturer.lower() and sop in _MRS_SOP_CLASSES


def _read_philips_dicom_parts(path: Path) -> dict[str, Spectrum]:
    from pmlmrs.io._philips_dicom import MR_SPECTROSCOPY_STORAGE, read_philips_enhanced_dicom

    def run() -> tuple[list, list]:
        from spec2nii.Philips.philips_dcm import multi_file_dicom

        return multi_file_dicom([path], None, "DIM_DYN", False)

    try:
        parts = _convert(path, "philips_dicom", run)
    except ReadError as exc:
        _, sop = _dicom_meta(path)
        if sop != MR_SPECTROSCOPY_STORAGE:
            raise
        logger.info("%s: spec2nii failed (%s); reading the enhanced MRS DICOM with pydicom", path, exc.message)
        return read_philips_enhanced_dicom(path)
    renamed = {}
    for key, spec in parts.items():
        renamed["ref" if key.endswith("_ref") else ("metabolite" if not renamed else key)] = spec
    return renamed


# ---- Philips data/list --------------------------------------------------------------------------
def _sniff_philips_data_list(path: Path) -> bool:
    suf = path.suffix.lower()
    if suf == ".list":
        return b"#" in read_head(path, 256) and find_partner(path, (".data",)) is not None
    if suf == ".data":
        lst = find_partner(path, (".list",))
        return lst is not None and b"#" in read_head(lst, 256)
    return False


def _read_philips_data_list_parts(path: Path) -> dict[str, Spectrum]:
    stem_path = path
    data = path if path.suffix.lower() == ".data" else find_partner(path, (".data",))
    lst = path if path.suffix.lower() == ".list" else find_partner(path, (".list",))
    if data is None or lst is None:
        raise ReadError("Philips data/list needs both the .data and the .list file", path)
    aux = find_partner(stem_path, (".spar",)) or find_partner(stem_path, (".dcm",))
    if aux is None:
        raise HeaderFieldError(
            "Philips data/list needs an auxiliary header file with the same name: X.SPAR (or X.dcm) next to "
            "X.data/X.list", path, field="SPAR")
    def run() -> tuple[list, list]:
        from spec2nii.Philips.philips_data_list import read_data_list_pair

        return read_data_list_pair(data, lst, aux, None)

    return _convert(data, "philips_data_list", run)


# ---- Siemens TWIX -------------------------------------------------------------------------------
def _sniff_siemens_twix(path: Path) -> bool:
    if path.suffix.lower() != ".dat" or not path.is_file():
        return False
    head = read_head(path, 64)
    if len(head) < 16:
        return False
    first, second = struct.unpack("<II", head[:8])
    if b"Config" in head:  # VB: header length, number of buffers, then "Config"
        return True
    return first < 10000 and 1 <= second <= 64 and path.stat().st_size > 10_000


def _read_siemens_twix_parts(path: Path) -> dict[str, Spectrum]:
    def run() -> tuple[list, list]:
        from mapvbvd import mapVBVD
        from spec2nii.Siemens.twixfunctions import process_twix

        twix = mapVBVD(str(path), quiet=True)
        if isinstance(twix, list):
            twix = twix[-1]  # multi-RAID: the last measurement is the image data (spec2nii default)
        overrides = {"dims": (None, None, None), "tags": (None, None, None)}
        return process_twix(twix, None, path.name, "image", overrides, quiet=True, verbose=False, remove_os=False)

    return _convert(path, "siemens_twix", run)


# ---- Siemens RDA --------------------------------------------------------------------------------
_RDA_MAGIC = b">>> Begin of header <<<"


def _sniff_siemens_rda(path: Path) -> bool:
    return read_head(path, len(_RDA_MAGIC)) == _RDA_MAGIC


def _check_rda_size(path: Path) -> None:
    """spec2nii does not check that an SVS RDA holds VectorSize complex doubles; do it here."""
    raw = path.read_bytes()
    end = raw.find(b">>> End of header <<<")
    if end < 0:
        raise ReadError("RDA header end marker '>>> End of header <<<' is missing (truncated file?)", path)
    header = raw[:end].decode("latin-1")
    body = raw[raw.index(b"\n", end) + 1:] if b"\n" in raw[end:] else b""

    def number(key: str, default: int | None = None) -> int:
        m = re.search(rf"^{re.escape(key)}: *([0-9]+)", header, re.MULTILINE)
        if m is None:
            if default is None:
                raise HeaderFieldError(f"RDA header field {key!r} is missing", path, field=key)
            return default
        return int(m.group(1))

    n = number("VectorSize")
    voxels = number("CSIMatrixSize[0]", 1) * number("CSIMatrixSize[1]", 1) * number("CSIMatrixSize[2]", 1)
    if len(body) != n * voxels * 16:
        raise ReadError(f"RDA data holds {len(body)} bytes but VectorSize x voxels x 16 = {n} x {voxels} x 16 = "
                        f"{n * voxels * 16} (truncated file?)", path)


def _read_siemens_rda_parts(path: Path) -> dict[str, Spectrum]:
    _check_rda_size(path)

    def run() -> tuple[list, list]:
        from spec2nii.Siemens.rda import convert_rda

        return convert_rda(path, None, False)

    return _convert(path, "siemens_rda", run)


# ---- Siemens DICOM ------------------------------------------------------------------------------
def _sniff_siemens_dicom(path: Path) -> bool:
    if not has_dicom_preamble(path):
        return False
    manufacturer, sop = _dicom_meta(path)
    return "siemens" in manufacturer.lower() and sop in _MRS_SOP_CLASSES


def _check_dicom_size(path: Path) -> None:
    """ReadError when SpectroscopyData is shorter or longer than the header says (spec2nii would read
    a truncated file as fewer points)."""
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
    except Exception as exc:  # noqa: BLE001 - reported by spec2nii's own read below
        logger.debug("%s: pydicom size check skipped (%s)", path, exc)
        return
    if "SpectroscopyData" in ds:  # enhanced MRS (XA)
        dicom_spectroscopy_floats(ds, path)
    elif (0x7FE1, 0x1010) in ds:  # syngo .IMA: complex64 data in a private element, sizes in the CSA header
        try:
            with quiet_library("nibabel"):  # importing nibabel.nicom warns "highly experimental"
                from nibabel.nicom import csareader

                tags = csareader.get_csa_header(ds, "image")["tags"]
            dims = {k: int((tags.get(k, {}).get("items") or [1])[0])
                    for k in ("NumberOfFrames", "Rows", "Columns", "DataPointRows", "DataPointColumns")}
        except Exception as exc:  # noqa: BLE001 - no CSA sizes: leave the check to spec2nii
            logger.debug("%s: CSA size check skipped (%s)", path, exc)
            return
        n_bytes, expected = len(ds[0x7FE1, 0x1010].value), 8 * int(np.prod(list(dims.values())))
        if n_bytes != expected:
            shown = " x ".join(f"{k} {v}" for k, v in dims.items() if v != 1 or k == "DataPointColumns")
            raise ReadError(f"the spectroscopy data element (7FE1,1010) has {n_bytes} bytes but {shown} x 8 = "
                            f"{expected} (truncated file?)", path)


def _read_siemens_dicom_parts(path: Path) -> dict[str, Spectrum]:
    _check_dicom_size(path)

    def run() -> tuple[list, list]:
        from spec2nii.Siemens.dicomfunctions import multi_file_dicom

        return multi_file_dicom([path], None, "DIM_DYN", False)

    parts = _convert(path, "siemens_dicom", run)
    # spec2nii names DICOM outputs by series UID or protocol; call the first one "metabolite"
    return {("metabolite" if i == 0 else k): v for i, (k, v) in enumerate(parts.items())}


# ---- GE P-file ----------------------------------------------------------------------------------
_GE_REVISIONS = (7, 8, 9, 10, 11, 14.0, 14.1, 14.2, 14.3, 15.0, 15.001, 16.0, 20.001, 20.002, 20.003,
                 20.004, 20.005, 20.006, 20.007, 24.0, 25.001, 25.002, 25.003, 25.004, 26.0, 26.001,
                 26.002, 27.0, 27.001, 28.0, 28.002, 28.003, 29.1, 30.0, 30.1, 31.0)


def _sniff_ge_pfile(path: Path) -> bool:
    if path.suffix.lower() != ".7":
        return False
    head = read_head(path, 4)
    if len(head) < 4:
        return False
    little, big = struct.unpack("<f", head)[0], struct.unpack(">f", head)[0]
    return any(abs(little - r) < 1e-4 for r in _GE_REVISIONS) or \
        any(abs(big - r) < 1e-4 for r in _GE_REVISIONS if r < 11)


def _read_ge_pfile_parts(path: Path) -> dict[str, Spectrum]:
    def run() -> tuple[list, list]:
        from spec2nii.GE.ge_pfile import read_pfile

        return read_pfile(path, None)

    return _convert(path, "ge_pfile", run)


# ---- Bruker -------------------------------------------------------------------------------------
def _bruker_mode(path: Path) -> str | None:
    name = path.name.lower()
    if path.is_dir():
        return "FID" if (path / "method").is_file() and (path / "acqp").is_file() and (path / "fid").is_file() \
            else None
    if name == "fid" and (path.parent / "method").is_file() and (path.parent / "acqp").is_file():
        return "FID"
    if name == "2dseq" and (path.parent / "visu_pars").is_file():
        return "2DSEQ"
    if name.startswith("rawdata") and (path.parent / "method").is_file():
        return "RAWDATA"
    return None


def _sniff_bruker(path: Path) -> bool:
    try:
        return _bruker_mode(path) is not None
    except OSError:
        return False


def _read_bruker_parts(path: Path) -> dict[str, Spectrum]:
    mode = _bruker_mode(path)
    if mode is None:
        raise UnknownFormatError("not a Bruker scan folder or fid/2dseq/rawdata file next to its method/acqp "
                                 "(or visu_pars) files", path)
    target = path / "fid" if path.is_dir() else path

    def run() -> tuple[list, list]:
        from spec2nii.bruker import read_bruker

        args = argparse.Namespace(file=str(target), mode=mode, query=[], dump_headers=False, zeropad=False,
                                  nospectrum=False, fileout=None, inspect=False)
        return read_bruker(args)

    return _convert(path, "bruker", run)


# ---- Varian -------------------------------------------------------------------------------------
def _varian_dir(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    if (folder / "procpar").is_file() and (folder / "fid").is_file() and \
            (path.is_dir() or path.name.lower() in ("fid", "procpar")):
        return folder
    return None


def _sniff_varian(path: Path) -> bool:
    try:
        return _varian_dir(path) is not None and _bruker_mode(path) is None
    except OSError:
        return False


def _read_varian_parts(path: Path) -> dict[str, Spectrum]:
    folder = _varian_dir(path)
    if folder is None:
        raise UnknownFormatError("not a Varian .fid folder (needs 'procpar' and 'fid')", path)

    def run() -> tuple[list, list]:
        from spec2nii.varian_importer import read_varian

        args = argparse.Namespace(file=str(folder), tag6="DIM_DYN", dump_headers=False, fileout=None)
        return read_varian(args)

    return _convert(path, "varian", run)


# ---- registry -----------------------------------------------------------------------------------
_PARTS: dict[str, Callable[[Path], dict[str, Spectrum]]] = {
    "philips_sdat": _read_philips_sdat_parts,
    "philips_dicom": _read_philips_dicom_parts,
    "philips_data_list": _read_philips_data_list_parts,
    "siemens_twix": _read_siemens_twix_parts,
    "siemens_rda": _read_siemens_rda_parts,
    "siemens_dicom": _read_siemens_dicom_parts,
    "ge_pfile": _read_ge_pfile_parts,
    "bruker": _read_bruker_parts,
    "varian": _read_varian_parts,
}


def _reader(name: str, description: str, extensions: tuple[str, ...], sniff: Callable[[Path], bool]) -> Reader:
    parts_fn = _PARTS[name]

    def read(path: Path, options: ReadOptions) -> Spectrum:
        return _finish(parts_fn(Path(path)), options)

    def safe_sniff(path: Path) -> bool:
        try:
            return bool(sniff(Path(path)))
        except Exception:  # noqa: BLE001 - the registry contract: sniff never raises
            return False

    return register_reader(Reader(name, description, extensions, safe_sniff, read))


VENDOR_READERS: dict[str, Reader] = {
    r.name: r for r in (
        _reader("philips_sdat", "Philips SDAT/SPAR pair", (".sdat", ".spar"), _sniff_philips_sdat),
        _reader("philips_dicom", "Philips DICOM MR spectroscopy (enhanced or private)", (".dcm",),
                _sniff_philips_dicom),
        _reader("philips_data_list", "Philips data/list (+ SPAR) raw data", (".data", ".list"),
                _sniff_philips_data_list),
        _reader("siemens_twix", "Siemens TWIX raw data (VB/VD/VE/XA)", (".dat",), _sniff_siemens_twix),
        _reader("siemens_rda", "Siemens RDA", (".rda",), _sniff_siemens_rda),
        _reader("siemens_dicom", "Siemens DICOM spectroscopy (syngo .IMA, enhanced .dcm)", (".ima", ".dcm"),
                _sniff_siemens_dicom),
        _reader("ge_pfile", "GE P-file", (".7",), _sniff_ge_pfile),
        _reader("bruker", "Bruker ParaVision fid/2dseq/rawdata", ("",), _sniff_bruker),
        _reader("varian", "Varian/OpenVnmrJ .fid folder", (".fid",), _sniff_varian),
    )
}


def load_all(path: str | Path, *, format: str | None = None,
             options: ReadOptions | None = None) -> dict[str, Spectrum]:
    """Every data set in a vendor file, by part name (``"metabolite"``, ``"ref"``, spec2nii's names).

    :func:`pmlmrs.io.load` returns only the metabolite part; this returns all of them.
    """
    from pmlmrs.io.registry import find_reader

    p = Path(path)
    if not p.exists():
        raise ReadError("no such file or directory", p)
    name = format or find_reader(p).name
    if name not in _PARTS:
        from pmlmrs.io.registry import load

        return {"data": load(p, format=name, options=options)}
    return {k: apply_read_options(v, options) for k, v in _PARTS[name](p).items()}

