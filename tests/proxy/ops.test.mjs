// Operations (issue 18, §8): /metrics behind a key once principals are
// configured, the Bearer scheme in any case, and alerts folded per rule and
// target so that ordinary blocked traffic does not flood the alert channels
// (one delivery per target, then one summary). The real binary, a local
// upstream, log alert targets: deliveries are the `alert {...}` lines on
// its standard error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { auditRecords, auditVerify, policy, postJson, prompts, raw, sleep, startFirebreak, waitFor } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

const chat = (content) => ({ model: 'gpt-4o', messages: [{ role: 'user', content }] });

// The alerts delivered to log targets so far, parsed.
function deliveries(stderr) {
  return stderr.split('\n').filter((l) => l.startsWith('alert {')).map((l) => JSON.parse(l.slice(6)));
}

describe('metrics and API keys with principals', () => {
  const key = 'fb-ops-key-1';
  const adminKey = 'fb-ops-admin-1';
  let upstream;
  let fb;
  before(async () => {
    upstream = await startUpstream();
    fb = await startFirebreak({
      openaiPort: upstream.port,
      anthropicPort: upstream.port,
      env: { FB_OPS_KEY: key, FB_OPS_ADMIN: adminKey },
      extra: 'principals:\n  - {id: analyst-7, key_env: FB_OPS_KEY}\n  - {id: ops, admin: true, key_env: FB_OPS_ADMIN}',
    });
  });
  after(async () => {
    const { code } = await fb.stop();
    upstream.close();
    assert.equal(code, 0, fb.stderr());
  });

  test('/metrics without a key is 401 in the shape of the other 401s, and leaks nothing', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { 'x-api-key': 'nope' }]) {
      const res = await fetch(`${fb.url}/metrics`, { headers });
      const text = await res.text();
      assert.equal(res.status, 401, text);
      assert.equal(res.headers.get('content-type'), 'application/json');
      const body = JSON.parse(text);
      assert.equal(body.error.type, 'authentication_error');
      assert.equal(body.error.code, 'invalid_api_key');
      assert.match(res.headers.get('x-firebreak-request-id'), /^fb-/);
      assert.equal(res.headers.get('x-firebreak-decision'), 'REFUSED');
      assert.doesNotMatch(text, /firebreak_|digest|openai/);
    }
    // The same as a chat request's 401.
    const chat401 = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow));
    const metrics401 = await fetch(`${fb.url}/metrics`).then((r) => r.json());
    assert.deepEqual(Object.keys(metrics401.error).sort(), Object.keys(chat401.json.error).sort());
    assert.equal(metrics401.error.message, chat401.json.error.message);
  });

  test('/metrics with a principal\'s key: the policy, rules and upstreams; /health stays open', async () => {
    for (const headers of [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }]) {
      const res = await fetch(`${fb.url}/metrics`, { headers });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.match(text, /firebreak_policy_info\{digest="[0-9a-f]{64}"/);
      assert.match(text, /firebreak_alerts_total\{disposition="folded"\} \d+/);
    }
    assert.equal((await fetch(`${fb.url}/health`)).status, 200);
  });

  test('failures are answered, counted and recorded as README\'s Failures table says', async () => {
    const metric = async (kind) => {
      const text = await fetch(`${fb.url}/metrics`, { headers: { 'x-api-key': key } }).then((r) => r.text());
      const m = text.match(new RegExp(`firebreak_refusals_total\\{kind="${kind}"\\} (\\d+)`));
      assert.ok(m, `no firebreak_refusals_total for ${kind}`);
      return Number(m[1]);
    };
    const before = {};
    for (const kind of ['invalid_json', 'unauthenticated', 'unknown_endpoint', 'malformed_http']) {
      before[kind] = await metric(kind);
    }
    const exchanges = () => auditRecords(fb.db).filter((r) => ['decision', 'refusal'].includes(r.kind)).length;
    const recorded = exchanges();

    // Recorded: a refusal record under the answer's request id.
    const bad = await fetch(`${fb.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: '{"model":',
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, 'invalid_json');
    const id = bad.headers.get('x-firebreak-request-id');
    await waitFor(() => auditRecords(fb.db).some((r) => r.kind === 'refusal' && r.request_id === id),
      'the refusal record');

    // Not recorded (an unauthenticated flood, an unknown endpoint, bytes
    // that are not HTTP), but counted.
    assert.equal((await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow))).status, 401);
    assert.equal((await fetch(`${fb.url}/v2/nothing`, { headers: { 'x-api-key': key } })).status, 404);
    const garbage = await raw(Number(new URL(fb.url).port), 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    assert.equal(garbage.status, 400, garbage.text);

    assert.equal(await metric('invalid_json'), before.invalid_json + 1);
    assert.equal(await metric('unauthenticated'), before.unauthenticated + 1);
    assert.equal(await metric('unknown_endpoint'), before.unknown_endpoint + 1);
    assert.equal(await metric('malformed_http'), before.malformed_http + 1);
    assert.equal(exchanges(), recorded + 1);  // the refusal only
  });

  test('the Bearer scheme is matched in any case, with spaces before the key', async () => {
    for (const authorization of [`Bearer ${key}`, `bearer ${key}`, `BEARER ${key}`, `BeArEr ${key}`,
      `Bearer    ${key}`, `Bearer\t${key}`]) {
      const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow), { authorization });
      assert.equal(r.status, 200, `${JSON.stringify(authorization)}: ${r.text}`);
      const seq = Number(r.headers.get('x-firebreak-audit-seq'));
      assert.equal(auditRecords(fb.db).find((x) => x.seq === seq).principal, 'analyst-7');
    }
    const m = await fetch(`${fb.url}/metrics`, { headers: { authorization: `BEARER ${adminKey}` } });
    assert.equal(m.status, 200);
  });

  test('a malformed Authorization header is 401, never a crash', async () => {
    for (const authorization of ['Bearer', 'Bearer ', 'bearer\t', `Basic ${Buffer.from('a:b').toString('base64')}`,
      `Bearer ${key} extra`, `Bearer${key}`, `Token ${key}`, '=', 'Bearer =====']) {
      const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow), { authorization });
      assert.equal(r.status, 401, `${JSON.stringify(authorization)}: ${r.text}`);
      assert.equal(r.json.error.code, 'invalid_api_key');
    }
    const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow), { authorization: 'Basic x' });
    assert.match(r.json.error.message, /malformed Authorization header/);
    // A Bearer key wins over x-api-key; x-api-key serves beside another scheme.
    const both = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow),
      { authorization: 'Basic x', 'x-api-key': key });
    assert.equal(both.status, 200, both.text);
    // Bytes fetch would not send.
    for (const value of [Buffer.from('Bearer \x01\x02', 'latin1'), Buffer.from('Bearer \xe9t\xe9', 'latin1'),
      Buffer.from('Bearer  \xff\xfe', 'latin1'), Buffer.from('\x7f', 'latin1'), Buffer.from('Bearer ' + 'k'.repeat(8000))]) {
      const { status } = await raw(fb.port, Buffer.concat([
        Buffer.from('GET /metrics HTTP/1.1\r\nhost: x\r\nauthorization: '), value,
        Buffer.from('\r\nconnection: close\r\n\r\n')]));
      assert.ok([400, 401, 431].includes(status), `${status} for ${value.toString('latin1')}`);
    }
    assert.equal((await fetch(`${fb.url}/health`)).status, 200, 'still serving');
  });
});

describe('metrics_auth', () => {
  test('admin: a principal\'s key is 403, an admin\'s 200; none: open', async () => {
    const upstream = await startUpstream();
    const principals = 'principals:\n  - {id: a, key_env: FB_OPS_A}\n  - {id: ops, admin: true, key_env: FB_OPS_B}';
    const env = { FB_OPS_A: 'key-a', FB_OPS_B: 'key-b' };
    let fb = await startFirebreak({ openaiPort: upstream.port, env,
      extra: `server: {metrics_auth: admin}\n${principals}` });
    try {
      assert.equal((await fetch(`${fb.url}/metrics`)).status, 401);
      const forbidden = await fetch(`${fb.url}/metrics`, { headers: { authorization: 'Bearer key-a' } });
      assert.equal(forbidden.status, 403);
      assert.match((await forbidden.json()).error.message, /admin/);
      assert.equal((await fetch(`${fb.url}/metrics`, { headers: { authorization: 'Bearer key-b' } })).status, 200);
    } finally {
      await fb.stop();
    }
    fb = await startFirebreak({ openaiPort: upstream.port, env, extra: `server: {metrics_auth: none}\n${principals}` });
    try {
      assert.equal((await fetch(`${fb.url}/metrics`)).status, 200);
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow))).status, 401);
    } finally {
      await fb.stop();
      upstream.close();
    }
  });

  test('without principals (loopback only) /metrics stays open', async () => {
    const fb = await startFirebreak({});
    try {
      const res = await fetch(`${fb.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /firebreak_requests_total/);
    } finally {
      await fb.stop();
    }
  });
});

