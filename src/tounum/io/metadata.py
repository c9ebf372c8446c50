"""Captions and keywords in an image file's own metadata, where photo-archive tools read them.

Written in both standards that digital-asset managers, Lightroom, digiKam, exiftool and the
operating systems read:

* XMP: ``dc:description`` (language alternative, ``x-default``), ``dc:subject`` (bag of
  keywords), ``Iptc4xmpCore:AltTextAccessibility`` (at most 250 characters) and
  ``photoshop:CaptionWriter`` (the model that wrote the caption);
* IPTC IIM: 2:120 Caption-Abstract (at most 2000 bytes), 2:25 Keywords (at most 64 bytes each)
  and 2:122 Writer-Editor, declared UTF-8 by 1:90 CodedCharacterSet ``ESC % G``.

JPEG carries XMP in an APP1 segment and IIM in an APP13 Photoshop resource block (8BIM 0x0404);
TIFF in tags 700 and 33723; PNG and WebP carry the XMP only. Long text is cut on UTF-8
character boundaries, and the XML is escaped.
"""

from __future__ import annotations

import os
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image

from tounum.io.read import display_path
from tounum.io.write import atomic_write, encode_image

MAX_CAPTION_BYTES = 2000  # IIM 2:120
MAX_KEYWORD_BYTES = 64  # IIM 2:25
MAX_WRITER_BYTES = 32  # IIM 2:122
MAX_ALT_TEXT_CHARS = 250  # IPTC Photo Metadata: alt text "should not exceed 250 characters"
XMP_APP1_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
PHOTOSHOP_PREFIX = b"Photoshop 3.0\x00"
UTF8_DECLARATION = b"\x1b%G"

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
# Characters XML 1.0 cannot carry at all (controls other than tab/newline/CR, U+FFFE, U+FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class EmbeddedMetadata:
    """The two metadata payloads for one image; pass them to ``write_image(xmp=, iptc=)``."""

    xmp: bytes
    iptc: bytes


def truncate_utf8(text: str, max_bytes: int) -> bytes:
    """``text`` as UTF-8, cut to at most ``max_bytes`` without splitting a character.

    Example
    -------
    >>> truncate_utf8("café", 4)
    b'caf'
    """
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore").encode("utf-8")


def _xml_text(text: str) -> str:
    return escape(_XML_INVALID.sub("", text), {'"': "&quot;"})


def _clean_keywords(keywords: Any) -> list[str]:
    seen: dict[str, None] = {}
    for word in keywords:
        word = _XML_INVALID.sub("", str(word)).strip()
        if word:
            seen.setdefault(word)
    return list(seen)


