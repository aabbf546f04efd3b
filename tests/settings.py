"""Test settings: the real settings, with the queue run synchronously in-process.

django-q2 reads its configuration when it is first imported, so the switch has to be
made through the environment before webapp.settings is read.
"""

import os

os.environ.setdefault("ASSAY_QUEUE_SYNC", "1")
os.environ.setdefault("ASSAY_ALLOW_PRIVATE_URLS", "1")  # fixtures are served from 127.0.0.1

from webapp.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
