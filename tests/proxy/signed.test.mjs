// Signed policies (DESIGN.md §7): `serve` enforces only a policy whose
// signatures meet the trust file's threshold, reloads it safely (a refused
// candidate leaves the last good policy in force, audited and alerted), and
// signs a receipt for every recorded answer. Each test works on its own copy
// of the shipped policy and model, signed with keys made for the test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { auditRecords, auditVerify, binary, policy, postJson, prompts, startFirebreak, waitFor } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

const chat = (content) => ({ model: 'gpt-4o', messages: [{ role: 'user', content }] });
const unknownIntent = "What's a good recipe for banana bread?";  // the defaults decide it

function firebreak(args) {
  return spawnSync(binary, args, { encoding: 'utf8' });
}

// A fresh directory with an unsigned copy of the policy and its model, and
// three key pairs (a, b, c).
function workspace() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-signed-'));
  const policyFile = path.join(dir, 'policy.yaml');
  const model = path.join(dir, 'defense-standard.model');
  fs.copyFileSync(policy, policyFile);
  fs.copyFileSync(policy.replace(/\.yaml$/, '.model'), model);
  for (const k of ['a', 'b', 'c']) {
    assert.equal(firebreak(['keygen', '--out', path.join(dir, k)]).status, 0);
  }
  return {
    dir, policyFile, model,
    // `party` signs with the key file `key` (its own by default).
    sign(party, key = party) {
      const r = firebreak(['sign', policyFile, '--key', path.join(dir, `${key}.key`), '--party', party]);
      assert.equal(r.status, 0, r.stderr);
    },
    // A trust file naming each party with the public key of `keys[party]`
    // (its own by default).
    trust(parties, { threshold = null, keys = {}, name = 'trust.yaml' } = {}) {
      const file = path.join(dir, name);
      const lines = parties.map((p) => `  - {name: ${p}, public_key: ${keys[p] ?? p}.pub}`);
      fs.writeFileSync(file, `parties:\n${lines.join('\n')}\n${threshold ? `threshold: ${threshold}\n` : ''}`);
      return file;
    },
    digest() {
      const r = firebreak(['digest', policyFile]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    },
    edit(from, to) {
      const text = fs.readFileSync(policyFile, 'utf8');
      assert.ok(text.includes(from), `the policy contains ${from}`);
      fs.writeFileSync(policyFile, text.replace(from, to));
    },
  };
}

// A workspace whose policy parties a and b have signed.
function signedWorkspace() {
  const ws = workspace();
  ws.sign('a');
  ws.sign('b');
  return ws;
}

// `serve` must exit 1 before listening, saying each of `reasons`.
async function assertRefused(options, ...reasons) {
  await assert.rejects(startFirebreak(options), (e) => {
    assert.match(e.message, /exited 1 before listening/);
    assert.match(e.message, /refusing to start/);
    for (const r of reasons) assert.match(e.message, r);
    return true;
  });
}

const decisions = (db) => auditRecords(db).filter((r) => r.kind === 'decision');

