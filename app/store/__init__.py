"""The store: every query and write the application makes, as named functions.

Services decide; the store reads and writes. Nothing outside this package touches a
collection. Conventions (one module per collection: tickets.py, messages.py, users.py,
sessions.py, jobs.py, audit.py, notifications.py, ...):

- A store function takes the `Database` (app/db.py) first and keyword-only arguments after
  it, named in the support domain: `await store.users.by_email(db, email=...)`.
- It returns plain documents (dicts) or None, never a cursor: every read that can return
  many documents takes a `limit` (or walks in batches) and returns a list.
- Ids are ObjectIds by the time they reach the store; a malformed id is the caller's error
  (services validate untrusted input and raise the domain errors).
- A change that depends on what is stored is one conditional atomic update with the
  precondition in its filter (`find_one_and_update(..., return_document=AFTER)`): None
  means the precondition failed, and the caller says which.
- The real engine (PyMongo's AsyncMongoClient) and the embedded one (app/store/engine.py)
  are two ways of running these same functions; any difference between them is handled in
  this package and nowhere else.
"""

from bson import ObjectId

from ..errors import Invalid


def oid(value: object, field: str) -> ObjectId:
    """An id the store is given: an ObjectId, or its 24-hex-digit string. Anything else is
    the caller's mistake, answered as the same domain error a service raises (invalid),
    never a query with a wrong type that matches nothing or everything."""
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and len(value) == 24 and ObjectId.is_valid(value):
        return ObjectId(value)
    raise Invalid(f"{field} is not a valid id.", field=field)
