"""The leukemia blood-cell classification product (Benign, Early, Pre, Pro)."""
