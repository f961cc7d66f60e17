"""The registry's resources: each one is a model, its schemas and a CrudSpec.

Seed 002's users, api_keys, available_models and rag are foredeck objects served by their own
domains (auth, embedding, index); they are listed in EXTERNAL so the CLI and docs know of them.
"""

from __future__ import annotations

from typing import Literal

from foredeck.kit.crud import CrudSpec
from foredeck.models.auth import User
from foredeck.models.registry import (
    AgentConfig,
    CLIAgentConfig,
    Incident,
    PortAllocation,
    Project,
    Server,
    ServiceDeployment,
    Task,
    TaskExecution,
)
from foredeck.registry import schemas as s
from foredeck.registry.service import executions_source, fetch_job_run

PROJECTS = CrudSpec(
    path="projects",
    label="project",
    model=Project,
    create=s.ProjectCreate,
    update=s.ProjectUpdate,
    out=s.ProjectOut,
    filters={"status": s.ProjectStatus, "owner_id": int, "name": str},
    search=("name", "description"),
    sort_fields=("id", "name", "status", "created_at", "updated_at"),
    unique=(("name",),),
    foreign_keys={"owner_id": User},
)
TASKS = CrudSpec(
    path="tasks",
    label="task",
    model=Task,
    create=s.TaskCreate,
    update=s.TaskUpdate,
    out=s.TaskOut,
    filters={"project_id": int, "type": s.TaskType, "status": s.TaskStatus, "assignee": str},
    search=("title",),
    sort_fields=("id", "title", "priority", "status", "created_at", "updated_at"),
    foreign_keys={"project_id": Project},
)
SERVERS = CrudSpec(
    path="servers",
    label="server",
    model=Server,
    create=s.ServerCreate,
    update=s.ServerUpdate,
    out=s.ServerOut,
    filters={"name": str, "status": s.ServerStatus, "provider": str, "region": str, "host": str},
    search=("name", "host"),
    sort_fields=("id", "name", "status", "created_at", "updated_at"),
    unique=(("name",),),
)
ALLOCATIONS = CrudSpec(
    path="allocations",
    label="allocation",
    model=PortAllocation,
    create=s.AllocationCreate,
    update=s.AllocationUpdate,
    out=s.AllocationOut,
    filters={"server_id": int, "project_id": int, "port": int, "protocol": s.Protocol},
    search=("service",),
    sort_fields=("id", "port", "service", "created_at"),
    unique=(("server_id", "port"),),
    foreign_keys={"server_id": Server, "project_id": Project},
)
INCIDENTS = CrudSpec(
    path="incidents",
    label="incident",
    model=Incident,
    create=s.IncidentCreate,
    update=s.IncidentUpdate,
    out=s.IncidentOut,
    filters={"server_id": int, "severity": s.Severity, "status": s.IncidentStatus},
    search=("title", "description"),
    sort_fields=("id", "opened_at", "resolved_at", "severity", "status", "created_at"),
    foreign_keys={"server_id": Server},
)
SERVICE_DEPLOYMENTS = CrudSpec(
    path="service_deployments",
    label="service deployment",
    model=ServiceDeployment,
    create=s.DeploymentCreate,
    update=s.DeploymentUpdate,
    out=s.DeploymentOut,
    filters={
        "project_id": int,
        "server_id": int,
        "service": str,
        "status": s.DeploymentStatus,
    },
    search=("service", "version"),
    sort_fields=("id", "service", "deployed_at", "status", "created_at"),
    foreign_keys={"server_id": Server, "project_id": Project},
)
AGENT_CONFIGS = CrudSpec(
    path="agent_configs",
    label="agent config",
    model=AgentConfig,
    create=s.AgentConfigCreate,
    update=s.AgentConfigUpdate,
    out=s.AgentConfigOut,
    filters={"model": str, "enabled": bool, "name": str},
    search=("name", "model"),
    sort_fields=("id", "name", "created_at", "updated_at"),
    unique=(("name",),),
)
CLI_AGENT_CONFIGS = CrudSpec(
    path="cli_agent_configs",
    label="cli agent config",
    model=CLIAgentConfig,
    create=s.CLIAgentConfigCreate,
    update=s.CLIAgentConfigUpdate,
    out=s.CLIAgentConfigOut,
    filters={"model": str, "enabled": bool, "name": str},
    search=("name", "command"),
    sort_fields=("id", "name", "created_at", "updated_at"),
    unique=(("name",),),
)
TASK_EXECUTIONS = CrudSpec(
    path="task_executions",
    label="task execution",
    model=TaskExecution,
    create=s.TaskExecutionCreate,
    update=s.TaskExecutionUpdate,
    out=s.TaskExecutionOut,
    filters={"task_id": int, "worker_id": str, "status": s.ExecutionStatus},
    extra_filters={"source": Literal["worker", "job"], "job_id": str},
    sort_fields=("created_at", "started_at", "finished_at", "duration_ms"),
    default_sort="-started_at",
    unique=(("id",),),
    foreign_keys={"task_id": Task},
    id_type=str,
    list_source=executions_source,
    fetch_extra=fetch_job_run,
)

SPECS: list[CrudSpec] = [
    PROJECTS,
    TASKS,
    SERVERS,
    ALLOCATIONS,
    INCIDENTS,
    SERVICE_DEPLOYMENTS,
    AGENT_CONFIGS,
    CLI_AGENT_CONFIGS,
    TASK_EXECUTIONS,
]

# Seed 002 routers that are the same foredeck objects, served by their own domains.
EXTERNAL: dict[str, str] = {
    "users": "/api/v1/users",
    "api_keys": "/api/v1/api_keys",
    "available_models": "/api/v1/available_models",
    "rag": "/api/v1/rag",
}
