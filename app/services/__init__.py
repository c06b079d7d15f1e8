"""The business rules: the only code that reads or writes the database."""
