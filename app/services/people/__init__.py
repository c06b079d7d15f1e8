"""people: the team and how they sign in.

Public: accounts (signing in, invitations, password changes and resets, account admin),
users (accounts as records: creating, checking a password, a session cookie's identity),
sessions (one record per sign-in; `is_session_room`), twofactor (TOTP and backup codes),
api_tokens, canned_replies (an agent's own and the team's).

Imports core, conversations (presence, assignment) and operations (audit, mail).

How this package is used from outside follows the rule in core/__init__.py."""

from . import accounts, api_tokens, canned_replies, sessions, twofactor, users
from .sessions import is_session_room

__all__ = ["accounts", "api_tokens", "canned_replies", "is_session_room", "sessions", "twofactor",
           "users"]
