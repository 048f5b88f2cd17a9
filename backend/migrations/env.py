"""Alembic's environment for the backend's schema: the tables of `backend.models`.

`Database.migrate()` runs it on its own connection; for writing a new migration, run
`alembic -c backend/alembic.ini revision --autogenerate -m "..."` with BACKEND_DATABASE_URL set.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from backend import models  # noqa: F401  (registers the tables)
from backend.models import BackendModel

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("BACKEND_DATABASE_URL", "sqlite:///var/backend.db")
    with create_engine(url).begin() as opened:
        context.configure(connection=opened, target_metadata=BackendModel.metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=BackendModel.metadata, render_as_batch=True)
    context.run_migrations()
