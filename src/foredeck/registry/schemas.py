"""Contracts of the thin registry (seed 002): create, partial update and read models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from foredeck.kit.schemas import DbId, ReadModel, StrictBody

ProjectStatus = Literal["created", "scaffolding", "active", "archived", "failed"]
TaskType = Literal["engineering", "deploy", "research", "maintenance", "other"]
TaskStatus = Literal["created", "queued", "running", "succeeded", "failed", "cancelled"]
ServerStatus = Literal["active", "maintenance", "offline", "decommissioned"]
Protocol = Literal["tcp", "udp"]
Severity = Literal["low", "medium", "high", "critical"]
IncidentStatus = Literal["open", "acknowledged", "resolved"]
DeploymentStatus = Literal["pending", "deploying", "running", "failed", "stopped"]
ExecutionStatus = Literal["success", "failure", "in_progress", "error"]

NameStr = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TextStr = Annotated[str, StringConstraints(max_length=20_000)]
ModuleStr = Annotated[str, StringConstraints(min_length=1, max_length=64)]


# --- projects ---


class ProjectCreate(StrictBody):
    name: NameStr
    description: TextStr | None = None
    modules: list[ModuleStr] = Field(default_factory=list, max_length=100)
    status: ProjectStatus = "created"
    repo_url: str | None = Field(default=None, max_length=512)
    owner_id: DbId | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class ProjectUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: TextStr | None = None
    modules: list[ModuleStr] | None = Field(default=None, max_length=100)
    status: ProjectStatus | None = None
    repo_url: str | None = Field(default=None, max_length=512)
    owner_id: DbId | None = None
    config: dict[str, Any] | None = None


class ProjectOut(ReadModel):
    id: int
    name: str
    description: str | None
    modules: list[str]
    status: str
    repo_url: str | None
    owner_id: DbId | None
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# --- tasks ---


class TaskCreate(StrictBody):
    title: str = Field(min_length=1, max_length=256)
    project_id: DbId | None = None
    type: TaskType = "engineering"
    status: TaskStatus = "created"
    priority: int = Field(default=0, ge=-1000, le=1000)
    assignee: str | None = Field(default=None, max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict)


class TaskUpdate(StrictBody):
    title: str | None = Field(default=None, min_length=1, max_length=256)
    project_id: DbId | None = None
    type: TaskType | None = None
    status: TaskStatus | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    assignee: str | None = Field(default=None, max_length=128)
    payload: dict[str, Any] | None = None


class TaskOut(ReadModel):
    id: int
    title: str
    project_id: DbId | None
    type: str
    status: str
    priority: int
    assignee: str | None
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# --- servers ---


class ServerCreate(StrictBody):
    name: NameStr
    host: str = Field(min_length=1, max_length=255)
    provider: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=64)
    status: ServerStatus = "active"
    capacity: dict[str, Any] = Field(default_factory=dict)
    notes: TextStr | None = None


class ServerUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    host: str | None = Field(default=None, min_length=1, max_length=255)
    provider: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=64)
    status: ServerStatus | None = None
    capacity: dict[str, Any] | None = None
    notes: TextStr | None = None


class ServerOut(ReadModel):
    id: int
    name: str
    host: str
    provider: str | None
    region: str | None
    status: str
    capacity: dict[str, Any]
    notes: str | None
    created_at: datetime
    updated_at: datetime


# --- port allocations ---


class AllocationCreate(StrictBody):
    server_id: DbId
    port: int = Field(ge=1, le=65535)
    protocol: Protocol = "tcp"
    service: NameStr
    project_id: DbId | None = None
    notes: TextStr | None = None


class AllocationUpdate(StrictBody):
    server_id: DbId | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: Protocol | None = None
    service: str | None = Field(default=None, min_length=1, max_length=128)
    project_id: DbId | None = None
    notes: TextStr | None = None


class AllocationOut(ReadModel):
    id: int
    server_id: DbId
    port: int
    protocol: str
    service: str
    project_id: DbId | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


# --- incidents ---


class IncidentCreate(StrictBody):
    title: str = Field(min_length=1, max_length=256)
    server_id: DbId | None = None
    severity: Severity = "medium"
    status: IncidentStatus = "open"
    description: TextStr | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None


class IncidentUpdate(StrictBody):
    title: str | None = Field(default=None, min_length=1, max_length=256)
    server_id: DbId | None = None
    severity: Severity | None = None
    status: IncidentStatus | None = None
    description: TextStr | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None


class IncidentOut(ReadModel):
    id: int
    title: str
    server_id: DbId | None
    severity: str
    status: str
    description: str | None
    opened_at: datetime
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime


# --- service deployments ---


class DeploymentCreate(StrictBody):
    server_id: DbId
    service: NameStr
    version: str = Field(min_length=1, max_length=64)
    project_id: DbId | None = None
    status: DeploymentStatus = "pending"
    deployed_at: datetime | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class DeploymentUpdate(StrictBody):
    server_id: DbId | None = None
    service: str | None = Field(default=None, min_length=1, max_length=128)
    version: str | None = Field(default=None, min_length=1, max_length=64)
    project_id: DbId | None = None
    status: DeploymentStatus | None = None
    deployed_at: datetime | None = None
    config: dict[str, Any] | None = None


class DeploymentOut(ReadModel):
    id: int
    server_id: DbId
    service: str
    version: str
    project_id: DbId | None
    status: str
    deployed_at: datetime | None
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# --- agent configs ---


class AgentConfigCreate(StrictBody):
    name: NameStr
    model: NameStr
    prompt: TextStr | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class AgentConfigUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    model: str | None = Field(default=None, min_length=1, max_length=128)
    prompt: TextStr | None = None
    parameters: dict[str, Any] | None = None
    enabled: bool | None = None


class AgentConfigOut(ReadModel):
    id: int
    name: str
    model: str
    prompt: str | None
    parameters: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class CLIAgentConfigCreate(AgentConfigCreate):
    command: str = Field(min_length=1, max_length=512)
    model: str | None = Field(default=None, max_length=128)  # type: ignore[assignment]


class CLIAgentConfigUpdate(AgentConfigUpdate):
    command: str | None = Field(default=None, min_length=1, max_length=512)


class CLIAgentConfigOut(ReadModel):
    id: int
    name: str
    command: str
    model: str | None
    prompt: str | None
    parameters: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


# --- task executions (seed 002 §7.4) ---


def _execution_id() -> str:
    return uuid.uuid4().hex


class TaskExecutionCreate(StrictBody):
    id: str = Field(
        default_factory=_execution_id,
        min_length=1,
        max_length=64,
        description="The worker's request id; one is made when left out",
    )
    task_id: DbId | None = None
    worker_id: str = Field(min_length=1, max_length=128)
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    exit_code: int | None = None
    result_data: dict[str, Any] | None = None
    status: ExecutionStatus


class TaskExecutionUpdate(StrictBody):
    task_id: DbId | None = None
    worker_id: str | None = Field(default=None, min_length=1, max_length=128)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    exit_code: int | None = None
    result_data: dict[str, Any] | None = None
    status: ExecutionStatus | None = None


class TaskExecutionOut(ReadModel):
    id: str
    task_id: DbId | None
    worker_id: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    exit_code: int | None
    result_data: dict[str, Any] | None
    status: str
    created_at: datetime
    source: Literal["worker", "job"] = Field(
        default="worker",
        description="worker: reported by an outside worker; job: a run of a foredeck job",
    )
    job_id: str | None = Field(default=None, description="The foredeck job, for job runs")
    error: str | None = Field(default=None, description="The job run's error, for job runs")
