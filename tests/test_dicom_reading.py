"""DICOM reading (``inference.imaging.dicom``): every bundled pydicom test file, and the
display pipeline on synthetic datasets.

Every file shipped in the installed pydicom's ``data/test_files`` tree is read, whatever its
extension (the JSON, text, ICC and gzip helpers there are inputs a client could send too):
each either gives a display image or a ``DicomRejected`` whose message is the one listed in
``REJECTED`` below, by path, so a new rejection, a changed reason or a file that starts to
decode all fail a test. Nothing here may reach the network: pydicom has no setting that
forbids downloads (``get_testdata_file`` downloads whatever is missing locally), so the
module replaces its download functions and socket connections with ones that fail and
record, and checks at the end that nothing called them.
"""

from __future__ import annotations

import importlib.metadata
import io
import pathlib
import socket
from collections.abc import Iterator
from typing import Any

import gdcm
import numpy as np
import pydicom
import pydicom.data.data_manager
import pydicom.data.download
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space, get_decoder
from pydicom.pixels.decoders.base import Decoder
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from inference.imaging import dicom
from inference.imaging.dicom import DicomImage, DicomRejected, read_header, read_image, to_png

TEST_FILES = pathlib.Path(pydicom.data.__file__).parent / "test_files"
BUNDLED = sorted(p.relative_to(TEST_FILES).as_posix() for p in TEST_FILES.rglob("*") if p.is_file())
MAX_PIXELS = 40_000_000

_NOT_DICOM = "not a DICOM file (no DICM prefix)"
_NO_PIXELS = "no pixel data"
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The bundled files allowed a 400, with the exact reason each gets. Everything else decodes.
REJECTED: dict[str, str] = {
    # Not Part 10 files: no 128-byte preamble and "DICM" prefix (read with force=False).
    "ExplVR_BigEndNoMeta.dcm": _NOT_DICOM,
    "ExplVR_LitEndNoMeta.dcm": _NOT_DICOM,
    "no_meta.dcm": _NOT_DICOM,
    "rtstruct.dcm": _NOT_DICOM,
    # Helper files that are not DICOM at all.
    "README.txt": _NOT_DICOM,
    "dicomdirtests/README.txt": _NOT_DICOM,
    "dicomdirtests/TINY_ALPHA/README": _NOT_DICOM,
    "crayons.icc": _NOT_DICOM,
    "rtplan.dump": _NOT_DICOM,
    "rtstruct.dump": _NOT_DICOM,
    "test1.json": _NOT_DICOM,
    "test_PN.json": _NOT_DICOM,
    "zipMR.gz": _NOT_DICOM,
    # Corrupt on purpose.
    "JPEG2000-embedded-sequence-delimiter.dcm": (
        "corrupted pixel data: the codestream is 1024x3722445056, the header says 1024x256"
    ),
    "MR_truncated.dcm": "corrupted pixel data: truncated (8,130 of 8,192 bytes)",
    "badVR.dcm": "invalid header: NumberOfFrames '1A'",
    # Pixel Data without the pixel module (Rows, Columns, ...).
    "meta_missing_tsyntax.dcm": "invalid header: Rows is missing",
    "nested_priv_SQ.dcm": "invalid header: Rows is missing",
    # No image at all: directories, reports, plans, waveforms, private-sequence samples.
    "UN_sequence.dcm": _NO_PIXELS,
    "dicomdirtests/DICOMDIR": _NO_PIXELS,
    "dicomdirtests/DICOMDIR-bigEnd": _NO_PIXELS,
    "dicomdirtests/DICOMDIR-empty.dcm": _NO_PIXELS,
    "dicomdirtests/DICOMDIR-implicit": _NO_PIXELS,
    "dicomdirtests/DICOMDIR-nooffset": _NO_PIXELS,
    "dicomdirtests/DICOMDIR-nopatient": _NO_PIXELS,
    "dicomdirtests/DICOMDIR-reordered": _NO_PIXELS,
    "dicomdirtests/TINY_ALPHA/DICOMDIR": _NO_PIXELS,
    **{  # the 50 TINY_ALPHA records IM000000 .. IM00001D (base 36) carry no pixel data
        f"dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM0000{n // 36}{_BASE36[n % 36]}": (
            _NO_PIXELS
        )
        for n in range(50)
    },
    "empty_charset_LEI.dcm": _NO_PIXELS,
    "no_meta_group_length.dcm": _NO_PIXELS,
    "priv_SQ.dcm": _NO_PIXELS,
    "reportsi.dcm": _NO_PIXELS,
    "reportsi_with_empty_number_tags.dcm": _NO_PIXELS,
    "rtplan.dcm": _NO_PIXELS,
    "rtplan_truncated.dcm": "corrupted DICOM file: element (300A,00B0) declares 976 bytes, "
    "the file holds 711",
    "test-SR.dcm": _NO_PIXELS,
    "waveform_ecg.dcm": _NO_PIXELS,
}

