"""Readers: one per site export format. Pure functions, path in -> text frame out.

Every reader returns the rows as exported (all text), with ``row_number`` = the 1-based line
number in the file, and with personal data (names, dates of birth, device serials, free text
from devices) already dropped, so it never reaches the warehouse.
"""

from isletflow.readers.detect import FORMATS, UnknownFormatError, detect_format, read_export

__all__ = ["FORMATS", "UnknownFormatError", "detect_format", "read_export"]
