"""conversations"""

from . import assignment, effects, events, lines

# What a ticket change does here, first: the agents' open counts, the system lines, the
# socket events (operations adds its own listeners after these).
effects.listen("open counts", assignment.on_change)
effects.listen("system lines", lines.on_change)
effects.listen("live events", events.on_change)