# The transfer syntaxes the chest X-ray product must read, each with at least one bundled
# file that decodes (JPEG Lossless Process 14, .57, has no bundled file: synthetic below).
REQUIRED_SYNTAXES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended (12-bit)",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}
# Who decodes each syntax (docs/dicom.md): never GDCM in this process.
EXPECTED_DECODERS = {
    "1.2.840.10008.1.2.4.50": {"pillow"},
    "1.2.840.10008.1.2.4.51": {"gdcm-12bit (isolated)"},
    "1.2.840.10008.1.2.4.70": {"gdcm (isolated)"},
    "1.2.840.10008.1.2.4.80": {"pyjpegls"},
    "1.2.840.10008.1.2.4.81": {"pyjpegls"},
    "1.2.840.10008.1.2.4.90": {"pylibjpeg"},
    "1.2.840.10008.1.2.4.91": {"pylibjpeg"},
    "1.2.840.10008.1.2.5": {"pylibjpeg"},
}


# The network guard -------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[list[str]]:
    """pydicom's downloads and every socket connection fail, and are recorded."""
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def refused(*args: object, **kwargs: object) -> None:
            attempts.append(f"{what}{args!r}")
            raise AssertionError(f"a DICOM test tried the network: {what}{args!r}")

        return refused

    with pytest.MonkeyPatch.context() as patch:
        for module in (pydicom.data.download, pydicom.data.data_manager):
            patch.setattr(module, "data_path_with_download", refuse("download"))
        patch.setattr(pydicom.data.download, "download_with_progress", refuse("download"))
        patch.setattr(pydicom.data.data_manager, "fetch_data_files", refuse("fetch_data_files"))
        patch.setattr(socket.socket, "connect", refuse("socket.connect"))
        patch.setattr(socket, "create_connection", refuse("socket.create_connection"))
        yield attempts
    assert attempts == [], attempts


def test_no_test_tried_the_network(no_network: list[str]) -> None:
    # Re-checked at module teardown too; this one reports early and keeps the guard honest.
    with pytest.raises(AssertionError, match="tried the network"):
        pydicom.data.data_manager.fetch_data_files()
    no_network.clear()


# Bundled files -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcomes(no_network: list[str]) -> dict[str, DicomImage | DicomRejected | BaseException]:
    """Every bundled file read once: the image, the rejection, or whatever else escaped."""
    found: dict[str, DicomImage | DicomRejected | BaseException] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dicom.logger, "disabled", True)
        for name in BUNDLED:
            try:
                found[name] = read_image(TEST_FILES / name, max_pixels=MAX_PIXELS)
            except DicomRejected as exc:
                found[name] = exc
            except Exception as exc:  # reported per file by the test below
                found[name] = exc
    return found


def test_the_bundled_files_are_installed() -> None:
    assert len(BUNDLED) > 150, f"pydicom's test files are missing under {TEST_FILES}"
    assert {"CT_small.dcm", "JPGExtended.dcm", "image_dfl.dcm"} <= set(BUNDLED)


