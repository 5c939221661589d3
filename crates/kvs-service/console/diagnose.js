// "Diagnose": the checks of `kvs-signaling doctor` a browser can run itself: a signed call
// and the clock offset from its Date, then STUN and TURN through the browser's own ICE agent.
// The page only measures; the service words the verdicts exactly as the command does.

// Runs the checks and returns the findings ({check, mark, figure, cause, fix, line, ...}).
export async function diagnose({ api, channel, keyId, region, timeoutMs, stunUrl }) {
  const operation = channel ? "DescribeSignalingChannel" : "ListSignalingChannels";
  const r = channel
    ? await api.raw("/describeSignalingChannel", { ChannelName: channel })
    : await api.raw("/listSignalingChannels", {});
  const measured = {
    // Date has whole seconds and is truncated: its middle is half a second later.
    clockOffsetMs: r.date === null ? null : Math.round(r.date + 500 - r.midpoint),
    signedCall: {
      operation,
      status: r.status,
      errorType: r.errorType ? r.errorType.split(":")[0] : null,
      message: r.message,
      keyId,
      region,
      ms: Math.round(r.ms),
    },
    stun: null,
    turn: null,
    timeoutMs,
  };
  if (r.status === 200 && channel) {
    const arn = JSON.parse(r.text).ChannelInfo.ChannelARN;
    try {
      const ep = await api.endpoints(arn, "VIEWER");
      const servers = await api.iceServers(ep.https, arn);
      const stun = stunUrl(servers);
      const turn = servers.map((s) => {
        const uri = s.Uris.find((u) => u.startsWith("turn:") && !u.includes("transport=tcp")) || s.Uris[0];
        const config = { iceServers: [{ urls: [uri], username: s.Username, credential: s.Password }], iceTransportPolicy: "relay" };
        return gather(config, "relay", uri, timeoutMs);
      });
      const [stunResult, ...turnResults] = await Promise.all([
        stun ? gather({ iceServers: [{ urls: stun }] }, "srflx", stun, timeoutMs) : null,
        ...turn,
      ]);
      measured.stun = stunResult;
      measured.turn = turnResults;
    } catch (_) {
      // No ICE servers: the verdicts say the TURN check could not run.
    }
  }
  const resp = await fetch("/console/verdicts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(measured),
  });
  return resp.json();
}

// Gathers with `config` until a candidate of `type` (srflx: STUN answered; relay: TURN
// allocated) shows its address, or the time is up.
async function gather(config, type, uri, timeoutMs) {
  const pc = new RTCPeerConnection(config);
  const started = performance.now();
  try {
    const found = new Promise((resolve) => {
      pc.onicecandidate = (e) => {
        if (!e.candidate) resolve(null);
        else if (e.candidate.type === type) resolve(`${e.candidate.address}:${e.candidate.port}`);
      };
    });
    pc.createDataChannel("diagnose");
    await pc.setLocalDescription(await pc.createOffer());
    const timer = new Promise((resolve) => setTimeout(() => resolve("timeout"), timeoutMs));
    const address = await Promise.race([found, timer]);
    if (address === "timeout") return { uri, outcome: { Err: `no answer in ${timeoutMs / 1000} s` } };
    if (address === null) return { uri, outcome: { Err: `no ${type} candidate: the server did not answer` } };
    return { uri, outcome: { Ok: [address, Math.round(performance.now() - started)] } };
  } finally {
    pc.close();
  }
}
