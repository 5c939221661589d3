// The console: list, create and delete channels; connect as viewer or master; show the
// video, a data-channel chat, live stats and the signaling timeline. Credentials live in the
// inputs and the tab's session storage only, and go nowhere but into signatures.
import { Api, ApiError, Signaling } from "/console/kvs.js";
import { diagnose as runDiagnosis } from "/console/diagnose.js";

const $ = (id) => document.getElementById(id);
const started = performance.now();
const state = { timeline: [], chat: [], framesDecoded: 0, iceState: "new", selectedPair: null, error: null, role: null, diagnosis: null };
window.kvsConsole = { state, connect, disconnect, send, listChannels, diagnose };

let config = { region: "us-west-2", pathPrefix: "" };
let session = null;

function log(kind, text) {
  const ms = (performance.now() - started).toFixed(1).padStart(9);
  const line = `${ms} ms  ${text}`;
  state.timeline.push({ kind, text, ms: Number(ms) });
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = line;
  $("timeline").appendChild(li);
}

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "status error" : "status";
}

function credentials() {
  const c = { accessKeyId: $("access-key").value.trim(), secretAccessKey: $("secret-key").value };
  const token = $("session-token").value;
  if (token) c.sessionToken = token;
  return c;
}

function api() {
  return new Api({ endpoint: location.origin + config.pathPrefix, region: config.region, credentials: credentials() });
}

function keepInSession() {
  for (const id of ["access-key", "secret-key", "session-token"]) {
    sessionStorage.setItem(id, $(id).value);
  }
}

async function listChannels() {
  try {
    const channels = await api().listChannels();
    const ul = $("channels");
    ul.replaceChildren();
    for (const c of channels) {
      const li = document.createElement("li");
      const pick = document.createElement("a");
      pick.href = "#";
      pick.textContent = c.ChannelName;
      pick.onclick = (e) => {
        e.preventDefault();
        $("channel").value = c.ChannelName;
      };
      const del = document.createElement("button");
      del.textContent = "Delete";
      del.onclick = async () => {
        await api().deleteChannel(c.ChannelARN).catch(fail);
        listChannels();
      };
      li.append(pick, del);
      ul.appendChild(li);
    }
    return channels;
  } catch (e) {
    fail(e);
    return [];
  }
}

function fail(e) {
  const text = e instanceof ApiError ? `the service refused: ${e.message}` : String(e.message || e);
  state.error = text;
  log("error", `error  ${text}`);
  status(text, true);
}

// The ICE servers as the Rust client builds them for a custom endpoint: the first TURN
// server's host and port as the STUN server, then the TURN servers.
function iceConfig(servers, relay) {
  const iceServers = servers.map((s) => ({ urls: s.Uris, username: s.Username, credential: s.Password }));
  const first = servers[0]?.Uris?.[0];
  const m = first && /^turns?:([^?]+)/.exec(first);
  if (m) iceServers.unshift({ urls: `stun:${m[1]}` });
  return { iceServers, iceTransportPolicy: relay ? "relay" : "all" };
}

// The checks a browser can run itself, worded as `kvs-signaling doctor` words them.
async function diagnose(opts = {}) {
  state.diagnosis = null;
  const list = $("diagnosis");
  list.textContent = "";
  const findings = await runDiagnosis({
    api: api(),
    channel: opts.channel ?? $("channel").value.trim(),
    keyId: credentials().accessKeyId,
    region: config.region,
    timeoutMs: opts.timeoutMs || 3000,
    stunUrl: (servers) => iceConfig(servers, false).iceServers.find((s) => String(s.urls).startsWith("stun:"))?.urls,
  });
  for (const f of findings) {
    const li = document.createElement("li");
    li.className = f.mark;
    li.textContent = f.line;
    list.appendChild(li);
  }
  state.diagnosis = findings;
}

function describeCandidate(c) {
  const m = / typ (\w+)/.exec(c || "");
  return m ? m[1] : "?";
}