def test_the_rejection_table_names_only_bundled_files() -> None:
    assert sorted(set(REJECTED) - set(BUNDLED)) == []


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_file_decodes_or_is_rejected_as_listed(
    name: str, outcomes: dict[str, DicomImage | DicomRejected | BaseException]
) -> None:
    outcome = outcomes[name]
    if isinstance(outcome, DicomRejected):
        assert name in REJECTED, f"{name} is newly rejected: {outcome.message!r}"
        assert outcome.message == REJECTED[name]
        return
    assert isinstance(outcome, DicomImage), f"{name} raised {outcome!r}, not DicomRejected"
    assert name not in REJECTED, f"{name} decodes now: take it out of REJECTED"
    pixels = outcome.pixels
    assert pixels.ndim == 2
    assert pixels.dtype == np.float32
    assert pixels.shape == (outcome.header.rows, outcome.header.columns)
    assert np.isfinite(pixels).all()
    assert pixels.min() >= 0.0
    assert pixels.max() <= 1.0


@pytest.mark.parametrize("uid", sorted(REQUIRED_SYNTAXES))
def test_transfer_syntax_has_a_bundled_file_that_decodes(
    uid: str, outcomes: dict[str, DicomImage | DicomRejected | BaseException]
) -> None:
    decoded = {
        name: outcome.applied[0].removeprefix("decoder:")
        for name, outcome in outcomes.items()
        if isinstance(outcome, DicomImage) and outcome.header.transfer_syntax_uid == uid
    }
    assert decoded, f"no bundled {REQUIRED_SYNTAXES[uid]} file decodes"
    if uid in EXPECTED_DECODERS:
        assert set(decoded.values()) <= EXPECTED_DECODERS[uid], decoded


def test_counts(outcomes: dict[str, DicomImage | DicomRejected | BaseException]) -> None:
    decoded = [n for n, o in outcomes.items() if isinstance(o, DicomImage)]
    rejected = [n for n, o in outcomes.items() if isinstance(o, DicomRejected)]
    assert len(decoded) + len(rejected) == len(BUNDLED)
    assert len(rejected) == len(REJECTED)


def test_12_bit_jpeg_extended_matches_pydicoms_reference_values() -> None:
    # pydicom's own pixel references for these two files (tests/pixels/pixels_reference.py):
    # 244 at [420, 140] and 95 at [230, 120]; pydicom 3's GDCM plugin refuses 12-bit JPEG.
    decoder = get_decoder(JPEGExtended12Bit)
    for name in ("JPGExtended.dcm", "JPEG-lossy.dcm"):
        ds = pydicom.dcmread(TEST_FILES / name)
        frame, _ = decoder.as_array(ds, index=0, raw=True, decoding_plugin="gdcm-12bit")
        assert (frame[420, 140], frame[230, 120]) == (244, 95)


# Synthetic datasets ------------------------------------------------------------------------


def make_dataset(
    pixels: np.ndarray, photometric: str = "MONOCHROME2", bits_stored: int | None = None
) -> Dataset:
    """A DX image with ``pixels`` (frames first if 3-D and monochrome), explicit VR LE."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "DX"
    ds.set_pixel_data(pixels, photometric, bits_stored or pixels.dtype.itemsize * 8)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def gradient(rows: int = 32, columns: int = 48, top: int = 4095) -> np.ndarray:
    return np.linspace(0, top, rows * columns).reshape(rows, columns).round().astype(np.uint16)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records every call into pydicom's decoders (their ``as_array``)."""
    calls: list[dict[str, Any]] = []
    original = Decoder.as_array

    def spy(self: Decoder, src: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, src, **kwargs)

    monkeypatch.setattr(Decoder, "as_array", spy)
    return calls


def test_monochrome1_is_inverted_so_bright_is_dense() -> None:
    stored = gradient()
    mono2 = read_image(to_bytes(make_dataset(stored, bits_stored=12)), max_pixels=MAX_PIXELS)
    mono1 = read_image(
        to_bytes(make_dataset(stored, "MONOCHROME1", bits_stored=12)), max_pixels=MAX_PIXELS
    )
    np.testing.assert_allclose(mono1.pixels, 1.0 - mono2.pixels, atol=1e-6)
    assert mono1.pixels[0, 0] == 1.0  # the lowest stored value is the densest in MONOCHROME1
    assert mono1.applied[-1] == "invert:MONOCHROME1"
    assert "invert:MONOCHROME1" not in mono2.applied


