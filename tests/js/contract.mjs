// The proof of fidelity: the official Phoenix JavaScript client (npm `phoenix`, pinned in
// package-lock.json) runs the whole test-application contract (tests/CONTRACT.md)
// against a Phoenix-protocol server, plus raw-frame checks of the V1 and V2 serializers.
//
//   node contract.mjs ws://127.0.0.1:4000/socket websocket
//   node contract.mjs ws://127.0.0.1:4000/socket longpoll
//   node contract.mjs ws://127.0.0.1:4000/socket websocket echo.   (only the checks named echo.*)
//   node contract.mjs --list longpoll                               (the names of the checks)
//
// Prints one JSON line per check ({"check": name, "ok": true|false, "ms": n, "error"?: text,
// "info"?: {...}}), then a summary line ({"summary": true, ...}); exits 1 if any check failed.
// Every check and every wait inside it has its own timeout, so nothing can hang the run.

import {LongPoll, Presence, Socket} from "phoenix"
import WebSocket from "ws"

const [URL_ARG, TRANSPORT_ARG = "websocket", ONLY] = process.argv.slice(2)
const LIST_ONLY = URL_ARG === "--list"
if(!URL_ARG || !["websocket", "longpoll"].includes(TRANSPORT_ARG)){
  process.stderr.write("usage: node contract.mjs <ws://host:port/socket> <websocket|longpoll> [check-prefix]\n")
  process.exit(2)
}
const ENDPOINT = URL_ARG.replace(/\/+$/, "")
const IS_WS = TRANSPORT_ARG === "websocket"
const TRANSPORT = IS_WS ? WebSocket : LongPoll
const COMPRESS_ENDPOINT = ENDPOINT.replace(/\/socket$/, "/socket_compress")
// unique per run, so that concurrent runs against one server never share a topic
const RUN = `${TRANSPORT_ARG[0]}${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}`
const CHECK_TIMEOUT_MS = 6000
const RUN_BUDGET_MS = 30000
const AUTH_TOKEN = "phoenix-fast-auth-token"

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function deferred(){
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return {promise, resolve, reject}
}

class CheckError extends Error {}

function fail(message){ throw new CheckError(message) }

function assert(cond, message){ if(!cond){ fail(message) } }

// a canonical JSON-able form: sorted keys, ArrayBuffers/Uint8Arrays as {"$bytes": [...]}
function canon(value){
  if(value instanceof ArrayBuffer){ return {$bytes: Array.from(new Uint8Array(value))} }
  if(ArrayBuffer.isView(value)){ return {$bytes: Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))} }
  if(Array.isArray(value)){ return value.map(canon) }
  if(value && typeof value === "object"){
    const out = {}
    for(const key of Object.keys(value).sort()){ out[key] = canon(value[key]) }
    return out
  }
  return value === undefined ? "<undefined>" : value
}

const show = value => {
  const text = JSON.stringify(canon(value))
  return text && text.length > 600 ? text.slice(0, 600) + "…" : text
}

function eq(actual, expected, what){
  if(JSON.stringify(canon(actual)) !== JSON.stringify(canon(expected))){
    fail(`${what}: expected ${show(expected)}, got ${show(actual)}`)
  }
}

async function within(promise, ms, what){
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try { return await Promise.race([promise, timeout]) } finally { clearTimeout(timer) }
}

async function waitUntil(predicate, ms, what){
  const deadline = Date.now() + ms
  for(;;){
    if(predicate()){ return }
    if(Date.now() > deadline){ fail(`timed out after ${ms} ms waiting for ${what}`) }
    await sleep(5)
  }
}

const bytesOf = text => Array.from(new TextEncoder().encode(text))

const describeError = error => {
  if(error === null || error === undefined){ return String(error) }
  if(typeof error !== "object"){ return String(error) }
  return error.message || (error.error && error.error.message) || error.type || show(error)
}

// ---------------------------------------------------------------------------------------------
// per-check context: everything a check opens is closed after it, whatever its outcome

class Context {
  constructor(name){
    this.name = name
    this.sockets = []
    this.raws = []
    this.info = {}
  }

  topic(prefix, suffix = ""){ return `${prefix}:${RUN}-${this.name.replace(/[^a-z0-9_]+/gi, "-")}${suffix}` }

  socket(opts = {}, endpoint = ENDPOINT){
    const socket = new Socket(endpoint, {
      transport: TRANSPORT,
      timeout: 3000,
      rejoinAfterMs: () => 50,
      reconnectAfterMs: () => 200,
      ...opts,
    })
    this.sockets.push(socket)
    return socket
  }

  // a connected socket, with every inbound frame recorded in socket.frames
  async open(opts = {}, endpoint = ENDPOINT){
    const socket = this.socket(opts, endpoint)
    socket.frames = []
    socket.onMessage(msg => socket.frames.push(msg))
    const opened = deferred()
    socket.onOpen(() => opened.resolve(socket))
    socket.onError(error => opened.reject(new CheckError(`socket error before open: ${describeError(error)}`)))
    socket.connect()
    return within(opened.promise, 3000, `socket open (${endpoint})`)
  }

  async raw(query, endpoint = ENDPOINT){
    const conn = new RawConn(`${endpoint}/websocket${query}`)
    this.raws.push(conn)
    await within(conn.opened, 3000, `raw WebSocket open ${query}`)
    return conn
  }

  cleanup(){
    for(const socket of this.sockets){
      try { socket.disconnect() } catch(_e){ /* already gone */ }
    }
    for(const raw of this.raws){ raw.close() }
  }
}

// a raw `ws` WebSocket exchanging frames as they are on the wire
class RawConn {
  constructor(url){
    this.frames = []
    this.ws = new WebSocket(url)
    this.ws.binaryType = "arraybuffer"
    const opened = deferred()
    this.opened = opened.promise
    this.ws.on("open", () => opened.resolve(this))
    this.ws.on("error", error => opened.reject(new CheckError(`raw WebSocket error: ${error.message}`)))
    this.ws.on("message", (data, isBinary) => {
      this.frames.push(isBinary ? new Uint8Array(data) : JSON.parse(data.toString()))
    })
  }

  send(frame){ this.ws.send(JSON.stringify(frame)) }

  sendBinary(bytes){ this.ws.send(Uint8Array.from(bytes), {binary: true}) }

  // takes the first unconsumed frame matching the predicate
  async take(predicate, what, ms = 2000){
    let found
    await waitUntil(() => {
      const index = this.frames.findIndex(predicate)
      if(index < 0){ return false }
      found = this.frames.splice(index, 1)[0]
      return true
    }, ms, what)
    return found
  }

  close(){ try { this.ws.terminate() } catch(_e){ /* already gone */ } }
}

// resolves {status, response} of a Push on ok, error or timeout
function outcome(push){
  return new Promise(resolve => {
    for(const status of ["ok", "error", "timeout"]){
      push.receive(status, response => resolve({status, response}))
    }
  })
}

const join = (channel, ms = 4000) => within(outcome(channel.join()), ms, `join reply of ${channel.topic}`)

