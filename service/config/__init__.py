"""Load and validate ``config.yaml`` into typed, read-only objects.

Every problem found is collected (not just the first) and reported as one line naming the
key, so a person fixing the file sees everything at once.  Secrets never live in the file:
it names environment variables, and :meth:`MailServer.secret` reads them when needed.
"""

from .model import (  # noqa: F401 - the public names, importable from service.config
    AUTH_MODES, EMAIL_RE, LANGUAGES, SECURITY_MODES, TIERS, WEEKDAYS, AutoReplyLimit, Config, Folders,
    GiftPolicy, GiftThreshold, Imap, MailServer, MonthlyPolicy, OAuth2, Organisation, Person, Policy, Region,
    Rep, Schedule, Storage, TierFrequency, Unit, UrgentPolicy,
)
from .parse import URGENT_CATEGORY_KEYS, load_config, parse_config  # noqa: F401