def test_rescale_is_applied_before_the_window() -> None:
    # Stored 0..4095 with intercept -1024 are HU -1024..3071; a soft-tissue window 40/400.
    stored = np.array([[0, 864, 1064, 1264, 4095]], dtype=np.uint16)  # HU -1024 -160 40 240
    ds = make_dataset(stored, bits_stored=12)
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    image = read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert image.applied[1:3] == ("modality:rescale", "voi:window")
    np.testing.assert_allclose(image.pixels[0], [0.0, 0.0, 0.5, 1.0, 1.0], atol=0.01)


def test_rescale_slope_scales_values() -> None:
    stored = np.array([[0, 100, 200, 300]], dtype=np.uint16)
    ds = make_dataset(stored, bits_stored=12)
    ds.RescaleSlope, ds.RescaleIntercept = 2, 0  # 0 200 400 600
    ds.WindowCenter, ds.WindowWidth = 300, 601  # LINEAR: 0..600 spans the output range
    image = read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    np.testing.assert_allclose(image.pixels[0], [0.0, 1 / 3, 2 / 3, 1.0], atol=0.01)


def _voi_lut_dataset(entries: list[int], bits: int) -> Dataset:
    ds = make_dataset(np.array([[0, 1, 2, 3]], dtype=np.uint16), bits_stored=12)
    item = Dataset()
    item.LUTDescriptor = [len(entries), 0, bits]
    item.add_new("LUTData", "US", entries)  # ambiguous "US or OW": a list of values is US
    ds.VOILUTSequence = Sequence([item])
    return ds


def test_a_voi_lut_sequence_wins_over_window_centre_width() -> None:
    ds = _voi_lut_dataset([255, 170, 85, 0], bits=8)  # decreasing: the window would increase
    ds.WindowCenter, ds.WindowWidth = 2, 4
    image = read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert "voi:lut" in image.applied
    assert "voi:window" not in image.applied
    np.testing.assert_allclose(image.pixels[0], [1.0, 2 / 3, 1 / 3, 0.0], atol=1e-6)


def test_a_voi_lut_is_scaled_by_its_entries_not_its_declared_depth() -> None:
    # Declared 16 bits, entries up to 4095 (common in the field): the top entry is white.
    image = read_image(to_bytes(_voi_lut_dataset([0, 1365, 2730, 4095], bits=16)), max_pixels=99)
    np.testing.assert_allclose(image.pixels[0], [0.0, 1 / 3, 2 / 3, 1.0], atol=1e-6)


