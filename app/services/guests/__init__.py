"""guests: the widget and what a guest does outside a conversation's own events.

Public: widget_settings (what the widget shows and asks, and `start_chat`: a guest starts a
conversation on those terms), satisfaction (a guest rates a closed conversation), inbound
(a guest's e-mail reply becomes their message). Private: availability.py (opening hours,
the team's presence).

Imports core, conversations and operations; conversations never imports guests. A chat
starts here (widget_settings.start_chat), which hands the widget's terms to
conversations' tickets.start_by_guest as a tickets.Welcome: the e-mail address required or
not, and the first answer while the team is away. A rating and an e-mail reply reach the
conversation through tickets.change and messages.send, like any other.

How this package is used from outside follows the rule in core/__init__.py."""

from . import inbound, satisfaction, widget_settings

__all__ = ["inbound", "satisfaction", "widget_settings"]
