"""A throwaway fourth product, defined inside the tests, to prove that adding a product means
writing its package and listing it once (tests/test_product_shape.py)."""
