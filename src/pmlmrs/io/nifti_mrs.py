"""NIfTI-MRS reader and writer (``.nii.gz`` / ``.nii``), and the NIfTI-MRS -> Spectrum conversion
that the vendor readers reuse.

Conjugation
-----------
A :class:`~pmlmrs.core.Spectrum` holds FIDs such that ``fftshift(fft(fid))`` on the ascending axis
``ppm = ppm_reference + hz / MHz`` puts NAA at 2.01 ppm (a positive frequency offset is a higher
chemical shift). The array *stored* in a NIfTI-MRS file (what spec2nii writes, the standard's
right-handed convention) is the complex conjugate of that: with the stored array NAA appears
mirrored about the reference, at ~7.3 ppm (checked on every vendor file in ``shared/data/invivo``).
This is also what ``nifti_mrs.NIFTI_MRS.__getitem__`` and FSL-MRS do: conjugate at use. So the
reader conjugates once on the way in and the writer conjugates back on the way out;
:func:`from_stored` / :func:`to_stored` are the only places that do it.

Dims
----
Dims 5-7 become Spectrum dims named by their tag in lower case without ``DIM_`` (``"coil"``,
``"dyn"``, ``"edit"``, ...), including declared trailing singletons (spec2nii marks a 1-average
Siemens DICOM ``dim_5 = DIM_DYN``). For single-voxel data (x = y = z = 1) the spatial dims are
dropped. Spectroscopic imaging (any spatial size > 1) is kept: the Spectrum gets leading dims
``"x", "y", "z"`` (all three), then the higher dims, then time; the writer puts them back.
``dim_N_info`` and ``dim_N_header`` go to ``Spectrum.dim_info[name] = {"info": str, "header": dict}``.

Header extension
----------------
SpectrometerFrequency, ResonantNucleus, EchoTime, RepetitionTime and the dwell time (pixdim[4])
become typed Header fields; SpecFreqChemShift + RxOffset is the ppm reference (4.65 for 1H when
absent); the affine becomes :class:`~pmlmrs.core.Geometry` (none when it is spec2nii's "unknown"
10 m default); the other standard-defined keys go to ``Header.acquisition``, user-defined keys to
``Header.vendor``; ``ProcessingApplied`` becomes the provenance. PatientName, PatientID and
PatientDoB (and look-alike user keys) are dropped on read and never written.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.config import ReadOptions
from pmlmrs.core import Geometry, Header, ProcessingStep, Spectrum, dim_to_tag, tag_to_dim
from pmlmrs.core.header import DEFAULT_PPM_REFERENCE
from pmlmrs.errors import HeaderFieldError, ReadError, WriteError
from pmlmrs.io._util import apply_read_options, is_phi_key, quiet_library, read_head, strip_phi
from pmlmrs.io.registry import Reader, Writer, register_reader, register_writer

__all__ = [
    "read_nifti_mrs",
    "write_nifti_mrs",
    "spectrum_from_stored",
    "spectrum_from_nifti_mrs_object",
    "to_nifti_mrs_object",
    "from_stored",
    "to_stored",
    "sniff_nifti_mrs",
    "SPATIAL_DIMS",
]

SPATIAL_DIMS = ("x", "y", "z")
#: Header extension keys that become typed Header fields (not copied into ``acquisition``).
_TYPED_KEYS = frozenset({"SpectrometerFrequency", "ResonantNucleus", "EchoTime", "RepetitionTime",
                         "SpectralWidth", "SpecFreqChemShift", "ProcessingApplied"})
_DEFAULT_TAGS = ("DIM_COIL", "DIM_DYN", "DIM_INDIRECT_0")
_UNKNOWN_VOXEL_MM = 5000.0  # spec2nii writes a 10 m voxel when the position is unknown


def from_stored(stored: np.ndarray) -> np.ndarray:
    """The in-memory (Spectrum) FIDs from the array stored in a NIfTI-MRS file: the conjugate."""
    return np.conj(np.asarray(stored, dtype=np.complex128))


def to_stored(data: np.ndarray) -> np.ndarray:
    """The array to store in a NIfTI-MRS file from Spectrum FIDs: the conjugate."""
    return np.conj(np.asarray(data, dtype=np.complex128))


# ---- reading ----------------------------------------------------------------------------------
def _standard_defined() -> dict[str, Any]:
    from nifti_mrs.definitions import standard_defined

    return standard_defined


def _float_field(hdr: Mapping[str, Any], key: str, path: Path, *, required: bool = False) -> float | None:
    val = hdr.get(key)
    if isinstance(val, (list, tuple)):
        val = val[0] if val else None
    if val is None:
        if required:
            raise HeaderFieldError(f"required header field {key!r} is missing", path, field=key)
        return None
    try:
        out = float(val)
    except (TypeError, ValueError):
        raise HeaderFieldError(f"header field {key!r} is not a number: {val!r}", path, field=key,
                               value=val) from None
    if not math.isfinite(out):
        raise HeaderFieldError(f"header field {key!r} is not finite: {val!r}", path, field=key, value=val)
    return out


def _dims_from_hdr(hdr: Mapping[str, Any], stored_ndim: int, path: Path) -> list[str]:
    """NIfTI-MRS tags of dims 5.., counting trailing singletons the extension declares."""
    ndim = stored_ndim
    for n in (5, 6, 7):
        if f"dim_{n}" in hdr:
            ndim = max(ndim, n)
    tags = []
    for n in range(5, ndim + 1):
        tag = hdr.get(f"dim_{n}", _DEFAULT_TAGS[n - 5])
        if not isinstance(tag, str) or not tag.startswith("DIM_"):
            raise HeaderFieldError(f"dim_{n} must be a NIfTI-MRS dimension tag such as 'DIM_DYN', got {tag!r}",
                                   path, field=f"dim_{n}", value=tag)
        tags.append(tag)
    return tags


def spectrum_from_stored(stored: np.ndarray, dwell_time: float, hdr_ext: Mapping[str, Any],
                         affine: np.ndarray | None, path: str | Path, *, format_name: str,
                         read_details: str = "") -> Spectrum:
    """Build a Spectrum from a stored NIfTI-MRS array ``(x, y, z, t[, d5, d6, d7])``, its dwell
    time (s), header-extension dict and affine. Used by every reader that goes through NIfTI-MRS.
    """
    path = Path(path)
    hdr = dict(hdr_ext)
    stored = np.asarray(stored)
    if not np.iscomplexobj(stored):
        raise ReadError(f"data must be complex (NIfTI-MRS), got {stored.dtype}", path)
    if stored.ndim < 4 or stored.ndim > 7:
        raise ReadError(f"NIfTI-MRS data must have 4 to 7 dimensions, got shape {stored.shape}", path)
    tags = _dims_from_hdr(hdr, stored.ndim, path)
    full_shape = stored.shape + (1,) * (4 + len(tags) - stored.ndim)
    data = from_stored(stored).reshape(full_shape)
    data = np.moveaxis(data, 3, -1)  # (x, y, z, d5.., t)
    higher = [tag_to_dim(t) for t in tags]
    if len(set(higher)) != len(higher):
        raise HeaderFieldError(f"dimension tags repeat: {tags}", path, field="dim_5")
    if full_shape[:3] == (1, 1, 1):
        data = data.reshape(data.shape[3:])
        dims = tuple(higher)
    else:
        dims = SPATIAL_DIMS + tuple(higher)

    # typed header fields
    mhz = _float_field(hdr, "SpectrometerFrequency", path, required=True)
    nucleus = hdr.get("ResonantNucleus")
    if isinstance(nucleus, (list, tuple)):
        nucleus = nucleus[0] if nucleus else None
    if not isinstance(nucleus, str) or not nucleus:
        raise HeaderFieldError("required header field 'ResonantNucleus' is missing", path, field="ResonantNucleus")
    if not dwell_time or not math.isfinite(dwell_time) or dwell_time <= 0:
        raise HeaderFieldError(f"dwell time (pixdim[4]) must be positive, got {dwell_time!r}", path,
                               field="pixdim[4]", value=dwell_time)
    te = _float_field(hdr, "EchoTime", path)
    tr = _float_field(hdr, "RepetitionTime", path)
    shift = _float_field(hdr, "SpecFreqChemShift", path)
    rx_offset = _float_field(hdr, "RxOffset", path) or 0.0
    ppm_ref = (DEFAULT_PPM_REFERENCE.get(nucleus, 0.0) if shift is None else shift) + rx_offset

    geometry = None
    if affine is not None:
        aff = np.asarray(affine, dtype=float)
        if aff.shape == (4, 4) and np.all(np.isfinite(aff)):
            g = Geometry(aff)
            if max(g.voxel_size) < _UNKNOWN_VOXEL_MM and min(g.voxel_size) > 0:
                geometry = g

    std = _standard_defined()
    acquisition: dict[str, Any] = {}
    vendor: dict[str, Any] = {}
    for key, val in hdr.items():
        if key in _TYPED_KEYS or key.startswith("dim_") or is_phi_key(key):
            continue
        if key == "OriginalFile" and isinstance(val, list):
            # spec2nii may store full paths; folder names can identify people, keep base names only
            val = [Path(str(v).replace("\\", "/")).name for v in val]
        if key in std:
            acquisition[key] = val
        else:
            vendor[key] = strip_phi(val) if isinstance(val, Mapping) else val

    dim_info: dict[str, Any] = {}
    for n, name in zip(range(5, 5 + len(tags)), higher):
        info = {}
        if isinstance(hdr.get(f"dim_{n}_info"), str):
            info["info"] = hdr[f"dim_{n}_info"]
        if isinstance(hdr.get(f"dim_{n}_header"), Mapping):
            info["header"] = dict(hdr[f"dim_{n}_header"])
        if info:
            dim_info[name] = info

    provenance = []
    applied = hdr.get("ProcessingApplied")
    if isinstance(applied, list):
        for entry in applied:
            if isinstance(entry, Mapping):
                provenance.append(ProcessingStep.from_nifti_mrs(dict(entry)))
    provenance.append(ProcessingStep(
        "read",
        params={"format": format_name, "file": path.name},
        details=read_details or f"read {path.name} as {format_name}",
    ))
    try:
        header = Header(
            spectrometer_frequency=mhz,
            dwell_time=float(dwell_time),
            nucleus=nucleus,
            echo_time=te,
            repetition_time=tr,
            ppm_reference=ppm_ref,
            geometry=geometry,
            acquisition=acquisition,
            vendor=vendor,
        )
        return Spectrum(data, header, dims=dims, dim_info=dim_info, provenance=tuple(provenance),
                        source=str(path))
    except ReadError:
        raise
    except Exception as exc:  # ConfigError from validation: name the file
        raise ReadError(f"invalid header or data: {exc}", path) from exc


def _dwell_from_nifti_header(nhdr: Any) -> float:
    dwell = float(nhdr["pixdim"][4])
    t_unit = nhdr.get_xyzt_units()[1]
    if t_unit == "msec":
        dwell *= 1e-3
    elif t_unit == "usec":
        dwell *= 1e-6
    return dwell


def spectrum_from_nifti_mrs_object(img: Any, path: str | Path, *, format_name: str,
                                   read_details: str = "") -> Spectrum:
    """Convert a ``nifti_mrs.nifti_mrs.NIFTI_MRS`` object (as spec2nii returns) to a Spectrum."""
    stored = np.asarray(img.image[:])
    hdr = img.hdr_ext.to_dict() if hasattr(img.hdr_ext, "to_dict") else dict(img.hdr_ext)
    affine = np.asarray(img.header.get_best_affine(), dtype=float)
    return spectrum_from_stored(stored, float(img.dwelltime), hdr, affine, path,
                                format_name=format_name, read_details=read_details)


def sniff_nifti_mrs(path: Path) -> bool:
    """A NIfTI-1/2 file (magic ``n+1``/``ni1``/``n+2``/``ni2``), gzipped or not."""
    name = path.name.lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        return False
    head = read_head(path, 540)
    if len(head) >= 348 and head[344:347] in (b"n+1", b"ni1"):
        return True
    return len(head) >= 8 and head[4:7] in (b"n+2", b"ni2")


def read_nifti_mrs(path: str | Path, options: ReadOptions | None = None) -> Spectrum:
    """Read a NIfTI-MRS file into a Spectrum (see the module docstring for the mapping).

    Raises
    ------
    ReadError
        The file is not NIfTI, is truncated, or is NIfTI but not NIfTI-MRS.
    HeaderFieldError
        A required header-extension field is missing or invalid.
    """
    import nibabel as nib

    p = Path(path)
    try:
        img = nib.load(str(p))
        nhdr = img.header
        intent = nhdr.get_intent()[2] if hasattr(nhdr, "get_intent") else ""
    except Exception as exc:  # nibabel raises many types on corrupt input
        raise ReadError(f"cannot read as NIfTI: {exc}", p) from exc
    if not str(intent).startswith("mrs_v"):
        raise ReadError(f"a NIfTI image but not NIfTI-MRS (intent_name {intent!r}, expected 'mrs_vM_m')", p)
    exts = [e for e in nhdr.extensions if e.get_code() == 44]
    if not exts:
        raise HeaderFieldError("NIfTI-MRS header extension (code 44) is missing", p, field="header extension")
    try:
        hdr_ext = json.loads(exts[0].get_content())
    except (ValueError, UnicodeDecodeError) as exc:
        raise HeaderFieldError(f"header extension is not valid JSON: {exc}", p, field="header extension") from exc
    if not isinstance(hdr_ext, dict):
        raise HeaderFieldError("header extension is not a JSON object", p, field="header extension")
    try:
        stored = np.asanyarray(img.dataobj)
    except Exception as exc:
        raise ReadError(f"cannot read the data block (truncated file?): {exc}", p) from exc
    spec = spectrum_from_stored(stored, _dwell_from_nifti_header(nhdr), hdr_ext, img.affine, p,
                                format_name="nifti_mrs",
                                read_details=f"read {p.name} (NIfTI-MRS {intent})")
    return apply_read_options(spec, options)


# ---- writing ----------------------------------------------------------------------------------
def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    return value


def to_nifti_mrs_object(spectrum: Spectrum, path: str | Path | None = None) -> Any:
    """Build a validated ``nifti_mrs.nifti_mrs.NIFTI_MRS`` object from a Spectrum.

    Raises WriteError when the dims cannot be expressed in NIfTI-MRS (more than three non-spatial
    dims, unknown dim names).
    """
    from nifti_mrs import validator
    from nifti_mrs.create_nmrs import gen_nifti_mrs_hdr_ext
    from nifti_mrs.definitions import dimension_tags
    from nifti_mrs.hdr_ext import Hdr_Ext

    where = None if path is None else str(path)
    dims = list(spectrum.dims)
    data = np.asarray(spectrum.data)
    spatial = [d for d in dims if d in SPATIAL_DIMS]
    if spatial:
        if tuple(dims[:3]) != SPATIAL_DIMS:
            raise WriteError(f"spatial dims must come first as ('x', 'y', 'z'); got dims {tuple(dims)}", where)
        higher = dims[3:]
    else:
        higher = dims
        data = data.reshape((1, 1, 1) + data.shape)
    if len(higher) > 3:
        raise WriteError(f"NIfTI-MRS holds at most 3 dims besides space and time; got {tuple(higher)}", where)
    tags = [dim_to_tag(d) for d in higher]
    bad = [t for t in tags if t not in dimension_tags]
    if bad:
        raise WriteError(f"dims {bad} are not NIfTI-MRS dimension tags ({', '.join(dimension_tags)})", where)
    stored = to_stored(np.moveaxis(data, -1, 3))  # (x, y, z, t, d5..)

    h = spectrum.header
    hdr_ext = Hdr_Ext(float(h.spectrometer_frequency), str(h.nucleus), dimensions=stored.ndim)
    for i, (name, tag) in enumerate(zip(higher, tags)):
        info = spectrum.dim_info.get(name) or {}
        dim_hdr = info.get("header") if isinstance(info, Mapping) else None
        dim_txt = info.get("info") if isinstance(info, Mapping) else None
        hdr_ext.set_dim_info(i, tag, info=dim_txt if isinstance(dim_txt, str) else None,
                             hdr=_to_jsonable(dim_hdr) if isinstance(dim_hdr, Mapping) and dim_hdr else None)
    std = _standard_defined()
    acq = {k: _to_jsonable(v) for k, v in dict(h.acquisition).items()}
    rx_offset = acq.get("RxOffset") if isinstance(acq.get("RxOffset"), (int, float)) else 0.0
    if h.echo_time is not None:
        hdr_ext.set_standard_def("EchoTime", float(h.echo_time))
    if h.repetition_time is not None:
        hdr_ext.set_standard_def("RepetitionTime", float(h.repetition_time))
    hdr_ext.set_standard_def("SpectralWidth", float(h.spectral_width))
    hdr_ext.set_standard_def("SpecFreqChemShift", float(h.ppm_reference) - float(rx_offset))
    for key, val in acq.items():
        if key in _TYPED_KEYS or is_phi_key(key) or key not in std or val is None:
            continue
        if not validator.check_type(val, std[key].type):
            logger.debug("not writing %s=%r: wrong type for NIfTI-MRS", key, val)
            continue
        hdr_ext.set_standard_def(key, val)
    for key, val in strip_phi(dict(h.vendor)).items():
        if key in std or key.startswith("dim_") or key in ("SpectrometerFrequency", "ResonantNucleus"):
            continue
        val = _to_jsonable(val)
        if isinstance(val, Mapping) and "Value" in val and "Description" in val:
            entry = dict(val)
        else:
            entry = {"Value": val, "Description": "carried over from the source file"}
        if not _json_ok(entry):
            logger.debug("not writing vendor key %s: not JSON-serialisable", key)
            continue
        hdr_ext.set_user_def(key=str(key), value=entry["Value"], doc=str(entry["Description"]))
    if spectrum.provenance:
        hdr_ext.set_standard_def("ProcessingApplied", [s.to_nifti_mrs() for s in spectrum.provenance])

    affine = None if h.geometry is None else np.asarray(h.geometry.affine, dtype=float)
    try:
        with quiet_library("nifti-mrs"):
            img = gen_nifti_mrs_hdr_ext(stored.astype(np.complex128), float(h.dwell_time), hdr_ext,
                                        affine=affine, no_conj=True)
            validator.validate_nifti_mrs(img)
    except (validator.Error, ValueError, TypeError) as exc:
        raise WriteError(f"the NIfTI-MRS output failed validation: {exc}", where) from exc
    return img


def write_nifti_mrs(spectrum: Spectrum, path: str | Path) -> None:
    """Write a Spectrum as NIfTI-MRS (validated by ``nifti_mrs.validator``); provenance goes to
    ``ProcessingApplied``; patient name, ID and birth date are never written."""
    p = Path(path)
    img = to_nifti_mrs_object(spectrum, p)
    try:
        with quiet_library("nifti-mrs"):
            img.save(str(p))
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", p) from exc
    # fslpy may normalise the suffix; make sure the requested name exists
    if not p.exists():
        raise WriteError("the NIfTI-MRS writer did not create the file (unexpected suffix?)", p)
    # fslpy writes through a private temporary file (mode 0600): give it the usual mode for new files
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(p, 0o666 & ~mask)


def _read(path: Path, options: ReadOptions) -> Spectrum:
    return read_nifti_mrs(path, options)


register_reader(Reader(
    name="nifti_mrs",
    description="NIfTI-MRS (.nii.gz / .nii), any dims; MRSI kept as x/y/z dims",
    extensions=(".nii.gz", ".nii"),
    sniff=sniff_nifti_mrs,
    read=_read,
))
register_writer(Writer(name="nifti_mrs", extensions=(".nii.gz", ".nii"), write=write_nifti_mrs))
