"""Alembic environment of the registry: runs on the connection handed in by ``openidds.clinic.database``."""

from alembic import context
from sqlalchemy import Connection, create_engine

from openidds.clinic.errors import RegistryError
from openidds.clinic.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RegistryError("sqlalchemy.url", None, "a database URL in the Alembic configuration, or a connection")
    engine = create_engine(url)
    with engine.begin() as fresh:
        _run(fresh)
