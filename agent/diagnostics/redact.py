"""Keeping secrets out of diagnostic output: configuration values and command lines.

Whatever leaves the host in a diagnostic result is shown to engineers and may be pasted into
tickets, so values that look like credentials are replaced before they are sent.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"
# Key names whose values are credentials (a key *file path* such as tls.key is not one).
_SECRET_KEY = re.compile(r"(pass(word|wd|phrase)?|secret|token|credential|api[_-]?key|private[_-]?key|auth)",
                         re.IGNORECASE)
# name=value and --name=value pairs in free text whose name looks like a credential.
_SECRET_PAIR = re.compile(
    r"(?P<key>[A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)?|secret|token|credential|api[_-]?key|auth)[A-Za-z0-9_.-]*)"
    r"(?P<sep>[=:])(?P<value>[^\s&;,]+)", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<password>[^/\s@]*)@",
                           re.IGNORECASE)


def redact_text(text: str) -> str:
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    return _SECRET_PAIR.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)


def redact_value(key: str, value: Any) -> Any:
    """A configuration tree with credential-like values replaced, recursively."""
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    if _SECRET_KEY.search(key) and value not in (None, "", False) and not _is_path_setting(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    return value


def _is_path_setting(key: str) -> bool:
    return key.lower().endswith(("_file", "_path", "_dir"))
