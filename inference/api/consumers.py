"""What the products' Channels consumers (streams, live sessions) share."""

from __future__ import annotations

#: The ``channel_layer_alias`` of a consumer that talks only to its own client.  Channels
#: gives every consumer of a configured layer a channel of its own and keeps a blocking
#: ``BZPOPMIN`` on Redis open for the consumer's whole life, to deliver group messages no
#: product sends.  Under load that read timed out (``redis.exceptions.TimeoutError``) inside
#: open streams and killed them mid-response (the soak's stalled stream), and it cost a Redis
#: connection per open stream or socket.  No layer is configured under this alias, so
#: Channels gives the consumer none.
WITHOUT_CHANNEL_LAYER = "without-channel-layer"