const push = (channel, event, payload, timeout, ms = 4000) =>
  within(outcome(channel.push(event, payload, timeout)), ms, `reply to ${event} on ${channel.topic}`)

const leave = (channel, ms = 4000) => within(outcome(channel.leave()), ms, `leave reply of ${channel.topic}`)

async function joinOk(channel, what = `join of ${channel.topic}`){
  const result = await join(channel)
  if(result.status !== "ok"){ fail(`${what}: expected ok, got ${show(result)}`) }
  return result.response
}

// ---------------------------------------------------------------------------------------------
// the checks: [name, transports, fn, timeoutMs?]

const CHECKS = []
const check = (name, transports, fn, timeoutMs = CHECK_TIMEOUT_MS) => CHECKS.push({name, transports, fn, timeoutMs})
const BOTH = ["websocket", "longpoll"]
const WS = ["websocket"]

// --- connection --------------------------------------------------------------------------------

check("connect.open", BOTH, async ctx => {
  const socket = await ctx.open({params: {token: "good"}})
  eq(socket.connectionState(), "open", "connectionState")
  assert(socket.conn instanceof TRANSPORT, `the socket does not use the ${TRANSPORT_ARG} transport`)
  assert(socket.isConnected(), "isConnected() is false after onOpen")
  if(IS_WS){ ctx.info.extensions = socket.conn.extensions }
})

check("connect.refused", BOTH, async ctx => {
  const socket = ctx.socket({params: {token: "bad"}})
  let opened = false
  const errored = deferred()
  socket.onOpen(() => { opened = true })
  socket.onError(error => errored.resolve(error))
  socket.connect()
  const error = await within(errored.promise, 3000, "onError for token=bad")
  await sleep(300)
  assert(!opened, "the socket opened although token=bad must be refused")
  assert(!socket.isConnected(), "socket is connected although token=bad must be refused")
  ctx.info.error = describeError(error)
  if(IS_WS){
    assert(/\b403\b/.test(describeError(error)), `expected the upgrade to be answered 403, got error ${show(describeError(error))}`)
  } else {
    eq(error, 403, "LongPoll error status for token=bad")
  }
})

check("connect.auth_token", BOTH, async ctx => {
  const socket = await ctx.open({authToken: AUTH_TOKEN})
  if(IS_WS){ eq(socket.conn.protocol, "phoenix", "negotiated Sec-WebSocket-Protocol") }
  const topic = ctx.topic("echo")
  eq(await joinOk(socket.channel(topic, {})), {joined: topic, params: {}}, "join reply over an authToken socket")
})

check("heartbeat.ping", BOTH, async ctx => {
  const socket = await ctx.open()
  const rtt = deferred()
  assert(socket.ping(ms => rtt.resolve(ms)) === true, "socket.ping returned false while connected")
  const ms = await within(rtt.promise, 3000, "heartbeat reply (socket.ping callback)")
  assert(typeof ms === "number" && ms >= 0, `RTT is not a number: ${show(ms)}`)
  const reply = socket.frames.find(f => f.topic === "phoenix")
  eq(reply, {join_ref: null, ref: reply && reply.ref, topic: "phoenix", event: "phx_reply", payload: {status: "ok", response: {}}}, "heartbeat reply frame")
  ctx.info.rtt_ms = ms
})

check("heartbeat.interval", WS, async ctx => {
  const socket = await ctx.open({heartbeatIntervalMs: 150})
  let closes = 0
  socket.onClose(() => closes++)
  await sleep(700)
  const replies = socket.frames.filter(f => f.topic === "phoenix" && f.event === "phx_reply" && f.payload.status === "ok")
  assert(replies.length >= 2, `expected at least 2 heartbeat replies in 700 ms at a 150 ms interval, got ${replies.length}`)
  ctx.info.replies = replies.length
  assert(socket.isConnected() && closes === 0, "the socket closed while heartbeating")
})

// --- echo:* ------------------------------------------------------------------------------------

check("echo.join", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const params = {a: 1, s: "text", nested: {list: [1, "two", null, true]}}
  const channel = socket.channel(topic, params)
  eq(await join(channel), {status: "ok", response: {joined: topic, params}}, "join reply")
  eq(channel.state, "joined", "channel state")
  const reply = socket.frames.find(f => f.event === "phx_reply" && f.topic === topic)
  eq([reply.join_ref, reply.ref], [channel.joinRef(), channel.joinRef()], "[join_ref, ref] of the join reply")
})

check("echo.join_fail", BOTH, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("echo"), {fail: "not allowed"})
  const result = await join(channel)
  eq(channel.state, "errored", "channel state after a join error")
  channel.leave()
  eq(result, {status: "error", response: {reason: "not allowed"}}, "join reply")
})

check("echo.join_delay", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const started = Date.now()
  const result = await join(socket.channel(topic, {delay_ms: 400}))
  const elapsed = Date.now() - started
  eq(result, {status: "ok", response: {joined: topic, params: {delay_ms: 400}}}, "join reply")
  assert(elapsed >= 380, `the join replied after ${elapsed} ms, before delay_ms 400`)
  ctx.info.elapsed_ms = elapsed
})

check("echo.ping", BOTH, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("echo"))
  await joinOk(channel)
  const payload = {text: "héllo wörld 🚀 \"quoted\" \\ \n", n: 42, neg: -7, f: 1.5, big: 9007199254740991,
    list: [1, "a", null, true, false, {k: []}], obj: {k: "v", empty: {}}}
  eq(await push(channel, "ping", payload), {status: "ok", response: payload}, "ping reply")
  eq(await push(channel, "ping", {}), {status: "ok", response: {}}, "ping reply to an empty payload")
})

check("echo.push_buffered", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const channel = socket.channel(topic, {delay_ms: 150})
  const joined = join(channel)
  // pushed while joining: the client buffers it and sends it once the join succeeded
  const pushed = push(channel, "ping", {early: true})
  eq(await joined, {status: "ok", response: {joined: topic, params: {delay_ms: 150}}}, "join reply")
  eq(await pushed, {status: "ok", response: {early: true}}, "reply to the push buffered during the join")
})

check("echo.error_me", BOTH, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("echo"))
  await joinOk(channel)
  eq(await push(channel, "error_me", {}), {status: "error", response: {reason: "requested"}}, "error_me reply")
  eq(channel.state, "joined", "channel state after an error reply")
})

check("echo.noreply", BOTH, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("echo"))
  await joinOk(channel)
  const started = Date.now()
  const p = channel.push("noreply", {}, 300)
  const statuses = []
  p.receive("ok", () => statuses.push("ok")).receive("error", () => statuses.push("error"))
  const result = await within(outcome(p), 3000, "the noreply push to time out")
  eq(result.status, "timeout", "noreply push outcome")
  assert(Date.now() - started >= 290, "the push timed out before its timeout")
  await sleep(200)
  eq(statuses, [], "replies received for noreply")
  eq(await push(channel, "ping", {after: "noreply"}), {status: "ok", response: {after: "noreply"}}, "ping after noreply")
})

