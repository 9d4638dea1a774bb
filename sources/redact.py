"""Secrets out of anything printed: the `user:password@` of URLs, alone or inside a message.

Connection URLs (Redis, backends) may carry credentials. Whatever shows them (logs,
settings reprs, error messages in `/readyz`) passes them through `redact` first.
"""

from __future__ import annotations

import re

HIDDEN = "***"

# scheme://userinfo@ : userinfo runs to the last "@" before the host (a password may hold "@")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*)@")


def _hide(match: re.Match[str]) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    return f"{match['scheme']}{user}:{HIDDEN}@" if colon else f"{match['scheme']}{HIDDEN}@"


def redact(text: str) -> str:
    """`redis://:secret@host:6379/0` -> `redis://:***@host:6379/0`, wherever it stands in `text`.

    The user name stays (it helps to tell deployments apart); a lone userinfo
    (`redis://token@host`) is hidden whole, since Redis takes a bare password there.
    """
    return _USERINFO.sub(_hide, text)
