"""Reading DICOM files into display images, once for every product that accepts them.

A DICOM file is untrusted input like any upload, so every way it can fail ends in
``DicomRejected`` with a precise reason (a 400 for the product), never in another exception
(a 500).  What is decoded, in which order, and which package decodes which transfer syntax
is described in ``docs/dicom.md``; in short:

* the header is parsed by pydicom with ``force=False``: a file must carry the Part 10
  ``DICM`` prefix (without it pydicom would "parse" any bytes, a PNG or a PDF, into a
  dataset of garbage elements);
* the pixel count (Rows x Columns x frames) is checked from the header *before* any pixel
  is decoded, and a compressed frame whose own codestream declares more rows or columns
  than the header is refused too, so that a small file cannot expand to gigabytes; a
  deflated dataset is inflated with a bound before pydicom inflates it;
* only the first frame is decoded, by permissively licensed decoders only (no GPL code);
  GDCM, which aborts the whole process on some corrupt streams, decodes in a child process
  so that such a file costs a rejection, not a worker;
* a monochrome frame goes through the modality LUT, then
  the VOI LUT (a VOI LUT sequence wins over window centre/width), is scaled to 0..1 and
  MONOCHROME1 is inverted so that bright means dense; a colour frame (RGB, YBR_*, palette)
  becomes its luminance.

pydicom's own functions do the DICOM-specific work (``apply_modality_lut``,
``apply_voi_lut``, ``convert_color_space``, ``apply_color_lut``); nothing here imports torch.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import multiprocessing
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, get_frame
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset, read_preamble
from pydicom.multival import MultiValue
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi_lut,
    convert_color_space,
    get_decoder,
)
from pydicom.pixels.decoders.base import Decoder, DecodeRunner
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEG2000TransferSyntaxes,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLELossless,
)
from pydicom.valuerep import PersonName

logger = logging.getLogger(__name__)

Source = str | os.PathLike[str] | bytes

# A deflated dataset is inflated whole, by pydicom, before a single tag is read: this bounds
# what that may cost. 256 MiB holds a 40-megapixel frame at 16 bits three times over.
DEFAULT_MAX_INFLATED_BYTES = 256 * 1024 * 1024

# ITU-R BT.601 luma, the weights DICOM's YBR_FULL defines Y with (PS3.3 C.7.6.3.1.2).
_LUMA = np.array([0.299, 0.587, 0.114])
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_YBR_CONVERTIBLE = ("YBR_FULL", "YBR_FULL_422")
# The plugin this module adds to pydicom for 12-bit JPEG Extended (at the end of the file).
_JPEG_12BIT_PLUGIN = "gdcm-12bit"


class DicomRejected(Exception):
    """A DICOM input that cannot be used; ``message`` says precisely why.

    The product maps it to its own validation wording (a 400); the message is meant for the
    client and the logs, so it names the rule and the values, never a stack trace.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class DicomHeader:
    """The tags a product needs, as plain Python values (``None`` where absent or invalid).

    Kept tolerant on purpose: a header read is for metadata (history, logs), and a tag the
    caller does not need should not make the whole file unreadable. ``read_image`` checks
    the pixel-module values it depends on itself, strictly.
    """

    patient_id: str | None
    patient_name: str | None
    patient_age: str | None
    patient_sex: str | None
    sop_class_uid: str | None
    sop_instance_uid: str | None
    study_instance_uid: str | None
    series_instance_uid: str | None
    study_date: str | None
    modality: str | None
    rows: int | None
    columns: int | None
    number_of_frames: int | None
    photometric_interpretation: str | None
    bits_stored: int | None
    transfer_syntax_uid: str | None


@dataclass(frozen=True)
class DicomImage:
    """The first frame in display orientation and scale, with how it was made.

    ``pixels`` is 2-D float32 in 0..1, bright = dense. ``applied`` lists the steps in the
    order they ran (for logs and tests), e.g. ``("modality:rescale", "voi:window",
    "scale:voi-range", "invert:MONOCHROME1")``.
    """

    pixels: np.ndarray
    header: DicomHeader
    applied: tuple[str, ...]


def read_header(
    source: Source, *, max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES
) -> DicomHeader:
    """The header of a DICOM file, without reading its pixel data.

    Enough to identify the patient and study and to check the image's size before anything
    is decoded; ``stop_before_pixels`` means the pixel bytes are never even parsed.
    """
    return _header(read_header_dataset(source, max_inflated_bytes=max_inflated_bytes))


