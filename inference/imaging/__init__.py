"""Decoding and checking images (base64, uploads, DICOM), rendering and reports.

Shared by every product so that each check exists once; nothing here imports torch.
"""
