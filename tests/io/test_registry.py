"""Reader/writer registry: built-in registration, sniffing order, error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pmlmrs.config import ReadOptions
from pmlmrs.core import Header, Spectrum
from pmlmrs.errors import ConfigError, ReadError, UnknownFormatError, WriteError
from pmlmrs.io import Reader, find_reader, load, readers, register_reader, save, writers

VENDOR = ("philips_sdat", "philips_dicom", "philips_data_list", "siemens_twix", "siemens_rda", "siemens_dicom",
          "ge_pfile", "bruker", "varian")


def test_builtin_readers_and_writers_registered() -> None:
    names = set(readers())
    assert {"nifti_mrs", *VENDOR} <= names
    assert "nifti_mrs" in writers()
    assert ".nii.gz" in writers()["nifti_mrs"].extensions


def test_sniffers_never_raise(tmp_path: Path) -> None:
    odd = [tmp_path, tmp_path / "missing.dat", tmp_path / "x.nii.gz", tmp_path / "y.spar"]
    (tmp_path / "x.nii.gz").write_bytes(b"\x1f\x8b garbage")
    (tmp_path / "y.spar").write_bytes(b"\xff\xfe\x00")
    for reader in readers().values():
        for p in odd:
            assert reader.sniff(p) in (True, False), (reader.name, p)


def test_missing_empty_unknown(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file"):
        find_reader(tmp_path / "nothing.nii.gz")
    empty = tmp_path / "e.nii.gz"
    empty.touch()
    with pytest.raises(ReadError, match="empty"):
        load(empty)
    junk = tmp_path / "junk.xyz"
    junk.write_bytes(b"\x00\x01\x02 binary junk")
    with pytest.raises(UnknownFormatError) as info:
        load(junk)
    msg = str(info.value)
    assert "junk.xyz" in msg and "nifti_mrs" in msg and "siemens_rda" in msg and "--format" in msg
    assert "\n" not in msg
    assert isinstance(info.value, ValueError)  # callers may catch ValueError


def test_unknown_format_name(tmp_path: Path) -> None:
    f = tmp_path / "a.rda"
    f.write_text("x")
    with pytest.raises(ConfigError, match="'format' parameter"):
        load(f, format="no_such_format")


def test_save_unknown_extension(tmp_path: Path) -> None:
    s = Spectrum(np.ones(8, complex), Header(123.2, 1e-3))
    with pytest.raises(WriteError, match="no writer for extension '.xyz'"):
        save(s, tmp_path / "out.xyz")


def test_custom_reader_registration(tmp_path: Path) -> None:
    f = tmp_path / "data.pmltest"
    f.write_text("PMLTEST 1\n")

    def read(path: Path, options: ReadOptions) -> Spectrum:
        return Spectrum(np.ones(4, complex), Header(options.central_frequency or 100.0, 1e-3), source=str(path))

    register_reader(Reader("pmltest", "test format", (".pmltest",),
                           lambda p: p.suffix == ".pmltest", read))
    try:
        assert find_reader(f).name == "pmltest"
        s = load(f, central_frequency=123.0)
        assert s.header.spectrometer_frequency == 123.0
        with pytest.raises(ConfigError, match="unknown option"):
            load(f, central_freq=1.0)
    finally:
        from pmlmrs.io import registry

        registry._READERS.pop("pmltest", None)


def test_extension_claimants_are_tried_first(tmp_path: Path) -> None:
    """An .rda file with RDA content goes to siemens_rda even though other readers are registered."""
    data = Path(__file__).resolve().parents[1] / "data" / "siemens" / "SVS_30.rda"
    assert find_reader(data).name == "siemens_rda"