async function connect(opts = {}) {
  await disconnect();
  const role = opts.role || $("role").value;
  const channel = opts.channel || $("channel").value.trim();
  const relay = opts.relay ?? $("relay").checked;
  const clientId = role === "VIEWER" ? opts.clientId || $("client-id").value.trim() || `console-${Math.random().toString(36).slice(2, 10)}` : null;
  state.role = role;
  state.error = null;
  keepInSession();
  status(`connecting to ${channel} as ${role.toLowerCase()}...`);
  const a = api();
  try {
    log("state", "state  DESCRIBE");
    const info = await a.describe(channel);
    log("state", "state  GET_ENDPOINT");
    const ep = await a.endpoints(info.ChannelARN, role);
    log("state", "state  GET_ICE_CONFIG");
    const servers = await a.iceServers(ep.https, info.ChannelARN, clientId);
    log("state", `ice    ${servers.length} TURN server(s)${relay ? ", relay only" : ""}`);
    const rtc = iceConfig(servers, relay);
    session = { role, peers: new Map(), rtc, channels: new Map() };
    session.signaling = new Signaling({
      wss: ep.wss,
      arn: info.ChannelARN,
      clientId,
      region: config.region,
      credentials: credentials(),
      onState: (s, detail) => log("state", `state  ${s}${detail ? " (" + detail + ")" : ""}`),
      onMessage: (type, payload, from, size) => received(type, payload, from, size),
    });
    await session.signaling.open();
    status(`connected to ${channel} as ${role.toLowerCase()}${clientId ? " (" + clientId + ")" : ""}`);
    if (role === "VIEWER") await offer(clientId);
  } catch (e) {
    fail(e);
  }
}

function sendSignal(action, payload, to) {
  const size = session.signaling.send(action, payload, to);
  log("sent", `send   ${action}${to ? " to " + to : ""} (${size} bytes)${action === "ICE_CANDIDATE" ? " " + describeCandidate(payload.candidate) : ""}`);
}

function newPeer(remote) {
  const pc = new RTCPeerConnection(session.rtc);
  const peer = { pc, held: [], remoteSet: false };
  session.peers.set(remote, peer);
  pc.onicecandidate = (e) => {
    if (e.candidate && e.candidate.candidate) sendSignal("ICE_CANDIDATE", e.candidate.toJSON(), session.role === "MASTER" ? remote : undefined);
  };
  pc.oniceconnectionstatechange = () => {
    state.iceState = pc.iceConnectionState;
    log("state", `ICE    ${pc.iceConnectionState}${remote ? " (" + remote + ")" : ""}`);
  };
  pc.onconnectionstatechange = () => log("state", `peer   ${pc.connectionState}`);
  pc.ontrack = (e) => {
    log("state", `track  ${e.track.kind}`);
    $("video").srcObject = e.streams[0] || new MediaStream([e.track]);
  };
  pc.ondatachannel = (e) => chatChannel(e.channel, remote, session.role === "MASTER");
  return peer;
}

function chatChannel(dc, remote, echo) {
  session.channels.set(remote || "master", dc);
  dc.onopen = () => log("state", `data   channel '${dc.label}' open`);
  dc.onmessage = (e) => {
    const text = typeof e.data === "string" ? e.data : `(${e.data.byteLength} bytes)`;
    state.chat.push({ from: remote || "master", text });
    const li = document.createElement("li");
    li.textContent = `${remote || "master"}: ${text}`;
    $("chat").appendChild(li);
    if (echo) dc.send(e.data);
  };
}

async function offer(clientId) {
  const peer = newPeer(null);
  chatChannel(peer.pc.createDataChannel("kvsDataChannel"), null, false);
  peer.pc.addTransceiver("video", { direction: "recvonly" });
  const desc = await peer.pc.createOffer();
  await peer.pc.setLocalDescription(desc);
  sendSignal("SDP_OFFER", { type: desc.type, sdp: desc.sdp });
  log("state", `viewer ${clientId} offered a data channel and receive-only video`);
}

async function received(type, payload, from, size) {
  log("received", `recv   ${type}${from ? " from " + from : ""} (${size} bytes)${type === "ICE_CANDIDATE" && payload ? " " + describeCandidate(payload.candidate) : ""}`);
  try {
    if (type === "SDP_OFFER" && session.role === "MASTER") {
      const old = session.peers.get(from);
      if (old) old.pc.close();
      const peer = newPeer(from);
      await peer.pc.setRemoteDescription(payload);
      await applyHeld(peer);
      const answer = await peer.pc.createAnswer();
      await peer.pc.setLocalDescription(answer);
      sendSignal("SDP_ANSWER", { type: answer.type, sdp: answer.sdp }, from);
    } else if (type === "SDP_ANSWER" && session.role === "VIEWER") {
      const peer = session.peers.get(null);
      await peer.pc.setRemoteDescription(payload);
      await applyHeld(peer);
    } else if (type === "ICE_CANDIDATE") {
      const peer = session.peers.get(session.role === "MASTER" ? from : null);
      if (!peer) return;
      if (peer.remoteSet) await peer.pc.addIceCandidate(payload);
      else peer.held.push(payload);
    }
  } catch (e) {
    fail(e);
  }
}

