"""The store's contract tests run on the embedded engine always, and on a real MongoDB too
when TEST_MONGODB_URI is set (each test gets a database of its own, dropped after):

    TEST_MONGODB_URI=mongodb://localhost:27017 python3 run.py test tests/store
"""

from __future__ import annotations

import os
import uuid

import pytest

from app import db as db_module
from app.config import Settings

MONGODB_URI = os.environ.get("TEST_MONGODB_URI")
ENGINES = ["embedded", pytest.param("mongodb", marks=pytest.mark.skipif(
    not MONGODB_URI, reason="set TEST_MONGODB_URI to run the store's contract on a real MongoDB"))]


@pytest.fixture(params=ENGINES)
async def database(request):
    if request.param == "embedded":
        settings = Settings(secret_key="s" * 32)
    else:
        settings = Settings(secret_key="s" * 32, mongodb_uri=MONGODB_URI,
                            mongodb_db=f"support_test_{uuid.uuid4().hex[:12]}")
    database = db_module.connect(settings)
    try:  # the client is closed (and the database dropped) even when ensure_indexes fails
        await db_module.ensure_indexes(database)
        yield database
    finally:
        try:
            if not database.embedded:
                await database.client.drop_database(settings.mongodb_db)
        finally:
            await database.close()


@pytest.fixture
def embedded(database):
    if not database.embedded:
        pytest.skip("about the embedded engine only")
    return database
