// AWS Signature Version 4 in the browser, with WebCrypto: signed requests (the Authorization
// header, for the control plane and GetIceServerConfig) and presigned URLs (the signaling
// WebSocket). Same rules as the Rust client; the service's verifier is the judge.
// Secrets are only ever passed into HMAC keys here: nothing is logged or stored.

const utf8 = new TextEncoder();

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(data) {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key, text) {
  const raw = typeof key === "string" ? utf8.encode(key) : key;
  const k = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, utf8.encode(text));
}

// RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - _ . ~
export function uriEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

// 2019-12-01T00:00:00.000Z -> 20191201T000000Z
export function amzDate(date) {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function canonicalPath(path) {
  return (path || "/").split("/").map((segment) => uriEncode(decodeURIComponent(segment))).join("/");
}

function canonicalQuery(params) {
  return params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

async function signature(credentials, scope, datetime, canonicalRequest) {
  const [day, region, service] = scope.split("/");
  const stringToSign = ["AWS4-HMAC-SHA256", datetime, scope, await sha256Hex(canonicalRequest)].join("\n");
  let key = await hmac("AWS4" + credentials.secretAccessKey, day);
  key = await hmac(key, region);
  key = await hmac(key, service);
  key = await hmac(key, "aws4_request");
  return hex(await hmac(key, stringToSign));
}

function scopeOf(datetime, region, service) {
  return `${datetime.slice(0, 8)}/${region}/${service}/aws4_request`;
}

// Presigns a GET of `url` (its query already in it) for `expires` seconds: the URL to open.
export async function presign({ url, region, service = "kinesisvideo", credentials, date = new Date(), expires = 299 }) {
  const u = new URL(url);
  const datetime = amzDate(date);
  const scope = scopeOf(datetime, region, service);
  const params = [...u.searchParams.entries()];
  params.push(
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${credentials.accessKeyId}/${scope}`],
    ["X-Amz-Date", datetime],
    ["X-Amz-Expires", String(expires)],
    ["X-Amz-SignedHeaders", "host"],
  );
  if (credentials.sessionToken) params.push(["X-Amz-Security-Token", credentials.sessionToken]);
  const query = canonicalQuery(params);
  const canonical = ["GET", canonicalPath(u.pathname), query, `host:${u.host}\n`, "host", await sha256Hex("")].join("\n");
  const sig = await signature(credentials, scope, datetime, canonical);
  return `${u.protocol}//${u.host}${u.pathname}?${query}&X-Amz-Signature=${sig}`;
}

// Signs a request: the headers to send with it (authorization, x-amz-date, and
// x-amz-security-token for temporary credentials). `headers` are signed too.
export async function signRequest({ method = "POST", url, headers = {}, body = "", region, service = "kinesisvideo", credentials, date = new Date() }) {
  const u = new URL(url);
  const datetime = amzDate(date);
  const scope = scopeOf(datetime, region, service);
  const all = { host: u.host, "x-amz-date": datetime };
  for (const [k, v] of Object.entries(headers)) all[k.toLowerCase()] = String(v).trim();
  if (credentials.sessionToken) all["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(all).sort();
  const canonicalHeaders = names.map((n) => `${n}:${all[n]}\n`).join("");
  const signedHeaders = names.join(";");
  const canonical = [
    method,
    canonicalPath(u.pathname),
    canonicalQuery([...u.searchParams.entries()]),
    canonicalHeaders,
    signedHeaders,
    await sha256Hex(body),
  ].join("\n");
  const sig = await signature(credentials, scope, datetime, canonical);
  const out = {
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${sig}`,
    "x-amz-date": datetime,
  };
  if (credentials.sessionToken) out["x-amz-security-token"] = credentials.sessionToken;
  return out;
}
