"""Read the ``imap`` and ``smtp`` sections: host, port, TLS, login, OAuth2 (spec §1)."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any



from .checks import _Reader
from .model import (
    AUTH_MODES, DEFAULT_SCOPES, ENV_NAME_RE, GOOGLE_TOKEN_URL, MICROSOFT_AUTHORITY, OAUTH2_PROVIDERS,
    SECURITY_MODES, OAuth2,
)


def _mail_server(r: _Reader, data: Any, key: str, *, default_port: int, base: Path) -> dict:
    data = r.mapping(data, key)
    auth = r.str(data, "auth", key, default="password", choices=AUTH_MODES)
    user = r.str(data, "user", key, required=auth == "xoauth2")
    oauth2 = _oauth2(r, data, key, base, auth=auth)
    server = dict(
        host=r.str(data, "host", key, default="127.0.0.1"),
        port=r.int(data, "port", key, default=default_port, low=1, high=65535),
        security=r.str(data, "security", key, default="plain", choices=SECURITY_MODES),
        user=user,
        auth=auth,
        password_env=r.str(data, "password_env", key, required=False),
        token_env=r.str(data, "token_env", key, required=False),
        timeout=r.number(data, "timeout", key, default=30.0),
        ca_file=_ca_file(r, data, key, base),
        oauth2=oauth2,
    )
    for name in ("password_env", "token_env"):
        _env_name(r, server[name], f"{key}.{name}")
    for name, where in (("password", "password_env"), ("token", "token_env"), ("access_token", "token_env")):
        if name in data:
            r.fail(f"{key}.{name}", "secrets must not be written in config.yaml: put it in an "
                   f"environment variable and name that in {where}")
    if user and auth == "password" and not server["password_env"]:
        r.fail(f"{key}.password_env", f"is missing: name the environment variable holding {user}'s password")
    if auth == "xoauth2" and "oauth2" not in data and not server["token_env"]:
        r.fail(f"{key}.token_env", "is missing: name the environment variable holding the access token, "
               "or configure oauth2 so visitflow fetches and renews tokens itself")
    if auth == "xoauth2" and "oauth2" in data and server["token_env"]:
        r.fail(f"{key}.token_env", "use either token_env (a fixed token, never renewed) or oauth2 "
               "(tokens fetched and renewed), not both")
    return server


_OAUTH2_KEYS = ("provider", "tenant", "authority", "token_url", "client_id", "client_secret_env",
                "refresh_token_env", "scope", "ca_file")


def _oauth2(r: _Reader, server: dict, key: str, base: Path, *, auth: str | None) -> OAuth2 | None:
    """Read the optional oauth2 block of imap or smtp: one problem line per bad key."""
    if "oauth2" not in server:
        return None
    key = f"{key}.oauth2"
    data = r.mapping(server["oauth2"], key)
    if auth != "xoauth2":
        r.fail(key, "is only used with auth: xoauth2")
        return None
    for name in ("client_secret", "refresh_token", "access_token", "token"):
        if name in data:
            env = "refresh_token_env" if name == "refresh_token" else "client_secret_env"
            r.fail(f"{key}.{name}", f"secrets must not be written in config.yaml: put it in an "
                   f"environment variable and name that in {env}")
    for name in data:
        if name not in _OAUTH2_KEYS and name not in ("client_secret", "refresh_token", "access_token", "token"):
            r.fail(f"{key}.{name}", f"is not an oauth2 setting (known: {', '.join(_OAUTH2_KEYS)})")
    provider = r.str(data, "provider", key, choices=OAUTH2_PROVIDERS)
    client_id = r.str(data, "client_id", key)
    secret_env = r.str(data, "client_secret_env", key)
    refresh_env = r.str(data, "refresh_token_env", key, required=False)
    _env_name(r, secret_env, f"{key}.client_secret_env")
    _env_name(r, refresh_env, f"{key}.refresh_token_env")
    tenant = r.str(data, "tenant", key, required=provider == "microsoft")
    authority = r.str(data, "authority", key, default=MICROSOFT_AUTHORITY)
    token_url = r.str(data, "token_url", key, required=provider == "generic",
                      default=GOOGLE_TOKEN_URL if provider == "google" else None)
    if provider == "microsoft":
        if "token_url" in data:
            r.fail(f"{key}.token_url", "is not used with provider microsoft: MSAL finds the token "
                   "endpoint from authority and tenant")
        if not _https_url(authority):
            r.fail(f"{key}.authority", f"must be an https:// URL such as {MICROSOFT_AUTHORITY} (got {authority!r})")
        if tenant and not re.fullmatch(r"[A-Za-z0-9.-]+", tenant):
            r.fail(f"{key}.tenant", f"must be a directory (tenant) id or domain (got {tenant!r})")
    elif "authority" in data or "tenant" in data:
        r.fail(f"{key}.{'authority' if 'authority' in data else 'tenant'}",
               "is only used with provider microsoft (others name token_url)")
    if token_url and not _https_url(token_url):
        r.fail(f"{key}.token_url", f"must be an https:// URL: the client secret travels in it (got {token_url!r})")
    if provider == "google" and not refresh_env:
        r.fail(f"{key}.refresh_token_env", "is missing: Google gives mail access only to a user's refresh "
               "token (it has no client-credentials grant for Gmail)")
    grant = "refresh_token" if refresh_env else "client_credentials"
    scope = r.str(data, "scope", key, required=False, default=DEFAULT_SCOPES.get((provider or "", grant), ""))
    ca_file = _ca_file(r, data, key, base)
    if not (provider and client_id and secret_env):
        return None
    return OAuth2(provider=provider, client_id=client_id, client_secret_env=secret_env,
                  refresh_token_env=refresh_env, scope=" ".join((scope or "").split()),
                  token_url=token_url if provider != "microsoft" else None,
                  tenant=tenant if provider == "microsoft" else None,
                  authority=(authority or MICROSOFT_AUTHORITY).rstrip("/"), ca_file=ca_file)


def _https_url(value: str | None) -> bool:
    return bool(value and re.fullmatch(r"https://[^\s/?#]+(/[^\s]*)?", value))


def _env_name(r: _Reader, value: str | None, key: str) -> None:
    if value and not ENV_NAME_RE.fullmatch(value):
        r.fail(key, f"must name an environment variable (got {value!r})")


def _ca_file(r: _Reader, data: dict, key: str, base: Path) -> Path | None:
    """Read the optional CA bundle path (relative to the config file's folder); it must load."""
    if "tls_verify" in data:
        r.fail(f"{key}.tls_verify", "certificate verification cannot be turned off: for a server "
               "with a private CA, name its CA bundle (PEM) in ca_file")
    name = r.str(data, "ca_file", key, required=False)
    if name is None:
        return None
    path = base / Path(name).expanduser()
    if not path.is_file():
        r.fail(f"{key}.ca_file", f"no such file: {path}")
        return None
    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        r.fail(f"{key}.ca_file", f"is not a readable PEM CA bundle: {path} ({exc})")
        return None
    return path
