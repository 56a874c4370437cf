"""OAuth2 that lasts: tokens fetched, kept, renewed before expiry and after a refusal; settings checked.

The logic tests here need no server. The mail tests (marked ``mail``) run the service's real
IMAP and SMTP code against the sandbox's Dovecot and Postfix in OAuth2 mode, where a local
token server issues tokens that live 20 s; see also tests/test_oauth2_on_real_servers.py.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from service import oauth
from service.config import parse_config
from service.errors import ConfigError, MailboxError

from .conftest import REPO, base_config_data


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingSource(oauth.TokenSource):
    """A token source whose provider hands out t1, t2, … valid for `lifetime` seconds."""

    def __init__(self, lifetime: float | None, clock: FakeClock) -> None:
        super().__init__("test client", clock=clock)
        self.lifetime = lifetime

    def _fetch(self) -> oauth.Token:
        return self._issued(f"t{self.fetched + 1}", self.lifetime)


RENEWAL = [
    # lifetime, seconds after it was issued, whether the next login gets a new token
    (20, 17.9, False),     # 2.1 s left: more than a tenth of 20 s
    (20, 18.0, True),      # 2 s left: a tenth of its lifetime
    (3600, 3539, False),   # 61 s left of an hour: a tenth would be 360 s, the cap is 60 s
    (3600, 3540, True),    # 60 s left
    (300, 269, False),     # 31 s left of 5 minutes (a tenth is 30 s)
    (300, 271, True),
    (None, 10**6, False),  # no expires_in in the answer: renewed only when a server refuses it
]


@pytest.mark.parametrize("lifetime, age, renewed", RENEWAL)
def test_a_token_is_renewed_once_less_than_a_tenth_of_its_lifetime_and_at_most_60_s_remain(
        lifetime, age, renewed):
    clock = FakeClock()
    source = CountingSource(lifetime, clock)
    assert source.token() == "t1"
    clock.now += age
    assert source.token() == ("t2" if renewed else "t1")
    assert source.fetched == (2 if renewed else 1)


def test_a_token_is_reused_for_every_login_while_it_is_fresh():
    clock = FakeClock()
    source = CountingSource(20, clock)
    tokens = []
    for _ in range(10):
        tokens.append(source.token())
        clock.now += 1.5
    assert tokens == ["t1"] * 10
    assert source.fetched == 1


def test_a_refused_token_is_replaced_once_even_when_two_threads_saw_it_refused():
    source = CountingSource(3600, FakeClock())
    first = source.token()
    assert source.token(replacing=first) == "t2"
    assert source.token(replacing=first) == "t2"  # the other thread: already renewed
    assert source.fetched == 2


class Server:
    """Stands in for an IMAP or SMTP server that refuses some tokens."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.presented: list[str] = []

    def attempt(self, token: str) -> None:
        self.presented.append(token)
        if token in self.refuse:
            raise oauth.TokenRefused("NO [AUTHENTICATIONFAILED] Authentication failed.")


def mail_server(**changes):
    data = copy.deepcopy(base_config_data())
    data["imap"].update(auth="xoauth2", token_env="VF_TEST_TOKEN", **changes)
    data["imap"].pop("password_env", None)
    return parse_config(data, path=REPO / "config.yaml").imap


@pytest.fixture
def source(monkeypatch) -> CountingSource:
    """Put a counting source behind the test mail server's settings."""
    server = mail_server()
    counting = CountingSource(3600, FakeClock())
    monkeypatch.setitem(oauth._sources, ("token_env", server.token_env, server.user), counting)
    return counting


def test_a_token_the_server_refuses_is_renewed_once_and_the_login_tried_again(source):
    server = Server(refuse={"t1"})
    oauth.login(mail_server(), "IMAP", server.attempt)
    assert server.presented == ["t1", "t2"]
    assert source.fetched == 2


def test_a_newly_fetched_token_that_is_refused_too_gives_one_clear_error_not_a_loop(source):
    server = Server(refuse={"t1", "t2", "t3"})
    with pytest.raises(MailboxError) as caught:
        oauth.login(mail_server(), "IMAP", server.attempt)
    assert server.presented == ["t1", "t2"]
    assert not isinstance(caught.value, ConfigError)  # may be the server's passing trouble: retried
    assert str(caught.value).startswith("IMAP 127.0.0.1:14143 refused a newly fetched OAuth2 token "
                                        "for visits@visitflow.test")
    assert "check that the app may use IMAP for this mailbox" in str(caught.value)