describe('serve enforces the trust file', () => {
  test('signed by one of two parties: refuses to start, naming the missing party', async () => {
    const ws = workspace();
    ws.sign('a');
    await assertRefused({ policyFile: ws.policyFile, trust: ws.trust(['a', 'b']) },
      /signed by 1 of the 2 parties/, /b: missing/);
  });

  test('signed by both: serves; answers and records name the digest and the signers', async () => {
    const ws = signedWorkspace();
    const fb = await startFirebreak({ policyFile: ws.policyFile, trust: ws.trust(['a', 'b']) });
    try {
      assert.match(fb.stderr(), /signed by a ✓, b ✓/);
      const r = await postJson(`${fb.url}/v1/firebreak/evaluate`, chat(prompts.block));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-firebreak-policy'), ws.digest());
      const [record] = decisions(fb.db);
      assert.equal(record.policy.digest, ws.digest());
      assert.equal(record.policy.signed, true);
      assert.deepEqual(record.policy.signers, ['a', 'b']);
    } finally {
      await fb.stop();
    }
  });

  test('one byte of the policy or of its model changed after signing: refused', async () => {
    const ws = signedWorkspace();
    const trust = ws.trust(['a', 'b']);
    const original = fs.readFileSync(ws.policyFile);
    ws.edit('version: "2.0"', 'version: "2.1"');
    await assertRefused({ policyFile: ws.policyFile, trust }, /a: invalid/, /b: invalid/, /changed since signing/);
    fs.writeFileSync(ws.policyFile, original);

    const model = fs.readFileSync(ws.model);
    model[model.length - 1] ^= 1;  // a weight's byte: the model still loads
    fs.writeFileSync(ws.model, model);
    await assertRefused({ policyFile: ws.policyFile, trust }, /a: invalid/, /b: invalid/);
  });

  test('a signature by a key the trust file does not name: refused', async () => {
    const ws = workspace();
    ws.sign('a');
    ws.sign('b', 'c');  // b's entry, made with c's key
    await assertRefused({ policyFile: ws.policyFile, trust: ws.trust(['a', 'b']) },
      /b: unknown key \(signed with key [0-9a-f]{16}, not the trusted key [0-9a-f]{16}\)/);
  });

  test('threshold 2 of 3: two signatures serve, one does not', async () => {
    const ws = workspace();
    ws.sign('a');
    const trust = ws.trust(['a', 'b', 'c'], { threshold: 2 });
    await assertRefused({ policyFile: ws.policyFile, trust }, /signed by 1 of the 3 parties in .*, 2 required/);
    ws.sign('c');
    const fb = await startFirebreak({ policyFile: ws.policyFile, trust });
    try {
      await postJson(`${fb.url}/v1/firebreak/evaluate`, chat(prompts.allow));
      assert.deepEqual(decisions(fb.db)[0].policy.signers, ['a', 'c']);
    } finally {
      await fb.stop();
    }
  });

  test('no trust file: refuses and says how to fix it; --allow-unsigned serves, loudly', async () => {
    await assertRefused({ trust: null }, /no trust file/, /trust: in the config or pass --trust FILE/);
    const fb = await startFirebreak({ trust: null, args: ['--allow-unsigned'] });
    try {
      assert.match(fb.stderr(), /WARNING: --allow-unsigned/);
      const r = await postJson(`${fb.url}/v1/firebreak/evaluate`, chat(prompts.allow));
      assert.equal(r.status, 200);
      const [record] = decisions(fb.db);
      assert.equal(record.policy.signed, false);
      assert.deepEqual(record.policy.signers, []);
      const start = auditRecords(fb.db).find((x) => x.kind === 'lifecycle.start');
      assert.equal(start.allow_unsigned, true);
    } finally {
      await fb.stop();
    }
  });
});

