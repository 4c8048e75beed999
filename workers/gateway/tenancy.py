"""Whose a workflow is. Every workflow the gateway starts carries its tenant twice: in its id
(`run-{tenant}.{key}`, `thread-{tenant}.{key}`: tenants have no dot, so no prefix is another
tenant's) and in the `Tenant` search attribute, which a conversation passes on to its runs
(`thread-{tenant}.{key}/run-{n}`; runs of conversations started before it did are known by
their id). Anything a caller's tenant does not own is answered exactly as what does not
exist: 404."""

from __future__ import annotations

import re
import uuid

from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.service import RPCError, RPCStatusCode

from workers.gateway.errors import ApiError, not_found, rpc_error
from workflows.search_attributes import TENANT

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
"""A conversation key or an Idempotency-Key: what stays readable in a workflow id and a URL."""
_KEY_CHARS = r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}"


def run_workflow_id(tenant: str, idempotency_key: str | None) -> str:
    """Same key, same workflow: the key is the id, under the tenant."""
    if idempotency_key is not None and not re.fullmatch(KEY_PATTERN, idempotency_key):
        raise ApiError(
            400,
            "Idempotency-Key: 1 to 128 letters, digits and _ . : @ - (starting with a letter "
            "or digit)",
            "invalid_idempotency_key",
            "Idempotency-Key",
        )
    return f"run-{tenant}.{idempotency_key or uuid.uuid4().hex}"


def conversation_key(tenant: str, key: str) -> str:
    """The key of the tenant's conversation `key` as the workflows know it (its workflow id
    is `thread-` and this)."""
    return f"{tenant}.{key}"


def caller_key(tenant: str, internal_key: str) -> str:
    return internal_key.removeprefix(f"{tenant}.")


def is_tenants_run(tenant: str, workflow_id: str) -> bool:
    """An id the gateway gives the tenant's runs: started by it, or by its conversations."""
    t = re.escape(tenant)
    return bool(
        re.fullmatch(rf"run-{t}\.{_KEY_CHARS}", workflow_id)
        or re.fullmatch(rf"thread-{t}\.{_KEY_CHARS}/run-[0-9]+", workflow_id)
    )


async def owned(
    client: Client, tenant: str, workflow_id: str, what: str
) -> WorkflowExecutionDescription:
    """The workflow's description if it exists and is the tenant's; else 404. Its id must be
    one the gateway gives the tenant, and a `Tenant` search attribute, where it has one, must
    be the tenant (a conversation's runs started before conversations passed it on have
    none: their id is their parent's)."""
    described = await describe(client, workflow_id, what)
    marked = described.typed_search_attributes.get(TENANT)
    if marked is not None and marked != tenant:
        raise not_found(what)
    if marked is None and not workflow_id.startswith(f"thread-{tenant}."):
        raise not_found(what)
    return described


async def describe(client: Client, workflow_id: str, what: str) -> WorkflowExecutionDescription:
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise not_found(what) from None
        raise rpc_error(err, what) from None
