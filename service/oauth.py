"""Fetch, keep and renew the OAuth2 access tokens that XOAUTH2 logins to IMAP and SMTP present.

Office 365 and Google Workspace take only XOAUTH2, and their tokens live about an hour. One
token source per ``oauth2`` setting (IMAP and SMTP share it when both name the same client)
keeps the current token in memory and fetches the next one once less than a tenth of its
lifetime, and at most 60 s, remains. Microsoft's tokens come through MSAL (client credentials
against the tenant's authority, or a user's refresh token), everyone else's through Authlib's
OAuth2 client. A token named by ``token_env`` is used as it is and never renewed.

:func:`login` is what both protocols call at every login: it presents the current token and,
when the server refuses it (expired early, revoked), fetches a new one and tries exactly once
more. A session already logged in (IMAP in IDLE) is never asked to authenticate again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError, MailboxError

if TYPE_CHECKING:
    from .config import MailServer, OAuth2

log = logging.getLogger(__name__)

RENEW_FRACTION = 0.1  # renew once less than this share of a token's lifetime remains …
RENEW_MARGIN_MAX = 60.0  # … or this many seconds, whichever is less
# A token fetched because the server refused the previous one, and refused too, is not
# replaced again for this long: the trouble is then not the token's age, and asking the
# provider at every reconnect would only get the client throttled.
REFUSED_AGAIN_SPACING = 60.0
# Provider answers (RFC 6749 §5.2, plus Microsoft's discovery) that no retry can cure: a
# person must fix the client id, secret, refresh token, scope or tenant.
PERMANENT_ERRORS = {"invalid_client", "invalid_grant", "unauthorized_client", "invalid_scope",
                    "unsupported_grant_type", "invalid_request", "invalid_tenant", "access_denied"}


class TokenRefused(Exception):
    """Raised by a protocol's XOAUTH2 attempt when the server refuses the token itself."""


class CredentialsRefused(ConfigError):
    """The provider refused the client or its refresh token, or a fixed token was refused:
    only a person changing the configuration or the environment can cure it."""


class ProviderUnavailable(MailboxError):
    """The token endpoint could not be reached or failed (network, 5xx): worth retrying."""


@dataclass(frozen=True)
class Token:
    value: str
    lifetime: float | None = None  # seconds it was valid for when issued; None: unknown
    expires_at: float | None = None  # on the time.monotonic() clock

    def due(self, now: float) -> bool:
        """Tell whether the token should be replaced before it is presented again."""
        if self.expires_at is None or self.lifetime is None:
            return False
        return self.expires_at - now <= min(RENEW_MARGIN_MAX, RENEW_FRACTION * self.lifetime)