def read_header_dataset(
    source: Source, *, max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES
) -> Dataset:
    """The header of a DICOM file as pydicom's ``Dataset``, without its pixel data.

    For a product that derives a new instance from the file (a Secondary Capture in the same
    study, ``inference.imaging.secondary_capture``) and so needs the tags as stored; parsed
    with the same checks as ``read_header``.
    """
    return _parse(source, stop_before_pixels=True, max_inflated_bytes=max_inflated_bytes)


def read_image(
    source: Source,
    *,
    max_pixels: int,
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
) -> DicomImage:
    """The first frame of a DICOM image, ready for display or a model (see the module doc).

    ``max_pixels`` bounds Rows x Columns x frames, checked from the header before decoding.
    Every frame counts although only the first is decoded: the file holds them all, and a
    limit per frame would let a file of thousands of frames through.
    """
    ds = _parse(source, stop_before_pixels=False, max_inflated_bytes=max_inflated_bytes)
    header = _header(ds)
    # Every step below names its own reason; this is the net under them, so that nothing a
    # malformed file can make pydicom raise escapes as anything but a rejection.
    with _reasons("corrupted DICOM file"):
        return _display_image(ds, header, max_pixels)


def _display_image(ds: Dataset, header: DicomHeader, max_pixels: int) -> DicomImage:
    """``read_image`` after parsing: every check from the header first, then one decode."""
    if "PixelData" not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise DicomRejected("unsupported pixel data: float pixel data")
        raise DicomRejected("no pixel data")
    rows, columns, frames = _dimensions(ds)
    if rows * columns * frames > max_pixels:
        raise DicomRejected(
            f"image too large: {rows}x{columns}x{frames} pixels, "
            f"more than the {max_pixels:,} allowed"
        )
    transfer_syntax = _transfer_syntax(ds)
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError as exc:
        raise DicomRejected(f"unsupported transfer syntax {transfer_syntax}") from exc
    first: bytes | None = None
    if transfer_syntax.is_encapsulated:
        if not any(_usable_plugins(decoder, transfer_syntax)):
            raise DicomRejected(
                f"unsupported transfer syntax {transfer_syntax} ({transfer_syntax.name}): "
                "no decoder installed"
            )
        first = _first_frame(ds, frames)
        _check_codestream(first, transfer_syntax, ds, rows, columns)
    else:
        _check_native_length(ds)
    frame, properties, plugin = _decode_first_frame(decoder, ds, transfer_syntax, first)

    photometric = str(properties.get("photometric_interpretation", "")).strip().upper()
    if photometric in _MONOCHROME:
        pixels, applied = _monochrome(frame, ds, photometric)
    else:
        pixels, applied = _colour(frame, ds, photometric, properties)
    applied = (f"decoder:{plugin}", *applied)
    if pixels.shape != (rows, columns):
        raise DicomRejected(
            f"corrupted pixel data: decoded {pixels.shape}, the header says {rows}x{columns}"
        )
    if not np.isfinite(pixels).all():
        raise DicomRejected("corrupted pixel data: the frame has non-finite values")
    return DicomImage(pixels=pixels.astype(np.float32), header=header, applied=applied)


