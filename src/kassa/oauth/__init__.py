"""``POST /oauth/token`` and ``POST /oauth/revoke``: the grants of the core API.

The HTTP side of authentication. The domain pieces it uses (signed tokens, passwords, login
throttling, the deny list) live below it in :mod:`kassa.auth`.

* :mod:`kassa.oauth.endpoint`: the two endpoints and the three grants.
* :mod:`kassa.oauth.scopes`: the market (and stock locations) a token is scoped to.
* :mod:`kassa.oauth.refresh`: refresh tokens: issue, rotate, revoke a login.
* :mod:`kassa.oauth.params`: the request body, form-encoded or JSON.
* :mod:`kassa.oauth.errors`: the OAuth error answers.
"""

from kassa.oauth.endpoint import OAuth

__all__ = ["OAuth"]