def build_xmp(caption: str | None, keywords: Any = (), *, writer: str | None = None,
              alt_text: str | None = None) -> bytes:
    """An XMP packet with the caption, keywords, alt text and caption writer.

    Parameters
    ----------
    caption : ``dc:description`` (x-default); None or empty: left out.
    keywords : ``dc:subject``, duplicates and blanks dropped.
    writer : ``photoshop:CaptionWriter``, e.g. the captioning model's name and version.
    alt_text : ``Iptc4xmpCore:AltTextAccessibility``; default: the caption, cut to 250 characters.

    Returns
    -------
    The UTF-8 packet (with padding, so that editors can change it in place).

    Example
    -------
    >>> b"<rdf:li>photo</rdf:li>" in build_xmp("A dog & a cat", ["photo"])
    True
    """
    caption = _XML_INVALID.sub("", caption or "").strip()
    alt = (alt_text if alt_text is not None else caption)[:MAX_ALT_TEXT_CHARS].strip()
    fields = []
    if caption:
        fields.append("   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">"
                      f"{_xml_text(caption)}</rdf:li></rdf:Alt></dc:description>")
    words = _clean_keywords(keywords)
    if words:
        items = "".join(f"<rdf:li>{_xml_text(w)}</rdf:li>" for w in words)
        fields.append(f"   <dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>")
    if alt:
        fields.append("   <Iptc4xmpCore:AltTextAccessibility><rdf:Alt><rdf:li xml:lang=\"x-default\">"
                      f"{_xml_text(alt)}</rdf:li></rdf:Alt></Iptc4xmpCore:AltTextAccessibility>")
    if writer:
        fields.append(f"   <photoshop:CaptionWriter>{_xml_text(writer)}</photoshop:CaptionWriter>")
    body = "\n".join(fields)
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="tounum">
 <rdf:RDF xmlns:rdf="{NS['rdf']}">
  <rdf:Description rdf:about=""
    xmlns:dc="{NS['dc']}"
    xmlns:photoshop="{NS['photoshop']}"
    xmlns:Iptc4xmpCore="{NS['Iptc4xmpCore']}">
{body}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
{(" " * 99 + chr(10)) * 10}<?xpacket end="w"?>"""
    return packet.encode("utf-8")


def _dataset(record: int, number: int, value: bytes) -> bytes:
    return struct.pack(">BBBH", 0x1C, record, number, len(value)) + value


def build_iptc(caption: str | None, keywords: Any = (), *, writer: str | None = None) -> bytes:
    """IPTC IIM datasets: UTF-8 declaration, Caption-Abstract, Keywords, Writer-Editor.

    Example
    -------
    >>> build_iptc("Ceci", ["été"])[:8]
    b'\\x1c\\x01Z\\x00\\x03\\x1b%G'
    """
    out = [_dataset(1, 90, UTF8_DECLARATION), _dataset(2, 0, b"\x00\x04")]  # record version 4
    for word in _clean_keywords(keywords):
        out.append(_dataset(2, 25, truncate_utf8(word, MAX_KEYWORD_BYTES)))
    caption = (caption or "").strip()
    if caption:
        out.append(_dataset(2, 120, truncate_utf8(caption, MAX_CAPTION_BYTES)))
    if writer:
        out.append(_dataset(2, 122, truncate_utf8(writer, MAX_WRITER_BYTES)))
    return b"".join(out)


def caption_metadata(caption: str | None, keywords: Any = (), *, writer: str | None = None) -> EmbeddedMetadata:
    """Both payloads for a caption and keywords (see :func:`build_xmp`, :func:`build_iptc`).

    Example
    -------
    >>> meta = caption_metadata("a boat", ["photo"], writer="tounum-captioner 1")
    >>> meta.iptc.count(b"\\x1c\\x02\\x19")  # one Keywords dataset
    1
    """
    return EmbeddedMetadata(build_xmp(caption, keywords, writer=writer),
                            build_iptc(caption, keywords, writer=writer))


def photoshop_app13(iptc: bytes) -> bytes:
    """A JPEG APP13 segment holding IIM data as Photoshop image resource 0x0404.

    Example
    -------
    >>> photoshop_app13(b"\\x1c\\x02\\x00\\x00\\x02\\x00\\x04")[:4]
    b'\\xff\\xed\\x00$'
    """
    data = iptc + (b"\x00" if len(iptc) % 2 else b"")
    block = PHOTOSHOP_PREFIX + b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + data
    if len(block) + 2 > 0xFFFF:
        raise ValueError(f"IPTC data of {len(iptc)} bytes does not fit one JPEG segment")
    return b"\xff\xed" + struct.pack(">H", len(block) + 2) + block


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The marker segments before the image data: [(marker, whole segment)], and where the rest begins."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file (no SOI marker)")
    pos, segments = 2, []
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the compressed data follows
            break
        (length,) = struct.unpack(">H", data[pos + 2: pos + 4])
        segments.append((marker, data[pos: pos + 2 + length]))
        pos += 2 + length
    return segments, pos


def embed_in_jpeg(data: bytes, xmp: bytes | None, iptc: bytes | None) -> bytes:
    """JPEG bytes with their XMP and IPTC segments replaced; the image data is not re-encoded.

    Example
    -------
    >>> import numpy as np
    >>> jpeg = encode_image(np.zeros((8, 8, 3), np.uint8), "JPEG")
    >>> XMP_APP1_PREFIX in embed_in_jpeg(jpeg, build_xmp("x"), None)
    True
    """
    segments, rest = _jpeg_segments(data)
    kept = [(m, s) for m, s in segments
            if not (m == 0xE1 and s[4:].startswith(XMP_APP1_PREFIX))
            and not (m == 0xED and s[4:].startswith(PHOTOSHOP_PREFIX))]
    # New segments go after JFIF (APP0) and Exif (APP1), which readers expect first.
    at = 0
    while at < len(kept) and kept[at][0] in (0xE0, 0xE1):
        at += 1
    new = []
    if xmp:
        if len(xmp) + len(XMP_APP1_PREFIX) + 2 > 0xFFFF:
            raise ValueError("XMP packet too long for one JPEG segment")
        new.append((0xE1, b"\xff\xe1" + struct.pack(">H", len(xmp) + len(XMP_APP1_PREFIX) + 2)
                    + XMP_APP1_PREFIX + xmp))
    if iptc:
        new.append((0xED, photoshop_app13(iptc)))
    ordered = kept[:at] + new + kept[at:]
    return b"\xff\xd8" + b"".join(s for _, s in ordered) + data[rest:]


def embed_metadata(path: str | os.PathLike[str], caption: str | None, keywords: Any = (), *,
                   writer: str | None = None) -> None:
    """Put the caption and keywords into an existing output image, replacing the file atomically.

    JPEG is edited segment by segment (the pixels are not re-encoded); PNG and TIFF are
    re-saved losslessly. Never call it on an original: outputs only.

    Parameters
    ----------
    path : a JPEG, PNG or TIFF file written by tounum.
    caption, keywords, writer : see :func:`build_xmp` and :func:`build_iptc`.

    Example
    -------
    >>> import tempfile, numpy as np
    >>> from tounum.io.write import write_image
    >>> p = write_image(np.zeros((8, 8, 3), np.uint8), tempfile.mkdtemp() + "/a.jpg")
    >>> embed_metadata(p, "a black square", ["test"])
    >>> read_metadata(p)["iptc_caption"]
    'a black square'
    """
    meta = caption_metadata(caption, keywords, writer=writer)
    data = Path(path).read_bytes()
    if data[:2] == b"\xff\xd8":
        new = embed_in_jpeg(data, meta.xmp, meta.iptc)
    else:
        with Image.open(path) as im:
            if im.format not in ("PNG", "TIFF"):
                raise ValueError(f"{display_path(path)}: cannot embed metadata in {im.format} in place; "
                                 "pass xmp= to write_image instead")
            import numpy as np

            pixels = np.asarray(im.convert("RGB"))
            new = encode_image(pixels, im.format, xmp=meta.xmp,
                               iptc=meta.iptc if im.format == "TIFF" else None,
                               icc_profile=im.info.get("icc_profile"), dpi=im.info.get("dpi"))
    with atomic_write(path) as f:
        f.write(new)


def parse_iptc(data: bytes) -> dict[str, Any]:
    """Caption, keywords and writer from IIM datasets (UTF-8 when declared, else Latin-1)."""
    out: dict[str, Any] = {"iptc_caption": None, "iptc_keywords": [], "iptc_writer": None}
    encoding, pos = "latin-1", 0
    while pos + 5 <= len(data) and data[pos] == 0x1C:
        record, number, length = data[pos + 1], data[pos + 2], struct.unpack(">H", data[pos + 3: pos + 5])[0]
        value = data[pos + 5: pos + 5 + length]
        pos += 5 + length
        if (record, number) == (1, 90) and value == UTF8_DECLARATION:
            encoding = "utf-8"
        elif record == 2 and number in (25, 120, 122):
            text = value.decode(encoding, "replace")
            if number == 25:
                out["iptc_keywords"].append(text)
            else:
                out["iptc_caption" if number == 120 else "iptc_writer"] = text
    return out


def _photoshop_iptc(block: bytes) -> bytes:
    """Resource 0x0404 (IIM) from a Photoshop image resource block."""
    pos = len(PHOTOSHOP_PREFIX) if block.startswith(PHOTOSHOP_PREFIX) else 0
    while pos + 12 <= len(block) and block[pos: pos + 4] == b"8BIM":
        resource = struct.unpack(">H", block[pos + 4: pos + 6])[0]
        name_len = block[pos + 6]
        pos += 6 + name_len + 1 + ((name_len + 1) % 2)
        (size,) = struct.unpack(">I", block[pos: pos + 4])
        if resource == 0x0404:
            return block[pos + 4: pos + 4 + size]
        pos += 4 + size + size % 2
    return b""


def parse_xmp(xmp: bytes) -> dict[str, Any]:
    """Description, subject, alt text and caption writer from an XMP packet."""
    out: dict[str, Any] = {"description": None, "subject": [], "alt_text": None, "caption_writer": None}
    text = xmp.decode("utf-8", "replace")
    start = text.find("<x:xmpmeta")
    end = text.find("</x:xmpmeta>")
    if start < 0 or end < 0:
        return out
    root = ET.fromstring(text[start: end + len("</x:xmpmeta>")])

    def alt(tag: str) -> str | None:
        items = root.findall(f".//{tag}/rdf:Alt/rdf:li", NS)
        default = [i for i in items if i.get(f"{{{NS['xml']}}}lang") == "x-default"]
        chosen = (default or items)
        return chosen[0].text or "" if chosen else None

    out["description"] = alt("dc:description")
    out["alt_text"] = alt("Iptc4xmpCore:AltTextAccessibility")
    out["subject"] = [li.text or "" for li in root.findall(".//dc:subject/rdf:Bag/rdf:li", NS)]
    writer = root.find(".//photoshop:CaptionWriter", NS)
    if writer is None:  # also written as an attribute by some tools
        for desc in root.findall(".//rdf:Description", NS):
            if (value := desc.get(f"{{{NS['photoshop']}}}CaptionWriter")) is not None:
                out["caption_writer"] = value
    else:
        out["caption_writer"] = writer.text
    return out


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The caption fields of an image file (JPEG, TIFF, PNG, WebP), for round trips and checks.

    Returns
    -------
    dict with ``description``, ``subject`` (list), ``alt_text``, ``caption_writer`` from XMP
    and ``iptc_caption``, ``iptc_keywords`` (list), ``iptc_writer`` from IIM; None or [] where
    absent.
    """
    xmp, iptc = b"", b""
    data = Path(path).read_bytes()
    if data[:2] == b"\xff\xd8":
        for marker, segment in _jpeg_segments(data)[0]:
            body = segment[4:]
            if marker == 0xE1 and body.startswith(XMP_APP1_PREFIX):
                xmp = body[len(XMP_APP1_PREFIX):]
            elif marker == 0xED and body.startswith(PHOTOSHOP_PREFIX):
                iptc = _photoshop_iptc(body)
    else:
        with Image.open(path) as im:
            if im.format == "TIFF":
                xmp = _tag_bytes(im.tag_v2.get(700))
                iptc = _tag_bytes(im.tag_v2.get(33723))
            else:
                value = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
                xmp = value.encode("utf-8") if isinstance(value, str) else value
    return {**parse_xmp(xmp), **parse_iptc(iptc)}


def _tag_bytes(value: Any) -> bytes:
    """A TIFF tag's value as bytes (Pillow gives bytes, or a tuple of ints for LONG tags)."""
    if value is None:
        return b""
    if isinstance(value, tuple):
        if len(value) == 1 and isinstance(value[0], bytes):
            return value[0]
        return struct.pack(f">{len(value)}I", *value) if value else b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")
