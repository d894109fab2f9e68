"""The web tier's shared steps, used by every product's views.

``errors`` turns every exception into one platform error, which each product's envelope
renders in its seed's shape; ``views`` is the base view that wires them; ``images`` checks
an input image and prepares it for the worker; ``inference`` sends items to the workers;
``fields`` are the request fields every product's serializers read text and images with.
"""
