/**
 * Preloaded into a server by `bench/suspensions.ts` (`node --import`): counts
 * the times an Effect fiber stops running and must be resumed later. Effect 4
 * captures Node's async context exactly then (`captureAsyncContext` in its
 * run loop: one `AsyncResource` of type `effect/Fiber` per suspension or
 * yield), so an `async_hooks` init hook on that type counts every run-loop
 * trip of every fiber, from outside the code it measures. The count is read
 * from a loopback port of its own (`FIBER_YIELDS_PORT`): each connection gets
 * it as one line. (Not over an IPC channel: fiberline's CLI takes one for the
 * link to a workers' primary.)
 */
import { createHook } from "node:async_hooks"
import * as Net from "node:net"

let yields = 0
createHook({
  init: (_id, type) => {
    if (type === "effect/Fiber") yields++
  }
}).enable()

const server = Net.createServer((socket) => socket.end(`${yields}\n`))
server.listen(Number(process.env["FIBER_YIELDS_PORT"]), "127.0.0.1")
server.unref()
