"""The configured profiles, built once per distinct ASSAY_PROFILES value."""

from __future__ import annotations

import json
from functools import cache

from django.conf import settings

from process.profiles import Profile, build_profiles


@cache
def _profiles(config_json: str) -> dict[str, Profile]:
    return build_profiles(json.loads(config_json), settings.BASE_DIR)


def get_profiles() -> dict[str, Profile]:
    return _profiles(json.dumps(settings.ASSAY_PROFILES, sort_keys=True))


def get_profile(name: str) -> Profile:
    """The named profile; one removed from the configuration checks nothing."""
    return get_profiles().get(name) or Profile(name=name, title=name)
