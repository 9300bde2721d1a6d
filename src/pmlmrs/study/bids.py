"""Discover the subjects, sessions and voxels of an MRS-BIDS study (DESIGN.md "Study input").

::

    BIDS_DIR/dataset_description.json
    BIDS_DIR/participants.tsv
    BIDS_DIR/sub-<id>/sub-<id>_sessions.tsv
    BIDS_DIR/sub-<id>/ses-<s>/mrs/sub-<id>_ses-<s>[_acq-<label>]_voi-<lesion|nawm>_svs.nii.gz
    BIDS_DIR/sub-<id>/ses-<s>/mrs/sub-<id>_ses-<s>[_acq-<label>]_voi-<lesion|nawm>_mrsref.nii.gz

:func:`discover` never raises for a problem in the data: it collects :class:`Problem`\\ s (unknown voi
labels, a missing NAWM voxel, sessions without spectra, spectra without a sessions.tsv row, bad
clinical values) and returns everything that can be processed. Only a missing BIDS folder raises.

A session may hold several voxels of one voi, told apart by their acq label (two lesions:
``acq-frontal`` and ``acq-parietal``): every (voi, acq) voxel is kept. Two files with the same voi,
acq label and suffix are a problem (the second is skipped).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmlmrs.errors import StudyError
from pmlmrs.study.clinical import Problem, read_participants, read_sessions

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["VOIS", "VoxelInput", "ExamInput", "Study", "discover", "parse_entities", "voxel_id", "split_voxel_id",
           "acq_label"]

#: voi labels of the study.
VOIS: tuple[str, ...] = ("lesion", "nawm")
_SUFFIXES = ("svs", "mrsref")
_EXT_RE = re.compile(r"\.nii(\.gz)?$")
_ACQ_RE = re.compile(r"(?:^|_)acq-([^_]+)(?=_|$)")


def voxel_id(voi: str, acq: str | None) -> str:
    """The name of a voxel within its exam: ``lesion`` without an acq label, ``lesion:frontal`` with one."""
    return voi if acq is None else f"{voi}:{acq}"


def split_voxel_id(vid: str) -> tuple[str, str | None]:
    """``"lesion:frontal"`` -> ``("lesion", "frontal")``; ``"nawm"`` -> ``("nawm", None)``."""
    voi, sep, acq = str(vid).partition(":")
    return voi, (acq if sep else None)


def acq_label(spectrum: object) -> str | None:
    """The acq label of a spectrum name or file name (``sub-01_ses-01_acq-frontal_voi-lesion_svs`` ->
    ``frontal``), None without one (voxels.tsv has no acq column: its ``spectrum`` tells voxels apart)."""
    m = _ACQ_RE.search(_EXT_RE.sub("", str(spectrum))) if isinstance(spectrum, str) else None
    return m.group(1) if m else None


def parse_entities(name: str) -> tuple[dict[str, str], str] | None:
    """BIDS entities and suffix of a file name (``sub-01_ses-01_voi-nawm_svs.nii.gz`` ->
    ``({"sub": "01", "ses": "01", "voi": "nawm"}, "svs")``); None when it is no NIfTI BIDS name."""
    if not _EXT_RE.search(name):
        return None
    stem = _EXT_RE.sub("", name)
    parts = stem.split("_")
    if len(parts) < 2:
        return None
    ents: dict[str, str] = {}
    for p in parts[:-1]:
        k, sep, v = p.partition("-")
        if not sep or not k or not v or k in ents:
            return None
        ents[k] = v
    return ents, parts[-1]


@dataclasses.dataclass(frozen=True)
class VoxelInput:
    """One spectrum of an exam (with its water reference when there is one).

    Attributes
    ----------
    participant_id, session_id : str
        ``sub-<id>``, ``ses-<s>``.
    voi : {"lesion", "nawm"}
    acq : str or None
        The acq label: an exam may have several voxels of one voi (e.g. two lesions, ``acq-frontal``
        and ``acq-parietal``); (voi, acq) is unique within an exam.
    path : Path
        The water-suppressed ``_svs`` file.
    ref_path : Path or None
        The ``_mrsref`` water reference.
    """

    participant_id: str
    session_id: str
    voi: str
    acq: str | None
    path: Path
    ref_path: Path | None = None

    @property
    def id(self) -> str:
        """The voxel's name within its exam (:func:`voxel_id`): ``lesion`` or ``lesion:frontal``."""
        return voxel_id(self.voi, self.acq)

    @property
    def key(self) -> str:
        """``sub-01/ses-01/lesion`` (no acq label) or ``sub-01/ses-01/lesion:frontal``: unique in a study."""
        return f"{self.participant_id}/{self.session_id}/{self.id}"

    @property
    def name(self) -> str:
        """The file name without extension (summary.tsv ``spectrum``)."""
        return _EXT_RE.sub("", self.path.name)