def test_12_bits_stored_in_16_allocated_ignores_the_unused_high_bits() -> None:
    clean = gradient()
    ds = make_dataset(clean, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelData = (clean | 0xF000).tobytes()  # garbage above bit 12, as overlays once were
    image = read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert image.header.bits_stored == 12
    np.testing.assert_allclose(image.pixels, clean / 4095.0, atol=1e-3)


def test_multi_frame_gives_the_first_frame(decodes: list[dict[str, Any]]) -> None:
    frames = np.stack([gradient(), np.full((32, 48), 4095, np.uint16), np.zeros((32, 48))])
    ds = make_dataset(frames.astype(np.uint16), bits_stored=12)
    ds.compress(RLELossless)
    image = read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert image.header.number_of_frames == 3
    np.testing.assert_allclose(image.pixels, gradient() / 4095.0, atol=1e-6)
    assert [call["index"] for call in decodes] == [0]  # only the first frame was decoded


def _colour_blocks() -> np.ndarray:
    rgb = np.zeros((8, 12, 3), dtype=np.uint8)
    rgb[:, 0:4, 0] = 255  # red
    rgb[:, 4:8, 1] = 255  # green
    rgb[:, 8:12, 2] = 255  # blue
    return rgb


def test_rgb_becomes_its_luminance() -> None:
    image = read_image(to_bytes(make_dataset(_colour_blocks(), "RGB")), max_pixels=MAX_PIXELS)
    np.testing.assert_allclose(image.pixels[0, [0, 4, 8]], [0.299, 0.587, 0.114], atol=1e-6)
    assert image.applied[1:] == ("luminance:BT.601", "scale:8-bit")


def test_ybr_full_is_converted_to_rgb_then_luminance() -> None:
    rgb = read_image(to_bytes(make_dataset(_colour_blocks(), "RGB")), max_pixels=MAX_PIXELS)
    ybr = convert_color_space(_colour_blocks(), "RGB", "YBR_FULL")
    image = read_image(to_bytes(make_dataset(ybr, "YBR_FULL")), max_pixels=MAX_PIXELS)
    assert "colour:YBR_FULL->RGB" in image.applied
    np.testing.assert_allclose(image.pixels, rgb.pixels, atol=2 / 255)


def test_the_size_limit_refuses_before_decoding(decodes: list[dict[str, Any]]) -> None:
    frames = np.zeros((3, 64, 64), dtype=np.uint16)
    data = to_bytes(make_dataset(frames, bits_stored=12))
    with pytest.raises(DicomRejected) as refused:
        read_image(data, max_pixels=64 * 64 * 3 - 1)  # one frame would fit; the file does not
    assert refused.value.message == (
        "image too large: 64x64x3 pixels, more than the 12,287 allowed"
    )
    assert decodes == []
    assert read_image(data, max_pixels=64 * 64 * 3).pixels.shape == (64, 64)


def _jpeg_baseline_dataset(pixels: np.ndarray) -> Dataset:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    ds = make_dataset(pixels)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    return ds


@pytest.mark.parametrize("syntax", ["jpeg-baseline", "jpeg-ls", "jpeg-2000"])
def test_a_codestream_larger_than_its_header_is_refused_before_decoding(
    syntax: str, decodes: list[dict[str, Any]]
) -> None:
    pixels = (gradient(64, 64, 255)).astype(np.uint8)
    if syntax == "jpeg-baseline":
        ds = _jpeg_baseline_dataset(pixels)
    else:
        ds = make_dataset(pixels)
        ds.compress(JPEGLSLossless if syntax == "jpeg-ls" else JPEG2000Lossless)
    ds.Rows, ds.Columns = 16, 16  # the header lies: a small image, a larger codestream
    with pytest.raises(DicomRejected) as refused:
        read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert refused.value.message == (
        "corrupted pixel data: the codestream is 64x64, the header says 16x16"
    )
    assert decodes == []


def test_more_codestream_components_than_samples_is_refused_before_decoding(
    decodes: list[dict[str, Any]],
) -> None:
    ds = make_dataset(np.tile(_colour_blocks(), (8, 6, 1)), "RGB")  # 64x72: big enough for J2K
    ds.compress(JPEG2000Lossless)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    del ds.PlanarConfiguration
    with pytest.raises(DicomRejected) as refused:
        read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert refused.value.message == (
        "corrupted pixel data: the codestream has 3 components, the header says 1 samples per pixel"
    )
    assert decodes == []


def test_a_honest_jpeg_baseline_decodes_with_pillow() -> None:
    pixels = (gradient(64, 64, 255)).astype(np.uint8)
    image = read_image(to_bytes(_jpeg_baseline_dataset(pixels)), max_pixels=MAX_PIXELS)
    assert image.applied[0] == "decoder:pillow"
    np.testing.assert_allclose(image.pixels, pixels / 255.0, atol=0.03)


def test_a_deflate_bomb_is_refused_before_pydicom_inflates_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ds = make_dataset(np.zeros((2048, 2048), dtype=np.uint16), bits_stored=12)  # 8 MiB
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    data = to_bytes(ds)
    assert len(data) < 64 * 1024
    parsed: list[object] = []
    monkeypatch.setattr(dicom, "dcmread", lambda *a, **k: parsed.append(a))
    for read in (read_header, lambda source, **k: read_image(source, max_pixels=1 << 30, **k)):
        with pytest.raises(DicomRejected) as refused:
            read(data, max_inflated_bytes=1024 * 1024)
        assert refused.value.message == (
            "image too large: the deflated dataset inflates past 1,048,576 bytes"
        )
    assert parsed == []


def test_a_deflated_dataset_within_the_bound_decodes() -> None:
    ds = make_dataset(gradient(), bits_stored=12)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    image = read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert image.header.transfer_syntax_uid == DeflatedExplicitVRLittleEndian
    np.testing.assert_allclose(image.pixels, gradient() / 4095.0, atol=1e-6)


def _gdcm_transcode(ds: Dataset, syntax: int, tmp_path: pathlib.Path) -> bytes:
    """``ds`` re-encoded by GDCM (pydicom has no JPEG Lossless encoder)."""
    source, target = tmp_path / "native.dcm", tmp_path / "jpeg.dcm"
    ds.save_as(source, enforce_file_format=True)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(target))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    return target.read_bytes()


