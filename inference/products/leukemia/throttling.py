"""Per-IP throttling of the public leukemia API; a valid ``x-api-key`` lifts it.

Anonymous callers share the ``leukemia_anon`` rate per client IP.  A request with a valid key
is counted against its key at the (much higher) ``leukemia_key`` rate instead, so a customer
is never limited by others behind the same NAT.  An invalid key is treated as no key: the API
is public, and a typo must not turn into an outage.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.authentication import api_key_from_request


class LeukemiaRateThrottle(SimpleRateThrottle):
    scope = "leukemia_anon"
    # Each scope's product setting (LeukemiaConfig.settings_defaults).
    _SETTINGS = {"leukemia_anon": "LEUKEMIA_ANON_RATE", "leukemia_key": "LEUKEMIA_KEY_RATE"}

    def get_rate(self) -> str | None:
        # Read the rates now rather than at import, so a settings change takes effect.  DRF's
        # own DEFAULT_THROTTLE_RATES win when they name the scope.
        configured = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return configured or getattr(settings, self._SETTINGS[self.scope])

    def get_cache_key(self, request: Any, view: Any) -> str:
        api_key = api_key_from_request(request)
        if api_key is not None:
            self.scope, ident = "leukemia_key", f"key-{api_key.pk}"
        else:
            self.scope, ident = "leukemia_anon", self.get_ident(request)
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return self.cache_format % {"scope": self.scope, "ident": ident}