def to_png(image: DicomImage | np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a display image (values 0..1), as the product returns it."""
    pixels = image.pixels if isinstance(image, DicomImage) else image
    grey = np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")  # a 2-D uint8 array is mode "L"
    return buffer.getvalue()


# Parsing -----------------------------------------------------------------------------------


@contextmanager
def _reasons(reason: str) -> Iterator[None]:
    """Turn any failure inside into ``DicomRejected(reason)``, logging the original.

    Broad on purpose: pydicom and the C decoders raise whatever they raise (ValueError,
    RuntimeError, struct.error, KeyError, ...) on malformed input, and no malformed input
    may become a 500. The bundled-files test pins every file's outcome, so a genuine bug
    turned into a rejection still fails a test.
    """
    try:
        yield
    except DicomRejected:
        raise
    except MemoryError as exc:
        raise DicomRejected(f"{reason}: too large to decode") from exc
    except Exception as exc:
        logger.info("DICOM rejected (%s): %s: %s", reason, type(exc).__name__, exc)
        raise DicomRejected(reason) from exc


def _open(source: Source) -> IO[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    try:
        return open(source, "rb")
    except OSError as exc:
        raise DicomRejected(f"not a DICOM file: cannot open {os.fspath(source)!r}") from exc


def _parse(source: Source, *, stop_before_pixels: bool, max_inflated_bytes: int) -> Dataset:
    with _open(source) as fp:
        _check_deflate(fp, max_inflated_bytes)
        fp.seek(0)
        try:
            ds = dcmread(fp, force=False, stop_before_pixels=stop_before_pixels)
            # pydicom converts elements lazily, on first access; converting the top level
            # now turns a malformed element (an unknown VR, a bad length) into one clear
            # reason here rather than an error wherever it is first touched.
            _check_declared_lengths(ds)
            for _element in ds:
                pass
            return ds
        except DicomRejected:
            raise
        except InvalidDicomError as exc:
            raise DicomRejected("not a DICOM file") from exc
        except Exception as exc:
            logger.info("DICOM rejected (header): %s: %s", type(exc).__name__, exc)
            raise DicomRejected("corrupted DICOM file: the header cannot be parsed") from exc


#: The length an element of undefined length (a sequence, encapsulated pixel data) declares.
UNDEFINED_LENGTH = 0xFFFFFFFF
PIXEL_DATA = 0x7FE00010


def _check_declared_lengths(ds: Dataset) -> None:
    """Refuse an element whose declared length runs past the end of the file.

    pydicom reads such a value as whatever bytes are left, so a file whose pixel data claims
    4 GB would otherwise be analysed as if nothing were wrong with it: a corrupt header is
    refused, not guessed at (issue 20, item 8).
    """
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        if not isinstance(raw, RawDataElement) or raw.length == UNDEFINED_LENGTH:
            continue
        if not isinstance(raw.value, bytes) or len(raw.value) >= raw.length:
            continue
        if raw.tag == PIXEL_DATA:
            raise DicomRejected(
                f"corrupted pixel data: truncated ({len(raw.value):,} of {raw.length:,} bytes)"
            )
        raise DicomRejected(
            f"corrupted DICOM file: element {raw.tag} declares {raw.length:,} bytes, "
            f"the file holds {len(raw.value):,}"
        )


def _check_deflate(fp: IO[bytes], max_inflated_bytes: int) -> None:
    """Refuse a deflated dataset that would inflate past the bound, before pydicom does.

    pydicom inflates the whole dataset with one unbounded ``zlib.decompress``; a few
    megabytes of zeros deflate a thousandfold, so the size is measured here first, in
    chunks, discarding the output.
    """
    try:
        read_preamble(fp, False)
    except InvalidDicomError as exc:
        raise DicomRejected("not a DICOM file (no DICM prefix)") from exc
    with _reasons("corrupted DICOM file: the file meta information cannot be parsed"):
        meta = read_dataset(
            fp,
            is_implicit_VR=False,
            is_little_endian=True,
            stop_when=lambda tag, vr, length: tag >> 16 != 2,
        )
        syntax = meta.get("TransferSyntaxUID")
    if syntax != DeflatedExplicitVRLittleEndian:
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending = fp.read()
    inflated = 0
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, 1 << 20)
            inflated += len(chunk)
            if inflated > max_inflated_bytes:
                raise DicomRejected(
                    f"image too large: the deflated dataset inflates past "
                    f"{max_inflated_bytes:,} bytes"
                )
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                break  # truncated stream: pydicom reports it
    except zlib.error as exc:
        raise DicomRejected("corrupted DICOM file: invalid deflated data") from exc


# Header ------------------------------------------------------------------------------------


def _header(ds: Dataset) -> DicomHeader:
    with _reasons("corrupted DICOM file: the header cannot be read"):
        meta = getattr(ds, "file_meta", None)
        syntax = meta.get("TransferSyntaxUID") if meta is not None else None
        return DicomHeader(
            patient_id=_text(ds, "PatientID"),
            patient_name=_person_name(ds),
            patient_age=_text(ds, "PatientAge"),
            patient_sex=_text(ds, "PatientSex"),
            sop_class_uid=_text(ds, "SOPClassUID"),
            sop_instance_uid=_text(ds, "SOPInstanceUID"),
            study_instance_uid=_text(ds, "StudyInstanceUID"),
            series_instance_uid=_text(ds, "SeriesInstanceUID"),
            study_date=_text(ds, "StudyDate"),
            modality=_text(ds, "Modality"),
            rows=_integer(ds, "Rows"),
            columns=_integer(ds, "Columns"),
            number_of_frames=_integer(ds, "NumberOfFrames"),
            photometric_interpretation=_text(ds, "PhotometricInterpretation"),
            bits_stored=_integer(ds, "BitsStored"),
            transfer_syntax_uid=str(syntax) if syntax else None,
        )


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    if isinstance(value, MultiValue):
        value = "\\".join(str(item) for item in value)
    text = str(value).strip()
    return text or None


def _person_name(ds: Dataset) -> str | None:
    """The name as readable text: its components in DICOM order, separated by spaces.

    ``Doe^John^^Dr`` becomes ``Doe John Dr``; of the alphabetic, ideographic and phonetic
    representations the first one present is used.
    """
    value = ds.get("PatientName")
    if value is None:
        return None
    if not isinstance(value, PersonName):
        value = PersonName(str(value))
    for group in (value.alphabetic, value.ideographic, value.phonetic):
        text = " ".join(part.strip() for part in str(group).split("^") if part.strip())
        if text:
            return text
    return None


def _integer(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# Pixels ------------------------------------------------------------------------------------


def _dimensions(ds: Dataset) -> tuple[int, int, int]:
    """Rows, Columns and frames from the header, each a positive integer, or a rejection."""
    found = []
    for keyword, default in (("Rows", None), ("Columns", None), ("NumberOfFrames", 1)):
        raw = ds.get(keyword, default)
        if raw is None or raw == "":
            if default is None:
                raise DicomRejected(f"invalid header: {keyword} is missing")
            raw = default
        try:
            value = int(raw)
        except (TypeError, ValueError) as exc:
            raise DicomRejected(f"invalid header: {keyword} {str(raw)!r}") from exc
        if value < 1:
            raise DicomRejected(f"invalid header: {keyword} {value}")
        found.append(value)
    return found[0], found[1], found[2]


def _transfer_syntax(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if not syntax:
        raise DicomRejected("invalid header: no transfer syntax in the file meta information")
    syntax = UID(str(syntax))
    if not syntax.is_valid:
        raise DicomRejected(f"invalid header: transfer syntax UID {str(syntax)!a}")
    if not syntax.is_transfer_syntax:
        raise DicomRejected(f"unsupported transfer syntax {syntax}")
    return syntax


def _first_frame(ds: Dataset, frames: int) -> bytes:
    """The first frame's encoded bytes, found the way pydicom's decoders find them."""
    with _reasons("corrupted pixel data: the first frame cannot be found"):
        offsets = None
        if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
            offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
        return get_frame(ds.PixelData, 0, number_of_frames=frames, extended_offsets=offsets)


def _check_codestream(first: bytes, syntax: UID, ds: Dataset, rows: int, columns: int) -> None:
    """Refuse a compressed first frame whose codestream declares more pixels than the header.

    The decoders allocate what the codestream says, not what the header says, so a 10x10
    header over a 60000x60000 JPEG would pass the header check and still exhaust memory
    (as would 16,384 components where the header says one sample per pixel).
    """
    if syntax in JPEG2000TransferSyntaxes:
        size = _j2k_size(first)
    elif syntax in JPEGTransferSyntaxes or syntax in JPEGLSTransferSyntaxes:
        size = _jpeg_size(first)
    else:
        return  # RLE: decoded to the header's size, whatever the segments say
    if size is None:
        raise DicomRejected(f"corrupted pixel data: no {syntax.name} frame header")
    if size[0] > rows or size[1] > columns:
        raise DicomRejected(
            f"corrupted pixel data: the codestream is {size[0]}x{size[1]}, "
            f"the header says {rows}x{columns}"
        )
    samples = _integer(ds, "SamplesPerPixel") or 1
    if size[2] > samples:
        raise DicomRejected(
            f"corrupted pixel data: the codestream has {size[2]} components, "
            f"the header says {samples} samples per pixel"
        )


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, components) from a JPEG or JPEG-LS start-of-frame segment, or None."""
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length field
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before a frame header
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_SOF:
            if position + 10 > len(data):
                return None
            height, width, components = struct.unpack(">HHB", data[position + 5 : position + 10])
            return height, width, components
        position += 2 + length
    return None


def _j2k_size(data: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, components) from a JPEG 2000 SIZ segment (bare or inside a JP2)."""
    start = data.find(b"\xff\x4f\xff\x51", 0, 4096)
    if start < 0 or start + 42 > len(data):
        return None
    x_size, y_size, x_offset, y_offset = struct.unpack(">IIII", data[start + 8 : start + 24])
    (components,) = struct.unpack(">H", data[start + 40 : start + 42])
    return max(y_size - y_offset, 0), max(x_size - x_offset, 0), components


def _check_native_length(ds: Dataset) -> None:
    """Name truncated uncompressed pixel data as such (pydicom would refuse it anyway)."""
    with _reasons("corrupted pixel data: the header's pixel module is inconsistent"):
        expected = get_expected_length(ds, unit="bytes")
    found = len(ds.PixelData)
    if found < expected:
        raise DicomRejected(f"corrupted pixel data: truncated ({found:,} of {expected:,} bytes)")


# Which decoder decodes what (docs/dicom.md). pydicom tries every installed plugin in its own
# order, GDCM first; here the order is ours. In this process only plugins that report a
# corrupt stream as an exception: GDCM aborts the whole process on some (a C++ exception
# through its Python binding, e.g. an unknown Adobe colour transform in a JPEG Lossless
# frame), which on a worker would take every request in flight and the loaded models with
# it. GDCM is still the only permissive decoder of JPEG Lossless and 12-bit JPEG Extended,
# and the fallback for the rest, so it runs in a child process (``_decode_isolated``).
# A plugin named in neither list (pylibjpeg-libjpeg, should it ever be installed) is unused.
_IN_PROCESS_PLUGINS: dict[str, tuple[str, ...]] = {
    JPEGBaseline8Bit: ("pillow",),
    JPEGExtended12Bit: ("pillow",),  # 8-bit samples only
    JPEGLSLossless: ("pyjpegls",),
    JPEGLSNearLossless: ("pyjpegls",),
    JPEG2000Lossless: ("pylibjpeg", "pillow"),
    JPEG2000: ("pylibjpeg", "pillow"),
    HTJ2KLossless: ("pylibjpeg",),
    HTJ2KLosslessRPCL: ("pylibjpeg",),
    HTJ2K: ("pylibjpeg",),
    # pylibjpeg-rle is ~10x faster than pydicom's numpy decoder (a 5 MP 16-bit frame:
    # ~0.05 s against ~0.5 s); on corrupt input it raises a Rust panic, caught below.
    RLELossless: ("pylibjpeg", "pydicom"),
}
_ISOLATED_PLUGINS = ("gdcm", _JPEG_12BIT_PLUGIN)
_ISOLATED_WORKERS = 2
_PIXEL_MODULE = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
)
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _usable_plugins(decoder: Decoder, syntax: UID) -> tuple[list[str], list[str]]:
    """(in-process, isolated) plugins installed for ``syntax``, in the order to try them."""
    available = decoder.available_plugins
    in_process = [name for name in _IN_PROCESS_PLUGINS.get(syntax, ()) if name in available]
    isolated = [name for name in _ISOLATED_PLUGINS if name in available]
    return in_process, isolated


def _decode_first_frame(
    decoder: Decoder, ds: Dataset, syntax: UID, first: bytes | None
) -> tuple[np.ndarray, dict[str, Any], str]:
    """The first frame as stored, the pixel properties it came out with, and who decoded it.

    ``raw=True``: colour conversion is ours to do (and to record); the returned properties
    say what the decoder actually produced (a JPEG 2000 YBR_ICT frame comes back as RGB).
    """
    if first is None:  # native: pydicom reads it, nothing to go wrong but the layout
        with _reasons("corrupted pixel data"):
            frame, properties = decoder.as_array(ds, index=0, raw=True)
        return frame, properties, "pydicom"
    in_process, isolated = _usable_plugins(decoder, syntax)
    for plugin in in_process:
        try:
            frame, properties = decoder.as_array(ds, index=0, raw=True, decoding_plugin=plugin)
        except BaseException as exc:
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise  # KeyboardInterrupt and the like; a pyo3 panic is only a failed decode
            logger.info("DICOM: plugin %s failed: %s: %s", plugin, type(exc).__name__, exc)
            continue
        return frame, properties, plugin
    if not isolated:
        raise DicomRejected("corrupted pixel data")
    return _decode_isolated(_first_frame_dataset(ds, syntax, first), isolated)


def _first_frame_dataset(ds: Dataset, syntax: UID, first: bytes) -> Dataset:
    """Just what a decoder needs for the first frame: the pixel module and that frame."""
    small = Dataset()
    small.file_meta = FileMetaDataset()
    small.file_meta.TransferSyntaxUID = syntax
    for keyword in _PIXEL_MODULE:
        if keyword in ds:
            small[keyword] = ds[keyword]
    small.PixelData = encapsulate([first])
    small["PixelData"].is_undefined_length = True
    return small


def _decode_isolated(small: Dataset, plugins: list[str]) -> tuple[np.ndarray, dict[str, Any], str]:
    """Decode in a child process, so that a decoder that aborts takes only the child.

    A pool of spawned processes (fork is unsafe in a threaded worker), started on first use
    and replaced when a child dies.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=_ISOLATED_WORKERS, mp_context=multiprocessing.get_context("spawn")
            )
        pool = _pool
    try:
        frame, properties, plugin = pool.submit(_decode_in_child, small, plugins).result()
    except BrokenProcessPool as exc:
        with _pool_lock:
            if _pool is pool:
                _pool = None
        pool.shutdown(wait=False)
        logger.warning("DICOM: a decoder crashed its process (%s)", ", ".join(plugins))
        raise DicomRejected("corrupted pixel data: the decoder crashed on it") from exc
    except Exception as exc:
        logger.info("DICOM: isolated decode failed: %s: %s", type(exc).__name__, exc)
        raise DicomRejected("corrupted pixel data") from exc
    return frame, properties, f"{plugin} (isolated)"


