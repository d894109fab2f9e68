"""Chest X-ray DICOM analysis (seed 001), mounted at ``/cxr/`` once its models ship."""
