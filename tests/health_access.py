"""Seeing ``/health/``'s details as staff does (issue 20, item 11): anyone else gets only
``status``, ``failing`` and ``timestamp``.

Servers the tests start sign JWTs with ``tests.servers.TEST_SECRET_KEY``; a token for a
staff user is minted here with it, as ``/auth/token/`` would issue one.
"""

from __future__ import annotations

import time
import uuid

import jwt
from django.contrib.auth import get_user_model

from tests.servers import TEST_SECRET_KEY


def staff_user(username: str = "health-operator"):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    return user


def staff_headers(secret: str = TEST_SECRET_KEY) -> dict[str, str]:
    """``Authorization`` for a live server: a staff user's access token."""
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 3600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(staff_user().pk),
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}
