// The client scenarios (S1-S5) run with the official Phoenix JS client, for side-by-side
// comparison with phoenix_fast in one run (benches/scenarios.py drives both).
//
//   node benches/js/scenarios.mjs <ws://host:port/socket> <scenario> [scale] [websocket|longpoll]
//
// Prints one JSON object: {"client": "js", "scenario": ..., "seconds": ..., ...}.
// The packages come from tests/js (installed by `make js`, pinned in its package-lock.json).

import {createRequire} from "node:module"
import {performance} from "node:perf_hooks"

const require = createRequire(new URL("../../tests/js/package.json", import.meta.url))
const {Socket, LongPoll} = require("phoenix")
const WebSocket = require("ws")

const [URL_ARG, SCENARIO, SCALE_ARG = "1", TRANSPORT_ARG = "websocket"] = process.argv.slice(2)
// Under Node the LongPoll transport's Ajax uses fetch (there is no XMLHttpRequest).
const TRANSPORT = TRANSPORT_ARG === "longpoll" ? LongPoll : WebSocket
const SCALE = Number(SCALE_ARG)
const RUN = `js${process.pid.toString(36)}`

function connect(){
  return new Promise((resolve, reject) => {
    const socket = new Socket(URL_ARG, {transport: TRANSPORT, heartbeatIntervalMs: 60000, timeout: 30000})
    socket.onOpen(() => resolve(socket))
    socket.onError(err => reject(new Error(`socket error: ${err && (err.message || err)}`)))
    socket.connect()
  })
}

function join(channel){
  return new Promise((resolve, reject) => {
    channel.join()
      .receive("ok", resolve)
      .receive("error", r => reject(new Error(`join error ${JSON.stringify(r)}`)))
      .receive("timeout", () => reject(new Error("join timeout")))
  })
}

function push(channel, event, payload){
  return new Promise((resolve, reject) => {
    channel.push(event, payload)
      .receive("ok", resolve)
      .receive("error", r => reject(new Error(`push error ${JSON.stringify(r)}`)))
      .receive("timeout", () => reject(new Error("push timeout")))
  })
}

function rss(){
  if(global.gc){ global.gc() }
  return process.memoryUsage().rss
}

// The wall time and this process's CPU time (all threads, user and system) since `since`;
// CPU per operation shows which side of a run is the bottleneck.
function clock(){ return {wall: performance.now(), cpu: process.cpuUsage()} }
function elapsed(since){
  const cpu = process.cpuUsage(since.cpu)
  return {seconds: (performance.now() - since.wall) / 1000, cpu: (cpu.user + cpu.system) / 1e6}
}
function cpuPerOp(cpu, n){ return cpu / n * 1e6 }

function percentile(sorted, q){
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

// S1: one channel receives n pushes of 100-byte payloads, each delivered to a callback.
async function s1(){
  const n = Math.round(200000 * SCALE)
  const socket = await connect()
  const channel = socket.channel(`echo:${RUN}-s1`, {})
  await join(channel)
  let count = 0, sum = 0
  const done = new Promise(resolve => channel.on("burst_msg", p => { sum += p.i; if(++count === n){ resolve() } }))
  const start = clock()
  await push(channel, "burst", {n, size: 100})
  await done
  const {seconds, cpu} = elapsed(start)
  socket.disconnect()
  if(sum !== n * (n - 1) / 2){ throw new Error("burst out of order or incomplete") }
  return {messages: n, seconds, rate: n / seconds, cpu_us_per_op: cpuPerOp(cpu, n)}
}

// The V8 heap held per joined channel, on a second batch of n channels.
async function heapPerChannel(socket, n){
  if(global.gc){ global.gc() }
  const before = process.memoryUsage().heapUsed
  const channels = []
  for(let i = 0; i < n; i++){ channels.push(socket.channel(`load:${RUN}-heap-${i}`, {})) }
  await Promise.all(channels.map(join))
  if(global.gc){ global.gc() }
  return (process.memoryUsage().heapUsed - before) / n
}

// S2 + S3: join n channels on one socket, then r rounds of broadcasts to all of them.
async function s2s3(){
  const n = Math.round(2000 * SCALE), rounds = 20
  const socket = await connect()
  const before = rss()
  const channels = []
  for(let i = 0; i < n; i++){ channels.push(socket.channel(`load:${RUN}-${i}`, {})) }
  const start = clock()
  await Promise.all(channels.map(join))
  const {seconds: joinSeconds, cpu: joinCpu} = elapsed(start)
  const perChannel = (rss() - before) / n
  let received = 0
  const expected = n * rounds
  const done = new Promise(resolve => {
    for(const ch of channels){ ch.on("tick", () => { if(++received === expected){ resolve() } }) }
  })
  const t0 = clock()
  await push(channels[0], "fanout", {prefix: `load:${RUN}-`, count: n, n: rounds, size: 100})
  await done
  const {seconds: fanSeconds, cpu: fanCpu} = elapsed(t0)
  const heap = await heapPerChannel(socket, n)
  socket.disconnect()
  return {
    s2: {channels: n, seconds: joinSeconds, bytes_per_channel: perChannel, heap_bytes_per_channel: heap,
         cpu_us_per_op: cpuPerOp(joinCpu, n)},
    s3: {events: expected, seconds: fanSeconds, rate: expected / fanSeconds, cpu_us_per_op: cpuPerOp(fanCpu, expected)},
  }
}

// S4: n pushes with replies, at most 100 in flight; latency percentiles.
async function s4(){
  const n = Math.round(20000 * SCALE), window = 100
  const socket = await connect()
  const channel = socket.channel(`echo:${RUN}-s4`, {})
  await join(channel)
  const latencies = []
  let sent = 0
  const start = clock()
  async function worker(){
    while(sent < n){
      sent++
      const t = performance.now()
      await push(channel, "ping", {body: "x".repeat(64)})
      latencies.push(performance.now() - t)
    }
  }
  await Promise.all(Array.from({length: window}, worker))
  const {seconds, cpu} = elapsed(start)
  socket.disconnect()
  latencies.sort((a, b) => a - b)
  return {pushes: n, seconds, rate: n / seconds, p50_ms: percentile(latencies, 0.5), p99_ms: percentile(latencies, 0.99),
          cpu_us_per_op: cpuPerOp(cpu, n)}
}

// S5: n sockets, each joining one channel; time and memory per socket.
async function s5(){
  const n = Math.round(200 * SCALE)
  const before = rss()
  const start = clock()
  const sockets = await Promise.all(Array.from({length: n}, async (_, i) => {
    const socket = await connect()
    await join(socket.channel(`echo:${RUN}-s5-${i}`, {}))
    return socket
  }))
  const {seconds, cpu} = elapsed(start)
  const perSocket = (rss() - before) / n
  for(const s of sockets){ s.disconnect() }
  return {sockets: n, seconds, bytes_per_socket: perSocket, cpu_us_per_op: cpuPerOp(cpu, n)}
}

const SCENARIOS = {s1, s2s3, s4, s5}

async function main(){
  const run = SCENARIOS[SCENARIO]
  if(!run){ throw new Error(`unknown scenario ${SCENARIO}`) }
  const result = await run()
  process.stdout.write(JSON.stringify({client: "js", scenario: SCENARIO, result}) + "\n")
  process.exit(0)
}

main().catch(err => {
  process.stdout.write(JSON.stringify({client: "js", scenario: SCENARIO, error: String(err && err.stack || err)}) + "\n")
  process.exit(1)
})