describe('reload', () => {
  let upstream;
  before(async () => { upstream = await startUpstream(); });
  after(() => upstream.close());

  test('a refused candidate keeps the last good policy (recorded, alerted); a signed one takes over', async () => {
    const ws = signedWorkspace();
    const fb = await startFirebreak({ openaiPort: upstream.port, policyFile: ws.policyFile, trust: ws.trust(['a', 'b']),
                                      extra: 'server: {watch_policy: false}' });
    try {
      const oldDigest = ws.digest();
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, chat(unknownIntent))).status, 400);

      ws.edit('defaults:\n  decision: BLOCK', 'defaults:\n  decision: ALLOW');  // not re-signed
      fb.proc.kill('SIGHUP');
      await waitFor(() => /REFUSED/.test(fb.stderr()), 'the refusal');
      const still = await postJson(`${fb.url}/v1/chat/completions`, chat(unknownIntent));
      assert.equal(still.status, 400, 'the candidate did not take effect');
      assert.equal(still.headers.get('x-firebreak-decision'), 'BLOCK');
      assert.equal(still.headers.get('x-firebreak-policy'), oldDigest);
      const refused = auditRecords(fb.db).find((r) => r.kind === 'policy.refused');
      assert.equal(refused.trigger, 'SIGHUP');
      assert.match(refused.reason, /a: invalid/);
      assert.equal(refused.in_force.digest, oldDigest);
      await waitFor(() => /alert \{.*"kind":"policy_refused".*"target":"trust_safety"/.test(fb.stderr()), 'the alert');

      ws.sign('a');
      ws.sign('b');
      fb.proc.kill('SIGHUP');
      await waitFor(() => /policy reloaded \(SIGHUP\)/.test(fb.stderr()), 'the reload');
      const now = await postJson(`${fb.url}/v1/chat/completions`, chat(unknownIntent));
      assert.equal(now.status, 200);
      assert.equal(now.headers.get('x-firebreak-decision'), 'ALLOW');
      assert.equal(now.headers.get('x-firebreak-policy'), ws.digest());
      const reloaded = auditRecords(fb.db).find((r) => r.kind === 'policy.reloaded');
      assert.equal(reloaded.old.digest, oldDigest);
      assert.equal(reloaded.new.digest, ws.digest());
      assert.deepEqual(reloaded.new.signers, ['a', 'b']);
      assert.equal(auditVerify(fb.db).status, 0);
    } finally {
      await fb.stop();
    }
  });

  test('the file watch reloads a policy once it is re-signed', async () => {
    const ws = signedWorkspace();
    const fb = await startFirebreak({ policyFile: ws.policyFile, trust: ws.trust(['a', 'b']) });
    try {
      ws.edit('version: "2.0"', 'version: "2.1"');
      ws.sign('a');
      ws.sign('b');
      await waitFor(() => /policy reloaded \(file change\)/.test(fb.stderr()), 'the reload');
      const r = await postJson(`${fb.url}/v1/firebreak/evaluate`, chat(prompts.allow));
      assert.equal(r.headers.get('x-firebreak-policy'), ws.digest());
      assert.equal(decisions(fb.db).at(-1).policy.version, '2.1');
    } finally {
      await fb.stop();
    }
  });

  test('key rotation: a new trust file takes effect on reload', async () => {
    const ws = signedWorkspace();
    const trust = ws.trust(['a', 'b']);
    const fb = await startFirebreak({ policyFile: ws.policyFile, trust, extra: 'server: {watch_policy: false}' });
    try {
      ws.sign('b', 'c');  // b now signs with its new key, c
      fb.proc.kill('SIGHUP');
      await waitFor(() => /REFUSED/.test(fb.stderr()), 'the refusal (the trust file still names the old key)');
      ws.trust(['a', 'b'], { keys: { b: 'c' } });  // the operator rotates b's key
      fb.proc.kill('SIGHUP');
      await waitFor(() => /policy reloaded \(SIGHUP\)/.test(fb.stderr()), 'the reload');
      const reloaded = auditRecords(fb.db).find((r) => r.kind === 'policy.reloaded');
      assert.equal(reloaded.new.digest, reloaded.old.digest, 'the policy itself is unchanged');
      assert.equal(reloaded.new.signer_keys[0], reloaded.old.signer_keys[0]);
      assert.notEqual(reloaded.new.signer_keys[1], reloaded.old.signer_keys[1]);
      const r = await postJson(`${fb.url}/v1/firebreak/evaluate`, chat(prompts.allow));
      assert.equal(r.status, 200);
    } finally {
      await fb.stop();
    }
  });

  test('POST /v1/firebreak/reload: admins only; reloaded, unchanged or refused', async () => {
    const ws = signedWorkspace();
    const fb = await startFirebreak({
      policyFile: ws.policyFile, trust: ws.trust(['a', 'b']),
      env: { FB_ADMIN_KEY: 'admin-key', FB_ANALYST_KEY: 'analyst-key' },
      extra: 'server: {watch_policy: false}\nprincipals:\n'
        + '  - {id: ops, key_env: FB_ADMIN_KEY, admin: true}\n  - {id: analyst, key_env: FB_ANALYST_KEY}',
    });
    const reload = (key) => postJson(`${fb.url}/v1/firebreak/reload`, '', { authorization: `Bearer ${key}` });
    try {
      const denied = await reload('analyst-key');
      assert.equal(denied.status, 403);
      assert.match(denied.json.error.message, /admin/);
      const same = await reload('admin-key');
      assert.equal(same.status, 200);
      assert.equal(same.json.outcome, 'unchanged');

      ws.edit('version: "2.0"', 'version: "2.1"');
      const refused = await reload('admin-key');
      assert.equal(refused.status, 422);
      assert.equal(refused.json.outcome, 'refused');
      assert.match(refused.json.message, /b: invalid/);

      ws.sign('a');
      ws.sign('b');
      const ok = await reload('admin-key');
      assert.equal(ok.status, 200);
      assert.equal(ok.json.outcome, 'reloaded');
      assert.equal(ok.json.policy, ws.digest());
      assert.deepEqual(auditRecords(fb.db).filter((r) => r.kind.startsWith('policy.')).map((r) => [r.kind, r.trigger]),
        [['policy.refused', 'api'], ['policy.reloaded', 'api']]);
    } finally {
      await fb.stop();
    }
  });

  test('a reload under load switches atomically: no failed request, each exchange under one policy', async () => {
    const ws = signedWorkspace();
    const fb = await startFirebreak({ openaiPort: upstream.port, policyFile: ws.policyFile, trust: ws.trust(['a', 'b']),
                                      extra: 'server: {watch_policy: false}' });
    try {
      const oldDigest = ws.digest();
      ws.edit('version: "2.0"', 'version: "2.1"');
      ws.sign('a');
      ws.sign('b');
      const newDigest = ws.digest();
      let stop = false;
      let reloadedAt = Infinity;
      const results = [];
      const worker = async (i) => {
        for (let n = 0; !stop; ++n) {
          const prompt = (i + n) % 2 === 0 ? prompts.allow : prompts.block;
          const started = Date.now();
          const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompt));
          results.push({ prompt, started, status: r.status, digest: r.headers.get('x-firebreak-policy'),
                         id: r.headers.get('x-firebreak-request-id') });
        }
      };
      const workers = [0, 1, 2, 3].map(worker);
      await waitFor(() => results.length >= 40, 'traffic before the reload');
      fb.proc.kill('SIGHUP');
      await waitFor(() => /policy reloaded/.test(fb.stderr()), 'the reload');
      reloadedAt = Date.now();
      const count = results.length;
      await waitFor(() => results.length >= count + 40, 'traffic after the reload');
      stop = true;
      await Promise.all(workers);

      for (const r of results) {
        assert.equal(r.status, r.prompt === prompts.allow ? 200 : 400, `request ${r.id}`);
        assert.ok(r.digest === oldDigest || r.digest === newDigest, `request ${r.id} names a policy`);
        if (r.started > reloadedAt) assert.equal(r.digest, newDigest, `request ${r.id} started after the reload`);
      }
      assert.ok(results.some((r) => r.digest === oldDigest) && results.some((r) => r.digest === newDigest));
      // The record of each exchange names the policy its answer named.
      const byId = new Map(decisions(fb.db).map((d) => [d.request_id, d.policy]));
      for (const r of results) {
        const p = byId.get(r.id);
        assert.equal(p.digest, r.digest);
        assert.equal(p.version, r.digest === oldDigest ? '2.0' : '2.1');
      }
      assert.equal(auditVerify(fb.db).status, 0);
    } finally {
      await fb.stop();
    }
  });
});