check("echo.unknown_event", BOTH, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("echo"))
  await joinOk(channel)
  eq(await push(channel, "no_such_event", {x: 1}), {status: "error", response: {reason: "unknown event", event: "no_such_event"}}, "reply to an unknown event")
})

check("echo.boom", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const channel = socket.channel(topic, {k: "v"})
  let joins = 0
  const errors = []
  channel.onError(reason => errors.push(reason))
  const firstJoin = deferred()
  const rejoined = deferred()
  channel.join().receive("ok", response => {
    joins++
    if(joins === 1){ firstJoin.resolve(response) } else { rejoined.resolve(response) }
  })
  await within(firstJoin.promise, 3000, "first join reply")
  const firstJoinRef = channel.joinRef()
  channel.push("boom", {})
  await waitUntil(() => errors.length > 0, 3000, "phx_error (channel onError) after boom")
  const errorFrame = socket.frames.find(f => f.topic === topic && f.event === "phx_error")
  assert(errorFrame, "no phx_error frame received")
  eq([errorFrame.join_ref, errorFrame.ref], [firstJoinRef, firstJoinRef], "[join_ref, ref] of phx_error")
  ctx.info.phx_error_payload = errorFrame.payload
  const rejoin = await within(rejoined.promise, 3000, "the JS client to rejoin after phx_error")
  eq(rejoin, {joined: topic, params: {k: "v"}}, "rejoin reply")
  assert(channel.joinRef() !== firstJoinRef, "the rejoin did not use a new join_ref")
  eq(channel.state, "joined", "channel state after the rejoin")
  eq(await push(channel, "ping", {again: true}), {status: "ok", response: {again: true}}, "ping after the rejoin")
})

check("echo.stop", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const channel = socket.channel(topic)
  await joinOk(channel)
  const joinRef = channel.joinRef()
  let closed = 0
  let errored = 0
  channel.onClose(() => closed++)
  channel.onError(() => errored++)
  eq(await push(channel, "stop", {}), {status: "ok", response: {}}, "stop reply")
  await waitUntil(() => closed > 0, 3000, "phx_close (channel onClose) after stop")
  const closeFrame = socket.frames.find(f => f.topic === topic && f.event === "phx_close")
  eq(closeFrame, {join_ref: joinRef, ref: joinRef, topic, event: "phx_close", payload: {}}, "phx_close frame")
  eq(channel.state, "closed", "channel state")
  assert(!socket.channels.includes(channel), "the closed channel is still in socket.channels")
  await sleep(100)
  eq(errored, 0, "phx_error count after a normal stop")
})

check("echo.leave", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const channel = socket.channel(topic)
  await joinOk(channel)
  const joinRef = channel.joinRef()
  eq(await leave(channel), {status: "ok", response: {}}, "leave reply")
  eq(channel.state, "closed", "channel state after leave")
  // Phoenix stops the channel with {:shutdown, :left}, which pushes phx_close after the reply
  await waitUntil(() => socket.frames.some(f => f.topic === topic && f.event === "phx_close"), 2000, "phx_close after phx_leave")
  const closeFrame = socket.frames.find(f => f.topic === topic && f.event === "phx_close")
  eq(closeFrame, {join_ref: joinRef, ref: joinRef, topic, event: "phx_close", payload: {}}, "phx_close frame after leave")
})

check("echo.shout", BOTH, async ctx => {
  const topic = ctx.topic("echo")
  const [a, b] = await Promise.all([ctx.open(), ctx.open()])
  const chA = a.channel(topic)
  const chB = b.channel(topic)
  await Promise.all([joinOk(chA), joinOk(chB)])
  const gotA = []
  const gotB = []
  const orderA = []
  chA.on("shout", payload => { gotA.push(payload); orderA.push("shout") })
  chB.on("shout", payload => gotB.push(payload))
  const payload = {msg: "hello everyone", n: 1}
  const p = chA.push("shout", payload)
  p.receive("ok", () => orderA.push("reply"))
  eq(await within(outcome(p), 4000, "shout reply"), {status: "ok", response: {}}, "shout reply")
  await waitUntil(() => gotA.length >= 1 && gotB.length >= 1, 3000, "the shout broadcast on both sockets")
  await sleep(100)
  eq(gotA, [payload], "shout events received by the sender")
  eq(gotB, [payload], "shout events received by the other socket")
  eq(orderA, ["shout", "reply"], "order of the broadcast and the reply at the sender")
  const frame = b.frames.find(f => f.event === "shout")
  eq({join_ref: frame.join_ref, ref: frame.ref}, {join_ref: null, ref: null}, "join_ref/ref of a broadcast frame")
})

check("echo.shout_binary", WS, async ctx => {
  // a binary payload is broadcast as a binary frame of kind 2 (no join_ref, no ref)
  const topic = ctx.topic("echo")
  const [a, b] = await Promise.all([ctx.open(), ctx.open()])
  const chA = a.channel(topic)
  const chB = b.channel(topic)
  await Promise.all([joinOk(chA), joinOk(chB)])
  const got = {a: [], b: []}
  chA.on("shout", (payload, ref) => got.a.push({payload, ref}))
  chB.on("shout", (payload, ref) => got.b.push({payload, ref}))
  const bytes = [0, 1, 2, 200, 255, 91, 123]
  eq(await push(chA, "shout", Uint8Array.from(bytes).buffer), {status: "ok", response: {}}, "binary shout reply")
  await waitUntil(() => got.a.length >= 1 && got.b.length >= 1, 3000, "the binary broadcast on both sockets")
  for(const who of ["a", "b"]){
    assert(got[who][0].payload instanceof ArrayBuffer, `socket ${who}: the shout payload is not an ArrayBuffer: ${show(got[who][0].payload)}`)
    eq(Array.from(new Uint8Array(got[who][0].payload)), bytes, `socket ${who}: bytes of the binary broadcast`)
    eq(got[who][0].ref, null, `socket ${who}: ref of the binary broadcast`)
  }
  const frame = b.frames.find(f => f.event === "shout")
  eq({join_ref: frame.join_ref, ref: frame.ref}, {join_ref: null, ref: null}, "join_ref/ref of a binary broadcast frame")
})

check("echo.burst", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const channel = socket.channel(topic)
  await joinOk(channel)
  const n = 300
  const size = 100
  const order = []
  const msgs = []
  channel.on("burst_msg", payload => { msgs.push(payload); order.push("msg") })
  const p = channel.push("burst", {n, size})
  p.receive("ok", () => order.push("reply"))
  eq(await within(outcome(p), 4000, "burst reply"), {status: "ok", response: {sent: n}}, "burst reply")
  await waitUntil(() => msgs.length >= n, 4000, `${n} burst_msg events (got ${msgs.length})`)
  await sleep(50)
  eq(msgs.length, n, "burst_msg count")
  eq(order[0], "reply", "the reply came before the first burst_msg")
  for(let i = 0; i < n; i++){
    const m = msgs[i]
    if(m.i !== i){ fail(`burst_msg #${i} has i=${show(m.i)}: out of order`) }
    if(typeof m.data !== "string" || new TextEncoder().encode(m.data).length !== size){
      fail(`burst_msg #${i}: data is not ${size} bytes of text: ${show(m.data)}`)
    }
    eq(Object.keys(m).sort(), ["data", "i"], `keys of burst_msg #${i}`)
  }
  const frame = socket.frames.find(f => f.event === "burst_msg")
  eq({join_ref: frame.join_ref, ref: frame.ref}, {join_ref: channel.joinRef(), ref: null}, "join_ref/ref of a pushed frame")
})

