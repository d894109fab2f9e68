"""The hostile bytes the corpus sends: broken images, broken DICOM, broken multipart bodies.

All are made here, deterministically, from a few small valid files, so the corpus needs no
binary fixtures and every run sends the same bytes.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import struct
import zlib
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian

BOUNDARY = "corpus-boundary-7d1f"
PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010), little endian


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def png(width: int = 64, height: int = 64, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 128).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims ``width`` x ``height``: a decompression bomb's
    header, a few hundred bytes, without the gigabyte a real one would decode to."""
    data = bytearray(png(1, 1))
    ihdr = 8  # after the signature: length (4), b"IHDR" (4), then width and height
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13]))
    data[ihdr + 8 + 13 : ihdr + 8 + 17] = struct.pack(">I", crc)
    return bytes(data)


def multipart(
    fields: dict[str, str] | None = None,
    files: dict[str, tuple[str, bytes]] | None = None,
    boundary: str = BOUNDARY,
) -> bytes:
    """A well-formed ``multipart/form-data`` body (see ``multipart_type``)."""
    parts = []
    for name, value in (fields or {}).items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, (filename, content) in (files or {}).items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def multipart_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"


#: Multipart bodies no parser can read, with the Content-Type each is sent with.
MALFORMED_MULTIPART: dict[str, tuple[str, bytes]] = {
    "multipart without a boundary": ("multipart/form-data", b"--x\r\n\r\nnot a form\r\n--x--"),
    "multipart with a non-ASCII boundary": (
        "multipart/form-data; boundary=\u00e9t\u00e9",
        b"--\xc3\xa9t\xc3\xa9\r\n\r\n",
    ),
    "multipart cut off inside a part": (
        multipart_type(),
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "\r\n\x89PNG".encode(),
    ),
    "multipart part without headers": (
        multipart_type(),
        f"--{BOUNDARY}\r\n\r\nno headers\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    "multipart whose boundary never appears": (multipart_type(), b"just some bytes" * 20),
}


# --- DICOM --------------------------------------------------------------------------------


def _dataset(pixels: bool = True) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.3"
    ds.Modality = "DX"
    ds.PatientID = "CORPUS1"
    if pixels:
        values = np.linspace(0, 4095, 256 * 256).reshape(256, 256).astype(np.uint16)
        ds.set_pixel_data(values, "MONOCHROME2", 12)
    return ds


def _encoded(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@functools.cache
def dicom_valid() -> bytes:
    """A small, valid DX study (256x256, 12 bits): the base every broken one is made from."""
    return _encoded(_dataset())


def dicom_without_pixel_data() -> bytes:
    ds = _dataset(pixels=False)
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = 256, 256, 16, 1
    return _encoded(ds)


def dicom_zero_length_tags() -> bytes:
    """Rows, Columns and BitsAllocated present with zero-length values."""
    ds = _dataset()
    ds.Rows = None
    ds.Columns = None
    ds.BitsAllocated = None
    return _encoded(ds)


def dicom_huge_pixel_length() -> bytes:
    """Pixel Data declaring 0xFFFFFFF0 bytes (about 4 GB) in a file of a few hundred KB."""
    data = bytearray(dicom_valid())
    at = data.rindex(PIXEL_DATA_TAG)
    # tag (4), VR "OW" (2), reserved (2), then the 4-byte length
    data[at + 8 : at + 12] = struct.pack("<I", 0xFFFFFFF0)
    return bytes(data)


def dicom_huge_text_length() -> bytes:
    """A long-text element (0x0010,0x4000, LT) declaring 0x7FFFFFFF bytes, in explicit VR
    as UT-like OB (a 4-byte length) so the declared length is enormous."""
    data = bytearray(dicom_valid())
    at = data.rindex(PIXEL_DATA_TAG)
    bogus = b"\x10\x00\x00\x40" + b"UN\x00\x00" + struct.pack("<I", 0x7FFFFFFF)
    return bytes(data[:at]) + bogus + b"x" * 64


def dicom_truncated_in_a_tag() -> bytes:
    """Cut off in the middle of an element's header, after the file meta."""
    data = dicom_valid()
    at = data.index(b"\x08\x00\x16\x00")  # (0008,0016) SOPClassUID, the dataset's first tag
    return data[: at + 3]


def dicom_malformed_tag() -> bytes:
    """After the file meta, an element with an invalid VR and then noise."""
    data = dicom_valid()
    at = data.index(b"\x08\x00\x16\x00")
    return data[:at] + b"\x08\x00\x16\x00" + b"\xff\xfe" + b"\x00\x10" + b"\x01" * 200


def dicom_only_preamble() -> bytes:
    return b"\x00" * 128 + b"DICM"


def not_dicom() -> bytes:
    return png()
