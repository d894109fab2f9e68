"""Procedural phantoms: synthetic study images with known ground truth, for reference models."""