check("echo.bin", WS, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("echo"))
  await joinOk(channel)
  const bytes = Uint8Array.from([0, 1, 2, 127, 128, 250, 255, 10, 13, 0x7b])
  const result = await push(channel, "bin", bytes.buffer.slice(0))
  eq(result.status, "ok", "bin reply status")
  assert(result.response instanceof ArrayBuffer, `bin reply is not an ArrayBuffer: ${show(result.response)}`)
  eq(Array.from(new Uint8Array(result.response)), Array.from(bytes), "bin reply bytes")
  const empty = await push(channel, "bin", new ArrayBuffer(0))
  eq(empty, {status: "ok", response: new ArrayBuffer(0)}, "bin reply to an empty binary payload")
})

check("echo.bin_not_binary", BOTH, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("echo"))
  await joinOk(channel)
  eq(await push(channel, "bin", {not: "binary"}), {status: "error", response: {reason: "expected binary payload"}}, "bin reply to a JSON payload")
})

check("echo.push_bin", WS, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const channel = socket.channel(topic)
  await joinOk(channel)
  const order = []
  const got = []
  channel.on("bin_msg", (payload, ref, joinRef) => { got.push({payload, ref, joinRef}); order.push("bin_msg") })
  const p = channel.push("push_bin", {})
  p.receive("ok", () => order.push("reply"))
  eq(await within(outcome(p), 3000, "push_bin reply"), {status: "ok", response: {}}, "push_bin reply")
  await waitUntil(() => got.length >= 1, 2000, "the bin_msg push")
  await sleep(50)
  eq(got.length, 1, "bin_msg count")
  assert(got[0].payload instanceof ArrayBuffer, `bin_msg payload is not an ArrayBuffer: ${show(got[0].payload)}`)
  eq(Array.from(new Uint8Array(got[0].payload)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "bin_msg bytes")
  eq(got[0].ref, null, "ref of a binary push")
  eq(order, ["bin_msg", "reply"], "order of bin_msg and the reply")
})

check("echo.duplicate_join", BOTH, async ctx => {
  const socket = await ctx.open()
  const topic = ctx.topic("echo")
  const first = socket.channel(topic, {n: 1})
  await joinOk(first)
  let firstClosed = 0
  first.onClose(() => firstClosed++)
  const second = socket.channel(topic, {n: 2})
  eq(await join(second), {status: "ok", response: {joined: topic, params: {n: 2}}}, "join reply of the second instance")
  await waitUntil(() => firstClosed > 0, 2000, "the first instance to close")
  eq(first.state, "closed", "state of the first instance")
  assert(!socket.channels.includes(first), "the first instance is still in socket.channels")
  eq(second.state, "joined", "state of the second instance")
  eq(await push(second, "ping", {dup: 2}), {status: "ok", response: {dup: 2}}, "ping on the second instance")
  await sleep(100)
  eq(second.state, "joined", "state of the second instance after a while")
})

check("echo.max_channels", BOTH, async ctx => {
  const socket = await ctx.open()
  const channels = Array.from({length: 100}, (_, i) => socket.channel(ctx.topic("echo", `-${i}`)))
  const results = await Promise.all(channels.map(c => join(c, 6000)))
  const notOk = results.filter(r => r.status !== "ok")
  assert(notOk.length === 0, `${notOk.length} of the first 100 joins failed, e.g. ${show(notOk[0])}`)
  const extra = socket.channel(ctx.topic("echo", "-100"))
  const result = await join(extra)
  extra.leave()
  eq(result, {status: "error", response: {reason: "too many channels joined"}}, "reply to the 101st join")
  // a leave frees a slot
  const freed = channels[0].topic
  eq(await leave(channels[0]), {status: "ok", response: {}}, "leave reply")
  await waitUntil(() => socket.frames.some(f => f.topic === freed && f.event === "phx_close"), 2000, "phx_close of the left channel")
  const again = socket.channel(ctx.topic("echo", "-101"))
  const topic = again.topic
  eq(await join(again), {status: "ok", response: {joined: topic, params: {}}}, "join after freeing a slot")
}, 10000)

// --- compression -----------------------------------------------------------------------------

check("compress.socket", WS, async ctx => {
  const socket = await ctx.open({}, COMPRESS_ENDPOINT)
  const extensions = socket.conn.extensions
  ctx.info.extensions = extensions
  assert(/permessage-deflate/.test(extensions), `permessage-deflate was not negotiated: extensions ${show(extensions)}`)
  const channel = socket.channel(ctx.topic("echo"))
  await joinOk(channel)
  const payload = {text: "compressible ".repeat(5000), n: 1}
  eq(await push(channel, "ping", payload), {status: "ok", response: payload}, "ping reply over the compressed socket")
  const msgs = []
  channel.on("burst_msg", m => msgs.push(m))
  eq(await push(channel, "burst", {n: 50, size: 1000}), {status: "ok", response: {sent: 50}}, "burst reply")
  await waitUntil(() => msgs.length >= 50, 3000, "50 burst_msg over the compressed socket")
  eq(msgs.map(m => m.i), Array.from({length: 50}, (_, i) => i), "burst order")
})

// --- presence:* ----------------------------------------------------------------------------------

async function presenceUser(ctx, topic, params){
  const socket = await ctx.open()
  const channel = socket.channel(topic, params)
  const presence = new Presence(channel)
  const log = {states: [], diffs: [], joins: [], leaves: [], syncs: 0}
  channel.on("presence_state", state => log.states.push(state))
  channel.on("presence_diff", diff => log.diffs.push(diff))
  presence.onJoin((key, current, joined) => log.joins.push({key, current, joined}))
  presence.onLeave((key, current, left) => log.leaves.push({key, current, left}))
  presence.onSync(() => log.syncs++)
  eq(await join(channel), {status: "ok", response: {}}, `presence join reply for ${show(params)}`)
  return {socket, channel, presence, log}
}

const keysOf = presence => presence.list(key => key).sort()

function checkMeta(meta, status, what){
  assert(meta && typeof meta === "object", `${what}: no meta`)
  eq(meta.status, status, `${what}: status`)
  assert(typeof meta.online_at === "number" && meta.online_at > 1e9, `${what}: online_at is not a unix time: ${show(meta.online_at)}`)
  assert(typeof meta.phx_ref === "string" && meta.phx_ref.length > 0, `${what}: phx_ref missing: ${show(meta)}`)
}