class TokenSource:
    """Keeps one client's current access token; thread-safe (the daemon's IMAP and SMTP threads)."""

    renewable = True

    def __init__(self, describe: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.describe = describe
        self.clock = clock
        self.fetched = 0  # how many tokens this source obtained (the first one included)
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._replacement: tuple[str, float] | None = None  # the last token fetched for a refused one

    def token(self, *, replacing: str | None = None) -> str:
        """Return a token fresh enough to log in with; replacing names one a server refused,
        which is then renewed unless another thread already did."""
        with self._lock:
            current = self._token
            if current is None or current.due(self.clock()) or current.value == replacing:
                current = self._token = self._fetch()
                self.fetched += 1
                if replacing is not None:
                    self._replacement = (current.value, self.clock())
                life = f"valid for {current.lifetime:.0f} s" if current.lifetime else "lifetime not given"
                log.info("OAuth2 token %d for %s obtained (%s)", self.fetched, self.describe, life)
            return current.value

    def may_replace(self, refused: str) -> bool:
        """Tell whether a refused token may be replaced now (see REFUSED_AGAIN_SPACING)."""
        with self._lock:
            last = self._replacement
            return not (last and last[0] == refused and self.clock() - last[1] < REFUSED_AGAIN_SPACING)

    def _fetch(self) -> Token:
        raise NotImplementedError

    def _issued(self, value: str, expires_in: object) -> Token:
        try:
            lifetime = float(expires_in) if expires_in is not None else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            lifetime = None
        if not lifetime or lifetime <= 0:
            return Token(value)  # renewed only when a server refuses it
        return Token(value, lifetime, self.clock() + lifetime)


class StaticToken(TokenSource):
    """A token from the environment, as it is: for tests and simple setups, never renewed."""

    renewable = False

    def __init__(self, env: str | None, user: str | None) -> None:
        super().__init__(f"environment variable {env}")
        self.env, self.user = env, user

    def token(self, *, replacing: str | None = None) -> str:
        value = os.environ.get(self.env or "")
        if not value:
            raise ConfigError(f"environment variable {self.env} is not set: it must hold the OAuth2 "
                              f"access token for {self.user}")
        return value


class _Fetching(TokenSource):
    """What the MSAL and Authlib sources share: settings, secrets, timeouts, error wording."""

    def __init__(self, settings: OAuth2, *, timeout: float) -> None:
        super().__init__(f"client {settings.client_id} at {self._endpoint(settings)}")
        self.settings = settings
        self.timeout = timeout
        self._refresh_token: str | None = None  # the newest one the provider handed out

    @staticmethod
    def _endpoint(s: OAuth2) -> str:
        return f"{s.authority}/{s.tenant}" if s.provider == "microsoft" else str(s.token_url)

    def _secret(self) -> str:
        return self.settings.env(self.settings.client_secret_env, "client secret")

    def _current_refresh_token(self) -> str:
        if self._refresh_token is None:
            self._refresh_token = self.settings.env(self.settings.refresh_token_env, "refresh token")
        return self._refresh_token

    def _verify(self) -> dict[str, str]:
        """Return the requests argument that checks the endpoint against oauth2.ca_file, if set.

        Given per request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        """
        return {"verify": str(self.settings.ca_file)} if self.settings.ca_file else {}

    def _refused(self, error: str | None, description: str | None) -> Exception:
        """Turn a provider's error answer into one clear line, permanent or worth a retry."""
        s = self.settings
        said = f"{error or 'error'}: {_first_line(description)}" if description else (error or "no token")
        where = f"the OAuth2 token endpoint of {self._endpoint(s)}"
        if error == "invalid_client":
            hint = f"check client_id and the secret in environment variable {s.client_secret_env}"
        elif error == "invalid_grant" and s.refresh_token_env:
            hint = (f"the refresh token in environment variable {s.refresh_token_env} is expired or "
                    "revoked: sign in again and put the new one there")
        elif error in ("invalid_scope", "unauthorized_client"):
            hint = f"check the app's permissions and scope {s.scope!r}"
        elif error == "invalid_tenant":
            hint = f"check tenant {s.tenant!r}"
        else:
            hint = "check the oauth2 settings"
        if error in PERMANENT_ERRORS:
            return CredentialsRefused(f"{where} refused client {s.client_id} ({said}): {hint}")
        return ProviderUnavailable(f"{where} gave no token for client {s.client_id} ({said})")

    def _unreachable(self, exc: BaseException) -> ProviderUnavailable:
        return ProviderUnavailable(f"cannot reach the OAuth2 token endpoint of {self._endpoint(self.settings)}: "
                                   f"{_first_line(str(exc)) or type(exc).__name__}")


class MsalToken(_Fetching):
    """Microsoft identity platform through MSAL: app-only client credentials, or a refresh token."""

    def __init__(self, settings: OAuth2, *, timeout: float) -> None:
        super().__init__(settings, timeout=timeout)
        self._app = None

    def _application(self):
        if self._app is None:
            import msal
            import requests

            session = _ca_session(self._verify())
            s = self.settings
            try:
                # instance_discovery=False: Microsoft's own clouds are known to MSAL anyway, and
                # an authority elsewhere (national cloud proxy, test) must not be looked up at
                # login.microsoftonline.com. The tenant's OpenID document is always fetched.
                self._app = msal.ConfidentialClientApplication(
                    s.client_id, client_credential=self._secret(), authority=f"{s.authority}/{s.tenant}",
                    http_client=session, instance_discovery=False, timeout=self.timeout,
                    token_cache=msal.TokenCache())
            except ValueError:  # MSAL's word for a 4xx answer to the tenant's OpenID discovery
                raise CredentialsRefused(f"the Microsoft authority {s.authority} does not know tenant "
                                         f"{s.tenant!r}: check oauth2.tenant (and oauth2.authority "
                                         "outside Microsoft's global cloud)") from None
            except (requests.RequestException, RuntimeError) as exc:
                raise self._unreachable(exc) from None
        return self._app

    def _fetch(self) -> Token:
        import msal
        import requests

        app = self._application()
        # This source decides when to renew; MSAL's own cache would hand back the very token
        # a server just refused, so it is emptied before every request.
        for item in list(app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            app.token_cache.remove_at(item)
        scopes = self.settings.scope.split()
        try:
            if self.settings.refresh_token_env:
                result = app.acquire_token_by_refresh_token(self._current_refresh_token(), scopes)
            else:
                result = app.acquire_token_for_client(scopes)
        except requests.RequestException as exc:
            raise self._unreachable(exc) from None
        if not result or "access_token" not in result:
            result = result or {}
            raise self._refused(result.get("error"), result.get("error_description"))
        if result.get("refresh_token"):
            self._refresh_token = result["refresh_token"]
        return self._issued(result["access_token"], result.get("expires_in"))


class AuthlibToken(_Fetching):
    """Google or any RFC 6749 provider through Authlib: client credentials or a refresh token."""

    def _fetch(self) -> Token:
        import requests
        from authlib.integrations.requests_client import OAuth2Session, OAuthError

        s = self.settings
        # RFC 6749 §2.3.1: servers must accept HTTP Basic; Google documents the form fields.
        method = "client_secret_post" if s.provider == "google" else "client_secret_basic"
        with OAuth2Session(s.client_id, self._secret(), scope=s.scope or None,
                           token_endpoint_auth_method=method) as session:
            try:
                if s.refresh_token_env:
                    answer = session.refresh_token(s.token_url, refresh_token=self._current_refresh_token(),
                                                   timeout=self.timeout, **self._verify())
                else:
                    answer = session.fetch_token(s.token_url, grant_type="client_credentials",
                                                 timeout=self.timeout, **self._verify())
            except OAuthError as exc:
                raise self._refused(exc.error, exc.description) from None
            except (requests.RequestException, ValueError) as exc:
                raise self._unreachable(exc) from None
        if not answer.get("access_token"):
            raise self._refused(None, "the answer held no access_token")
        if answer.get("refresh_token"):
            self._refresh_token = answer["refresh_token"]
        return self._issued(answer["access_token"], answer.get("expires_in"))


def _ca_session(verify: dict[str, str]):
    """Return a requests session for MSAL that checks certificates as oauth2.ca_file says."""
    import requests

    class Session(requests.Session):
        def request(self, method, url, **kwargs):
            for name, value in verify.items():
                kwargs.setdefault(name, value)
            return super().request(method, url, **kwargs)

    return Session()


_sources: dict[object, TokenSource] = {}
_sources_lock = threading.Lock()


def source_for(server: MailServer) -> TokenSource:
    """Return the token source of a server's xoauth2 settings (one per client, shared)."""
    key: object = server.oauth2 or ("token_env", server.token_env, server.user)
    with _sources_lock:
        source = _sources.get(key)
        if source is None:
            if server.oauth2 is None:
                source = StaticToken(server.token_env, server.user)
            elif server.oauth2.provider == "microsoft":
                source = MsalToken(server.oauth2, timeout=server.timeout)
            else:
                source = AuthlibToken(server.oauth2, timeout=server.timeout)
            _sources[key] = source
        return source


def forget_tokens() -> None:
    """Drop every cached token source (tests that start a fresh token server use this)."""
    with _sources_lock:
        _sources.clear()


class XOAuth2:
    """The XOAUTH2 client side as an imaplib/smtplib authobject.

    The first call gives ``user=…^Aauth=Bearer …^A^A``; a second call means the server refused
    and sent its error as a challenge, which the client must answer with an empty line.
    """

    def __init__(self, user: str, token: str) -> None:
        self.credentials = f"user={user}\1auth=Bearer {token}\1\1"
        self.calls = 0
        self.challenge: bytes | None = None

    def __call__(self, challenge: bytes | None = None) -> str:
        self.calls += 1
        if self.calls == 1:
            return self.credentials
        self.challenge = challenge
        return ""

    def reason(self) -> str:
        """Return the server's error challenge (a JSON status) as text, or an empty string."""
        return (self.challenge or b"").decode("utf-8", "replace").strip()


def login(server: MailServer, service: str, attempt: Callable[[str], None]) -> None:
    """Log in with the current token; when the server refuses it, renew once and try again.

    attempt(token) performs one XOAUTH2 exchange and raises TokenRefused when the server says
    no to the token. A fixed token (token_env) that is refused raises CredentialsRefused; a
    newly fetched one that is refused too raises MailboxError; neither loops.
    """
    source = source_for(server)
    where = f"{service} {server.host}:{server.port}"
    token = source.token()
    try:
        attempt(token)
        return
    except TokenRefused as exc:
        first = exc
    if not source.renewable:
        raise CredentialsRefused(
            f"{where} refused the OAuth2 access token in environment variable {server.token_env} for "
            f"{server.user} ({first}): it has probably expired, and a fixed token is never renewed – "
            "put a fresh one there, or configure oauth2 so visitflow fetches tokens itself") from None
    if not source.may_replace(token):
        raise MailboxError(f"{where} refused a newly fetched OAuth2 token for {server.user} ({first}): "
                           f"check that the app may use {service} for this mailbox")
    log.warning("%s refused the OAuth2 token for %s (%s); fetching a new one and trying once more",
                where, server.user, first)
    try:
        attempt(source.token(replacing=token))
    except TokenRefused as exc:
        raise MailboxError(f"{where} refused a newly fetched OAuth2 token for {server.user} ({exc}): "
                           f"check that the app may use {service} for this mailbox") from None


def _first_line(text: str | None) -> str:
    """Return the first line of a provider's message (Microsoft appends trace ids and times)."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:300]
