"""One sub-package per product: network, pre/post-processing, API views, serializers, urls."""
