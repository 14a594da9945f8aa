"""Benchmark driver for the official Python SDK (openai-codex, package openai_codex).

Protocol: one JSON command per stdin line, exactly one JSON reply per stdout
line; logs go to stderr. See bench/peers/ts_driver.mjs for the TypeScript twin.

Environment: CODEX_BIN, CODEX_HOME, BENCH_WS, BENCH_PROMPT, BENCH_PY_OVERRIDES.

One AsyncCodex client, i.e. one `codex app-server --listen stdio://` process,
serves every command for the life of the driver. AsyncCodex wraps the
synchronous JSON-RPC client and offloads each blocking call (requests and each
wait for the next turn notification) to asyncio's default thread pool.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import openai_codex
from openai_codex import ApprovalMode, AsyncCodex, AsyncThread, CodexConfig, Sandbox
from openai_codex.models import ItemCompletedNotification
from openai_codex.types import TurnCompletedNotification, TurnStatus

EXPECTED = "benchmark answer"
PROMPT = os.environ["BENCH_PROMPT"]
WS = os.environ["BENCH_WS"]
# The SDK launches the app-server with os.environ updated by `env`.
# BENCH_PY_OVERRIDES: comma-separated `key=value` config overrides (the "tuned" row).
OVERRIDES = tuple(kv for kv in os.environ.get("BENCH_PY_OVERRIDES", "").split(",") if kv)
CONFIG = CodexConfig(
    codex_bin=os.environ["CODEX_BIN"],
    env={**os.environ, "CODEX_HOME": os.environ["CODEX_HOME"]},
    cwd=WS,
    config_overrides=OVERRIDES,
)
# The turns run no commands: read-only sandbox, never ask for approval
# (the SDK's default approval mode is auto_review = on-request + reviewer).
THREAD_OPTS = dict(cwd=WS, sandbox=Sandbox.read_only, approval_mode=ApprovalMode.deny_all)


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


async def run_turn(thread: AsyncThread) -> None:
    # thread.run() returns a TurnResult; it raises RuntimeError(message) when the
    # turn status is `failed`, but returns normally for e.g. `interrupted`.
    result = await thread.run(PROMPT)
    if result.status != TurnStatus.completed:
        raise RuntimeError(f"turn ended with status {result.status.value}: {result.error}")
    if result.final_response != EXPECTED:
        raise RuntimeError(f"unexpected final response: {result.final_response!r}")


async def new_thread_turn(codex: AsyncCodex) -> float:
    t0 = time.perf_counter()
    await run_turn(await codex.thread_start(**THREAD_OPTS))
    return ms_since(t0)


async def stream_turn(codex: AsyncCodex) -> tuple[float, float]:
    # The thread is started before the timer so first_event measures the turn.
    thread = await codex.thread_start(**THREAD_OPTS)
    t0 = time.perf_counter()
    handle = await thread.turn(PROMPT)  # sends turn/start, returns an AsyncTurnHandle
    first = final_text = status = error = None
    # stream() yields Notification(method, payload) routed to this turn and
    # stops after this turn's turn/completed.
    async for event in handle.stream():
        if first is None:
            first = ms_since(t0)
        payload = event.payload
        if isinstance(payload, ItemCompletedNotification):
            item = payload.item.root  # ThreadItem is a pydantic RootModel union
            if item.type == "agentMessage":
                final_text = item.text
        elif isinstance(payload, TurnCompletedNotification) and payload.turn.id == handle.id:
            status = payload.turn.status
            error = payload.turn.error
    total = ms_since(t0)
    if status != TurnStatus.completed:
        detail = f"{status.value}: {error and error.message}" if status else "no turn/completed"
        raise RuntimeError(f"turn did not complete ({detail})")
    if final_text != EXPECTED:
        raise RuntimeError(f"unexpected final response: {final_text!r}")
    return first, total


async def handle(codex: AsyncCodex, cmd: dict) -> dict:
    op = cmd.get("op")
    if op == "ready":
        # Entering the context spawns the app-server and completes the
        # initialize handshake (idempotent); later calls reuse the process.
        await codex.__aenter__()
        print(f"app-server up: {codex.metadata.userAgent}", file=sys.stderr)
        return {"ok": True, "sdk": f"openai-codex {openai_codex.__version__}"}
    if op == "run":
        return {"turn_ms": [await new_thread_turn(codex) for _ in range(cmd["turns"])]}
    if op == "stream":
        firsts, totals = [], []
        for _ in range(cmd["turns"]):
            first, total = await stream_turn(codex)
            firsts.append(first)
            totals.append(total)
        return {"first_event_ms": firsts, "turn_ms": totals}
    if op == "seq":
        thread = await codex.thread_start(**THREAD_OPTS)  # not timed
        turn_ms = []
        for _ in range(cmd["turns"]):
            t0 = time.perf_counter()
            await run_turn(thread)
            turn_ms.append(ms_since(t0))
        return {"turn_ms": turn_ms}
    if op == "concurrent":
        t0 = time.perf_counter()
        tasks = (new_thread_turn(codex) for _ in range(cmd["threads"]))
        # return_exceptions: let every task finish before reporting a failure.
        results = await asyncio.gather(*tasks, return_exceptions=True)
        wall_ms = ms_since(t0)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return {"wall_ms": wall_ms, "turn_ms": results}
    return {"error": f"unknown op {op!r}"}


def reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    codex = AsyncCodex(CONFIG)  # lazy: the app-server starts on "ready"/first use
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            if not line.strip():
                continue
            try:
                cmd = json.loads(line)
            except ValueError as exc:
                reply({"error": f"bad command: {exc}"})
                continue
            if cmd.get("op") == "quit":
                break
            try:
                reply(await handle(codex, cmd))
            except Exception as exc:  # report and keep serving
                print(f"command {cmd!r} failed: {exc!r}", file=sys.stderr)
                reply({"error": str(exc) or repr(exc)})
    finally:
        await codex.close()


if __name__ == "__main__":
    asyncio.run(main())
