"""The embedded store keeps MongoDB's unique-index and _id rules with hash lookups
(app/db.py) instead of mongomock's scans: the rules themselves must not change."""

import pytest
from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from app import db
from app.config import Settings


@pytest.fixture
async def store():
    database = db.connect(Settings(secret_key="s" * 32))
    await db.ensure_indexes(database)
    return database


async def test_a_client_msg_id_is_unique_per_ticket_only(store):
    ticket_a, ticket_b = ObjectId(), ObjectId()
    await store.messages.insert_one({"ticket_id": ticket_a, "client_msg_id": "m1", "body": "x"})
    with pytest.raises(DuplicateKeyError) as caught:
        await store.messages.insert_one({"ticket_id": ticket_a, "client_msg_id": "m1", "body": "y"})
    assert caught.value.details["keyValue"] == {"ticket_id": ticket_a, "client_msg_id": "m1"}
    await store.messages.insert_one({"ticket_id": ticket_b, "client_msg_id": "m1", "body": "z"})
    # The partial index leaves messages without a client_msg_id alone.
    for _ in range(2):
        await store.messages.insert_one({"ticket_id": ticket_a, "body": "system"})
    assert await store.messages.count_documents({}) == 4


async def test_a_deleted_or_changed_holder_frees_its_key(store):
    await store.users.insert_one({"email": "a@example.com"})
    await store.users.delete_one({"email": "a@example.com"})
    await store.users.insert_one({"email": "a@example.com"})  # free again
    await store.users.update_one({"email": "a@example.com"}, {"$set": {"email": "b@example.com"}})
    await store.users.insert_one({"email": "a@example.com"})
    with pytest.raises(DuplicateKeyError):
        await store.users.insert_one({"email": "b@example.com"})


async def test_an_update_onto_a_taken_key_is_refused_and_rolled_back(store):
    await store.users.insert_one({"email": "a@example.com"})
    result = await store.users.insert_one({"email": "b@example.com"})
    with pytest.raises(DuplicateKeyError):
        await store.users.update_one({"_id": result.inserted_id}, {"$set": {"email": "a@example.com"}})
    assert (await store.users.find_one({"_id": result.inserted_id}))["email"] == "b@example.com"
    with pytest.raises(DuplicateKeyError):  # and the refused write took nothing
        await store.users.insert_one({"email": "b@example.com"})


async def test_a_unique_index_made_after_the_documents_knows_them(store):
    await store.tickets.insert_one({"guest_id": "g1", "subject": "one"})
    await store.tickets.create_index([("subject", ASCENDING)], unique=True)
    with pytest.raises(DuplicateKeyError):
        await store.tickets.insert_one({"guest_id": "g2", "subject": "one"})


async def test_find_by_id_finds_exactly_that_document(store):
    ids = [(await store.tickets.insert_one({"n": n})).inserted_id for n in range(3)]
    assert (await store.tickets.find_one({"_id": ids[1]}))["n"] == 1
    assert await store.tickets.find_one({"_id": ObjectId()}) is None
    assert await store.tickets.find_one({"_id": str(ids[1])}) is None  # a string is not an ObjectId
    await store.tickets.update_one({"_id": ids[2]}, {"$set": {"n": 20}})
    assert (await store.tickets.find_one({"_id": ids[2]}))["n"] == 20