@pytest.mark.parametrize(
    ("syntax", "uid"),
    [
        (gdcm.TransferSyntax.JPEGLosslessProcess14, "1.2.840.10008.1.2.4.57"),
        (gdcm.TransferSyntax.JPEGLosslessProcess14_1, JPEGLosslessSV1),
    ],
)
def test_jpeg_lossless_16_bit_monochrome_decodes_exactly(
    syntax: int, uid: str, tmp_path: pathlib.Path
) -> None:
    # No bundled file is JPEG Lossless Process 14 (.57), and the bundled SV1 (.70) is 8-bit
    # RGB: a chest X-ray is 12-16-bit monochrome, so both are made here, losslessly.
    stored = gradient(top=65535)
    ds = make_dataset(stored, bits_stored=16)
    data = _gdcm_transcode(ds, syntax, tmp_path)
    image = read_image(data, max_pixels=MAX_PIXELS)
    assert image.header.transfer_syntax_uid == uid
    assert image.applied[0] == "decoder:gdcm (isolated)"
    np.testing.assert_allclose(image.pixels, stored / 65535.0, atol=1e-6)


def test_a_decoder_crash_is_a_rejection_and_the_next_file_decodes() -> None:
    # One byte (the Adobe APP14 colour transform, set to an unknown 176) makes GDCM throw a
    # C++ exception through its binding: std::terminate, SIGABRT, the whole process gone.
    ds = pydicom.dcmread(TEST_FILES / "SC_rgb_jpeg_gdcm.dcm")
    assert ds.file_meta.TransferSyntaxUID == JPEGLosslessSV1
    corrupt = bytearray(ds.PixelData)
    assert corrupt[16:24] == b"\xff\xd8\xff\xee\x00\x0eAd"
    corrupt[33] = 176
    ds.PixelData = bytes(corrupt)
    with pytest.raises(DicomRejected) as refused:
        read_image(to_bytes(ds), max_pixels=MAX_PIXELS)
    assert refused.value.message == "corrupted pixel data: the decoder crashed on it"
    image = read_image(TEST_FILES / "SC_rgb_jpeg_gdcm.dcm", max_pixels=MAX_PIXELS)
    assert image.applied[0] == "decoder:gdcm (isolated)"


# A small deterministic fuzz: truncations and byte changes of compressed bundled files give
# an image or a rejection, never another exception (nor a dead process).
_FUZZED = (
    "MR_small_RLE.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "SC_rgb_jls_lossy_line.dcm",
    "image_dfl.dcm",
    "JPEG2000.dcm",
    "examples_palette.dcm",
)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", _FUZZED)
def test_damaged_files_give_an_image_or_a_rejection(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dicom.logger, "disabled", True)
    rng = np.random.default_rng(17)
    data = (TEST_FILES / name).read_bytes()
    variants = [data[: int(cut)] for cut in rng.integers(0, len(data), 8)]
    for _ in range(24):
        damaged = bytearray(data)
        for position in rng.integers(128, len(data), rng.choice([1, 4, 16])):
            damaged[position] = int(rng.integers(0, 256))
        variants.append(bytes(damaged))
    messages = []
    for variant in variants:
        for read in (read_header, lambda source: read_image(source, max_pixels=MAX_PIXELS)):
            try:
                read(variant)
            except DicomRejected as exc:
                messages.append(exc.message)
    assert all(messages)


