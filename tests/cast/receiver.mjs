// A Cast receiver for tests, written on npm `castv2`'s TLS Server (an
// implementation independent of the box's rust_cast). It behaves like a
// Chromecast's platform receiver as far as a sender can tell:
//   - CONNECT / CLOSE, PING → PONG, and its own PINGs every 5 s
//   - GET_STATUS, LAUNCH (known app ids; LAUNCH_ERROR otherwise), STOP
//   - RECEIVER_STATUS broadcast to every connection on every change, with
//     the volume / displayName / statusText fields real devices send
//   - DashCast (`urn:x-cast:com.madmod.dashcast`): records the URL loaded
//
//   node receiver.mjs [--port N] [--mode normal|garbage|close-mid|launch-empty|silent-launch]
//
// Prints one JSON object per line on stdout: {"event": "listening", "port"}
// first, then connect / launch / load / stop / drop / … with `t` (ms since
// epoch). Reads commands on stdin, one per line:
//   drop            end every connection (as if the network blipped)
//   takeover        another app (Backdrop) replaces ours, status broadcast
//   close-app       our app exits (status without apps)
//   reboot <ms>     go away entirely (no listener) for <ms>, then come back
//   silent          stop answering anything (power cut without TCP FIN)
//   quit
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const { Server } = require("castv2");

const NS = {
  connection: "urn:x-cast:com.google.cast.tp.connection",
  heartbeat: "urn:x-cast:com.google.cast.tp.heartbeat",
  receiver: "urn:x-cast:com.google.cast.receiver",
  dashcast: "urn:x-cast:com.madmod.dashcast",
  media: "urn:x-cast:com.google.cast.media",
};
const APPS = {
  "84912283": { name: "DashCast", namespaces: [NS.dashcast] },
  CC1AD845: { name: "Default Media Receiver", namespaces: [NS.media] },
  E8C28D3C: { name: "Backdrop", namespaces: [] },
};

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const MODE = opt("--mode", "normal");
let port = Number(opt("--port", "0"));

function emit(event, extra = {}) {
  process.stdout.write(JSON.stringify({ event, t: Date.now(), ...extra }) + "\n");
}