@dataclasses.dataclass(frozen=True)
class ExamInput:
    """One session: clinical values from sessions.tsv (None where unknown) and its voxels."""

    participant_id: str
    session_id: str
    voxels: tuple[VoxelInput, ...]
    acq_time: Any = None
    kps: int | None = None
    edss: float | None = None
    lesion_enhancing: bool | None = None
    explicit_stage: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``sub-01/ses-01``."""
        return f"{self.participant_id}/{self.session_id}"

    def voxel(self, voi: str, acq: Any = ...) -> VoxelInput | None:
        """The first voxel with that voi label (and that acq label when *acq* is given; None is a
        voxel without one), if any."""
        for v in self.voxels:
            if v.voi == voi and (acq is ... or v.acq == acq):
                return v
        return None


@dataclasses.dataclass
class Study:
    """What :func:`discover` found.

    Attributes
    ----------
    bids_dir : Path
    description : dict
        dataset_description.json (empty if absent).
    patients : DataFrame
        participants.tsv, checked (see :func:`~pmlmrs.study.clinical.read_participants`); subjects
        with spectra but no row are added with every clinical value missing.
    exams : list of ExamInput
        Every session with at least one usable voxel, sorted by participant and session.
    problems : list of Problem
    """

    bids_dir: Path
    description: dict[str, Any]
    patients: pd.DataFrame
    exams: list[ExamInput]
    problems: list[Problem]

    @property
    def voxels(self) -> list[VoxelInput]:
        """Every voxel of every exam."""
        return [v for e in self.exams for v in e.voxels]

    def patient(self, participant_id: str) -> dict[str, Any]:
        """The participant's row as a dict (empty when unknown)."""
        rows = self.patients[self.patients["participant_id"] == participant_id]
        return {} if rows.empty else rows.iloc[0].to_dict()


def _describe(voi: str, acq: str | None) -> str:
    return f"voi-{voi}" if acq is None else f"acq-{acq} voi-{voi}"


def _voxel_files(mrs_dir: Path, pid: str, sid: str, problems: list[Problem]) -> list[VoxelInput]:
    """Every (voi, acq) voxel of one session folder, sorted by voi then acq label."""
    found: dict[tuple[str, str | None], dict[str, Path]] = {}
    for f in sorted(mrs_dir.iterdir()):
        if not f.is_file() or f.name.startswith("."):
            continue
        parsed = parse_entities(f.name)
        if parsed is None:
            continue
        ents, suffix = parsed
        if suffix not in _SUFFIXES:
            continue
        where = dict(participant_id=pid, session_id=sid)
        if f"sub-{ents.get('sub')}" != pid or f"ses-{ents.get('ses')}" != sid:
            problems.append(Problem("error", StudyError(
                f"file name entities sub-{ents.get('sub')}/ses-{ents.get('ses')} do not match its folder "
                f"{pid}/{sid}", f), action="file skipped", **where))
            continue
        voi = ents.get("voi")
        if voi is None:
            problems.append(Problem("error", StudyError(
                "no voi entity: name the voxel voi-lesion or voi-nawm", f), action="file skipped", **where))
            continue
        if voi.lower() not in VOIS:
            problems.append(Problem("error", StudyError(
                f"unknown voi label {voi!r}; expected one of {', '.join(VOIS)}", f), voi=voi,
                action="file skipped", **where))
            continue
        key = (voi.lower(), ents.get("acq"))
        slot = found.setdefault(key, {})
        if suffix in slot:
            problems.append(Problem("error", StudyError(
                f"a second {suffix} file for {_describe(*key)} (the first is {slot[suffix].name})", f),
                voi=voi.lower(), action="file skipped", **where))
            continue
        slot[suffix] = f
    voxels: list[VoxelInput] = []
    for (voi, acq), slot in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if "svs" not in slot:
            problems.append(Problem("warning", StudyError(
                f"water reference without a water-suppressed _svs file for {_describe(voi, acq)}", slot["mrsref"]),
                participant_id=pid, session_id=sid, voi=voi, action="file ignored"))
            continue
        voxels.append(VoxelInput(pid, sid, voi, acq, slot["svs"], slot.get("mrsref")))
    return voxels