def test_a_refused_fixed_token_from_token_env_is_a_clear_error_and_not_retried(monkeypatch):
    monkeypatch.setenv("VF_TEST_TOKEN", "stale-token")
    oauth.forget_tokens()
    server = Server(refuse={"stale-token"})
    with pytest.raises(oauth.CredentialsRefused) as caught:
        oauth.login(mail_server(), "SMTP", server.attempt)
    assert server.presented == ["stale-token"]
    message = str(caught.value)
    assert "refused the OAuth2 access token in environment variable VF_TEST_TOKEN" in message
    assert "expired" in message and "never renewed" in message


def test_a_missing_token_variable_is_a_config_error_naming_it(monkeypatch):
    monkeypatch.delenv("VF_TEST_TOKEN", raising=False)
    oauth.forget_tokens()
    with pytest.raises(ConfigError, match="environment variable VF_TEST_TOKEN is not set"):
        mail_server().secret()


def test_the_xoauth2_answer_is_the_credentials_then_an_empty_line_to_the_error_challenge():
    answer = oauth.XOAuth2("visits@example.com", "tok")
    assert answer() == "user=visits@example.com\1auth=Bearer tok\1\1"
    assert answer(b'{"status":"401","schemes":"bearer"}') == ""
    assert answer.reason() == '{"status":"401","schemes":"bearer"}'


# -- settings ---------------------------------------------------------------------------------

MICROSOFT = {"provider": "microsoft", "tenant": "contoso.onmicrosoft.com", "client_id": "app-1",
             "client_secret_env": "VF_SECRET"}
GOOGLE = {"provider": "google", "client_id": "app-2.apps.googleusercontent.com",
          "client_secret_env": "VF_SECRET", "refresh_token_env": "VF_REFRESH"}
GENERIC = {"provider": "generic", "token_url": "https://id.example.com/oauth2/token", "client_id": "app-3",
           "client_secret_env": "VF_SECRET"}


def with_oauth2(section: str, oauth2: dict | str | None, server: dict | None = None) -> dict:
    """Return config.yaml's data with section switched to XOAUTH2 (and server's keys on top)."""
    data = copy.deepcopy(base_config_data())
    data[section].pop("password_env", None)
    data[section].update({"auth": "xoauth2", "user": "visits@visitflow.test", **(server or {})})
    if oauth2 is not None:
        data[section]["oauth2"] = oauth2
    return data


GOOD = [
    # section, oauth2, expected (provider, grant, scope, token_url, tenant)
    ("imap", MICROSOFT, ("microsoft", "client_credentials", "https://outlook.office365.com/.default", None,
                         "contoso.onmicrosoft.com")),
    ("smtp", {**MICROSOFT, "refresh_token_env": "VF_REFRESH"},
     ("microsoft", "refresh_token", ("https://outlook.office.com/IMAP.AccessAsUser.All "
                                     "https://outlook.office.com/SMTP.Send"), None, "contoso.onmicrosoft.com")),
    ("imap", GOOGLE, ("google", "refresh_token", "https://mail.google.com/", "https://oauth2.googleapis.com/token",
                      None)),
    ("smtp", {**GENERIC, "scope": "mail.send  mail.read"},
     ("generic", "client_credentials", "mail.send mail.read", "https://id.example.com/oauth2/token", None)),
]


@pytest.mark.parametrize("section, oauth2, expected", GOOD, ids=["microsoft-app", "microsoft-user", "google",
                                                                  "generic"])
def test_oauth2_settings_are_read_with_each_providers_defaults(section, oauth2, expected):
    cfg = parse_config(with_oauth2(section, oauth2), path=REPO / "config.yaml")
    s = getattr(cfg, section).oauth2
    assert (s.provider, s.grant, s.scope, s.token_url, s.tenant) == expected
    assert getattr(cfg, section).token_env is None