// A throw-away self-signed certificate, like a Cast device's (which no
// public CA signs either).
const dir = mkdtempSync(join(tmpdir(), "cast-rx-"));
execFileSync("openssl", [
  "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
  "-subj", "/CN=Test Chromecast", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
], { stdio: "ignore" });
const tlsOptions = { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
rmSync(dir, { recursive: true, force: true });

let server = null;
let app = null; // the running app: {appId, sessionId, transportId, displayName}
let sessions = 0;
let silent = false;
const senders = new Map(); // clientId -> Set(sourceId)

function status(requestId) {
  return {
    type: "RECEIVER_STATUS",
    requestId,
    status: {
      applications: app
        ? [{
            appId: app.appId, sessionId: app.sessionId, transportId: app.transportId,
            displayName: app.displayName, statusText: app.displayName,
            isIdleScreen: false, namespaces: app.namespaces.map((name) => ({ name })),
          }]
        : [],
      isActiveInput: true,
      isStandBy: false,
      volume: { controlType: "attenuation", level: 0.5, muted: false, stepInterval: 0.05 },
    },
  };
}

function send(clientId, src, dst, ns, data) {
  if (silent || !server || !server.clients[clientId]) return;
  try { server.send(clientId, src, dst, ns, JSON.stringify(data)); } catch (e) { /* connection gone */ }
}

// Real receivers tell every connected sender about every change.
function broadcast(except, requestId) {
  for (const [clientId, sources] of senders) {
    for (const src of sources) {
      send(clientId, "receiver-0", src, NS.receiver, status(clientId === except ? requestId : 0));
    }
  }
}

function launch(appId, displayName) {
  sessions += 1;
  const known = APPS[appId];
  app = {
    appId, displayName: displayName || known.name, namespaces: known.namespaces,
    sessionId: `session-${sessions}-${Math.random().toString(16).slice(2, 10)}`,
    transportId: `web-${sessions}`,
  };
}

function onMessage(clientId, sourceId, destinationId, namespace, data) {
  if (silent || MODE === "garbage" || MODE === "close-mid") return;
  if (!senders.has(clientId)) senders.set(clientId, new Set());
  let msg;
  try { msg = JSON.parse(String(data)); } catch (e) { emit("bad_json", { clientId }); return; }
  const reply = (ns, body) => send(clientId, destinationId, sourceId, ns, body);
  if (namespace === NS.connection) {
    if (msg.type === "CONNECT") { senders.get(clientId).add(sourceId); emit("connect", { clientId, destinationId }); }
    if (msg.type === "CLOSE") emit("close", { clientId, destinationId });
    return;
  }
  if (namespace === NS.heartbeat) {
    if (msg.type === "PING") reply(NS.heartbeat, { type: "PONG" });
    if (msg.type === "PING") emit("ping", { clientId });
    return;
  }
  if (namespace === NS.receiver) {
    if (msg.type === "GET_STATUS") { reply(NS.receiver, status(msg.requestId)); return; }
    if (msg.type === "LAUNCH") {
      emit("launch_request", { appId: msg.appId });
      if (MODE === "silent-launch") return;
      if (!APPS[msg.appId]) {
        reply(NS.receiver, { type: "LAUNCH_ERROR", requestId: msg.requestId, reason: "NOT_FOUND" });
        emit("launch_error", { appId: msg.appId });
        return;
      }
      if (MODE === "launch-empty") {
        reply(NS.receiver, { ...status(msg.requestId), status: { ...status(0).status, applications: [] } });
        return;
      }
      launch(msg.appId);
      emit("launch", { appId: msg.appId, sessionId: app.sessionId });
      broadcast(clientId, msg.requestId);
      return;
    }
    if (msg.type === "STOP") {
      if (app && msg.sessionId === app.sessionId) {
        emit("stop", { sessionId: app.sessionId });
        app = null;
        broadcast(clientId, msg.requestId);
      } else {
        reply(NS.receiver, { type: "INVALID_REQUEST", requestId: msg.requestId, reason: "INVALID_SESSION_ID" });
      }
      return;
    }
    return;
  }
  if (namespace === NS.dashcast) {
    if (app && destinationId === app.transportId) emit("load", { url: msg.url, force: msg.force });
    else emit("load_to_wrong_transport", { destinationId });
  }
}

function startServer() {
  server = new Server(tlsOptions);
  server.on("message", onMessage);
  server.on("error", (e) => emit("error", { message: String(e && e.message) }));
  server.server.on("secureConnection", (socket) => {
    const clientId = [socket.remoteAddress, socket.remotePort].join(":");
    emit("tls", { clientId });
    if (MODE === "garbage") {
      // A frame header announcing ~4 GiB, then junk.
      socket.write(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8]));
    }
    if (MODE === "close-mid") {
      // Half of a frame, then the TLS connection closes.
      socket.write(Buffer.from([0, 0, 0, 100, 8, 0, 18, 10]));
      setTimeout(() => socket.end(), 50);
    }
    socket.on("close", () => senders.delete(clientId));
    socket.on("error", () => {});
  });
  server.listen(port, "127.0.0.1", () => {
    port = server.server.address().port;
    emit("listening", { port });
  });
}

// Real receivers ping their senders too.
setInterval(() => {
  for (const [clientId, sources] of senders) {
    for (const src of sources) send(clientId, "receiver-0", src, NS.heartbeat, { type: "PING" });
  }
}, 5000).unref();

function dropAll() {
  if (!server) return;
  for (const id of Object.keys(server.clients)) {
    try { server.clients[id].socket.destroy(); } catch (e) { /* gone */ }
  }
  senders.clear();
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === "drop") { dropAll(); emit("dropped"); }
  else if (cmd === "takeover") { launch("E8C28D3C"); emit("takeover", { sessionId: app.sessionId }); broadcast(null, 0); }
  else if (cmd === "close-app") { app = null; emit("app_closed"); broadcast(null, 0); }
  else if (cmd === "silent") { silent = true; emit("silent"); }
  else if (cmd === "reboot") {
    const ms = Number(arg || 2000);
    app = null;
    dropAll();
    server.server.close();
    server = null;
    emit("rebooting", { ms });
    setTimeout(() => { silent = false; startServer(); emit("rebooted"); }, ms);
  } else if (cmd === "quit") { process.exit(0); }
});
process.stdin.on("end", () => process.exit(0));

// castv2 loads its .proto asynchronously and throws on messages that
// arrive before; listen only once it is ready.
const proto = require("castv2/lib/proto");
(function whenReady() {
  try {
    proto.CastMessage.serialize({ protocolVersion: 0, sourceId: "a", destinationId: "b", namespace: "c", payloadType: 0, payloadUtf8: "{}" });
  } catch (e) {
    setTimeout(whenReady, 10);
    return;
  }
  startServer();
})();