check("presence.user_id_required", BOTH, async ctx => {
  const socket = await ctx.open()
  const channel = socket.channel(ctx.topic("presence"), {status: "away"})
  const result = await join(channel)
  channel.leave()
  eq(result, {status: "error", response: {reason: "user_id required"}}, "join reply without user_id")
})

check("presence.state", BOTH, async ctx => {
  const alice = await presenceUser(ctx, ctx.topic("presence"), {user_id: "alice"})
  await waitUntil(() => alice.log.states.length >= 1, 2000, "presence_state")
  const state = alice.log.states[0]
  eq(Object.keys(state), ["alice"], "keys of the first presence_state")
  eq(state.alice.metas.length, 1, "metas of alice in presence_state")
  checkMeta(state.alice.metas[0], "online", "alice in presence_state")
  await waitUntil(() => keysOf(alice.presence).length === 1, 1000, "Presence.list to show alice")
  eq(keysOf(alice.presence), ["alice"], "Presence.list keys")
  await sleep(100)
  eq(alice.presence.state.alice.metas.length, 1, "metas of alice once her own join diff arrived")
  ctx.info.meta = state.alice.metas[0]
})

check("presence.diff_join", BOTH, async ctx => {
  const topic = ctx.topic("presence")
  const alice = await presenceUser(ctx, topic, {user_id: "alice"})
  await waitUntil(() => keysOf(alice.presence).includes("alice"), 2000, "alice to see herself")
  const bob = await presenceUser(ctx, topic, {user_id: "bob", status: "away"})
  await waitUntil(() => keysOf(alice.presence).includes("bob"), 2000, "alice to see bob join")
  const diff = alice.log.diffs.find(d => d.joins && d.joins.bob)
  assert(diff, "no presence_diff with bob in joins reached alice")
  eq(Object.keys(diff.leaves || {}), [], "leaves of bob's join diff")
  eq(diff.joins.bob.metas.length, 1, "metas of bob in the join diff")
  checkMeta(diff.joins.bob.metas[0], "away", "bob in the join diff")
  assert(alice.log.joins.some(j => j.key === "bob" && j.current === undefined), "Presence.onJoin did not fire for bob as a new key")
  await waitUntil(() => keysOf(bob.presence).length === 2, 2000, "bob to see both users")
  eq(keysOf(alice.presence), ["alice", "bob"], "Presence.list at alice")
  eq(keysOf(bob.presence), ["alice", "bob"], "Presence.list at bob")
  const bobState = bob.log.states[0]
  assert(bobState && bobState.alice, `bob's presence_state does not list alice: ${show(bobState)}`)
  for(const [who, p] of [["alice", alice.presence], ["bob", bob.presence]]){
    eq(p.state.alice.metas.length, 1, `metas of alice as seen by ${who}`)
    eq(p.state.bob.metas.length, 1, `metas of bob as seen by ${who}`)
    checkMeta(p.state.bob.metas[0], "away", `bob as seen by ${who}`)
  }
})

check("presence.update_status", BOTH, async ctx => {
  const topic = ctx.topic("presence")
  const alice = await presenceUser(ctx, topic, {user_id: "alice"})
  const bob = await presenceUser(ctx, topic, {user_id: "bob"})
  await waitUntil(() => keysOf(alice.presence).length === 2, 2000, "alice to see both users")
  const oldRef = alice.presence.state.bob.metas[0].phx_ref
  const diffsBefore = alice.log.diffs.length
  eq(await push(bob.channel, "update_status", {status: "busy"}), {status: "ok", response: {}}, "update_status reply")
  await waitUntil(() => alice.log.diffs.slice(diffsBefore).some(d => d.joins && d.joins.bob), 2000, "the update diff at alice")
  const diff = alice.log.diffs.slice(diffsBefore).find(d => d.joins && d.joins.bob)
  assert(diff.leaves && diff.leaves.bob, `the update diff has no leave of bob: ${show(diff)}`)
  eq(diff.leaves.bob.metas.map(m => m.phx_ref), [oldRef], "phx_ref of bob's leave in the update diff")
  eq(diff.joins.bob.metas.length, 1, "metas of bob's join in the update diff")
  const meta = diff.joins.bob.metas[0]
  checkMeta(meta, "busy", "bob's join in the update diff")
  assert(meta.phx_ref !== oldRef, "the updated meta kept the old phx_ref")
  eq(meta.phx_ref_prev, oldRef, "phx_ref_prev of the updated meta")
  eq(keysOf(alice.presence), ["alice", "bob"], "Presence.list at alice after the update")
  eq(alice.presence.state.bob.metas.length, 1, "metas of bob after the update")
  eq(alice.presence.state.bob.metas[0].status, "busy", "bob's status in Presence state after the update")
  await waitUntil(() => bob.presence.state.bob && bob.presence.state.bob.metas[0].status === "busy", 2000, "bob to see his own update")
})

check("presence.leave", BOTH, async ctx => {
  const topic = ctx.topic("presence")
  const alice = await presenceUser(ctx, topic, {user_id: "alice"})
  const bob = await presenceUser(ctx, topic, {user_id: "bob"})
  await waitUntil(() => keysOf(alice.presence).length === 2, 2000, "alice to see both users")
  eq(await leave(bob.channel), {status: "ok", response: {}}, "leave reply")
  await waitUntil(() => keysOf(alice.presence).length === 1, 2000, "alice to see bob leave")
  eq(keysOf(alice.presence), ["alice"], "Presence.list after bob left")
  const diff = alice.log.diffs.find(d => d.leaves && d.leaves.bob)
  eq(Object.keys(diff.joins || {}), [], "joins of bob's leave diff")
  assert(alice.log.leaves.some(l => l.key === "bob" && l.current.metas.length === 0), "Presence.onLeave did not report bob gone")
})

// WebSocket only: a LongPoll client that stops polling is only dropped after Phoenix's
// inactivity window (window_ms, 10 s), far beyond a check's budget
check("presence.disconnect", WS, async ctx => {
  const topic = ctx.topic("presence")
  const alice = await presenceUser(ctx, topic, {user_id: "alice"})
  const carol = await presenceUser(ctx, topic, {user_id: "carol"})
  await waitUntil(() => keysOf(alice.presence).length === 2, 2000, "alice to see carol")
  carol.socket.disconnect()
  await waitUntil(() => keysOf(alice.presence).length === 1, 3000, "alice to see carol leave on disconnect")
  eq(keysOf(alice.presence), ["alice"], "Presence.list after carol disconnected")
})

// --- load:* ------------------------------------------------------------------------------------

