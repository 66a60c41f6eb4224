"""Turn raw bytes into text, recording which encoding was found.

Policy: UTF-8 (with or without BOM) first, UTF-16/32 only with a BOM, then Windows-1252, which is
what "Latin-1" files in the wild almost always are (it maps 0x80-0x9F to printable characters and
is identical to ISO-8859-1 elsewhere), then ISO-8859-1 as a last resort that never fails. Binary
content is refused rather than turned into noise.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters that never occur in text files (everything below 0x20 except \t \n \r \f).
_CONTROL = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D}
_CONTROL_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_CONTROL)) + "]")
# UTF-8 read as Windows-1252 (or Latin-1) turns every multi-byte character into a lead
# character U+00C2..U+00F4 followed by what bytes 0x80..0xBF decode to: text without such a pair
# cannot hold that mojibake, and skips ftfy's (much slower) badness check.
_CONTINUATION = "".join(sorted({bytes([b]).decode("cp1252", "ignore") for b in range(0x80, 0xC0)}
                               | {chr(c) for c in range(0x80, 0xC0)}))
_SUSPECT = re.compile("[\u00c2-\u00f4][" + re.escape(_CONTINUATION) + "]")
MAX_CONTROL_SHARE = 0.01


class DecodeError(ValueError):
    """The bytes are not text in any encoding we accept."""

    def __init__(self, reason_code: str, reason: str) -> None:
        super().__init__(reason)
        self.reason_code = reason_code


def decode(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)`` with text in NFC and ``\\n`` line ends, or raise DecodeError."""
    text, encoding = _decode(data)
    controls = len(_CONTROL_RE.findall(text, 0, 65536))
    if controls > MAX_CONTROL_SHARE * min(len(text), 65536):
        raise DecodeError("binary_content",
                          f"binary content: {controls} control characters in the first "
                          f"{min(len(text), 65536)} characters ({encoding})")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text), encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name.removesuffix("-sig")
            except UnicodeDecodeError as exc:
                raise DecodeError("bad_encoding", f"invalid {name} after a {name} BOM: {exc}")\
                    from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise DecodeError("binary_content", "binary content: NUL bytes and no UTF-16 BOM")
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "iso-8859-1"


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Undo UTF-8-read-as-Windows-1252 damage (``MÃ¼nchen``), only where ftfy is certain.

    Certain means: ftfy's badness heuristic flags the text, and the repaired text is no longer
    flagged. Anything else is left as it is (a wrong "repair" would be worse than none).
    """
    import ftfy
    from ftfy.badness import is_bad

    if text.isascii() or not _SUSPECT.search(text) or not is_bad(text):
        return text, False
    fixed = ftfy.fix_encoding(text)
    if fixed != text and not is_bad(fixed):
        return unicodedata.normalize("NFC", fixed), True
    return text, False


def decode_document(data: bytes) -> tuple[str, str, tuple[str, ...]]:
    """``decode`` plus mojibake repair: ``(text, encoding, warnings)``; raises DecodeError."""
    text, encoding = decode(data)
    warnings: list[str] = []
    if encoding != "utf-8":
        warnings.append(f"decoded as {encoding}, not UTF-8")
    text, repaired = repair_mojibake(text)
    if repaired:
        warnings.append("repaired mojibake (UTF-8 that had been decoded as Windows-1252)")
    return text, encoding, tuple(warnings)
