"""An agent's conversation with Holdpoint's MCP server, through the official
MCP Python SDK (PyPI `mcp`), over Streamable HTTP (`/mcp`) or stdio
(`holdpoint mcp`). The browser test (end2end/tests/mcp.spec.ts) runs it and
decides in the inbox when it says so.

    python mcp_conversation.py SCENARIO --url URL --key KEY [--stdio HOLDPOINT_BIN]

Each step prints one JSON line on stdout: {"event": ..., ...}.

Scenarios:
  task       a client of the tasks extension: request_approval answers with a
             task; tasks/get is polled until a person decides.
  waits      a client without tasks: request_approval answers at once with the
             pending request; wait_for_approval is called until the decision,
             its progress notifications printed as they come.
  cancel     a wait_for_approval the client gives up on (it sends
             notifications/cancelled): the request is still pending after.
  wrong-key  the server refuses a key it does not know.
"""

import argparse
import asyncio
import json
import sys
from typing import Any, Literal

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field

TASKS = "io.modelcontextprotocol/tasks"


def say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def describe(error: BaseException) -> str:
    """An error, with those a task group gathered spelled out."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


class TaskCreated(Result):
    """`tools/call` answered with a task (`resultType: "task"`)."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str
    status: str
    poll_interval_ms: int | None = None


class TaskIdParams(RequestParams):
    task_id: str


class GetTask(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class TaskState(Result):
    model_config = ConfigDict(extra="allow")
    task_id: str
    status: str
    status_message: str | None = None
    result: dict[str, Any] | None = None


class Tasks(ClientExtension):
    """The client side of the tasks extension: polls a task to its end."""

    identifier = TASKS

    def claims(self):
        return [ResultClaim(result_type="task", model=TaskCreated, resolve=self.follow)]

    async def follow(self, created: TaskCreated, ctx: ClaimContext) -> CallToolResult:
        say("task", id=created.task_id, status=created.status)
        while True:
            await asyncio.sleep((created.poll_interval_ms or 1000) / 1000)
            state = await ctx.session.send_request(
                GetTask(params=TaskIdParams(task_id=created.task_id)), TaskState
            )
            if state.status not in ("working", "input_required"):
                say("task_done", id=state.task_id, status=state.status)
                return CallToolResult.model_validate(state.result)


# The HTTP statuses the MCP endpoint answered (the SDK reports a refusal
# as a generic error).
STATUSES: list[int] = []


async def note_status(response: httpx2.Response) -> None:
    STATUSES.append(response.status_code)


def client(args: argparse.Namespace, key: str, tasks: bool = False) -> Client:
    extensions = [Tasks()] if tasks else None
    if args.stdio:
        server = StdioServerParameters(
            command=args.stdio,
            args=["mcp"],
            env={"HOLDPOINT_URL": args.url, "HOLDPOINT_API_KEY": key, "HOLDPOINT_LOG": "warn"},
        )
        return Client(server, extensions=extensions)
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx2.Timeout(30, read=90),
        event_hooks={"response": [note_status]},
    )
    return Client(streamable_http_client(f"{args.url}/mcp", http_client=http), extensions=extensions)


def outcome(result: CallToolResult) -> dict[str, Any]:
    return {
        "status": (result.structured_content or {}).get("status"),
        "text": result.content[0].text if result.content else "",
        "is_error": result.is_error,
        "data": (result.structured_content or {}).get("data"),
    }


REQUEST = {
    "title": "Send the spring campaign to 4,812 people",
    "body": "<p>Subject: <strong>Spring is here</strong></p><script>alert(1)</script>",
    "data": {"recipients": 4812, "list": "spring-2026"},
    "action": "email.send_campaign",
}


async def task(args: argparse.Namespace) -> None:
    async with client(args, args.key, tasks=True) as mcp:
        result = await mcp.call_tool("request_approval", {**REQUEST, "title": args.title})
        say("result", **outcome(result))


async def waits(args: argparse.Namespace) -> None:
    async with client(args, args.key) as mcp:
        created = await mcp.call_tool("request_approval", {**REQUEST, "title": args.title})
        say("pending", id=created.structured_content["id"], **outcome(created))
        approval_id = created.structured_content["id"]
        first = await mcp.call_tool("wait_for_approval", {"id": approval_id, "timeout_seconds": 1})
        say("waited", **outcome(first))

        async def progress(done: float, total: float | None, message: str | None) -> None:
            say("progress", progress=done, message=message)

        while True:
            result = await mcp.call_tool(
                "wait_for_approval", {"id": approval_id}, progress_callback=progress
            )
            say("waited", **outcome(result))
            if result.structured_content["status"] != "pending":
                break


async def cancel(args: argparse.Namespace) -> None:
    async with client(args, args.key) as mcp:
        created = await mcp.call_tool("request_approval", {**REQUEST, "title": args.title})
        approval_id = created.structured_content["id"]
        try:
            await mcp.call_tool("wait_for_approval", {"id": approval_id}, read_timeout_seconds=2)
            say("not_cancelled")
        except Exception as error:  # the SDK's timeout: it cancels the request
            say("gave_up", error=type(error).__name__)
        after = await mcp.call_tool("get_approval", {"id": approval_id})
        say("after", id=approval_id, **outcome(after))


async def wrong_key(args: argparse.Namespace) -> None:
    try:
        async with client(args, "hp_not_a_key_anyone_has_made") as mcp:
            result = await mcp.call_tool("get_approval", {"id": "apr_00000000000000000000000000"})
            say("answered", **outcome(result))
    except Exception as error:
        say("refused", error=describe(error), statuses=STATUSES)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["task", "waits", "cancel", "wrong-key"])
    parser.add_argument("--url", required=True, help="Holdpoint's base URL")
    parser.add_argument("--key", required=True, help="an agent's API key")
    parser.add_argument("--stdio", help="run `BIN mcp` and talk over its stdin and stdout")
    parser.add_argument("--title", default=REQUEST["title"])
    args = parser.parse_args()
    run = {"task": task, "waits": waits, "cancel": cancel, "wrong-key": wrong_key}[args.scenario]
    await run(args)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:
        say("failed", error=describe(error))
        sys.exit(1)