describe('alerts are folded per rule and target', () => {
  const N = 6;

  test(`${N} blocked prompts in a row: one delivery per target, then one summary per target`, async () => {
    const upstream = await startUpstream();
    const fb = await startFirebreak({ openaiPort: upstream.port });
    const requestIds = [];
    try {
      for (let i = 0; i < N; i++) {
        const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.block));
        assert.equal(r.status, 400);
        assert.equal(r.headers.get('x-firebreak-rule'), 'block-surveillance');
        requestIds.push(r.headers.get('x-firebreak-request-id'));
      }
      await waitFor(() => deliveries(fb.stderr()).length >= 2, 'the first alerts');
      await sleep(700);  // the sender polls every 200 ms: nothing more comes
      const sent = deliveries(fb.stderr());
      assert.deepEqual(sent.map((a) => a.target).sort(), ['inspector_general', 'trust_safety']);
      for (const a of sent) {
        assert.equal(a.kind, 'decision');
        assert.equal(a.request_id, requestIds[0]);
      }
      // Every decision record lists both alerts, sent or folded.
      const decisions = auditRecords(fb.db).filter((x) => x.kind === 'decision');
      assert.equal(decisions.length, N);
      for (const [i, d] of decisions.entries()) {
        assert.deepEqual(d.alerts, ['trust_safety', 'inspector_general']);
        assert.deepEqual(d.alert_delivery.map((a) => [a.target, a.status]),
          [['trust_safety', i === 0 ? 'sent' : 'folded'], ['inspector_general', i === 0 ? 'sent' : 'folded']]);
      }
      const metrics = await fetch(`${fb.url}/metrics`).then((r) => r.text());
      assert.match(metrics, /firebreak_alerts_total\{disposition="sent"\} 2\n/);
      assert.match(metrics, new RegExp(`firebreak_alerts_total\\{disposition="folded"\\} ${2 * (N - 1)}\n`));
    } finally {
      const { code } = await fb.stop();
      upstream.close();
      assert.equal(code, 0, fb.stderr());
    }
    // The windows (five minutes by default) close with the server: their
    // summaries are recorded and delivered before it exits.
    const all = deliveries(fb.stderr());
    assert.equal(all.length, 4, fb.stderr());
    const summaries = all.filter((a) => a.kind === 'alert_summary');
    assert.deepEqual(summaries.map((a) => a.target).sort(), ['inspector_general', 'trust_safety']);
    for (const s of summaries) {
      assert.equal(s.rule, 'block-surveillance');
      assert.equal(s.severity, 'critical');
      assert.equal(s.folded, N - 1);
      assert.equal(s.first_request_id, requestIds[1]);
      assert.equal(s.last_request_id, requestIds[N - 1]);
      assert.ok(s.last_audit_seq > s.first_audit_seq);
      assert.match(s.summary, new RegExp(`^${N - 1} more alerts of rule block-surveillance to ${s.target} folded`));
    }
    const records = auditRecords(fb.db);
    assert.equal(records.filter((x) => x.kind === 'alert.summary').length, 2);
    assert.equal(auditVerify(fb.db).status, 0);
  });

  test('a policy\'s alerting window: the summary comes when the window closes; other rules are apart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-ops-'));
    const policyFile = path.join(dir, 'defense-standard.yaml');
    fs.writeFileSync(policyFile, `${fs.readFileSync(policy, 'utf8')}
alerting:
  window_seconds: 60
  rules:
    block-surveillance: {window_seconds: 1}
`);
    fs.copyFileSync(policy.replace(/\.yaml$/, '.model'), path.join(dir, 'defense-standard.model'));
    const upstream = await startUpstream();
    const fb = await startFirebreak({ openaiPort: upstream.port, policyFile, trust: null, args: ['--allow-unsigned'], dir });
    try {
      for (let i = 0; i < 4; i++) {
        assert.equal((await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.block))).status, 400);
      }
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.lethal))).status, 400);
      await waitFor(() => deliveries(fb.stderr()).filter((a) => a.kind === 'alert_summary').length === 2,
        'the summaries of the one-second windows');
      const all = deliveries(fb.stderr());
      const lethal = all.filter((a) => a.rule === 'block-autonomous-lethal');
      assert.deepEqual(lethal.map((a) => a.target).sort(), ['inspector_general', 'legal_counsel', 'trust_safety']);
      for (const s of all.filter((a) => a.kind === 'alert_summary')) {
        assert.equal(s.rule, 'block-surveillance');
        assert.equal(s.folded, 3);
      }
      // A new window: alerted again.
      await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.block));
      await waitFor(() => deliveries(fb.stderr()).filter((a) => a.kind === 'decision' && a.rule === 'block-surveillance').length === 4,
        'the alerts of the next window');
    } finally {
      await fb.stop();
      upstream.close();
    }
    assert.equal(deliveries(fb.stderr()).filter((a) => a.kind === 'alert_summary').length, 2,
      'windows that folded nothing have no summary');
  });

  test('killed with folded alerts: the next run summarises them from the audit trail', async () => {
    const upstream = await startUpstream();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-ops-'));
    let fb = await startFirebreak({ openaiPort: upstream.port, dir });
    for (let i = 0; i < 4; i++) {
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.block))).status, 400);
    }
    await waitFor(() => deliveries(fb.stderr()).length === 2, 'the first alerts');
    await sleep(1500);  // the window's state is written every second
    fb.proc.kill('SIGKILL');
    await fb.exited;
    assert.equal(deliveries(fb.stderr()).filter((a) => a.kind === 'alert_summary').length, 0);

    fb = await startFirebreak({ openaiPort: upstream.port, dir });
    try {
      await waitFor(() => deliveries(fb.stderr()).filter((a) => a.kind === 'alert_summary').length === 2,
        'the recovered summaries');
      for (const s of deliveries(fb.stderr())) {
        assert.equal(s.kind, 'alert_summary');
        assert.equal(s.recovered, true);
        assert.equal(s.folded, 3);
        assert.match(s.summary, /after a restart/);
      }
    } finally {
      await fb.stop();
      upstream.close();
    }
    assert.equal(deliveries(fb.stderr()).length, 2, 'summarised once');
    assert.equal(auditVerify(path.join(dir, 'audit.db')).status, 0);
  });
});
