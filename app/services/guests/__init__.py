"""guests: the widget and what a guest does outside a conversation's own events.

Public: widget_settings (what the widget shows and asks, and `start_chat`: a guest starts a
conversation on those terms), satisfaction (a guest rates a closed conversation), inbound
(a guest's e-mail reply becomes their message). Private: availability.py (opening hours,
the team's presence).

Imports core, conversations and operations. Guests and conversations meet through one
function each way: a chat starts through conversations' tickets.start_by_guest, handed the
widget's terms as a tickets.Welcome; conversations never asks guests anything.

How this package is used from outside follows the rule in core/__init__.py."""

from . import inbound, satisfaction, widget_settings

__all__ = ["inbound", "satisfaction", "widget_settings"]
