"""The business rules: the only code that reads or writes the database.

Five domain packages (their rule: core/__init__.py). Importing this package imports every
one of them, so that each has registered its listeners of ticket changes
(conversations/effects.py) whatever is used first; each imports the packages below it
first, so conversations' listeners always come before operations'."""

from . import conversations, core, guests, operations, people  # noqa: F401
