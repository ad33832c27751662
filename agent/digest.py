"""BLAKE2b for the agent's fingerprints, without OpenSSL.

``import hashlib`` loads OpenSSL's libcrypto (about 3 MB resident) for algorithms the agent never
uses. ``hashlib.blake2b`` is CPython's own ``_blake2`` module in any case, so importing that directly
gives the same digests with nothing else mapped.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter built without its BLAKE2 module
    from hashlib import blake2b

__all__ = ["blake2b"]