# Headers ---------------------------------------------------------------------------------


def _patient_dataset() -> Dataset:
    ds = make_dataset(gradient(), bits_stored=12)
    ds.PatientID = "P-0042"
    ds.PatientName = "Doe^Jane^^Dr"
    ds.PatientAge = "045Y"
    ds.PatientSex = "F"
    ds.StudyDate = "20250102"
    return ds


def test_read_header_returns_the_products_tags() -> None:
    ds = _patient_dataset()
    header = read_header(to_bytes(ds))
    assert header == dicom.DicomHeader(
        patient_id="P-0042",
        patient_name="Doe Jane Dr",
        patient_age="045Y",
        patient_sex="F",
        sop_class_uid=ds.SOPClassUID,
        sop_instance_uid=ds.SOPInstanceUID,
        study_instance_uid=ds.StudyInstanceUID,
        series_instance_uid=ds.SeriesInstanceUID,
        study_date="20250102",
        modality="DX",
        rows=32,
        columns=48,
        number_of_frames=None,
        photometric_interpretation="MONOCHROME2",
        bits_stored=12,
        transfer_syntax_uid=ExplicitVRLittleEndian,
    )


def test_read_header_never_reads_the_pixels(
    monkeypatch: pytest.MonkeyPatch, decodes: list[dict[str, Any]], tmp_path: pathlib.Path
) -> None:
    ds = _patient_dataset()
    ds.PixelData = ds.PixelData[:100]  # truncated: read_image refuses, a header read does not
    path = tmp_path / "truncated.dcm"
    ds.save_as(path, enforce_file_format=True)
    reads: list[dict[str, Any]] = []
    original = dicom.dcmread

    def spy(*args: Any, **kwargs: Any) -> Dataset:
        reads.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(dicom, "dcmread", spy)
    assert read_header(path).patient_id == "P-0042"
    assert reads == [{"force": False, "stop_before_pixels": True}]
    assert decodes == []
    with pytest.raises(DicomRejected, match="truncated"):
        read_image(path, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a DICOM file (no DICM prefix)"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "not a DICOM file (no DICM prefix)"),
        (bytes(128) + b"DICM" + bytes(64), "no pixel data"),
    ],
)
def test_what_is_not_a_dicom_image(data: bytes, message: str) -> None:
    with pytest.raises(DicomRejected) as refused:
        read_image(data, max_pixels=MAX_PIXELS)
    assert refused.value.message == message


def test_a_missing_path_is_a_rejection(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DicomRejected, match="not a DICOM file: cannot open"):
        read_header(tmp_path / "absent.dcm")


# Output and packaging ----------------------------------------------------------------------


def test_to_png_is_an_8_bit_greyscale_of_the_display_image() -> None:
    image = read_image(to_bytes(make_dataset(gradient(), bits_stored=12)), max_pixels=MAX_PIXELS)
    with Image.open(io.BytesIO(to_png(image))) as png:
        assert (png.format, png.mode, png.size) == ("PNG", "L", (48, 32))
        np.testing.assert_array_equal(np.asarray(png), np.rint(image.pixels * 255))


def test_no_gpl_decoder_is_installed() -> None:
    # pylibjpeg-libjpeg (GPLv3) would be picked up by pydicom silently; it must stay out.
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("pylibjpeg-libjpeg")
    for name in (
        "pydicom",
        "pylibjpeg",
        "pylibjpeg-openjpeg",
        "pylibjpeg-rle",
        "pyjpegls",
        "python-gdcm",
    ):
        meta = importlib.metadata.metadata(name)
        licence = " ".join(
            [meta.get("License-Expression") or "", meta.get("License") or ""]
            + [c for c in meta.get_all("Classifier") or [] if c.startswith("License")]
        )
        assert "GPL" not in licence, (name, licence)
        assert "MIT" in licence or "Apache" in licence, (name, licence)
