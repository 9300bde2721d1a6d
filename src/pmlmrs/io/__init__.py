"""Reading and writing MRS files: ``load(path) -> Spectrum`` and ``save(spectrum, path)``."""

from pmlmrs.io.registry import Reader, Writer, find_reader, load, readers, register_reader, register_writer, save, writers

from pmlmrs.io.vendor import companion_files

__all__ = ["load", "companion_files", "save", "find_reader", "readers", "writers", "register_reader", "register_writer",
           "Reader", "Writer"]
