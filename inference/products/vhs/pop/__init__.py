"""The picture-of-picture (PoP) pipeline: a phone photo of a screen showing a radiograph.

Light on purpose, so that the web tier may import the pure modules without torch or OpenCV:

* ``geometry``: corner validation, ordering, tilt, Jaccard index (numpy only); the web tier
  checks ``/v3/rectify``'s corners with it.
* ``feedback``: the sentence for the person holding the phone (plain Python); PoP sessions
  answer each frame with it.
* ``screen`` (workers only): ``find_screen`` (the PoP network's coarse corners, the corner
  network on crops of the full-resolution photo around them, ``crops``, then each edge fitted
  there, ``corners``) and ``rectify``.
* ``network``, ``predictor``, ``training``: the PoP network and the corner network, as the
  runtime serves them (groups ``pop`` and ``pop_corners``) and as
  ``train_reference_models vhs --pop`` trains them.
"""
