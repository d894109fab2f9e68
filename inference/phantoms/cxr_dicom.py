"""How a chest radiograph phantom is stored as DICOM, and what a viewer then displays.

Real chest studies arrive in every pixel encoding the standard allows, and a reader that
gets one of them wrong shows a network an inverted or clipped film.  So each phantom picks
one, from its seed: BitsStored 8, 12 or 16 (BitsAllocated 8 or 16); MONOCHROME2 or
MONOCHROME1 (stored values inverted: high = less dense); sometimes a rescale slope/intercept
(CR only; DX requires 1 and 0 when present); a linear, exact-linear or sigmoid window, a VOI
LUT sequence or neither (then the data are auto-ranged to span the full stored range, so
"normalise by the bit depth" and "normalise by min..max" agree); and one of six transfer
syntaxes pydicom can both write and read here (explicit and implicit VR little endian,
deflated, RLE, JPEG 2000 and JPEG-LS lossless).

The display image a phantom carries (``CxrPhantom.pixels``) is computed *from the stored
values* by the standard's pipeline (modality LUT, VOI, inversion for MONOCHROME1), so a
correct reader of the saved file recovers it to float precision; ``display`` is that
pipeline and the tests check it against pydicom's own implementation.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    DeflatedExplicitVRLittleEndian,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

TRANSFER_SYNTAXES = {
    "explicit": ExplicitVRLittleEndian,
    "implicit": ImplicitVRLittleEndian,
    "deflated": DeflatedExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpeg2000": JPEG2000Lossless,
    "jpegls": JPEGLSLossless,
}
# The one encoder each compressed syntax uses, so the bytes never depend on what else is
# installed (RLE has three).
ENCODERS = {"rle": "pydicom", "jpeg2000": "pylibjpeg", "jpegls": "pyjpegls"}
VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


def sample_encoding(rng: np.random.Generator) -> dict[str, Any]:
    """The pixel encoding of one file, JSON-safe (it is part of the truth)."""
    bits = int(rng.choice([8, 12, 16], p=[0.25, 0.45, 0.3]))
    modality = str(rng.choice(["DX", "CR"], p=[0.6, 0.4]))
    voi = str(rng.choice(["window", "lut", "none"], p=[0.5, 0.2, 0.3]))
    top = 2**bits - 1
    low, high = (
        (0, top)
        if voi == "none"
        else (
            int(rng.uniform(0.0, 0.12) * top),
            int(rng.uniform(0.7, 1.0) * top),
        )
    )
    rescale = None
    if voi != "lut" and rng.random() < 0.45:
        if modality == "DX":
            rescale = [1.0, 0.0]
        else:
            rescale = [float(rng.choice([0.5, 1.0, 2.0])), float(rng.choice([-1024, -512, 0, 100]))]
    encoding: dict[str, Any] = {
        "modality": modality,
        "bits_stored": bits,
        "bits_allocated": 8 if bits == 8 else 16,
        "photometric": str(rng.choice(["MONOCHROME2", "MONOCHROME1"], p=[0.65, 0.35])),
        "transfer_syntax": str(rng.choice(list(TRANSFER_SYNTAXES))),
        "stored_range": [low, high],
        "rescale": rescale,
        "voi": voi,
    }
    if voi == "window":
        encoding["window_span"] = [
            round(float(rng.uniform(-0.03, 0.12)), 4),
            round(float(rng.uniform(0.88, 1.03)), 4),
        ]
        encoding["voi_function"] = str(rng.choice(VOI_FUNCTIONS, p=[0.7, 0.1, 0.2]))
        encoding["second_window"] = bool(rng.random() < 0.3)
    elif voi == "lut":
        encoding["lut_gain"] = round(float(rng.uniform(3.0, 8.0)), 4)
        encoding["lut_middle"] = round(float(rng.uniform(0.4, 0.6)), 4)
        encoding["lut_bits"] = 8 if bits == 8 else int(rng.choice([12, 16]))
    return encoding


def _modality(stored: np.ndarray, encoding: dict[str, Any]) -> np.ndarray:
    values = stored.astype(np.float64)
    if encoding["rescale"] is None:
        return values
    slope, intercept = encoding["rescale"]
    return values * slope + intercept


def store(
    signal: np.ndarray, encoding: dict[str, Any], reference: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """The detector signal (0..1, bright = dense) -> stored values and the VOI attributes.

    ``reference`` (bool, default everywhere) is where an auto-ranging detector looks for
    its darkest and brightest values; the caller keeps lesions out of it.
    """
    top = 2 ** encoding["bits_stored"] - 1
    values = signal.astype(np.float64)
    if encoding["photometric"] == "MONOCHROME1":
        values = 1.0 - values
    if encoding["voi"] == "none":
        # Auto-ranged: the detector maps the darkest and brightest 0.01 % of the reference
        # region to the ends of the stored range, so the data span it (any reader's default
        # window agrees), and a lesion (a calcified focus) never rescales the whole image.
        sample = values if reference is None else values[reference]
        low, high = np.percentile(sample, [0.01, 99.99])
        values = np.clip((values - low) / max(float(high - low), 1e-9), 0.0, 1.0)
    low, high = encoding["stored_range"]
    dtype = np.uint8 if encoding["bits_allocated"] == 8 else np.uint16
    stored = np.clip(np.round(low + values * (high - low)), 0, top).astype(dtype)
    return stored, _voi(encoding, low, high)


def _voi(encoding: dict[str, Any], low: int, high: int) -> dict[str, Any]:
    if encoding["voi"] == "window":
        start, end = encoding["window_span"]
        m_low, m_high = _modality(
            np.array([low + start * (high - low), low + end * (high - low)]), encoding
        )
        function = encoding["voi_function"]
        if function == "LINEAR":
            width = m_high - m_low + 1
            center = m_low + 0.5 + (width - 1) / 2
        else:
            width, center = m_high - m_low, (m_low + m_high) / 2
        centers, widths = [f"{center:.1f}"], [f"{max(width, 1.0):.1f}"]
        if encoding["second_window"]:  # an alternative, harder window a viewer may offer
            centers.append(f"{center:.1f}")
            widths.append(f"{max(width * 0.6, 1.0):.1f}")
        return {"centers": centers, "widths": widths, "function": function}
    if encoding["voi"] == "lut":
        count = high - low + 1
        z = np.linspace(0.0, 1.0, count)
        gain, middle = encoding["lut_gain"], encoding["lut_middle"]
        curve = 1.0 / (1.0 + np.exp(-gain * (z - middle)))
        curve = (curve - curve[0]) / (curve[-1] - curve[0])
        table = np.round(curve * (2 ** encoding["lut_bits"] - 1)).astype(np.uint16)
        return {"first": low, "bits": encoding["lut_bits"], "table": table}
    return {}


def display(stored: np.ndarray, encoding: dict[str, Any], voi: dict[str, Any]) -> np.ndarray:
    """What a viewer shows (0..1, bright = dense): modality LUT, VOI, MONOCHROME1 inverted."""
    values = _modality(stored, encoding)
    if encoding["voi"] == "window":
        center, width = float(voi["centers"][0]), float(voi["widths"][0])
        if voi["function"] == "LINEAR":
            shown = np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)
        elif voi["function"] == "LINEAR_EXACT":
            shown = np.clip((values - center) / width + 0.5, 0.0, 1.0)
        else:
            shown = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    elif encoding["voi"] == "lut":
        table = voi["table"]
        index = np.clip(values - voi["first"], 0, len(table) - 1).astype(np.int64)
        shown = table[index] / (2 ** voi["bits"] - 1)
    else:
        shown = (values - values.min()) / max(float(values.max() - values.min()), 1e-9)
    if encoding["photometric"] == "MONOCHROME1":
        shown = 1.0 - shown
    return shown.astype(np.float32)


def sample_patient(rng: np.random.Generator, seed: int) -> dict[str, Any]:
    """Patient and study tags, JSON-safe; the UIDs are derived from the seed alone."""
    sex = str(rng.choice(["M", "F"]))
    age = int(rng.integers(18, 91))
    study = datetime.date(2015, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 3650)))
    born = study - datetime.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
    seconds = int(rng.integers(7 * 3600, 20 * 3600))
    uids = {
        kind: str(generate_uid(entropy_srcs=["medimg-cxr-phantom", str(seed), kind]))
        for kind in ("study", "series", "instance")
    }
    return {
        "patient_id": f"PH{seed:08d}",
        "patient_name": f"PHANTOM^CXR{seed}",
        "patient_sex": sex,
        "patient_age": f"{age:03d}Y",
        "patient_birth_date": born.strftime("%Y%m%d"),
        "study_date": study.strftime("%Y%m%d"),
        "study_time": f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}",
        "accession_number": f"A{int(rng.integers(10**9, 10**10))}",
        "study_instance_uid": uids["study"],
        "series_instance_uid": uids["series"],
        "sop_instance_uid": uids["instance"],
        "kvp": int(rng.integers(100, 131)),
        "exposure_mas": round(float(rng.uniform(1.0, 6.0)), 2),
    }


def build_dataset(
    stored: np.ndarray,
    encoding: dict[str, Any],
    voi: dict[str, Any],
    patient: dict[str, Any],
    pixel_spacing_mm: float,
) -> FileDataset:
    """A complete DX or CR PA chest instance, pixel data encoded in its transfer syntax."""
    dx = encoding["modality"] == "DX"
    sop_class = DigitalXRayImageStorageForPresentation if dx else ComputedRadiographyImageStorage
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = patient["sop_instance_uid"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", Dataset(), preamble=b"\0" * 128, file_meta=meta)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = patient["sop_instance_uid"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = patient["study_date"]
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = patient["study_time"]
    ds.AccessionNumber = patient["accession_number"]
    ds.Modality = encoding["modality"]
    ds.Manufacturer = "MedImg phantoms"
    ds.ManufacturerModelName = "cxr-phantom"
    ds.InstitutionName = "Phantom Institute"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "XR CHEST PA"
    ds.SeriesDescription = "CHEST PA"
    ds.PatientName = patient["patient_name"]
    ds.PatientID = patient["patient_id"]
    ds.PatientBirthDate = patient["patient_birth_date"]
    ds.PatientSex = patient["patient_sex"]
    ds.PatientAge = patient["patient_age"]
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.KVP = str(patient["kvp"])
    ds.Exposure = str(round(patient["exposure_mas"]))
    ds.DistanceSourceToDetector = "1800"
    ds.StudyInstanceUID = patient["study_instance_uid"]
    ds.SeriesInstanceUID = patient["series_instance_uid"]
    ds.StudyID = patient["accession_number"][-8:]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "F"]  # rows run to the patient's left, columns to the feet
    if dx:
        ds.PresentationIntentType = "FOR PRESENTATION"
    spacing = f"{pixel_spacing_mm:.4f}"
    ds.ImagerPixelSpacing = [spacing, spacing]
    ds.PixelSpacing = [spacing, spacing]
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.set_pixel_data(
        stored, encoding["photometric"], encoding["bits_stored"], generate_instance_uid=False
    )
    if encoding["rescale"] is not None:
        ds.RescaleSlope, ds.RescaleIntercept = (f"{v:g}" for v in encoding["rescale"])
        ds.RescaleType = "US"
    if encoding["voi"] == "window":
        ds.WindowCenter = voi["centers"] if len(voi["centers"]) > 1 else voi["centers"][0]
        ds.WindowWidth = voi["widths"] if len(voi["widths"]) > 1 else voi["widths"][0]
        ds.WindowCenterWidthExplanation = ["DEFAULT", "HARD"][: len(voi["centers"])]
        ds.VOILUTFunction = voi["function"]
    elif encoding["voi"] == "lut":
        item = Dataset()
        count = len(voi["table"])
        item.LUTDescriptor = [count if count < 65536 else 0, voi["first"], voi["bits"]]
        item.LUTExplanation = "CONTRAST"
        # OW, little endian: a US element cannot hold more than 32767 entries explicitly.
        item.add_new("LUTData", "OW", voi["table"].astype("<u2").tobytes())
        ds.VOILUTSequence = [item]
    syntax = TRANSFER_SYNTAXES[encoding["transfer_syntax"]]
    if encoding["transfer_syntax"] in ENCODERS:
        plugin = ENCODERS[encoding["transfer_syntax"]]
        ds.compress(syntax, stored, encoding_plugin=plugin, generate_instance_uid=False)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
    return ds