def _decode_in_child(small: Dataset, plugins: list[str]) -> tuple[np.ndarray, dict[str, Any], str]:
    """Runs in the child: the first plugin that decodes the frame."""
    decoder = get_decoder(small.file_meta.TransferSyntaxUID)
    failures = []
    for plugin in plugins:
        try:
            frame, properties = decoder.as_array(small, index=0, raw=True, decoding_plugin=plugin)
        except Exception as exc:
            failures.append(f"{plugin}: {type(exc).__name__}: {exc}")
            continue
        return frame, dict(properties), plugin
    raise ValueError("; ".join(failures))


def _monochrome(
    frame: np.ndarray, ds: Dataset, photometric: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Modality LUT, VOI LUT, scale to 0..1, MONOCHROME1 inverted (PS3.4 N.2.1)."""
    applied: list[str] = []
    values: np.ndarray = frame
    with _reasons("invalid modality LUT"):
        if ds.get("ModalityLUTSequence"):
            applied.append("modality:lut")
        elif "RescaleSlope" in ds and "RescaleIntercept" in ds:
            applied.append("modality:rescale")
        values = apply_modality_lut(values, ds)
    with _reasons("invalid VOI LUT or window centre/width"):
        voi_range: tuple[float, float] | None = None
        if _has_voi_lut(ds):
            applied.append("voi:lut")
            voi_range = _voi_lut_range(ds)
        elif ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
            applied.append("voi:window")
            # The output range is whatever the window maps -inf and +inf to: pydicom's own
            # y_min and y_max, for LINEAR, LINEAR_EXACT and SIGMOID alike.
            with np.errstate(over="ignore"):
                extremes = apply_voi_lut(np.array([-1e300, 1e300]), ds, index=0)
            voi_range = float(extremes[0]), float(extremes[1])
        values = apply_voi_lut(values, ds, index=0)
    values = values.astype(np.float64)
    if voi_range is None:
        # No VOI in the file: the frame's own range, as a viewer's default window shows it.
        applied.append("scale:frame-range")
        low, high = float(values.min()), float(values.max())
    else:
        applied.append("scale:voi-range")
        low, high = voi_range
    values = _scale(values, low, high)
    if photometric == "MONOCHROME1":
        values = 1.0 - values
        applied.append("invert:MONOCHROME1")
    return values, tuple(applied)


def _has_voi_lut(ds: Dataset) -> bool:
    """Whether ``apply_voi_lut`` will use the VOI LUT sequence (its own test, restated)."""
    sequence = ds.get("VOILUTSequence")
    if not sequence:
        return False
    item = sequence[0]
    return item.get("LUTDescriptor") is not None and item.get("LUTData") is not None


def _voi_lut_range(ds: Dataset) -> tuple[float, float]:
    """The lowest and highest value the first VOI LUT can output.

    Taken from the table's entries rather than its declared bit depth: many files declare
    16 bits for a LUT whose entries stop at 4095, which would otherwise display as black.
    """
    entries, first, _bits = (int(v) for v in ds.VOILUTSequence[0].LUTDescriptor)
    domain = np.arange(first, first + (entries or 65536), dtype=np.int64)
    outputs = apply_voi_lut(domain, ds, index=0)
    return float(outputs.min()), float(outputs.max())


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if not (np.isfinite(low) and np.isfinite(high)):
        raise DicomRejected("corrupted pixel data: the frame has non-finite values")
    if high <= low:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def _colour(
    frame: np.ndarray, ds: Dataset, photometric: str, properties: dict[str, Any]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Luminance of an RGB, YBR or palette frame, scaled by the stored bit depth."""
    applied: list[str] = []
    bits = int(properties.get("bits_stored") or ds.get("BitsStored") or 8)
    if photometric == "PALETTE COLOR":
        with _reasons("invalid palette colour lookup table"):
            frame = apply_color_lut(frame, ds)[..., :3]
        applied.append("colour:PALETTE COLOR->RGB")
        bits = 8 if frame.dtype == np.uint8 else 16
        photometric = "RGB"
    elif photometric in _YBR_CONVERTIBLE:
        if frame.dtype != np.uint8:
            raise DicomRejected(
                f"unsupported photometric interpretation {photometric} above 8 bits"
            )
        frame = convert_color_space(frame, photometric, "RGB")
        applied.append(f"colour:{photometric}->RGB")
        photometric = "RGB"
    if photometric != "RGB" or frame.ndim != 3 or frame.shape[-1] != 3:
        raise DicomRejected(f"unsupported photometric interpretation {photometric or '(none)'}")
    luminance = frame.astype(np.float64) @ _LUMA
    applied.append("luminance:BT.601")
    applied.append(f"scale:{bits}-bit")
    return _scale(luminance, 0.0, float(2**bits - 1)), tuple(applied)


# 12-bit JPEG Extended ----------------------------------------------------------------------
#
# pydicom 3.0's GDCM plugin refuses 12-bit JPEG Extended (1.2.840.10008.1.2.4.51) outright,
# leaving only pylibjpeg-libjpeg (GPLv3) for it. GDCM itself decodes it: python-gdcm 3.2.6
# gives pydicom's own reference values for JPGExtended.dcm (244 at [420, 140], 95 at
# [230, 120]), so this plugin hands such frames to GDCM the way pydicom's plugin does for
# every other JPEG. It is tried after pydicom's plugins, only when they have all failed.
# The two names below are pydicom's plugin protocol (``Decoder.add_plugin`` asks for them).

DECODER_DEPENDENCIES = {JPEGExtended12Bit: ("numpy", "gdcm")}


def is_available(uid: str) -> bool:
    """pydicom's plugin protocol: whether this module can decode ``uid`` here."""
    return uid == JPEGExtended12Bit and importlib.util.find_spec("gdcm") is not None


def _decode_jpeg_12bit(src: bytes, runner: DecodeRunner) -> bytes:
    """One 12-bit monochrome JPEG Extended frame, decoded by GDCM, as 16-bit samples."""
    if runner.bits_stored <= 8 or runner.samples_per_pixel != 1 or runner.bits_allocated != 16:
        raise NotImplementedError("only 12-bit monochrome JPEG Extended in 16 bits allocated")
    import gdcm

    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(src)
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    element.SetValue(fragments.__ref__())
    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((runner.columns, runner.rows, 1))
    image.SetDataElement(element)
    photometric = gdcm.PhotometricInterpretation.GetPIType(runner.photometric_interpretation)
    image.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(photometric))
    image.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGExtendedProcess2_4))
    bits = runner.bits_stored
    image.SetPixelFormat(gdcm.PixelFormat(1, 16, bits, bits - 1, runner.pixel_representation))
    # GDCM returns char* as str; pydicom's own plugin re-encodes it the same way.
    frame = image.GetBuffer().encode("utf-8", "surrogateescape")
    if len(frame) != runner.rows * runner.columns * 2:
        raise ValueError(f"GDCM returned {len(frame)} bytes for a 12-bit JPEG Extended frame")
    return frame


def _register_jpeg_12bit_plugin() -> None:
    decoder = get_decoder(JPEGExtended12Bit)
    if _JPEG_12BIT_PLUGIN in decoder.available_plugins or not is_available(JPEGExtended12Bit):
        return
    decoder.add_plugin(_JPEG_12BIT_PLUGIN, (__name__, "_decode_jpeg_12bit"))


_register_jpeg_12bit_plugin()
