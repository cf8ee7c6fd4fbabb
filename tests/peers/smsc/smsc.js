// SMSC simulator for Rexian's SMS tests, built on the npm `smpp` package's server (not the hub's client library).
// Usage: node smsc.js <system_id> <password>   → prints {"smpp": port, "control": port} on stdout.
// Control (HTTP JSON on 127.0.0.1): GET /state, POST /reset, /config, /deliver, /raw, /down, /up.
'use strict';
const smpp = require('smpp');
const http = require('http');

const [systemId, password] = [process.argv[2] || 'rexian', process.argv[3] || 'secret'];
let state, config, smppPort, nextId = 1, moRef = 1;
function reset() {
  state = {binds: [], submits: [], messages: [], deliverResps: [], responses: [], enquireLinks: 0, partial: {}};
  config = {receipts: true, receiptStat: 'DELIVRD', submitStatus: 0};
}
reset();
const sessions = new Set();

function onSubmit(session, pdu) {
  const sm = pdu.short_message || {};
  const udh = sm.udh && sm.udh[0];
  const id = String(nextId++);
  const rec = {id, source: pdu.source_addr, destination: pdu.destination_addr, data_coding: pdu.data_coding,
    esm_class: pdu.esm_class, udh: udh ? udh.toString('hex') : null, text: sm.message,
    length: pdu.short_message && sm.message !== undefined ? sm.message.length : 0};
  state.submits.push(rec);
  session.send(pdu.response({command_status: config.submitStatus, message_id: id}));
  if (config.submitStatus) return;
  if (udh && udh[0] === 0x00) {  // concatenation IE, 8-bit reference: ref, total, seq
    const key = `${rec.destination}/${udh[2]}/${udh[3]}`;
    const parts = (state.partial[key] = state.partial[key] || {});
    parts[udh[4]] = sm.message;
    if (Object.keys(parts).length === udh[3]) {
      let text = '';
      for (let i = 1; i <= udh[3]; i++) text += parts[i];
      state.messages.push({destination: rec.destination, text, parts: udh[3]});
      delete state.partial[key];
    }
  } else {
    state.messages.push({destination: rec.destination, text: sm.message, parts: 1});
  }
  if (config.receipts && (pdu.registered_delivery & 1)) {
    const stat = config.receiptStat;
    setImmediate(() => session.deliver_sm({source_addr: pdu.destination_addr, destination_addr: pdu.source_addr,
      esm_class: 0x04, short_message: `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} ` +
        `submit date:2611260000 done date:2611260001 stat:${stat} err:000 text:`,
      receipted_message_id: id, message_state: stat === 'DELIVRD' ? 2 : 5}));
  }
}

