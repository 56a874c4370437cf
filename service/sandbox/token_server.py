"""A small OAuth2 authorization server on loopback: short-lived tokens and their introspection.

Stands in for Microsoft's and Google's token endpoints in the sandbox's OAuth2 mode, so the
service's XOAUTH2 logins run against the real Dovecot and Postfix without the internet:

- over HTTPS (the sandbox's certificate), for the service: ``POST /token`` and
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials or refresh token; client secret
  by HTTP Basic or form fields), and the OpenID discovery document MSAL reads first,
  ``GET /{tenant}/v2.0/.well-known/openid-configuration``;
- over plain HTTP on loopback, for Dovecot's oauth2 passdb: ``GET /tokeninfo?access_token=``
  (200 with the user, or 401 for a token that is unknown, expired or revoked) and
  ``POST /introspect`` (RFC 7662: active true/false and the username).

Runs in threads of the process that starts it; stop() ends them. Counters (tokens issued,
refusals, introspections) let tests measure what happened.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

TENANT = "visitflow-test"


@dataclass(frozen=True)
class Issued:
    token: str
    client_id: str
    user: str
    grant: str
    scope: str
    path: str
    client_auth: str  # basic | post (how the client sent its secret)
    at: float  # time.time()
    expires_at: float  # time.monotonic()


class TokenServer:
    """Issues bearer tokens that live ``lifetime`` seconds and tells Dovecot whether one is good."""

    def __init__(self, *, lifetime: float = 20.0, cert_file: Path | None = None,
                 key_file: Path | None = None, tenant: str = TENANT) -> None:
        self.lifetime = lifetime
        self.tenant = tenant
        self._cert_file, self._key_file = cert_file, key_file
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[str, str]] = {}  # client id -> (secret, user)
        self._refresh_tokens: dict[str, tuple[str, str]] = {}  # refresh token -> (client id, user)
        self._tokens: dict[str, Issued] = {}
        self.issued: list[Issued] = []
        self.refusals: list[str] = []  # error codes of refused token requests
        self.introspections = 0
        self.rejected_checks = 0  # tokeninfo/introspection answers for a token that is not good
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.http_port: int | None = None
        self.https_port: int | None = None

    # -- set-up -------------------------------------------------------------------------------

    def add_client(self, client_id: str, secret: str, user: str) -> None:
        """Register a confidential client whose tokens log in as user."""
        with self._lock:
            self._clients[client_id] = (secret, user.lower())

    def add_refresh_token(self, client_id: str, user: str) -> str:
        """Issue a refresh token for user to a registered client (as a sign-in would) and return it."""
        token = "rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh_tokens[token] = (client_id, user.lower())
        return token

    def expire_all(self) -> None:
        """End every token issued so far now, whatever its lifetime said (the client cannot see it)."""
        now = time.monotonic()
        with self._lock:
            self._tokens = {t: replace(i, expires_at=now) for t, i in self._tokens.items()}

    def start(self) -> None:
        """Listen on free loopback ports: HTTP always, HTTPS when a certificate was given."""
        if self._servers:
            return
        plain = _Server(("127.0.0.1", 0), _Handler, self)
        self._servers.append(plain)
        self.http_port = plain.server_address[1]
        if self._cert_file and self._key_file:
            tls = _Server(("127.0.0.1", 0), _Handler, self)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self._cert_file), str(self._key_file))
            # The handshake happens in the request's thread: a client that never speaks TLS
            # must not hold up the accept loop.
            tls.socket = context.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
            self._servers.append(tls)
            self.https_port = tls.server_address[1]
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"token-server-{server.server_address[1]}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop listening and end the server threads."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    # -- addresses ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Gives the HTTPS origin clients use, e.g. https://127.0.0.1:PORT."""
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def token_url(self) -> str:
        """Gives the generic (Google-style) token endpoint."""
        return f"{self.base_url}/token"

    @property
    def tokeninfo_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/tokeninfo?access_token="

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/introspect"

    # -- what the handler asks ----------------------------------------------------------------

    def grant(self, path: str, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict]:
        """Answer a token request: (HTTP status, JSON body)."""
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        grant_type = form.get("grant_type", "")
        with self._lock:
            known = self._clients.get(client_id)
            if known is None or not secrets.compare_digest(known[0], secret):
                return self._refuse(401, "invalid_client", "Invalid client secret provided, or unknown client.")
            user = known[1]
            if grant_type == "refresh_token":
                owner = self._refresh_tokens.get(form.get("refresh_token", ""))
                if owner is None or owner[0] != client_id:
                    return self._refuse(400, "invalid_grant", "The refresh token is expired or revoked.")
                user = owner[1]
            elif grant_type != "client_credentials":
                return self._refuse(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")
            token = "at-" + secrets.token_urlsafe(32)
            issued = Issued(token, client_id, user, grant_type, form.get("scope", ""), path,
                            "basic" if basic else "post", time.time(), time.monotonic() + self.lifetime)
            self._tokens[token] = issued
            self.issued.append(issued)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime),
                     "scope": issued.scope}

    def _refuse(self, status: int, error: str, description: str) -> tuple[int, dict]:
        self.refusals.append(error)
        return status, {"error": error, "error_description": description}

    def lookup(self, token: str, *, introspection: bool) -> Issued | None:
        """Return what a token was issued as, or None when it is unknown, expired or revoked."""
        with self._lock:
            if introspection:
                self.introspections += 1
            issued = self._tokens.get(token)
            if issued is not None and issued.expires_at <= time.monotonic():
                issued = None
            if issued is None:
                self.rejected_checks += 1
            return issued

    def discovery(self, tenant: str) -> tuple[int, dict]:
        """Answer MSAL's OpenID discovery request for tenant."""
        if tenant != self.tenant:
            return 400, {"error": "invalid_tenant", "error_description": f"Tenant '{tenant}' not found."}
        base = f"{self.base_url}/{tenant}"
        return 200, {"issuer": f"{base}/v2.0", "token_endpoint": f"{base}/oauth2/v2.0/token",
                     "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                     "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, tokens: TokenServer) -> None:
        self.tokens = tokens
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        tokens = self.server.tokens
        parts = [p for p in url.path.split("/") if p]
        if url.path == "/tokeninfo":
            token = parse_qs(url.query).get("access_token", [""])[0]
            issued = tokens.lookup(token, introspection=False)
            if issued is None:
                return self._json(401, {"error": "invalid_token", "error_description": "expired or unknown"})
            left = max(0, int(issued.expires_at - time.monotonic()))
            return self._json(200, {"username": issued.user, "email": issued.user, "expires_in": left,
                                    "scope": issued.scope, "client_id": issued.client_id})
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._json(*tokens.discovery(unquote(parts[0])))
        self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        tokens = self.server.tokens
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()}
        parts = [p for p in url.path.split("/") if p]
        if url.path == "/introspect":
            issued = tokens.lookup(form.get("token", ""), introspection=True)
            if issued is None:
                return self._json(200, {"active": False})
            return self._json(200, {"active": True, "username": issued.user, "client_id": issued.client_id,
                                    "scope": issued.scope, "token_type": "Bearer",
                                    "exp": int(issued.at + tokens.lifetime)})
        if url.path == "/token" or (len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]):
            if len(parts) == 4 and unquote(parts[0]) != tokens.tenant:
                return self._json(400, {"error": "invalid_tenant", "error_description": "Tenant not found."})
            return self._json(*tokens.grant(url.path, form, _basic(self.headers.get("Authorization"))))
        self._json(404, {"error": "not_found"})

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        pass  # the counters tell the tests what they need; stderr stays quiet


def _basic(header: str | None) -> tuple[str, str] | None:
    """Return (client id, secret) from an HTTP Basic header (RFC 6749 §2.3.1 form-encodes both)."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