check("load.fanout", BOTH, async ctx => {
  const prefix = ctx.topic("load", "-t")
  const count = 4
  const rounds = 10
  const size = 64
  const [a, b] = await Promise.all([ctx.open(), ctx.open()])
  const ticksA = {}
  const ticksB = []
  const chans = []
  for(let i = 0; i < count; i++){
    const topic = `${prefix}${i}`
    ticksA[topic] = []
    const channel = a.channel(topic)
    channel.on("tick", payload => ticksA[topic].push(payload))
    chans.push(channel)
  }
  const control = a.channel(ctx.topic("load", "-control"))
  const other = b.channel(`${prefix}1`)
  other.on("tick", payload => ticksB.push(payload))
  const joined = await Promise.all([...chans, control, other].map(c => join(c)))
  joined.forEach((r, i) => eq(r, {status: "ok", response: {}}, `load join reply #${i}`))
  const total = () => Object.values(ticksA).reduce((s, l) => s + l.length, 0)
  let ticksBeforeReply = null
  const p = control.push("fanout", {prefix, count, n: rounds, size})
  p.receive("ok", () => { ticksBeforeReply = total() })
  eq(await within(outcome(p), 4000, "fanout reply"), {status: "ok", response: {}}, "fanout reply")
  eq(ticksBeforeReply, 0, "ticks received on the same socket before the fanout reply")
  await waitUntil(() => total() >= count * rounds && ticksB.length >= rounds, 4000, `${count * rounds} ticks on socket A and ${rounds} on socket B`)
  await sleep(50)
  for(const [topic, ticks] of Object.entries(ticksA)){
    eq(ticks.map(t => t.round), Array.from({length: rounds}, (_, r) => r), `rounds received on ${topic}`)
    ticks.forEach(t => {
      eq(Object.keys(t).sort(), ["data", "round"], `keys of a tick on ${topic}`)
      assert(typeof t.data === "string" && new TextEncoder().encode(t.data).length === size, `tick data is not ${size} bytes: ${show(t.data)}`)
    })
  }
  eq(ticksB.map(t => t.round), Array.from({length: rounds}, (_, r) => r), "rounds received by the second socket")
  const frame = a.frames.find(f => f.event === "tick")
  eq({join_ref: frame.join_ref, ref: frame.ref}, {join_ref: null, ref: null}, "join_ref/ref of a tick broadcast frame")
})

// --- raw frames: V1 serializer, vsn negotiation, V2 wire shapes ----------------------------------

check("raw.vsn_refused", WS, async ctx => {
  const conn = new RawConn(`${ENDPOINT}/websocket?vsn=3.0.0`)
  ctx.raws.push(conn)
  let error = null
  try { await within(conn.opened, 3000, "the vsn=3.0.0 upgrade to be answered") } catch(e){ error = e }
  assert(error, "a WebSocket with vsn=3.0.0 was accepted")
  assert(/\b403\b/.test(error.message), `expected 403 for vsn=3.0.0, got ${show(error.message)}`)
})

const V1_HEARTBEAT = {topic: "phoenix", event: "heartbeat", payload: {}, ref: "1"}
const V1_HEARTBEAT_REPLY = {topic: "phoenix", event: "phx_reply", payload: {status: "ok", response: {}}, ref: "1"}

check("raw.v1.heartbeat", WS, async ctx => {
  const conn = await ctx.raw("?vsn=1.0.0")
  conn.send(V1_HEARTBEAT)
  eq(await conn.take(() => true, "heartbeat reply"), V1_HEARTBEAT_REPLY, "V1 heartbeat reply")
})

check("raw.v1.no_vsn", WS, async ctx => {
  const conn = await ctx.raw("")
  conn.send(V1_HEARTBEAT)
  eq(await conn.take(() => true, "heartbeat reply"), V1_HEARTBEAT_REPLY, "heartbeat reply without vsn (V1)")
})

check("raw.v1.join", WS, async ctx => {
  const conn = await ctx.raw("?vsn=1.0.0")
  const topic = ctx.topic("echo")
  conn.send({topic, event: "phx_join", payload: {a: 1}, ref: "1"})
  eq(await conn.take(() => true, "join reply"), {topic, event: "phx_reply", payload: {status: "ok", response: {joined: topic, params: {a: 1}}}, ref: "1"}, "V1 join reply")
  conn.send({topic: ctx.topic("echo", "-fail"), event: "phx_join", payload: {fail: "no"}, ref: "2"})
  eq(await conn.take(() => true, "failing join reply"), {topic: ctx.topic("echo", "-fail"), event: "phx_reply", payload: {status: "error", response: {reason: "no"}}, ref: "2"}, "V1 join error reply")
})

check("raw.v1.ping", WS, async ctx => {
  const conn = await ctx.raw("?vsn=1.0.0")
  const topic = ctx.topic("echo")
  conn.send({topic, event: "phx_join", payload: {}, ref: "1"})
  await conn.take(f => f.ref === "1", "join reply")
  conn.send({topic, event: "ping", payload: {x: [1, 2]}, ref: "2"})
  eq(await conn.take(() => true, "ping reply"), {topic, event: "phx_reply", payload: {status: "ok", response: {x: [1, 2]}}, ref: "2"}, "V1 ping reply")
  conn.send({topic, event: "error_me", payload: {}, ref: "3", join_ref: null})
  eq(await conn.take(() => true, "error_me reply"), {topic, event: "phx_reply", payload: {status: "error", response: {reason: "requested"}}, ref: "3"}, "V1 error reply")
})

check("raw.v1.push", WS, async ctx => {
  const conn = await ctx.raw("?vsn=1.0.0")
  const topic = ctx.topic("echo")
  conn.send({topic, event: "phx_join", payload: {}, ref: "1"})
  await conn.take(f => f.ref === "1", "join reply")
  conn.send({topic, event: "burst", payload: {n: 2, size: 3}, ref: "2"})
  eq(await conn.take(f => f.event === "phx_reply", "burst reply"), {topic, event: "phx_reply", payload: {status: "ok", response: {sent: 2}}, ref: "2"}, "V1 burst reply")
  for(const i of [0, 1]){
    const frame = await conn.take(f => f.event === "burst_msg", `burst_msg ${i}`)
    assert(frame.payload && typeof frame.payload.data === "string" && frame.payload.data.length === 3, `burst_msg data: ${show(frame)}`)
    eq(frame, {topic, event: "burst_msg", payload: {i, data: frame.payload.data}, ref: null}, `V1 push frame ${i}`)
  }
})

