"""thin registry: projects, tasks, servers, allocations, incidents, deployments, agent configs,
task executions

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import foredeck.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_configs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("parameters", foredeck.models.base.JSONType, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_configs")),
        sa.UniqueConstraint("name", name=op.f("uq_agent_configs_name")),
    )

    op.create_table(
        "cli_agent_configs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("command", sa.String(length=512), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("parameters", foredeck.models.base.JSONType, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cli_agent_configs")),
        sa.UniqueConstraint("name", name=op.f("uq_cli_agent_configs_name")),
    )

    op.create_table(
        "servers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("capacity", foredeck.models.base.JSONType, nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servers")),
        sa.UniqueConstraint("name", name=op.f("uq_servers_name")),
    )

    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_servers_status"), ["status"], unique=False)

    op.create_table(
        "incidents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("server_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("opened_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", foredeck.models.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_incidents_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_server_id"), ["server_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_severity"), ["severity"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_status"), ["status"], unique=False)

    op.create_table(
        "projects",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("modules", foredeck.models.base.JSONType, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("repo_url", sa.String(length=512), nullable=True),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("config", foredeck.models.base.JSONType, nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_projects_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_projects_status"), ["status"], unique=False)

    op.create_table(
        "allocations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "server_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_allocations_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_allocations_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        sa.UniqueConstraint("server_id", "port", name=op.f("uq_allocations_server_id_port")),
    )

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocations_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocations_server_id"), ["server_id"], unique=False)

    op.create_table(
        "service_deployments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "server_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deployed_at", foredeck.models.base.UTCDateTime(), nullable=True),
        sa.Column("config", foredeck.models.base.JSONType, nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_service_deployments_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["server_id"], ["servers.id"], name=op.f("fk_service_deployments_server_id_servers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_deployments")),
    )

    with op.batch_alter_table("service_deployments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_deployments_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_deployments_server_id"), ["server_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_deployments_status"), ["status"], unique=False)

    op.create_table(
        "tasks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(length=128), nullable=True),
        sa.Column("payload", foredeck.models.base.JSONType, nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_tasks_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_type"), ["type"], unique=False)

    op.create_table(
        "task_executions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("started_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("finished_at", foredeck.models.base.UTCDateTime(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("result_data", foredeck.models.base.JSONType, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_executions_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_executions")),
    )

    with op.batch_alter_table("task_executions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_executions_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_executions_task_id"), ["task_id"], unique=False)
        batch_op.create_index("ix_task_executions_worker_id", ["worker_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_task_executions_worker_id")
        batch_op.drop_index(batch_op.f("ix_task_executions_task_id"))
        batch_op.drop_index(batch_op.f("ix_task_executions_status"))

    op.drop_table("task_executions")

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_type"))
        batch_op.drop_index(batch_op.f("ix_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_tasks_project_id"))

    op.drop_table("tasks")

    with op.batch_alter_table("service_deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_deployments_status"))
        batch_op.drop_index(batch_op.f("ix_service_deployments_server_id"))
        batch_op.drop_index(batch_op.f("ix_service_deployments_project_id"))

    op.drop_table("service_deployments")

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_server_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_project_id"))

    op.drop_table("allocations")

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_status"))
        batch_op.drop_index(batch_op.f("ix_projects_owner_id"))

    op.drop_table("projects")

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_status"))
        batch_op.drop_index(batch_op.f("ix_incidents_severity"))
        batch_op.drop_index(batch_op.f("ix_incidents_server_id"))

    op.drop_table("incidents")

    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_servers_status"))

    op.drop_table("servers")

    op.drop_table("cli_agent_configs")

    op.drop_table("agent_configs")
