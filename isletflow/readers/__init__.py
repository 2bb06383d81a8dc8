"""Readers: one per site export format. Pure functions, path in -> text frame out.

Every reader returns the rows as exported (all text), with ``row_number`` = the line of the
record in the file, and with personal data (names, dates of birth, device serials, free-text
notes from devices) already dropped, so it never reaches the warehouse; plus the rows it could
not take (a row cut off at the end of a truncated file), for quarantine.
"""

from isletflow.readers.detect import FORMATS, UnknownFormatError, detect_format, read_export
from isletflow.readers.text import (ExportEncodingError, ExportLayoutError, MalformedCsvError,
                                    ReadError, RowProblem, read_error_message)

__all__ = ["FORMATS", "ExportEncodingError", "ExportLayoutError", "MalformedCsvError",
           "ReadError", "RowProblem", "UnknownFormatError", "detect_format", "read_error_message",
           "read_export"]
