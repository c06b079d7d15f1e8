"""Files attached to messages, kept in MongoDB the way GridFS keeps them: a document per file
in `attachments.files` (name, size, type, ticket) and its bytes in 255 KiB pieces in
`attachments.chunks`.

On a real MongoDB this is GridFS itself, through PyMongo's `AsyncGridFSBucket` (bucket
"attachments"; in PyMongo 4.x it lives in `gridfs`, not `pymongo.asynchronous.gridfs`). The
embedded engine has no GridFS (mongomock does not run the driver's GridFS code), so here the
same two collections are written by hand in the same layout: a file document, then its
chunks, each chunk a document holding `bytes`. Everything is in memory and lost at a
restart, and every file counts against the process's memory (MAX_UPLOAD_MB bounds one file,
nothing bounds them all): the embedded engine is for trying the product, not for keeping
files."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from ..db import Collection, Database
from . import oid

if TYPE_CHECKING:
    from gridfs import AsyncGridFSBucket

BUCKET = "attachments"
CHUNK_SIZE = 255 * 1024  # GridFS's default


def _bucket(db: Database) -> AsyncGridFSBucket:
    from gridfs import AsyncGridFSBucket

    assert isinstance(db.db, AsyncDatabase)  # callers asked db.embedded first
    return AsyncGridFSBucket(db.db, bucket_name=BUCKET, chunk_size_bytes=CHUNK_SIZE)


def _files(db: Database) -> Collection:
    return db.db[f"{BUCKET}.files"]


def _chunks(db: Database) -> Collection:
    return db.db[f"{BUCKET}.chunks"]


async def put(db: Database, *, data: bytes, filename: str, content_type: str, ticket_id: ObjectId,
              uploaded_by: dict, at: datetime) -> ObjectId:
    """Store one file whole; returns its id. A failure part-way leaves nothing behind."""
    metadata = {"content_type": content_type, "ticket_id": oid(ticket_id, "ticket_id"),
                "uploaded_by": uploaded_by}
    file_id = ObjectId()
    if not db.embedded:
        await _bucket(db).upload_from_stream_with_id(file_id, filename, data, metadata=metadata)
        return file_id
    try:
        for n, start in enumerate(range(0, max(len(data), 1), CHUNK_SIZE)):
            await _chunks(db).insert_one({"files_id": file_id, "n": n,
                                          "data": bytes(data[start:start + CHUNK_SIZE])})
        # The file document last, as GridFS writes it: a file is found only once it is whole.
        await _files(db).insert_one({"_id": file_id, "filename": filename, "length": len(data),
                                     "chunkSize": CHUNK_SIZE, "uploadDate": at, "metadata": metadata})
    except BaseException:
        await _chunks(db).delete_many({"files_id": file_id})
        raise
    return file_id


async def info(db: Database, *, file_id: ObjectId) -> dict | None:
    """The file's document (filename, length, metadata), without its bytes."""
    return await _files(db).find_one({"_id": oid(file_id, "attachment_id")})


async def read(db: Database, *, file_id: ObjectId) -> bytes | None:
    """The file's bytes (at most MAX_UPLOAD_MB), or None when there is no such file."""
    file_id = oid(file_id, "attachment_id")
    if not db.embedded:
        from gridfs.errors import NoFile

        try:
            stream = await _bucket(db).open_download_stream(file_id)
        except NoFile:
            return None
        return await stream.read()
    if await _files(db).find_one({"_id": file_id}) is None:
        return None
    chunks = await _chunks(db).find({"files_id": file_id}).sort("n", 1).to_list(None)
    return b"".join(bytes(chunk["data"]) for chunk in chunks)


async def delete(db: Database, *, file_id: ObjectId) -> None:
    file_id = oid(file_id, "attachment_id")
    if not db.embedded:
        from gridfs.errors import NoFile

        try:
            await _bucket(db).delete(file_id)
        except NoFile:
            pass
        return
    await _files(db).delete_one({"_id": file_id})
    await _chunks(db).delete_many({"files_id": file_id})


async def count(db: Database) -> int:
    """How many files are stored (tests: a refused upload stores nothing)."""
    return await _files(db).count_documents({})
