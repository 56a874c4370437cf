"""Tell which word-processing format an attached file is in, by its content first.

Names and content types are what the sender's client made up: webmail and phone clients send
a .docx as ``巡访日报`` or ``attachment.bin``, as ``application/octet-stream`` or with no name
at all, and a file called ``.doc`` may be damaged or something else. So the bytes decide:
a zip holding ``word/document.xml`` is a .docx, an OLE2 compound file holding a
``WordDocument`` stream is Word 97-2003 (also what WPS Office writes as .doc and .wps), a zip
whose ``mimetype`` member says OpenDocument text is an .odt, ``{\\rtf`` starts an RTF file. Only
when the content is none of these do the name and type count, and then only to say that the
file *claims* to be a document: the reply can name it instead of ignoring it.

Only zip and OLE2 directories are read (and the few bytes of an ODF ``mimetype`` member),
never a document's body, so a zip bomb costs nothing here.
"""

from __future__ import annotations

import io
import zipfile

__all__ = ["CLAIMED", "DOC", "DOCX", "ODT", "RTF", "LABELS", "sniff"]

DOCX, DOC, ODT, RTF = "docx", "doc", "odt", "rtf"
CLAIMED = "claimed"  # name or content type says a document; the content is not one we know

# How each kind is called in words (parse --json reasons, logs).
LABELS = {DOCX: "Word .docx", DOC: "Word 97-2003 / WPS (.doc)", ODT: "OpenDocument text (.odt)",
          RTF: "Rich Text Format (.rtf)"}

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODF_TEXT = {b"application/vnd.oasis.opendocument.text", b"application/vnd.oasis.opendocument.text-template"}
_MAX_MEMBERS = 5000  # as the form reader: more parts than any document has is not looked into

_SUFFIXES = (".docx", ".docm", ".dotx", ".doc", ".dot", ".wps", ".wpt", ".odt", ".ott", ".rtf")
_TYPES = frozenset({
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/msword", "application/vnd.ms-word", "application/doc", "application/x-msword",
    "application/vnd.ms-works", "application/kswps", "application/wps-office.doc",
    "application/wps-office.wps", "application/wps-office.docx",
    "application/vnd.oasis.opendocument.text", "application/rtf", "application/x-rtf", "text/rtf",
})


def sniff(payload: bytes, filename: str = "", content_type: str = "") -> str | None:
    """Return the document kind of an attachment: DOCX, DOC, ODT, RTF, CLAIMED or None.

    None means neither the content nor the name or type says word-processing document (a
    photo, a PDF, a spreadsheet). Never raises.
    """
    if not isinstance(payload, (bytes, bytearray)):
        return None
    kind = _by_content(bytes(payload))
    if kind is not None:
        return kind
    if filename.strip().lower().endswith(_SUFFIXES) or content_type.strip().lower() in _TYPES:
        return CLAIMED
    return None


def _by_content(payload: bytes) -> str | None:
    if payload.startswith(_ZIP_MAGIC):
        return _zip_kind(payload)
    if payload.startswith(_OLE_MAGIC):
        return DOC if _ole_has_word_stream(payload) else None
    if payload.lstrip(b"\xef\xbb\xbf \r\n\t")[:5] == b"{\\rtf":
        return RTF
    return None


def _zip_kind(payload: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            infos = archive.infolist()
            if len(infos) > _MAX_MEMBERS:
                return None
            names = {info.filename: info for info in infos}
            if "word/document.xml" in names:
                return DOCX
            mimetype = names.get("mimetype")
            # The member is a few dozen bytes; a larger claim is not an ODF file.
            if mimetype is not None and mimetype.file_size <= 200:
                if archive.read(mimetype).strip() in _ODF_TEXT:
                    return ODT
    except Exception:  # noqa: BLE001 - BadZipFile, but junk can raise OSError, ValueError, …
        return None
    return None


def _ole_has_word_stream(payload: bytes) -> bool:
    """Say whether an OLE2 file holds Word's main stream (not Excel, PowerPoint, Outlook …)."""
    import olefile  # deferred: only mail with an OLE2 attachment needs it

    try:
        with olefile.OleFileIO(io.BytesIO(payload)) as ole:
            return bool(ole.exists("WordDocument"))
    except Exception:  # noqa: BLE001 - a damaged directory raises OleFileError, ValueError, …
        return False