def discover(bids_dir: str | Path) -> Study:
    """Find every exam and voxel of an MRS-BIDS study and read its clinical tables.

    Parameters
    ----------
    bids_dir : path

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        Only when ``bids_dir`` is not a folder.
    """
    import pandas as pd

    root = Path(bids_dir)
    if not root.is_dir():
        raise StudyError("is not a folder (expected an MRS-BIDS dataset)", root)
    problems: list[Problem] = []
    description: dict[str, Any] = {}
    dd = root / "dataset_description.json"
    if dd.exists():
        try:
            description = json.loads(dd.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(Problem("warning", StudyError(f"cannot read: {exc}", dd), action="ignored"))
    else:
        problems.append(Problem("warning", StudyError("missing (an MRS-BIDS dataset should have one)", dd)))

    ptsv = root / "participants.tsv"
    if not ptsv.exists():
        problems.append(Problem("error", StudyError("missing: no clinical data, every exam is unassigned", ptsv)))
    patients = read_participants(ptsv, problems)
    known = set(patients["participant_id"])
    subjects = sorted(p for p in root.glob("sub-*") if p.is_dir())
    folder_ids = {p.name for p in subjects}
    for pid in sorted(known - folder_ids):
        row = int(patients.loc[patients["participant_id"] == pid, "_row"].iloc[0])
        problems.append(Problem("warning", StudyError(f"{pid} has no folder: no spectra", ptsv, row=row,
                                                      column="participant_id"), participant_id=pid))
    extra_patients = []
    exams: list[ExamInput] = []
    for sub in subjects:
        pid = sub.name
        if not re.fullmatch(r"sub-[A-Za-z0-9]+", pid):
            problems.append(Problem("error", StudyError("folder name is not sub-<label>", sub), action="skipped"))
            continue
        if pid not in known:
            if ptsv.exists():
                problems.append(Problem("warning", StudyError(
                    f"{pid} is not in participants.tsv: its exams have no clinical data", ptsv,
                    column="participant_id"), participant_id=pid, action="exams unassigned"))
            extra_patients.append({"participant_id": pid, "_row": None, "_flags": [], "_date_flags": []})
        patient = {} if pid not in known else patients[patients["participant_id"] == pid].iloc[0].to_dict()
        stsv = sub / f"{pid}_sessions.tsv"
        sessions = read_sessions(stsv, pid, patient, problems)  # an empty frame when the file is absent
        srows = {r["session_id"]: r for r in sessions.to_dict("records")}
        ses_dirs = {p.name: p for p in sorted(sub.glob("ses-*")) if p.is_dir()}
        if (sub / "mrs").is_dir():
            problems.append(Problem("error", StudyError(
                "spectra without a session folder; put them under ses-<label>/mrs/", sub / "mrs"),
                participant_id=pid, action="files skipped"))
        for sid in sorted(set(srows) - set(ses_dirs)):
            problems.append(Problem("warning", StudyError(
                f"session {sid} has no folder: no spectra", stsv, row=int(srows[sid]["_row"]), column="session_id"),
                participant_id=pid, session_id=sid, action="exam skipped"))
        for sid, sdir in ses_dirs.items():
            if not re.fullmatch(r"ses-[A-Za-z0-9]+", sid):
                problems.append(Problem("error", StudyError("folder name is not ses-<label>", sdir),
                                        participant_id=pid, action="skipped"))
                continue
            mrs = sdir / "mrs"
            voxels = _voxel_files(mrs, pid, sid, problems) if mrs.is_dir() else []
            if not voxels:
                problems.append(Problem("warning", StudyError("session without spectra (no *_svs.nii[.gz] file "
                                                              "in mrs/)", sdir),
                                        participant_id=pid, session_id=sid, action="exam skipped"))
                continue
            vois = {v.voi for v in voxels}
            if "nawm" not in vois:
                problems.append(Problem("warning", StudyError(
                    "no NAWM voxel (voi-nawm): lesion/NAWM quotients are unavailable for this exam", mrs),
                    participant_id=pid, session_id=sid, voi="nawm"))
            if "lesion" not in vois:
                problems.append(Problem("warning", StudyError("no lesion voxel (voi-lesion)", mrs),
                                        participant_id=pid, session_id=sid, voi="lesion"))
            row = srows.get(sid)
            if row is None:
                problems.append(Problem("warning", StudyError(
                    f"session {sid} is not in the sessions table: date and scores unknown", stsv,
                    column="session_id"), participant_id=pid, session_id=sid, action="exam unassigned"))
                row = {}
            exams.append(ExamInput(
                participant_id=pid, session_id=sid, voxels=tuple(voxels), acq_time=row.get("acq_time"),
                kps=row.get("kps"), edss=row.get("edss"), lesion_enhancing=row.get("lesion_enhancing"),
                explicit_stage=row.get("stage"), flags=tuple(row.get("_flags") or ()),
            ))
    if extra_patients:
        patients = pd.concat([patients, pd.DataFrame(extra_patients)], ignore_index=True)
        patients = patients.astype(object).where(patients.notna(), None)
        for c in ("_flags", "_date_flags"):
            patients[c] = [f if isinstance(f, list) else [] for f in patients[c]]
    return Study(root, description, patients.reset_index(drop=True), exams, problems)
