"""Philips enhanced DICOM MR Spectroscopy Storage (SOP class 1.2.840.10008.5.1.4.1.1.4.2), read
with pydicom. Used when spec2nii cannot convert the file (spec2nii 0.8.15 indexes a second
VolumeLocalizationSequence item that single-slab files do not have).

Conjugation: the SpectroscopyData samples, taken as ``re + 1j*im`` without conjugation, already
follow the Spectrum convention (checked on the QA file in shared/data/invivo: NAA, Cr, Cho and mI
at the right side of water; conjugating mirrors them). spec2nii conjugates the same samples into
the stored NIfTI-MRS array, which our NIfTI-MRS reader conjugates back, so both paths agree.

Frames: with ``WaterReferencedPhaseCorrection`` (0018,9199) = YES the last frame is the water
reference (as spec2nii treats it); the other frames are the metabolite FIDs (dim ``"dyn"`` when
there is more than one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pmlmrs._logging import logger
from pmlmrs.core import Geometry, Header, ProcessingStep, Spectrum
from pmlmrs.core.provenance import software_version
from pmlmrs.errors import HeaderFieldError, ReadError, UnsupportedVariantError
from pmlmrs.io._util import dicom_spectroscopy_floats

__all__ = ["read_philips_enhanced_dicom", "MR_SPECTROSCOPY_STORAGE"]

MR_SPECTROSCOPY_STORAGE = "1.2.840.10008.5.1.4.1.1.4.2"
_LITTLE_ENDIAN = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


def _first(seq_owner: Any, *names: str) -> Any:
    """Walk nested sequences (first item of each), returning None when any step is missing."""
    obj = seq_owner
    for name in names:
        if obj is None or name not in obj:
            return None
        obj = obj[name].value
        if isinstance(obj, (list, tuple)) or obj.__class__.__name__ == "Sequence":
            if len(obj) == 0:
                return None
            obj = obj[0]
    return obj


def _functional(ds: Any, *names: str) -> Any:
    """A value from the first per-frame functional group, else the shared one."""
    for group in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        val = _first(ds, group, *names)
        if val is not None:
            return val
    return None


def _geometry(ds: Any) -> Geometry | None:
    """Voxel affine (RAS, mm) from plane orientation/position, pixel spacing and slab thickness."""
    try:
        iop = _functional(ds, "PlaneOrientationSequence", "ImageOrientationPatient")
        ipp = _functional(ds, "PlanePositionSequence", "ImagePositionPatient")
        spacing = _functional(ds, "PixelMeasuresSequence", "PixelSpacing")
        thick = None
        if "VolumeLocalizationSequence" in ds and len(ds.VolumeLocalizationSequence) == 1:
            thick = float(ds.VolumeLocalizationSequence[0].SlabThickness)
        if thick is None:
            thick = _functional(ds, "PixelMeasuresSequence", "SliceThickness")
        if iop is None or ipp is None or spacing is None or thick is None:
            return None
        row_cos = np.asarray([float(v) for v in iop[:3]])
        col_cos = np.asarray([float(v) for v in iop[3:6]])
        normal = np.cross(row_cos, col_cos)
        aff = np.eye(4)
        aff[:3, 0] = row_cos * float(spacing[1])
        aff[:3, 1] = col_cos * float(spacing[0])
        aff[:3, 2] = normal * float(thick)
        aff[:3, 3] = [float(v) for v in ipp]
        lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
        return Geometry(lps_to_ras @ aff)
    except Exception as exc:  # noqa: BLE001 - geometry is optional; log and go on
        logger.debug("no geometry from the DICOM header: %s", exc)
        return None


def read_philips_enhanced_dicom(path: str | Path) -> dict[str, Spectrum]:
    """Read a Philips enhanced MR Spectroscopy DICOM.

    Returns
    -------
    dict
        ``{"metabolite": Spectrum}`` plus ``"ref"`` when the file carries a water-reference frame.

    Raises
    ------
    UnsupportedVariantError
        Not MR Spectroscopy Storage, spatially resolved (MRSI), frequency-domain or big-endian data;
        the message names the DICOM element.
    HeaderFieldError
        A required element (TransmitterFrequency, SpectralWidth, ...) is missing.
    """
    import pydicom

    p = Path(path)
    try:
        ds = pydicom.dcmread(str(p))
    except Exception as exc:
        raise ReadError(f"cannot read as DICOM: {exc}", p) from exc
    sop = str(ds.get("SOPClassUID", ""))
    if sop != MR_SPECTROSCOPY_STORAGE:
        raise UnsupportedVariantError(
            f"SOPClassUID {sop or 'missing'} is not MR Spectroscopy Storage ({MR_SPECTROSCOPY_STORAGE}); "
            "only enhanced spectroscopy DICOM is read without spec2nii", p)
    if "SpectroscopyData" not in ds:
        raise UnsupportedVariantError("the element SpectroscopyData (5600,0020) is missing", p)
    tsuid = str(getattr(ds.file_meta, "TransferSyntaxUID", "1.2.840.10008.1.2.1"))
    if tsuid not in _LITTLE_ENDIAN:
        raise UnsupportedVariantError(f"transfer syntax {tsuid} is not little-endian", p)
    rep = str(ds.get("DataRepresentation", "COMPLEX")).upper()
    if rep != "COMPLEX":
        raise UnsupportedVariantError(f"DataRepresentation (0028,9108) is {rep!r}; only COMPLEX is read", p)
    domain = str(ds.get("SignalDomainColumns", "TIME")).upper()
    if domain != "TIME":
        raise UnsupportedVariantError(f"SignalDomainColumns (0028,9003) is {domain!r}; only TIME is read", p)
    rows, cols = int(ds.get("Rows", 1) or 1), int(ds.get("Columns", 1) or 1)
    if rows * cols > 1:
        raise UnsupportedVariantError(f"spectroscopic imaging ({rows}x{cols} voxels) is not read from DICOM", p)

    def required(name: str, tag: str) -> Any:
        val = ds.get(name)
        if val is None or val == "":
            raise HeaderFieldError(f"required DICOM element {name} {tag} is missing", p, field=name)
        return val

    n_points = int(ds.get("DataPointColumns") or required("SpectroscopyAcquisitionDataColumns", "(0018,9127)"))
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    mhz = float(required("TransmitterFrequency", "(0018,9098)"))
    sw = float(required("SpectralWidth", "(0018,9052)"))
    nucleus = str(ds.get("ResonantNucleus", "1H") or "1H")

    raw = dicom_spectroscopy_floats(ds, p, n_points)
    fids = (raw[0::2].astype(np.float64) + 1j * raw[1::2].astype(np.float64)).reshape(n_frames, n_points)

    te = _functional(ds, "MREchoSequence", "EffectiveEchoTime")
    tr = _functional(ds, "MRTimingAndRelatedParametersSequence", "RepetitionTime")
    flip = _functional(ds, "MRTimingAndRelatedParametersSequence", "FlipAngle")
    ppm_ref = ds.get("ChemicalShiftReference")
    ws_flag = str(ds.get("SpectrallySelectedSuppression", "")).upper()
    has_ref = str(ds.get("WaterReferencedPhaseCorrection", "")).upper() == "YES" and n_frames >= 2

    acquisition: dict[str, Any] = {
        "Manufacturer": str(ds.get("Manufacturer", "")),
        "ManufacturersModelName": str(ds.get("ManufacturerModelName", "")),
        "SoftwareVersions": " ".join(str(v) for v in (ds.get("SoftwareVersions") or []))
        if not isinstance(ds.get("SoftwareVersions"), str) else str(ds.get("SoftwareVersions")),
        "SequenceName": str(ds.get("PulseSequenceName", "") or ds.get("SequenceName", "") or ""),
        "ProtocolName": str(ds.get("ProtocolName", "")),
        "PatientPosition": str(ds.get("PatientPosition", "")),
        "ConversionMethod": f"pmlmrs {software_version()} (pydicom {pydicom.__version__})",
    }
    rx = _functional(ds, "MRReceiveCoilSequence", "ReceiveCoilName")
    tx = _functional(ds, "MRTransmitCoilSequence", "TransmitCoilName")
    if rx:
        acquisition["RxCoil"] = str(rx)
    if tx:
        acquisition["TxCoil"] = str(tx)
    if flip is not None:
        acquisition["ExcitationFlipAngle"] = float(flip)
    acquisition = {k: v for k, v in acquisition.items() if v != ""}
    vendor = {
        "VolumeLocalizationTechnique": str(ds.get("VolumeLocalizationTechnique", "")),
        "ChemicalShiftReference": None if ppm_ref is None else float(ppm_ref),
        "MagneticFieldStrength": None if ds.get("MagneticFieldStrength") is None
        else float(ds.MagneticFieldStrength),
        "SeriesDescription": str(ds.get("SeriesDescription", "")),
        "NumberOfFrames": n_frames,
        "SpectrallySelectedSuppression": ws_flag,
        "WaterReferenceFrame": bool(has_ref),
    }
    geometry = _geometry(ds)

    def make(frames: np.ndarray, water_suppressed: bool, label: str) -> Spectrum:
        acq = dict(acquisition, WaterSuppressed=water_suppressed)
        header = Header(
            spectrometer_frequency=mhz, dwell_time=1.0 / sw, nucleus=nucleus,
            echo_time=None if te is None else float(te) * 1e-3,
            repetition_time=None if tr is None else float(tr) * 1e-3,
            ppm_reference=None if ppm_ref is None else float(ppm_ref),
            geometry=geometry, acquisition=acq, vendor=vendor,
        )
        data = frames[0] if frames.shape[0] == 1 else frames
        dims = () if frames.shape[0] == 1 else ("dyn",)
        step = ProcessingStep("read", params={"format": "philips_dicom", "file": p.name, "part": label},
                              details=f"read {p.name} ({label}) with pydicom: enhanced MR Spectroscopy DICOM")
        return Spectrum(data, header, dims=dims, provenance=(step,), source=str(p))

    if has_ref:
        return {"metabolite": make(fids[:-1], ws_flag == "WATER", "metabolite"),
                "ref": make(fids[-1:], False, "water reference")}
    return {"metabolite": make(fids, ws_flag == "WATER", "metabolite")}
