// The console's SigV4 signer against the vectors the Rust signer is tested with
// (kvs-proto's sigv4/vectors.json, served at /console/vectors.json). The result goes into
// the page title ("pass N" or "fail: ...") and window.sigv4Results, for the browser test.
import { presign, signRequest } from "/console/sigv4.js";

const out = document.getElementById("out");

function parseAmzDate(text) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

async function run() {
  const v = await (await fetch("/console/vectors.json")).json();
  const date = parseAmzDate(v.date);
  const creds = (token) => ({
    accessKeyId: v.accessKeyId,
    secretAccessKey: v.secretAccessKey,
    sessionToken: token ? v.sessionToken : undefined,
  });
  const failures = [];
  let passed = 0;
  for (const c of v.presigned) {
    const url = await presign({ url: c.url, region: v.region, service: c.service, credentials: creds(c.token), date, expires: 299 });
    const sig = new URL(url).searchParams.get("X-Amz-Signature");
    if (sig === c.signature) passed++;
    else failures.push(`presign ${c.url} token=${c.token} service=${c.service}: ${sig}`);
  }
  for (const c of v.signed) {
    const h = await signRequest({
      method: c.method, url: c.url, headers: { "content-type": c.contentType }, body: c.body,
      region: v.region, credentials: creds(c.token), date,
    });
    if (h.authorization === c.authorization) passed++;
    else failures.push(`signed token=${c.token}: ${h.authorization}`);
  }
  window.sigv4Results = { passed, failures };
  out.textContent = failures.length ? failures.join("\n") : `all ${passed} vectors pass`;
  document.title = failures.length ? `fail: ${failures.length}` : `pass ${passed}`;
}

run().catch((e) => {
  window.sigv4Results = { passed: 0, failures: [String(e)] };
  document.title = `fail: ${e}`;
});
