'use strict';
// wsgate: connect to the hostnames in WSGATE_REDIRECT at the local emulator instead.
//
// Load with NODE_OPTIONS="--require /abs/path/redirect.cjs". With
// WSGATE_REDIRECT=host=address:port,... set, every socket connection to a listed host (any
// port) goes to address:port. Only the address changes: tls.connect keeps the original host
// for SNI and the certificate check. http, https, tls, http2 and fetch all connect through
// net.Socket.prototype.connect, which is wrapped here. Without the variable nothing changes.

const spec = process.env.WSGATE_REDIRECT || '';
const table = new Map();
for (const raw of spec.split(',')) {
  const entry = raw.trim();
  if (!entry) continue;
  const eq = entry.indexOf('=');
  const colon = entry.lastIndexOf(':');
  const name = eq > 0 ? entry.slice(0, eq).toLowerCase().replace(/\.$/, '') : '';
  const address = colon > eq ? entry.slice(eq + 1, colon).replace(/^\[|\]$/g, '') : '';
  const port = colon > eq ? Number(entry.slice(colon + 1)) : NaN;
  if (name && address && Number.isInteger(port) && port > 0 && port < 65536) {
    table.set(name, { host: address, port });
  } else {
    process.emitWarning(`ignoring bad WSGATE_REDIRECT entry ${JSON.stringify(entry)}`, 'wsgate');
  }
}

if (table.size > 0) {
  const net = require('net');
  const original = net.Socket.prototype.connect;
  const lookup = (host) =>
    typeof host === 'string' ? table.get(host.toLowerCase().replace(/\.$/, '')) : undefined;
  const rewrite = (options) => {
    if (!options || typeof options !== 'object' || options.path) return options;
    const target = lookup(options.host);
    return target ? { ...options, host: target.host, port: target.port } : options;
  };
  net.Socket.prototype.connect = function connect(...args) {
    if (Array.isArray(args[0])) {
      args[0][0] = rewrite(args[0][0]); // net.connect's normalized form: keep the array itself
    } else if (args[0] && typeof args[0] === 'object') {
      args[0] = rewrite(args[0]);
    } else if (args[0] !== undefined && typeof args[1] === 'string') {
      const target = lookup(args[1]);
      if (target) {
        args[0] = target.port;
        args[1] = target.host;
      }
    }
    return original.apply(this, args);
  };
}