check("raw.v1.broadcast", WS, async ctx => {
  const topic = ctx.topic("echo")
  const [a, b] = await Promise.all([ctx.raw("?vsn=1.0.0"), ctx.raw("?vsn=1.0.0")])
  for(const conn of [a, b]){
    conn.send({topic, event: "phx_join", payload: {}, ref: "1"})
    await conn.take(f => f.ref === "1", "join reply")
  }
  a.send({topic, event: "shout", payload: {hi: "v1"}, ref: "2"})
  const expected = {topic, event: "shout", payload: {hi: "v1"}, ref: null}
  eq(await a.take(f => f.event === "shout", "shout at the sender"), expected, "V1 broadcast frame at the sender")
  eq(await b.take(f => f.event === "shout", "shout at the other socket"), expected, "V1 broadcast frame at the other socket")
  eq(await a.take(f => f.event === "phx_reply", "shout reply"), {topic, event: "phx_reply", payload: {status: "ok", response: {}}, ref: "2"}, "V1 shout reply")
  // one broadcast reaches V1 and V2 subscribers of a topic, each in its own serializer's shape
  const v2 = await ctx.raw("?vsn=2.0.0")
  v2.send(["7", "7", topic, "phx_join", {}])
  await v2.take(f => f[1] === "7", "V2 join reply")
  v2.send(["7", "8", topic, "shout", {from: "v2"}])
  eq(await v2.take(f => f[3] === "shout", "shout at the V2 sender"), [null, null, topic, "shout", {from: "v2"}], "V2 broadcast frame")
  for(const [who, conn] of [["a", a], ["b", b]]){
    eq(await conn.take(f => f.event === "shout", `V2 shout at V1 socket ${who}`), {topic, event: "shout", payload: {from: "v2"}, ref: null}, `V1 frame of a V2 client's broadcast at socket ${who}`)
  }
})

check("raw.v2.heartbeat", WS, async ctx => {
  const conn = await ctx.raw("?vsn=2.0.0")
  conn.send([null, "7", "phoenix", "heartbeat", {}])
  eq(await conn.take(() => true, "heartbeat reply"), [null, "7", "phoenix", "phx_reply", {status: "ok", response: {}}], "V2 heartbeat reply")
})

check("raw.v2.extra_elements", WS, async ctx => {
  // Phoenix's V2 decoder matches [join_ref, ref, topic, event, payload | _]
  const conn = await ctx.raw("?vsn=2.0.0")
  const topic = ctx.topic("echo")
  conn.send(["1", "1", topic, "phx_join", {}, "extra", 1])
  eq(await conn.take(() => true, "join reply"), ["1", "1", topic, "phx_reply", {status: "ok", response: {joined: topic, params: {}}}], "reply to a join frame with trailing elements")
})

check("raw.v2.unjoined_topic", WS, async ctx => {
  const conn = await ctx.raw("?vsn=2.0.0")
  const topic = ctx.topic("echo")
  conn.send([null, "2", topic, "ping", {}])
  eq(await conn.take(() => true, "reply to a push on an unjoined topic"), [null, "2", topic, "phx_reply", {status: "error", response: {reason: "unmatched topic"}}], "reply to a push on an unjoined topic")
  conn.send(["5", "6", topic, "phx_leave", {}])
  eq(await conn.take(() => true, "reply to a leave of an unjoined topic"), ["5", "6", topic, "phx_reply", {status: "ok", response: {}}], "reply to a leave of an unjoined topic")
  const nowhere = `nowhere:${RUN}`
  conn.send(["8", "8", nowhere, "phx_join", {}])
  eq(await conn.take(() => true, "reply to a join of an unrouted topic"), [null, "8", nowhere, "phx_reply", {status: "error", response: {reason: "unmatched topic"}}], "reply to a join of a topic without a channel")
})

check("raw.v2.duplicate_join", WS, async ctx => {
  const conn = await ctx.raw("?vsn=2.0.0")
  const topic = ctx.topic("echo")
  conn.send(["1", "1", topic, "phx_join", {n: 1}])
  eq(await conn.take(() => true, "first join reply"), ["1", "1", topic, "phx_reply", {status: "ok", response: {joined: topic, params: {n: 1}}}], "first join reply")
  conn.send(["2", "2", topic, "phx_join", {n: 2}])
  // Phoenix queues the old channel's phx_close to itself, then answers the new join at once
  await waitUntil(() => conn.frames.length >= 2, 2000, "the second join reply and the phx_close of the first join")
  eq(conn.frames.splice(0, 2), [
    ["2", "2", topic, "phx_reply", {status: "ok", response: {joined: topic, params: {n: 2}}}],
    ["1", "1", topic, "phx_close", {}],
  ], "frames after a duplicate join (in order)")
  conn.send(["2", "3", topic, "ping", {z: 1}])
  eq(await conn.take(() => true, "ping reply"), ["2", "3", topic, "phx_reply", {status: "ok", response: {z: 1}}], "ping on the second join")
  // a push with the stale join_ref is ignored (Phoenix >= 1.8.3)
  conn.send(["1", "4", topic, "ping", {stale: true}])
  conn.send(["2", "5", topic, "ping", {fresh: true}])
  eq(await conn.take(() => true, "the next frame"), ["2", "5", topic, "phx_reply", {status: "ok", response: {fresh: true}}], "next frame after a stale-join_ref push")
})

check("raw.v2.join_is_synchronous", WS, async ctx => {
  // Phoenix's socket process waits for a channel's join/3, so frames sent after a slow join
  // are answered after its reply, whatever their topic
  const conn = await ctx.raw("?vsn=2.0.0")
  const topic = ctx.topic("echo")
  conn.send(["1", "1", topic, "phx_join", {delay_ms: 200}])
  conn.send([null, "2", "phoenix", "heartbeat", {}])
  conn.send(["3", "3", `${topic}-b`, "phx_join", {}])
  await waitUntil(() => conn.frames.length >= 3, 3000, "three replies")
  eq(conn.frames.map(f => f[1]), ["1", "2", "3"], "refs of the replies, in order")
})

