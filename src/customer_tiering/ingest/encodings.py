"""The text encoding of a CSV file, decided once for the whole file; a file mixing two is refused.

Companies export CSV files as UTF-8 (with or without a BOM), as GBK/GB18030 (Excel's default on a
Chinese Windows) or, from Excel's "Unicode text", as UTF-16 with a BOM. A file appended to by two
systems can hold both UTF-8 and GBK lines; decoded as either, half of its names come out garbled
("涓枃" for "中文") and still load. So every line is classed, in one pass over the file:

* a line whose bytes are not UTF-8 is GBK-like (a GBK/GB18030 Chinese character is almost never a
  valid UTF-8 sequence);
* a line that is valid UTF-8 and holds Chinese or full-width characters is UTF-8 text (GBK bytes
  almost never form such a line by chance; a pure ASCII line is both and says nothing).

A file with lines of one kind only is read in that encoding; a file with both is refused, naming
the first line that does not decode in the file's encoding (the encoding of its first non-ASCII
line, or UTF-8 when it starts with a UTF-8 BOM). UTF-8 and GB18030 share ASCII, so a newline byte
is always a line end, and the file is scanned in blocks cut at line ends: memory stays bounded
whatever the file's size. Lines are counted as the file's physical lines (a quoted cell that spans
lines counts each), which is the row a spreadsheet shows for a file without such cells.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from customer_tiering.core.errors import InputError, Problem

__all__ = ["csv_encoding"]

_BLOCK_BYTES = 1 << 24
# Bytes below 0x30 (controls, space, punctuation such as , " ') are never part of a multi-byte
# character in UTF-8, GBK or GB18030: a line longer than a block is cut after one of them.
_SAFE_CUT = re.compile(rb"[\x00-\x2f][^\x00-\x2f]*\Z")
# Decoded with surrogateescape, every byte that is not UTF-8 becomes one lone surrogate.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_CHINESE = "\u3000-\u9fff\uf900-\ufaff\uff00-\uffef"
_UTF8_CHINESE_LINE = re.compile(
    f"^[^\n\udc80-\udcff]*[{_CHINESE}][^\n\udc80-\udcff]*$", re.MULTILINE)
_ONE_ENCODING = ("save the file again in one encoding (UTF-8 is best: in Excel, "
                 "Save As > CSV UTF-8)")


@dataclass
class _Evidence:
    """The first line of each kind, 1-based (``None``: no such line)."""

    utf8: int | None = None
    not_utf8: int | None = None


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(number of the block's first line, block)``, each block cut at a line end (or, for a
    line longer than a block, after a byte that cannot be inside a character)."""
    line = 1
    carry = b""
    with path.open("rb") as handle:
        while True:
            data = handle.read(_BLOCK_BYTES)
            block = carry + data
            if not data:
                if block:
                    yield line, block
                return
            cut = block.rfind(b"\n") + 1
            if cut == 0 and len(block) >= _BLOCK_BYTES:
                safe = _SAFE_CUT.search(block)
                cut = safe.start() + 1 if safe else len(block)
            carry = block[cut:]
            if cut:
                yield line, block[:cut]
                line += block.count(b"\n", 0, cut)


def _scan(path: Path) -> _Evidence:
    """Find the first UTF-8 line with Chinese text and the first line that is not UTF-8."""
    found = _Evidence()
    for first_line, block in _blocks(path):
        if block.isascii():
            continue
        text = block.decode("utf-8", errors="surrogateescape")
        if found.not_utf8 is None and (bad := _NOT_UTF8.search(text)):
            found.not_utf8 = first_line + text.count("\n", 0, bad.start())
        if found.utf8 is None and (good := _UTF8_CHINESE_LINE.search(text)):
            found.utf8 = first_line + text.count("\n", 0, good.start())
        if found.utf8 is not None and found.not_utf8 is not None:
            break
    return found


def _first_line_not_gb18030(path: Path) -> int | None:
    """The first line that GB18030 (a superset of GBK) cannot decode, or None."""
    for first_line, block in _blocks(path):
        try:
            block.decode("gb18030")
        except UnicodeDecodeError as exc:
            return first_line + block.count(b"\n", 0, exc.start)
    return None


def _problem(name: str, row: int | None, rule: str) -> InputError:
    return InputError([Problem(name, row, None, None, rule)])


def _utf16(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-16")()
    try:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK_BYTES):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _problem(str(path), None, "is neither UTF-8 nor GBK/GB18030 text, nor the UTF-16 "
                                        "its byte order mark announces; save it as UTF-8 CSV"
                       ) from None
    return "utf-16"


def csv_encoding(path: Path) -> str:
    """The encoding that decodes every line of a CSV file, when the file has exactly one.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str
        ``"utf-8-sig"`` (UTF-8 with or without a BOM, and pure ASCII), ``"gb18030"`` (GBK and
        its superset) or ``"utf-16"`` (with a BOM), as Python spells them.

    Raises
    ------
    InputError
        When the file mixes UTF-8 and GBK lines, naming the first line that does not decode in
        the file's encoding and the line that set it; or when a line is in neither.
    """
    name = str(path)
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(
            codecs.BOM_UTF8):
        return _utf16(path)
    found = _scan(path)
    if head.startswith(codecs.BOM_UTF8):
        found.utf8 = 1  # the BOM declares UTF-8
    if found.not_utf8 is None:
        return "utf-8-sig"
    if found.utf8 is not None and found.utf8 < found.not_utf8:
        raise _problem(name, found.not_utf8,
                       f"is not UTF-8, the encoding of the file from row {found.utf8} on (this "
                       "line is GBK or another encoding): the file mixes encodings; " + _ONE_ENCODING)
    bad = _first_line_not_gb18030(path)
    if bad is not None and (found.utf8 is None or bad < found.utf8):
        raise _problem(name, bad, "is neither UTF-8 nor GBK/GB18030 text; save the file as "
                                  "UTF-8 CSV")
    if found.utf8 is not None:
        raise _problem(name, found.utf8,
                       f"is UTF-8, but the file is GBK/GB18030 from row {found.not_utf8} on: "
                       "the file mixes encodings; " + _ONE_ENCODING)
    return "gb18030"