BROKEN = [
    (dict(MICROSOFT, provider="azure"), "imap.oauth2.provider: must be one of microsoft, google, generic"),
    ({k: v for k, v in MICROSOFT.items() if k != "tenant"}, "imap.oauth2.tenant: is missing"),
    (dict(MICROSOFT, tenant="contoso/../x"), "imap.oauth2.tenant: must be a directory (tenant) id or domain"),
    (dict(MICROSOFT, token_url="https://x.example/token"), "imap.oauth2.token_url: is not used with provider microsoft"),
    (dict(MICROSOFT, authority="http://login.example"), "imap.oauth2.authority: must be an https:// URL"),
    ({k: v for k, v in GENERIC.items() if k != "token_url"}, "imap.oauth2.token_url: is missing"),
    (dict(GENERIC, token_url="http://id.example.com/token"), "imap.oauth2.token_url: must be an https:// URL"),
    (dict(GENERIC, tenant="x"), "imap.oauth2.tenant: is only used with provider microsoft"),
    ({k: v for k, v in GOOGLE.items() if k != "refresh_token_env"},
     "imap.oauth2.refresh_token_env: is missing: Google gives mail access only to a user's refresh token"),
    (dict(GENERIC, client_secret="hunter2"), "imap.oauth2.client_secret: secrets must not be written in config.yaml"),
    (dict(GOOGLE, refresh_token="1//0g"), "imap.oauth2.refresh_token: secrets must not be written in config.yaml"),
    (dict(GENERIC, client_secret_env="not a name"), "imap.oauth2.client_secret_env: must name an environment variable"),
    ({k: v for k, v in GENERIC.items() if k != "client_secret_env"}, "imap.oauth2.client_secret_env: is missing"),
    (dict(GENERIC, secret_env="VF_SECRET"), "imap.oauth2.secret_env: is not an oauth2 setting"),
    (dict(GENERIC, ca_file="nowhere/ca.pem"), "imap.oauth2.ca_file: no such file"),
    ("client-credentials", "imap.oauth2: must be a mapping"),
]


@pytest.mark.parametrize("oauth2, expected", BROKEN, ids=[b[1].split(":")[0] + "-" + str(i) for i, b in enumerate(BROKEN)])
def test_a_broken_oauth2_setting_is_reported_in_one_line_by_its_key(oauth2, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(with_oauth2("imap", oauth2), path=REPO / "config.yaml")
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


SERVER_LEVEL = [
    ({"token_env": "VF_TOKEN", "oauth2": GENERIC}, "imap.token_env: use either token_env"),
    ({}, "imap.token_env: is missing: name the environment variable holding the access token, or configure oauth2"),
    ({"token_env": "VF_TOKEN", "access_token": "eyJ0eXAi"}, "imap.access_token: secrets must not be written"),
    ({"auth": "password", "password_env": "VF_PASSWORD", "oauth2": GENERIC},
     "imap.oauth2: is only used with auth: xoauth2"),
]


@pytest.mark.parametrize("server, expected", SERVER_LEVEL, ids=["both", "neither", "token-in-file", "password"])
def test_xoauth2_needs_exactly_one_of_token_env_and_oauth2(server, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(with_oauth2("imap", None, server), path=REPO / "config.yaml")
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_the_oauth2_example_in_config_yaml_is_valid_once_uncommented():
    lines = (REPO / "config.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index("  # oauth2:")
    block = []
    for line in lines[start:]:
        if not line.startswith("  #"):
            break
        block.append(line[4:])  # "  # " off: the keys, while "#   # …" stays a comment
    example = yaml.safe_load("\n".join(block))["oauth2"]

    cfg = parse_config(with_oauth2("imap", example), path=REPO / "config.yaml")

    s = cfg.imap.oauth2
    assert (s.provider, s.tenant, s.grant, s.client_secret_env, s.scope) == (
        "microsoft", "contoso.onmicrosoft.com", "client_credentials", "VISITFLOW_OAUTH2_SECRET",
        "https://outlook.office365.com/.default")


def test_a_replacement_token_refused_again_is_not_replaced_at_every_reconnect_but_after_a_minute(source):
    server = Server(refuse={"t1", "t2", "t3", "t4"})  # e.g. the app lost its mailbox permission
    for _ in range(3):  # the daemon reconnecting every few seconds
        with pytest.raises(MailboxError, match="refused a newly fetched OAuth2 token"):
            oauth.login(mail_server(), "IMAP", server.attempt)
        source.clock.now += 5
    assert server.presented == ["t1", "t2", "t2", "t2"]
    assert source.fetched == 2
    source.clock.now += oauth.REFUSED_AGAIN_SPACING
    with pytest.raises(MailboxError):
        oauth.login(mail_server(), "IMAP", server.attempt)
    assert server.presented[-2:] == ["t2", "t3"]
    assert source.fetched == 3
