"""A derived RGB image written as a DICOM Secondary Capture in its source's study.

A product that draws over a DICOM study (the chest X-ray heatmap) can hand its picture back
as an object a PACS files beside the source.  highdicom's ``SCImage`` builds the Secondary
Capture Image IOD (SOP Class 1.2.840.10008.5.1.4.1.1.7): RGB, 8 bits per sample, pixel
interleaved, uncompressed explicit VR little endian, so every viewer opens it.  Around it:

* the Patient, Patient Study and General Study modules are copied from the source's header
  element by element, as stored (its Specific Character Set too), so the object lands in the
  same patient and study whatever the source holds; highdicom's own constructor would refuse
  a name without a ``^`` or a malformed date, which a real header may well have;
* the series and the instance are new (fresh Series and SOP Instance UIDs), described by the
  caller (``series_description``: what made it, and which version);
* the General Image module says how it was made: Image Type ``DERIVED\\SECONDARY\\OTHER``, a
  Derivation Description, and a Source Image Sequence naming the source's SOP Class and SOP
  Instance UIDs (purpose DCM 121322, *Source image for image processing operation*);
* Patient Orientation (and Anatomical Orientation Type) are the source's as stored, or
  empty (type 2): the picture keeps the source's rows and columns.

The source's StudyInstanceUID, SOPClassUID and SOPInstanceUID must be valid UIDs
(``missing_references`` says which are not); the web tier checks that before any work.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable

import numpy as np
from highdicom.sc import SCImage
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

#: The source's UIDs a Secondary Capture in its study needs, by keyword.
REFERENCES = ("StudyInstanceUID", "SOPClassUID", "SOPInstanceUID")

#: Top-level attributes copied from the source: PS3.3 C.7.1.1 Patient, C.7.2.2 Patient Study
#: and C.7.2.1 General Study, as the standard's tables in highdicom 0.28 list them (a test
#: keeps the lists equal), plus the character set their text is stored in.
PATIENT = (
    "ReferencedPatientSequence", "PatientName", "PatientID", "IssuerOfPatientID",
    "TypeOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "SourcePatientGroupIdentificationSequence", "GroupOfPatientsIdentificationSequence",
    "PatientBirthDate", "PatientBirthTime", "PatientBirthDateInAlternativeCalendar",
    "PatientDeathDateInAlternativeCalendar", "PatientAlternativeCalendar", "PatientSex",
    "QualityControlSubject", "StrainDescription", "StrainNomenclature", "StrainStockSequence",
    "StrainAdditionalInformation", "StrainCodeSequence", "GeneticModificationsSequence",
    "OtherPatientNames", "OtherPatientIDsSequence", "ReferencedPatientPhotoSequence",
    "EthnicGroupCodeSequence", "PatientSpeciesDescription", "PatientSpeciesCodeSequence",
    "PatientBreedDescription", "PatientBreedCodeSequence", "BreedRegistrationSequence",
    "ResponsiblePerson", "ResponsiblePersonRole", "ResponsibleOrganization", "PatientComments",
    "PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence",
)  # fmt: skip
PATIENT_STUDY = (
    "AdmittingDiagnosesDescription", "AdmittingDiagnosesCodeSequence", "PatientAge",
    "PatientSize", "PatientSizeCodeSequence", "PatientBodyMassIndex", "MeasuredAPDimension",
    "MeasuredLateralDimension", "PatientWeight", "MedicalAlerts", "Allergies", "Occupation",
    "SmokingStatus", "AdditionalPatientHistory", "PregnancyStatus", "LastMenstrualDate",
    "PatientSexNeutered", "ReasonForVisit", "ReasonForVisitCodeSequence", "AdmissionID",
    "IssuerOfAdmissionIDSequence", "ServiceEpisodeID", "ServiceEpisodeDescription",
    "IssuerOfServiceEpisodeIDSequence", "PatientState",
)  # fmt: skip
GENERAL_STUDY = (
    "StudyDate", "StudyTime", "AccessionNumber", "IssuerOfAccessionNumberSequence",
    "ReferringPhysicianName", "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName", "ConsultingPhysicianIdentificationSequence", "StudyDescription",
    "ProcedureCodeSequence", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "NameOfPhysiciansReadingStudy", "PhysiciansReadingStudyIdentificationSequence",
    "ReferencedStudySequence", "StudyInstanceUID", "StudyID", "RequestingService",
    "RequestingServiceCodeSequence", "ReasonForPerformedProcedureCodeSequence",
)  # fmt: skip
COPIED = ("SpecificCharacterSet", *PATIENT, *PATIENT_STUDY, *GENERAL_STUDY)
#: The picture has the source's rows and columns, so it keeps the source's orientation.
ORIENTATION = ("PatientOrientation", "AnatomicalOrientationType")

#: Long String (LO) values hold at most 64 characters.
_LO = 64


def missing_references(values: dict[str, str | None]) -> list[str]:
    """Which of ``REFERENCES`` ``values`` (keyword -> text) lacks or holds no valid UID."""
    return [keyword for keyword in REFERENCES if not UID(values.get(keyword) or "").is_valid]


def secondary_capture(
    source: Dataset,
    rgb: np.ndarray,
    *,
    series_description: str,
    derivation: str,
    manufacturer: str,
    model_name: str,
    software_version: str,
    comments: str = "",
    series_number: int = 900,
) -> bytes:
    """A Part 10 file: ``rgb`` (rows x columns x 3, uint8) as a Secondary Capture of ``source``.

    ``source`` is the source's header (``dicom.read_header_dataset``); see the module doc for
    what is copied, what is new and how the source is referenced.
    """
    missing = missing_references({keyword: source.get(keyword) for keyword in REFERENCES})
    if missing:
        raise ValueError(f"the source has no valid {', '.join(missing)}")
    capture = SCImage(
        pixel_array=np.ascontiguousarray(rgb, dtype=np.uint8),
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        # highdicom asks for an orientation here; the source's, as stored, replaces it below.
        patient_orientation=("L", "F"),
        study_instance_uid=str(source.StudyInstanceUID),
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=manufacturer[:_LO],
        manufacturer_model_name=model_name[:_LO],
        software_versions=software_version[:_LO],
        series_description=series_description[:_LO],
        transfer_syntax_uid=ExplicitVRLittleEndian,
    )
    _copy(source, capture, COPIED)
    capture.PatientOrientation = ""
    _copy(source, capture, ORIENTATION)
    if "BodyPartExamined" in source:  # the new series shows the same part
        _copy(source, capture, ("BodyPartExamined",))
    reference = Dataset()
    reference.ReferencedSOPClassUID = str(source.SOPClassUID)
    reference.ReferencedSOPInstanceUID = str(source.SOPInstanceUID)
    purpose = codes.DCM.SourceImageForImageProcessingOperation
    code = Dataset()
    code.CodeValue = purpose.value
    code.CodingSchemeDesignator = purpose.scheme_designator
    code.CodeMeaning = purpose.meaning
    reference.PurposeOfReferenceCodeSequence = [code]
    capture.SourceImageSequence = [reference]
    capture.DerivationDescription = derivation[:1024]  # ST
    capture.BurnedInAnnotation = "NO"  # a colour scale, no text: nothing identifies anyone
    if comments:
        capture.ImageComments = comments[:10240]  # LT
    buffer = io.BytesIO()
    capture.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _copy(source: Dataset, target: Dataset, keywords: Iterable[str]) -> None:
    """Each of ``keywords`` present in ``source`` set on ``target`` as stored (value and VR)."""
    for keyword in keywords:
        if keyword in source:
            target[keyword] = copy.deepcopy(source[keyword])