async function applyHeld(peer) {
  peer.remoteSet = true;
  for (const c of peer.held.splice(0)) await peer.pc.addIceCandidate(c);
}

function send(text) {
  if (!session) return false;
  let sent = false;
  for (const dc of session.channels.values()) {
    if (dc.readyState === "open") {
      dc.send(text);
      sent = true;
    }
  }
  if (sent) log("sent", `data   '${text}'`);
  return sent;
}

async function disconnect() {
  if (!session) return;
  for (const { pc } of session.peers.values()) pc.close();
  session.signaling?.close();
  session = null;
}

let lastBytes = null;
async function stats() {
  const peer = session && [...session.peers.values()][0];
  if (!peer) return;
  const report = await peer.pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  const rows = { "ICE state": peer.pc.iceConnectionState };
  for (const s of byId.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      const pair = byId.get(s.selectedCandidatePairId);
      const local = pair && byId.get(pair.localCandidateId);
      const remote = pair && byId.get(pair.remoteCandidateId);
      if (local && remote) {
        state.selectedPair = { local: local.candidateType, remote: remote.candidateType };
        rows["selected pair"] = `${local.candidateType} ${local.address ?? ""}:${local.port} <-> ${remote.candidateType} ${remote.address ?? ""}:${remote.port}`;
      }
      if (pair?.currentRoundTripTime !== undefined) rows["round trip"] = `${(pair.currentRoundTripTime * 1000).toFixed(1)} ms`;
    }
    if (s.type === "inbound-rtp" && s.kind === "video") {
      state.framesDecoded = s.framesDecoded || 0;
      rows["frames decoded"] = String(state.framesDecoded);
      rows["frames per second"] = String(s.framesPerSecond ?? 0);
      if (lastBytes) rows.bitrate = `${(((s.bytesReceived - lastBytes.bytes) * 8) / ((s.timestamp - lastBytes.at) || 1)).toFixed(0)} kbit/s`;
      lastBytes = { bytes: s.bytesReceived, at: s.timestamp };
    }
  }
  const dl = $("stats");
  dl.replaceChildren();
  for (const [k, v] of Object.entries(rows)) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

async function init() {
  $("origin").textContent = location.origin;
  try {
    config = await (await fetch("/console/config.json")).json();
  } catch (_) {}
  for (const id of ["access-key", "secret-key", "session-token"]) {
    const kept = sessionStorage.getItem(id);
    if (kept) $(id).value = kept;
  }
  if (config.exampleKeys && !$("access-key").value) {
    $("access-key").value = config.exampleKeys.accessKeyId;
    $("secret-key").value = config.exampleKeys.secretAccessKey;
    $("keys-hint").textContent = "Prefilled: the service runs with its default example key pair.";
  }
  $("refresh").onclick = listChannels;
  $("create").onclick = async () => {
    await api().createChannel($("new-channel").value.trim()).catch(fail);
    listChannels();
  };
  $("connect").onclick = () => connect();
  $("disconnect").onclick = disconnect;
  $("diagnose").onclick = () => diagnose().catch(fail);
  $("chat-send").onclick = () => {
    send($("chat-input").value);
    $("chat-input").value = "";
  };
  $("copy").onclick = () => navigator.clipboard.writeText(state.timeline.map((t) => `${t.ms} ms  ${t.text}`).join("\n"));
  setInterval(stats, 1000);
  const params = new URLSearchParams(location.search);
  if (params.get("channel")) $("channel").value = params.get("channel");
  if (params.get("role")) $("role").value = params.get("role").toUpperCase();
  if (params.get("relay") === "1") $("relay").checked = true;
  document.body.dataset.ready = "1";
  if (params.get("connect") === "1" && $("channel").value) connect();
}

init();
