"""A devnet chain that survives a restart: py-evm's key-value store, journaled to a file.

py-evm keeps the whole chain (headers, blocks, receipts, state tries, the canonical head) in one
key-value store. Every write to that store is appended to a journal, and the devnet flushes the journal
before it answers the request that caused the writes, so a devnet killed at any moment restarts at the
last block it told anyone about. A record torn by a kill mid-write is dropped on load. On opening, the
journal is rewritten compacted (one record per live key), through a temporary file and a rename.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from web3 import Web3

MAGIC = b"green-travel-credits devnet journal 1\n"
RECORD = struct.Struct(">BII")
"""A record's head: kind, key length, value length; the key and the value follow."""
SET, DELETE = 1, 2


class JournalError(Exception):
    """The file is not a devnet journal."""


class JournaledDB(MemoryDB):
    """py-evm's in-memory store, with every write also appended to a journal file."""

    def __init__(self, kv_store: dict[bytes, bytes], journal: BinaryIO) -> None:
        super().__init__(kv_store)
        self._journal = journal

    def __setitem__(self, key: bytes, value: bytes) -> None:
        super().__setitem__(key, value)
        self._journal.write(RECORD.pack(SET, len(key), len(value)) + key + value)

    def __delitem__(self, key: bytes) -> None:
        super().__delitem__(key)
        self._journal.write(RECORD.pack(DELETE, len(key), 0) + key)

    def flush(self) -> None:
        """Hand the writes so far to the operating system: they survive the process being killed."""
        self._journal.flush()

    def close(self) -> None:
        self._journal.close()


def read_journal(path: Path) -> dict[bytes, bytes]:
    """The store a journal describes; a torn last record is ignored."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise JournalError(f"{path} is not a devnet journal (remove it, or start with --fresh)")
    store: dict[bytes, bytes] = {}
    offset = len(MAGIC)
    while offset + RECORD.size <= len(data):
        kind, key_length, value_length = RECORD.unpack_from(data, offset)
        start = offset + RECORD.size
        end = start + key_length + value_length
        if end > len(data) or kind not in (SET, DELETE):
            break
        key = data[start : start + key_length]
        if kind == SET:
            store[key] = data[start + key_length : end]
        else:
            store.pop(key, None)
        offset = end
    return store


def write_journal(path: Path, store: dict[bytes, bytes]) -> None:
    """A compacted journal of `store`, replacing `path` atomically."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(MAGIC)
        for key, value in store.items():
            file.write(RECORD.pack(SET, len(key), len(value)) + key + value)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)


def persist(w3: Web3, path: Path) -> tuple[JournaledDB, bool]:
    """Make the in-process chain behind `w3` durable at `path`: restore the chain saved there if there is
    one, else start the journal from the chain as it is. Returns the store (flush it after each request)
    and whether a saved chain was restored."""
    backend = w3.provider.ethereum_tester.backend  # type: ignore[attr-defined]
    restored = path.exists()
    store = read_journal(path) if restored else dict(backend.chain.chaindb.db.wrapped_db.kv_store)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_journal(path, store)
    db = JournaledDB(store, path.open("ab"))
    # The same chain class (eth-tester's, with its chain id and forks) over the journaled store; its
    # pending block is built anew on the saved head.
    backend.chain = type(backend.chain)(AtomicDB(db))
    return db, restored
