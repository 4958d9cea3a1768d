"""Typed settings from an environment mapping, such as the local stack's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dynamo.config import Settings, load_settings


def settings_of(env: Mapping[str, str], **overrides: Any) -> Settings:
    """The Settings ``env`` (and ``overrides``) describe; no env file is read, so a
    developer's ``config/.env`` cannot leak into a test."""
    return load_settings(overrides, environ=env, env_file=Path(os.devnull))