check("raw.v2.binary_frames", WS, async ctx => {
  const conn = await ctx.raw("?vsn=2.0.0")
  const topic = ctx.topic("echo")
  conn.send(["1", "1", topic, "phx_join", {}])
  await conn.take(f => !(f instanceof Uint8Array) && f[1] === "1", "join reply")
  conn.send(["1", "2", topic, "push_bin", {}])
  const pushed = await conn.take(f => f instanceof Uint8Array, "the binary bin_msg push")
  const t = bytesOf(topic)
  eq(Array.from(pushed), [0, 1, t.length, 7, ...bytesOf("1"), ...t, ...bytesOf("bin_msg"), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "bytes of the binary push frame (kind 0)")
  eq(await conn.take(f => !(f instanceof Uint8Array), "push_bin reply"), ["1", "2", topic, "phx_reply", {status: "ok", response: {}}], "push_bin reply")
  conn.sendBinary([0, 1, 1, t.length, 3, ...bytesOf("1"), ...bytesOf("3"), ...t, ...bytesOf("bin"), 9, 8, 7])
  const reply = await conn.take(() => true, "the binary bin reply")
  assert(reply instanceof Uint8Array, `the bin reply is not a binary frame: ${show(reply)}`)
  eq(Array.from(reply), [1, 1, 1, t.length, 2, ...bytesOf("1"), ...bytesOf("3"), ...t, ...bytesOf("ok"), 9, 8, 7], "bytes of the binary reply frame (kind 1)")
})

check("raw.v2.error_and_close", WS, async ctx => {
  const conn = await ctx.raw("?vsn=2.0.0")
  const topic = ctx.topic("echo")
  conn.send(["1", "1", topic, "phx_join", {}])
  await conn.take(f => f[1] === "1", "join reply")
  conn.send(["1", "2", topic, "boom", {}])
  const error = await conn.take(f => f[3] === "phx_error", "phx_error")
  eq(error.slice(0, 4), ["1", "1", topic, "phx_error"], "phx_error frame")
  // Phoenix < 1.8.10 sends {}, later versions {"reason": "channel_crash"}
  const payloadOk = ["{}", '{"reason":"channel_crash"}'].includes(JSON.stringify(canon(error[4])))
  assert(payloadOk, `phx_error payload is neither {} nor {"reason":"channel_crash"}: ${show(error[4])}`)
  ctx.info.phx_error_payload = error[4]
  conn.send(["3", "3", topic, "phx_join", {}])
  await conn.take(f => f[1] === "3", "rejoin reply")
  conn.send(["3", "4", topic, "stop", {}])
  eq(await conn.take(f => f[1] === "4", "stop reply"), ["3", "4", topic, "phx_reply", {status: "ok", response: {}}], "stop reply")
  eq(await conn.take(f => f[3] === "phx_close", "phx_close"), ["3", "3", topic, "phx_close", {}], "phx_close frame")
})

// --- raw LongPoll requests --------------------------------------------------------------------

const LP = ["longpoll"]
const LONGPOLL_URL = ENDPOINT.replace(/^ws/, "http") + "/longpoll"

async function lpRequest(query, init = {}){
  const response = await within(fetch(`${LONGPOLL_URL}${query}`, {headers: {Accept: "application/json"}, ...init}), 12000, `LongPoll ${init.method || "GET"} ${query}`)
  const text = await response.text()
  try { return JSON.parse(text) } catch(_e){ fail(`LongPoll ${init.method || "GET"} ${query}: not JSON (HTTP ${response.status}): ${show(text)}`) }
}

// polls until the session has delivered `count` messages (each a text frame), parsed
async function lpMessages(query, count){
  const messages = []
  const deadline = Date.now() + 5000
  while(messages.length < count && Date.now() < deadline){
    const body = await lpRequest(query)
    if(body.status === 204){ continue }
    eq(body.status, 200, `status of a poll (body ${show(body)})`)
    messages.push(...body.messages.map(m => JSON.parse(m)))
  }
  return messages
}

check("raw.longpoll.vsn_refused", LP, async _ctx => {
  eq(await lpRequest("?vsn=3.0.0"), {status: 403}, "LongPoll session for vsn=3.0.0")
  eq(await lpRequest("?token=bad&vsn=2.0.0"), {status: 403}, "LongPoll session for token=bad")
})

check("raw.longpoll.v1", LP, async ctx => {
  const session = await lpRequest("?vsn=1.0.0")
  eq([session.status, session.messages], [410, []], "[status, messages] of a new LongPoll session")
  assert(typeof session.token === "string" && session.token.length > 0, `no session token: ${show(session)}`)
  const query = `?vsn=1.0.0&token=${encodeURIComponent(session.token)}`
  const post = frame => lpRequest(query, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(frame)})
  const topic = ctx.topic("echo")
  eq(await post({topic: "phoenix", event: "heartbeat", payload: {}, ref: "1"}), {status: 200}, "POST of a V1 heartbeat")
  eq(await post({topic, event: "phx_join", payload: {v: 1}, ref: "2"}), {status: 200}, "POST of a V1 join")
  eq(await post({topic, event: "ping", payload: {p: 1}, ref: "3"}), {status: 200}, "POST of a V1 push")
  eq(await lpMessages(query, 3), [
    {topic: "phoenix", event: "phx_reply", payload: {status: "ok", response: {}}, ref: "1"},
    {topic, event: "phx_reply", payload: {status: "ok", response: {joined: topic, params: {v: 1}}}, ref: "2"},
    {topic, event: "phx_reply", payload: {status: "ok", response: {p: 1}}, ref: "3"},
  ], "V1 replies delivered by LongPoll")
})

check("raw.longpoll.v2_batch", LP, async ctx => {
  const session = await lpRequest("?vsn=2.0.0")
  eq(session.status, 410, "status of a new LongPoll session")
  const query = `?vsn=2.0.0&token=${encodeURIComponent(session.token)}`
  const topic = ctx.topic("echo")
  const frames = [[null, "1", "phoenix", "heartbeat", {}], ["2", "2", topic, "phx_join", {}], ["2", "3", topic, "ping", {b: 1}]]
  const body = frames.map(f => JSON.stringify(f)).join("\n")
  eq(await lpRequest(query, {method: "POST", headers: {"Content-Type": "application/x-ndjson"}, body}), {status: 200}, "POST of an ndjson batch")
  eq(await lpMessages(query, 3), [
    [null, "1", "phoenix", "phx_reply", {status: "ok", response: {}}],
    ["2", "2", topic, "phx_reply", {status: "ok", response: {joined: topic, params: {}}}],
    ["2", "3", topic, "phx_reply", {status: "ok", response: {b: 1}}],
  ], "V2 replies delivered by LongPoll")
})

// ---------------------------------------------------------------------------------------------
// runner

let currentReject = null
process.on("uncaughtException", error => {
  if(currentReject){ currentReject(error) } else { process.stderr.write(`uncaught: ${error && error.stack}\n`) }
})
process.on("unhandledRejection", error => {
  if(currentReject){ currentReject(error) } else { process.stderr.write(`unhandled rejection: ${error && error.stack}\n`) }
})

const emit = obj => process.stdout.write(JSON.stringify(obj) + "\n")

async function runCheck({name, fn, timeoutMs}, started){
  const ctx = new Context(name)
  const t0 = Date.now()
  const aborted = deferred()
  currentReject = aborted.reject
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`check timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  const result = {check: name, ok: true}
  try {
    if(Date.now() - started > RUN_BUDGET_MS){ fail(`not run: the run exceeded its ${RUN_BUDGET_MS} ms budget`) }
    await Promise.race([fn(ctx), timeout, aborted.promise])
  } catch(error){
    result.ok = false
    result.error = error instanceof CheckError ? error.message : `${error && error.stack || error}`
  } finally {
    clearTimeout(timer)
    currentReject = null
    ctx.cleanup()
  }
  result.ms = Date.now() - t0
  if(Object.keys(ctx.info).length > 0){ result.info = ctx.info }
  emit(result)
  return result.ok
}

async function main(){
  const started = Date.now()
  const selected = CHECKS.filter(c => c.transports.includes(TRANSPORT_ARG) && (!ONLY || c.name.startsWith(ONLY)))
  if(LIST_ONLY){
    selected.forEach(c => process.stdout.write(c.name + "\n"))
    return
  }
  let passed = 0
  let failed = 0
  for(const c of selected){
    if(await runCheck(c, started)){ passed++ } else { failed++ }
  }
  emit({summary: true, transport: TRANSPORT_ARG, url: ENDPOINT, passed, failed, ms: Date.now() - started})
  setTimeout(() => process.exit(failed === 0 ? 0 : 1), 20)
}

main()
