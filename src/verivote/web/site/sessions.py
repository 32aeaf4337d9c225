"""The station console's session and CSRF tokens: signed values.

    session   "<station>~<expiry>~<id>~<mac>"      in the HttpOnly, SameSite=Strict cookie
                                                  SESSION_COOKIE, set at login
    csrf      mac("csrf", nonce)                    in a hidden field of every form, where the
                                                  nonce is the CSRF_COOKIE cookie (HttpOnly,
                                                  SameSite=Strict)

Both are HMAC-SHA-256 under the server's session secret, which every worker process of
`verivote serve --workers N` shares. The signature only keeps forged cookies from costing a
database query: a session is on only while its id's hash is in the database's
`console_sessions` (`verivote.store.access`, issue 15), so it ends on every worker at logout,
when its station is revoked, and when its token expires, whoever holds a copy of the cookie.
A login reads the station's token from the database itself, never from a cache.

The CSRF check is "double submit" with a signed token: a page on another site can neither read
the cookie nor forge a token that matches a cookie it planted, as it lacks the secret; and
SameSite=Strict keeps the browser from sending the cookies with a request another site starts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

SESSION_COOKIE = "vv_station"
CSRF_COOKIE = "vv_csrf"
LANG_COOKIE = "vv_lang"
SESSION_SECONDS = 12 * 3600
"""A polling day."""
_SEPARATOR = "~"  # never in a station id (the manifest's identifiers), nor in base64url
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def _mac(secret: bytes, *parts: str) -> str:
    message = "\x00".join(parts).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    # Bytes: compare_digest refuses str holding anything but ASCII, and a cookie or a form
    # field may hold anything.
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))


def issue_session(secret: bytes, station: str, now: float, session_id: str | None = None) -> str:
    """A session cookie's value for `station` and the server-side session `session_id`
    (base64url), valid for SESSION_SECONDS from `now`."""
    sid = new_nonce() if session_id is None else session_id
    payload = _SEPARATOR.join((station, str(int(now) + SESSION_SECONDS), sid))
    return payload + _SEPARATOR + _mac(secret, "session", payload)


def session_of(secret: bytes, value: str | None, now: float) -> tuple[str, str] | None:
    """(station, session id) of a session cookie's value, or None if it is not one of ours or
    expired. The caller still asks the database whether that session is on."""
    if not value or len(value) > 512:
        return None
    payload, _, mac = value.rpartition(_SEPARATOR)
    if not _same(mac, _mac(secret, "session", payload)):
        return None
    station, expiry, sid = [*payload.split(_SEPARATOR), "", "", ""][:3]
    if not expiry.isdigit() or int(expiry) <= now or not sid:
        return None
    return station, sid


def read_session(secret: bytes, value: str | None, now: float) -> str | None:
    """The station of a session cookie's value, or None if it is not one of ours or expired."""
    found = session_of(secret, value, now)
    return None if found is None else found[0]


def valid_nonce(value: str | None) -> bool:
    return value is not None and _NONCE.fullmatch(value) is not None


def csrf_token(secret: bytes, nonce: str) -> str:
    """The token that the forms of a visitor holding the CSRF cookie `nonce` carry."""
    return _mac(secret, "csrf", nonce)


def csrf_ok(secret: bytes, nonce: str | None, token: str | None) -> bool:
    """Whether a form's token matches the visitor's CSRF cookie."""
    if not valid_nonce(nonce) or not token:
        return False
    assert nonce is not None
    return _same(token, csrf_token(secret, nonce))
