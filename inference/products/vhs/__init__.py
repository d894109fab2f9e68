"""Veterinary cardiac VHS/VLAS measurement (seed 002, API v3)."""
