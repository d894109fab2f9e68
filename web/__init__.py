"""The staff web pages: home and one page per product to try it by hand (``docs/web.md``)."""
