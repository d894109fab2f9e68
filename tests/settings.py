"""Settings of the pytest process: the platform's own settings with test defaults.

The suite runs on PostgreSQL (DESIGN.md, Tests and CI), so ``DATABASE_URL`` defaults to the
local server here; everything else is ``config.settings`` unchanged.  Servers the tests start
as subprocesses use ``config.settings`` itself, with the environment the fixtures give them.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/medimg")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")

from config.settings import *  # noqa: F403

# Hashing demo and test passwords with PBKDF2 would cost seconds per test for nothing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