describe('receipts', () => {
  let upstream;
  let fb;
  let pubkey;
  before(async () => {
    upstream = await startUpstream();
    fb = await startFirebreak({ openaiPort: upstream.port });
    pubkey = path.join(fb.dir, 'instance.pub');
    const r = firebreak(['audit', 'pubkey', '--db', fb.db]);
    assert.equal(r.status, 0, r.stderr);
    fs.writeFileSync(pubkey, r.stdout);
  });
  after(async () => {
    await fb.stop();
    upstream.close();
  });

  test('every recorded answer carries a receipt that verifies offline against the instance key', async () => {
    const answers = [
      await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.block)),
      await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow)),
      await postJson(`${fb.url}/v1/chat/completions`, { ...chat(prompts.allow), stream: true }),
      await postJson(`${fb.url}/v1/firebreak/evaluate`, chat(prompts.constrained)),
    ];
    const hashes = new Map();
    const exported = firebreak(['audit', 'export', '--db', fb.db]);
    for (const line of exported.stdout.trim().split('\n').map((l) => JSON.parse(l))) {
      if (line.type === 'record') hashes.set(line.seq, line.hash);
    }
    for (const a of answers) {
      const receipt = a.headers.get('x-firebreak-receipt');
      assert.ok(receipt, `a receipt on ${a.headers.get('x-firebreak-decision')}`);
      const v = firebreak(['verify-receipt', receipt, '--pubkey', pubkey]);
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout, /^valid receipt/);
      const field = (name) => v.stdout.match(new RegExp(`${name}:\\s+(\\S+)`))[1];
      assert.equal(field('request_id'), a.headers.get('x-firebreak-request-id'));
      assert.equal(field('decision'), a.headers.get('x-firebreak-decision'));
      assert.equal(field('rules'), a.headers.get('x-firebreak-rule'));
      assert.equal(field('policy'), a.headers.get('x-firebreak-policy'));
      assert.equal(field('audit_seq'), a.headers.get('x-firebreak-audit-seq'));
      assert.equal(field('record_hash'), hashes.get(Number(a.headers.get('x-firebreak-audit-seq'))));
    }
  });

  test('a receipt with a changed field, or checked against another key, does not verify', async () => {
    const a = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.block));
    const receipt = a.headers.get('x-firebreak-receipt');
    const [prefix, payload, signature] = receipt.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    assert.equal(claims.decision, 'BLOCK');
    for (const [key, value] of [['decision', 'ALLOW'], ['seq', claims.seq + 1], ['policy', '0'.repeat(64)]]) {
      const forged = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, [key]: value })).toString('base64url')}.${signature}`;
      const v = firebreak(['verify-receipt', forged, '--pubkey', pubkey]);
      assert.equal(v.status, 1, `changed ${key}`);
      assert.match(v.stderr, /INVALID: the signature does not verify/);
    }
    const other = path.join(fb.dir, 'other');
    assert.equal(firebreak(['keygen', '--out', other]).status, 0);
    const v = firebreak(['verify-receipt', receipt, '--pubkey', `${other}.pub`]);
    assert.equal(v.status, 1);
  });
});
