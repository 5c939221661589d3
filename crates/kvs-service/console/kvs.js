// The KVS signaling API from the browser: control-plane calls and GetIceServerConfig with
// signed fetch, and the signaling WebSocket with a presigned URL. Message formats as the
// Rust client's: {action, recipientClientId, messagePayload: base64(JSON)} out,
// {messageType, senderClientId, messagePayload} in.
import { presign, signRequest } from "/console/sigv4.js";

// A refused call: the HTTP status, the exception's AWS name and the service's message.
export class ApiError extends Error {
  constructor(status, name, message) {
    super(`${status} ${name}: ${message}`);
    this.status = status;
    this.name = name;
  }
  get isAuth() {
    return this.status === 401 || this.status === 403;
  }
}

export class Api {
  constructor({ endpoint, region, credentials }) {
    this.endpoint = endpoint.replace(/\/$/, "");
    this.region = region;
    this.credentials = credentials;
  }

  async call(path, body, base = this.endpoint) {
    const r = await this.raw(path, body, base);
    if (r.status < 200 || r.status > 299) throw new ApiError(r.status, r.errorType || "Error", r.message);
    return r.text ? JSON.parse(r.text) : {};
  }

  // A signed call with everything the answer says: status, exception, message, the
  // service's Date, our clock halfway through, and how long it took.
  async raw(path, body, base = this.endpoint) {
    const url = base.replace(/\/$/, "") + path;
    const text = JSON.stringify(body);
    const headers = { "content-type": "application/json" };
    const signed = await signRequest({ url, headers, body: text, region: this.region, credentials: this.credentials });
    const sent = Date.now();
    const resp = await fetch(url, { method: "POST", headers: { ...headers, ...signed }, body: text });
    const answer = await resp.text();
    const received = Date.now();
    let message = "";
    if (!resp.ok) {
      message = answer;
      try {
        const parsed = JSON.parse(answer);
        message = parsed.Message || parsed.message || answer;
      } catch (_) {}
    }
    const date = resp.headers.get("date");
    return {
      status: resp.status,
      errorType: resp.headers.get("x-amzn-errortype"),
      message,
      text: answer,
      date: date ? Date.parse(date) : null,
      midpoint: (sent + received) / 2,
      ms: received - sent,
    };
  }

  listChannels() {
    return this.call("/listSignalingChannels", {}).then((r) => r.ChannelInfoList || []);
  }
  createChannel(name) {
    return this.call("/createSignalingChannel", { ChannelName: name, ChannelType: "SINGLE_MASTER" });
  }
  deleteChannel(arn) {
    return this.call("/deleteSignalingChannel", { ChannelARN: arn });
  }
  describe(name) {
    return this.call("/describeSignalingChannel", { ChannelName: name }).then((r) => r.ChannelInfo);
  }
  async endpoints(arn, role) {
    const r = await this.call("/getSignalingChannelEndpoint", {
      ChannelARN: arn,
      SingleMasterChannelEndpointConfiguration: { Protocols: ["WSS", "HTTPS"], Role: role },
    });
    const find = (p) => (r.ResourceEndpointList || []).find((e) => e.Protocol === p)?.ResourceEndpoint;
    return { wss: find("WSS"), https: find("HTTPS") };
  }
  async iceServers(https, arn, clientId) {
    const body = { ChannelARN: arn, Service: "TURN" };
    if (clientId) body.ClientId = clientId;
    const r = await this.call("/v1/get-ice-server-config", body, https);
    return r.IceServerList || [];
  }
}

function toBase64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

// The signaling WebSocket. `onMessage(type, payloadObject, senderClientId)`,
// `onState(state, detail)`.
export class Signaling {
  constructor({ wss, arn, clientId, region, credentials, onMessage, onState }) {
    Object.assign(this, { wss, arn, clientId, region, credentials, onMessage, onState });
  }

  async open() {
    const params = new URLSearchParams({ "X-Amz-ChannelARN": this.arn });
    if (this.clientId) params.set("X-Amz-ClientId", this.clientId);
    const url = await presign({ url: `${this.wss}?${params}`, region: this.region, credentials: this.credentials });
    this.onState("CONNECTING");
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      this.ws = ws;
      ws.onopen = () => {
        this.onState("CONNECTED");
        resolve();
      };
      ws.onerror = () => reject(new Error("the signaling WebSocket was refused (the browser hides why; the control-plane calls before it succeeded)"));
      ws.onclose = (e) => this.onState("DISCONNECTED", `code ${e.code}${e.reason ? ": " + e.reason : ""}`);
      ws.onmessage = (e) => {
        let m;
        try {
          m = JSON.parse(e.data);
        } catch (_) {
          return;
        }
        if (!m.messageType) return;
        let payload = null;
        try {
          payload = m.messagePayload ? JSON.parse(fromBase64(m.messagePayload)) : null;
        } catch (_) {}
        this.onMessage(m.messageType, payload, m.senderClientId, e.data.length, m.statusResponse);
      };
    });
  }

  send(action, payload, recipientClientId) {
    const message = { action, messagePayload: toBase64(JSON.stringify(payload)) };
    if (recipientClientId) message.recipientClientId = recipientClientId;
    const text = JSON.stringify(message);
    this.ws.send(text);
    return text.length;
  }

  close() {
    if (this.ws) this.ws.close();
  }
}
