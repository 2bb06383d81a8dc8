"""CGM device exports (Dexcom Clarity, FreeStyle Libre): what their headers say."""

from __future__ import annotations

from pathlib import Path

from isletflow.readers.clarity import CLARITY
from isletflow.readers.libreview import LIBRE
from isletflow.readers.text import find_header, head_text, split_lines

DEVICE_ALIASES = {"dexcom_clarity": CLARITY, "libreview": LIBRE}


def device_personal_columns(path: Path, fmt: str) -> list[str]:
    """The header names of a device export's personal-data columns (names, birth dates,
    serials, notes), which its reader never reads; the names only, never their values."""
    aliases = DEVICE_ALIASES[fmt]
    layout = find_header(split_lines(head_text(path)[0])[:6], aliases.is_header)
    return aliases.personal_columns(layout.header) if layout else []
