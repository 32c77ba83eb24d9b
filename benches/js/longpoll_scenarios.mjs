// Client scenarios S1 and S4 over LongPoll with the official Phoenix JS client, for
// side-by-side comparison with phoenix_fast's LongPoll (benches/longpoll_scenarios.py drives both).
//
//   node benches/js/longpoll_scenarios.mjs <ws://host:port/socket> <s1|s4> [scale]
//
// Prints one JSON object: {"client": "js", "scenario": ..., "result": {...}}.
// Node has no XMLHttpRequest, so the client's Ajax uses fetch with an AbortController (undici,
// keep-alive connections). The packages come from tests/js (pinned in its package-lock.json).

import {createRequire} from "node:module"
import {performance} from "node:perf_hooks"

const require = createRequire(new URL("../../tests/js/package.json", import.meta.url))
const {Socket, LongPoll} = require("phoenix")

const [URL_ARG, SCENARIO, SCALE_ARG = "1"] = process.argv.slice(2)
const SCALE = Number(SCALE_ARG)
const RUN = `jslp${process.pid.toString(36)}`

function connect(){
  return new Promise((resolve, reject) => {
    const socket = new Socket(URL_ARG, {
      transport: LongPoll, heartbeatIntervalMs: 60000, timeout: 30000, longpollerTimeout: 20000,
    })
    socket.onOpen(() => resolve(socket))
    socket.onError(err => reject(new Error(`socket error: ${err && (err.message || err)}`)))
    socket.connect()
  })
}

function receive(push, what){
  return new Promise((resolve, reject) => {
    push.receive("ok", resolve)
      .receive("error", r => reject(new Error(`${what} error ${JSON.stringify(r)}`)))
      .receive("timeout", () => reject(new Error(`${what} timeout`)))
  })
}

function percentile(sorted, q){
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

// S1: one channel receives n pushes of 100-byte payloads, each delivered to a callback.
async function s1(){
  const n = Math.round(200000 * SCALE)
  const socket = await connect()
  const channel = socket.channel(`echo:${RUN}-s1`, {})
  await receive(channel.join(), "join")
  let count = 0, sum = 0
  const done = new Promise(resolve => channel.on("burst_msg", p => { sum += p.i; if(++count === n){ resolve() } }))
  const start = performance.now()
  await receive(channel.push("burst", {n, size: 100}), "burst")
  await done
  const seconds = (performance.now() - start) / 1000
  socket.disconnect()
  if(sum !== n * (n - 1) / 2){ throw new Error("burst out of order or incomplete") }
  return {messages: n, seconds, rate: n / seconds}
}

// S4: n pushes with replies, at most 100 in flight; latency percentiles.
async function s4(){
  const n = Math.round(20000 * SCALE), window = 100
  const socket = await connect()
  const channel = socket.channel(`echo:${RUN}-s4`, {})
  await receive(channel.join(), "join")
  const latencies = []
  let sent = 0
  const body = {body: "x".repeat(64)}
  const start = performance.now()
  async function worker(){
    while(sent < n){
      sent++
      const t = performance.now()
      await receive(channel.push("ping", body), "push")
      latencies.push(performance.now() - t)
    }
  }
  await Promise.all(Array.from({length: window}, worker))
  const seconds = (performance.now() - start) / 1000
  socket.disconnect()
  latencies.sort((a, b) => a - b)
  return {pushes: n, seconds, rate: n / seconds, p50_ms: percentile(latencies, 0.5), p99_ms: percentile(latencies, 0.99)}
}

const SCENARIOS = {s1, s4}

async function main(){
  const run = SCENARIOS[SCENARIO]
  if(!run){ throw new Error(`unknown scenario ${SCENARIO}`) }
  const result = await run()
  process.stdout.write(JSON.stringify({client: "js", transport: "longpoll", scenario: SCENARIO, result}) + "\n")
  process.exit(0)
}

main().catch(err => {
  process.stdout.write(JSON.stringify({client: "js", scenario: SCENARIO, error: String(err && err.stack || err)}) + "\n")
  process.exit(1)
})