const server = smpp.createServer((session) => {
  session.on('error', (e) => { process.stderr.write(`smsc: session error ${e}\n`); session.destroy(); });
  session.on('pdu', (pdu) => {
    if (pdu.isResponse()) state.responses.push({command: pdu.command, status: pdu.command_status, seq: pdu.sequence_number});
  });
  session.on('bind_transceiver', (pdu) => {
    const ok = pdu.system_id === systemId && pdu.password === password;
    state.binds.push({system_id: pdu.system_id, ok});
    session.send(pdu.response({command_status: ok ? 0 : smpp.ESME_RBINDFAIL, system_id: 'SIMSMSC'}));
    if (ok) sessions.add(session); else session.close();
  });
  session.on('close', () => sessions.delete(session));
  session.on('enquire_link', (pdu) => { state.enquireLinks++; session.send(pdu.response()); });
  session.on('unbind', (pdu) => { sessions.delete(session); session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
});

// One citizen message as one or more deliver_sm PDUs, concatenated with the simulator's own UDH.
function deliver(body, reply) {
  const statuses = [];
  const live = [...sessions].filter((s) => s.socket.writable);
  const session = live[live.length - 1];  // the most recent bind
  if (!session) return reply(409, {error: 'no bound ESME'});
  const timer = setTimeout(() => reply(504, {error: 'no deliver_sm_resp', statuses}), 5000);
  const encoding = body.encoding || 'UCS2';
  const chars = [...body.text];
  const per = body.per_part || chars.length;
  const total = Math.ceil(chars.length / per), ref = body.ref || (moRef++ & 0xff);
  const order = body.reverse ? [...Array(total).keys()].reverse() : [...Array(total).keys()];
  const only = body.only || null;  // a subset of part numbers (a message whose other parts come later)
  const expected = only ? only.length : total;
  for (const i of order) {
    if (only && !only.includes(i + 1)) continue;
    const message = chars.slice(i * per, (i + 1) * per).join('');
    const pdu = {source_addr: body.source, destination_addr: body.destination || '12319', esm_class: 0,
      data_coding: smpp.ENCODING[encoding], short_message: total > 1
        ? {udh: Buffer.from([0x05, 0x00, 0x03, ref, total, i + 1]), message} : {message}};
    if (body.user_message_reference !== undefined) pdu.user_message_reference = body.user_message_reference;
    session.deliver_sm(pdu, (resp) => {
      state.deliverResps.push(resp.command_status);
      statuses.push(resp.command_status);
      if (statuses.length === expected) { clearTimeout(timer); reply(200, {statuses, ref}); }
    });
  }
}

// Many single-part citizen messages at once (benchmarks): replies when every deliver_sm_resp is in.
function deliverMany(body, reply) {
  const live = [...sessions].filter((s) => s.socket.writable);
  const session = live[live.length - 1];
  if (!session) return reply(409, {error: 'no bound ESME'});
  const start = process.hrtime.bigint(), statuses = [];
  for (const m of body.messages) {
    session.deliver_sm({source_addr: m.source, destination_addr: '12319', data_coding: smpp.ENCODING.UCS2,
      short_message: {message: m.text}, user_message_reference: moRef++ & 0xffff}, (resp) => {
      statuses.push(resp.command_status);
      if (statuses.length === body.messages.length) {
        reply(200, {ok: statuses.filter((x) => x === 0).length, ms: Number(process.hrtime.bigint() - start) / 1e6});
      }
    });
  }
  return undefined;
}

const control = http.createServer((req, res) => {
  let data = '';
  req.on('data', (c) => { data += c; });
  req.on('end', () => {
    const reply = (code, obj) => { res.writeHead(code, {'Content-Type': 'application/json'}); res.end(JSON.stringify(obj)); };
    let body;
    try { body = data ? JSON.parse(data) : {}; } catch (e) { return reply(400, {error: 'invalid JSON'}); }
    const route = `${req.method} ${req.url}`;
    if (route === 'GET /state') return reply(200, {...state, bound: sessions.size});
    if (route === 'POST /reset') { reset(); return reply(200, {}); }
    if (route === 'POST /config') { Object.assign(config, body); return reply(200, config); }
    if (route === 'POST /deliver') return deliver(body, reply);
    if (route === 'POST /deliver_many') return deliverMany(body, reply);
    if (route === 'POST /raw') {  // arbitrary bytes on every bound session (broken PDUs)
      for (const s of sessions) s.socket.write(Buffer.from(body.hex, 'hex'));
      return reply(200, {sessions: sessions.size});
    }
    if (route === 'POST /down') {
      if (!server.listening) return reply(200, {});
      server.close(() => reply(200, {}));
      for (const s of sessions) s.destroy();
      return undefined;
    }
    if (route === 'POST /up') {
      if (server.listening) return reply(200, {});
      return server.listen(smppPort, '127.0.0.1', () => reply(200, {}));
    }
    return reply(404, {error: route});
  });
});

server.listen(0, '127.0.0.1', () => {
  smppPort = server.address().port;
  control.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({smpp: smppPort, control: control.address().port}) + '\n');
  });
});
