"""core: what every service package needs, and nothing of the support domain.

- `Ctx` (context.py): what every service function gets, and (protocols.py) the Protocols
  through which the app hands in the live events, the counters for /metrics and the
  sockets layer;
- validate: checks on untrusted input, shared by HTTP routes and socket events;
- client: where the current request or socket comes from (IP, user agent);
- ratelimit: the sliding-window limits;
- cursors: paging cursors as clients see them;
- useragent: a browser's user agent in a few words.

The rule of every package under app/services: its __init__.py (this file) names what other
code may use, in __all__: its public modules and the few names others need. Code outside
the package imports from here (`from ..core import Ctx, validate`), never a module this file
does not name, nor a module's path past the package (`..core.context`). Inside a package,
modules import each other directly. Packages import each other in one direction only,
core first: core <- conversations <- operations <- guests, people; and no import is placed
inside a function (tests/services/test_layout.py holds both)."""

from . import client, cursors, ratelimit, useragent, validate
from .context import Ctx
from .protocols import Counters, LiveEvents, Sockets

__all__ = ["Counters", "Ctx", "LiveEvents", "Sockets", "client", "cursors", "ratelimit", "useragent",
           "validate"]
