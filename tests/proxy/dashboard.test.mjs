// The live dashboard on a real terminal: tmux runs the binary in a pane of a
// private server, the tests type into it (send-keys) and read the screen
// (capture-pane). The demo's scenarios, the demo's server mode driven by the
// official OpenAI SDK, a console attached to a running proxy, and the
// terminal restored after Ctrl-C.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { auditVerify, binary, demoTrust, postJson, prompts, repo, startFirebreak } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

const socket = `firebreak-test-${process.pid}`;
const env = { ...process.env, LANG: 'C.UTF-8' };
const tmux = (...args) => execFileSync('tmux', ['-u', '-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env });

// Runs `command` in a fresh 120x40 pane; the pane stays after it exits (with
// EXIT=<code> on its last line) so that the screen can still be read.
function run(session, command, { cols = 120, rows = 40 } = {}) {
  tmux('new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows),
    `env LANG=C.UTF-8 ${command}; echo EXIT=$?; sleep 600`);
}
const screen = (session) => tmux('capture-pane', '-p', '-t', session);

async function waitScreen(session, pattern, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = screen(session);
    if (pattern.test(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} on the screen:\n${s}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A config in a fresh directory: the demo trust file, a private audit
// database, log alert targets, and `extra`.
function demoConfig(extra = '') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-tui-'));
  const config = path.join(dir, 'firebreak.yaml');
  fs.writeFileSync(config, `trust: ${demoTrust}
audit: {db: ${path.join(dir, 'audit.db')}}
alerts:
  system: [trust_safety]
  targets: {trust_safety: {type: log}, inspector_general: {type: log}, legal_counsel: {type: log}}
${extra}`);
  return { dir, config, db: path.join(dir, 'audit.db') };
}

// Rows of the history panel: [decision, rule].
function historyRows(s) {
  return s.split('\n')
    .map((l) => l.match(/^│ \d\d:\d\d:\d\d (ALLOW_CONSTRAINED|ALLOW|BLOCK)\s+\S+\s+(\S+)\s+\S+\s+\d+\s+│$/))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]);
}

// The prototype's seven scenarios (scenarios/defense-standard.yaml order).
const scenarioTable = [
  ['ALLOW', 'allow-analysis'],
  ['ALLOW', 'allow-analysis'],
  ['ALLOW', 'allow-threat-assessment'],
  ['ALLOW', 'allow-missile-defense'],
  ['BLOCK', 'block-surveillance'],
  ['ALLOW_CONSTRAINED', 'allow-warranted-analysis'],
  ['BLOCK', 'block-autonomous-lethal'],
];

const blockAlerts = [
  /critical block-surveillance → trust_safety ✓  inspector_general ✓/,
  /critical block-autonomous-lethal → trust_safety ✓  inspector_general ✓  legal_counsel ✓/,
];

describe('dashboard', () => {
  after(() => {
    try { tmux('kill-server'); } catch { /* no server left */ }
  });

  test('demo --fast: the panels, the seven decisions and rules, the alerts of the two blocks', async () => {
    const { config, db } = demoConfig();
    run('fast', `${binary} demo --fast --config ${config} --policy ${repo}/policies/defense-standard.yaml --scenarios ${repo}/scenarios/defense-standard.yaml`);
    // --fast: the seven scenarios in under 15 seconds.
    let s = await waitScreen('fast', /all 7 scenarios done/, 15_000);
    for (const panel of [/┌─ Policy ─/, /┌─ Incoming request ─/, /┌─ History \(7\) ─/, /┌─ Alerts \(3\) ─/]) {
      assert.match(s, panel);
    }
    assert.match(s, /defense-standard v2\.0/);
    assert.match(s, /✓ ai_provider \(Anthropic\)/);
    assert.match(s, /✓ deploying_org \(DoD CDAO\)/);
    assert.match(s, /rule\s+block-autonomous-lethal/, 'the last request is shown');
    assert.deepEqual(historyRows(s), scenarioTable);
    for (const alert of blockAlerts) s = await waitScreen('fast', alert);
    // It stays up with the final state until q.
    await new Promise((r) => setTimeout(r, 1000));
    assert.doesNotMatch(screen('fast'), /EXIT=/);
    tmux('send-keys', '-t', 'fast', 'q');
    s = await waitScreen('fast', /EXIT=\d+/);
    assert.match(s, /EXIT=0/);
    assert.match(s, /demo over/);
    assert.equal(auditVerify(db).status, 0);
  });

  test('demo --fast --exit-when-done quits after the last scenario', async () => {
    const { config } = demoConfig();
    run('done', `${binary} demo --fast --exit-when-done --config ${config} --policy ${repo}/policies/defense-standard.yaml --scenarios ${repo}/scenarios/defense-standard.yaml`);
    const s = await waitScreen('done', /EXIT=\d+/, 15_000);
    assert.match(s, /EXIT=0/);
  });

  test('demo with an upstream forwards the allowed prompts and shows the answers', async () => {
    const upstream = await startUpstream();
    const { config } = demoConfig(`upstreams:
  - {name: openai, type: openai, base_url: "http://127.0.0.1:${upstream.port}", default: true, models: ["gpt-4o"]}`);
    try {
      // Not spawnSync: the upstream answers from this process's event loop.
      const r = await new Promise((resolve) => {
        const p = spawn(binary, ['demo', '--fast', '--config', config, '--policy', `${repo}/policies/defense-standard.yaml`,
          '--scenarios', `${repo}/scenarios/defense-standard.yaml`]);
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => { stdout += d; });
        p.stderr.on('data', (d) => { stderr += d; });
        p.on('exit', (status) => resolve({ status, stdout, stderr }));
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /forwarding allowed prompts to openai/);
      assert.match(r.stdout, /\[1\/7\] scenario-1\s+ALLOW\s+allow-analysis.*\| forwarded to openai \(HTTP 200\): echo: Summarize the key findings/);
      assert.match(r.stdout, /\[5\/7\] scenario-5\s+BLOCK .*\| blocked: it never reached the model/);
      // Five allowed prompts reached the upstream; the constrained one with its constraints.
      assert.equal(upstream.requests.length, 5);
      const constrained = upstream.requests.find((q) => q.raw.includes('Firebreak policy constraints'));
      assert.ok(constrained, 'the constraints went as a system instruction');
    } finally {
      upstream.close();
    }
  });

  test('demo --server: requests from the official OpenAI SDK appear live', async () => {
    const upstream = await startUpstream();
    const { config, db } = demoConfig(`upstreams:
  - {name: openai, type: openai, base_url: "http://127.0.0.1:${upstream.port}", default: true, models: ["gpt-*"]}`);
    try {
      run('server', `${binary} demo --server --port 0 --config ${config} --policy ${repo}/policies/defense-standard.yaml`);
      let s = await waitScreen('server', /listening on 127\.0\.0\.1:(\d+)/);
      const port = Number(s.match(/listening on 127\.0\.0\.1:(\d+)/)[1]);
      const openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-client', maxRetries: 0 });
      const create = (content) => openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] });
      const answer = await create(prompts.allow);
      assert.equal(answer.choices[0].message.content, `echo: ${prompts.allow}`);
      for (const prompt of [prompts.block, prompts.lethal]) {
        await assert.rejects(create(prompt), (e) => e instanceof OpenAI.BadRequestError && e.code === 'content_policy_violation');
      }
      await create(prompts.constrained);
      s = await waitScreen('server', /History \(4\)/);
      assert.deepEqual(historyRows(s), [
        ['ALLOW', 'allow-analysis'],
        ['BLOCK', 'block-surveillance'],
        ['BLOCK', 'block-autonomous-lethal'],
        ['ALLOW_CONSTRAINED', 'allow-warranted-analysis'],
      ]);
      assert.match(s, /outcome\s+forwarded to openai, with the constraints/);
      for (const alert of blockAlerts) await waitScreen('server', alert);
      tmux('send-keys', '-t', 'server', 'q');
      s = await waitScreen('server', /EXIT=\d+/);
      assert.match(s, /EXIT=0/);
      assert.equal(auditVerify(db).status, 0);
    } finally {
      upstream.close();
    }
  });

  test('dashboard --connect shows the events of a running proxy; several consoles may attach', async () => {
    const upstream = await startUpstream();
    const fb = await startFirebreak({
      openaiPort: upstream.port,
      env: { FB_ADMIN_KEY: 'admin-key' },
      extra: 'principals:\n  - {id: ops, key_env: FB_ADMIN_KEY, admin: true}',
    });
    const plain = spawn(binary, ['dashboard', '--connect', fb.url], { env: { ...env, FIREBREAK_ADMIN_KEY: 'admin-key' } });
    let lines = '';
    let plainErr = '';
    plain.stdout.on('data', (d) => { lines += d; });
    plain.stderr.on('data', (d) => { plainErr += d; });
    try {
      run('console', `env FIREBREAK_ADMIN_KEY=admin-key ${binary} dashboard --connect ${fb.url}`);
      let s = await waitScreen('console', /connected to/);
      for (const deadline = Date.now() + 10_000; !/connected to/.test(plainErr);) {
        if (Date.now() > deadline) throw new Error(`the plain console did not connect: ${plainErr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(s, /✓ ai_provider \(Anthropic\)/, 'the policy in force is replayed to a new console');
      const auth = { authorization: 'Bearer admin-key' };
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: prompts.block }] }, auth)).status, 400);
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: prompts.allow }] }, auth)).status, 200);
      s = await waitScreen('console', /History \(2\)/);
      assert.deepEqual(historyRows(s), [['BLOCK', 'block-surveillance'], ['ALLOW', 'allow-analysis']]);
      await waitScreen('console', blockAlerts[0]);
      // The second console, without a terminal, printed the same events as JSON.
      const deadline = Date.now() + 5000;
      while (!/"kind":"decision".*"decision":"ALLOW"/s.test(lines) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const events = lines.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(events.filter((e) => e.kind === 'decision').map((e) => [e.decision, e.rules[0], e.principal]),
        [['BLOCK', 'block-surveillance', 'ops'], ['ALLOW', 'allow-analysis', 'ops']]);
      assert.ok(events.some((e) => e.kind === 'policy' && e.verified));
      tmux('send-keys', '-t', 'console', 'q');
      assert.match(await waitScreen('console', /EXIT=\d+/), /EXIT=0/);
    } finally {
      plain.kill('SIGINT');
      await fb.stop();
      upstream.close();
    }
  });

  test('dashboard --connect with a key that is not an admin\'s is refused', async () => {
    const fb = await startFirebreak({
      env: { FB_USER_KEY: 'user-key' },
      extra: 'principals:\n  - {id: analyst, key_env: FB_USER_KEY}',
    });
    try {
      const r = await new Promise((resolve) => {
        const p = spawn(binary, ['dashboard', '--connect', fb.url], { env: { ...env, FIREBREAK_ADMIN_KEY: 'user-key' } });
        let err = '';
        p.stderr.on('data', (d) => { err += d; });
        p.on('exit', (code) => resolve({ code, err }));
      });
      assert.equal(r.code, 2);
      assert.match(r.err, /refused the key in FIREBREAK_ADMIN_KEY/);
    } finally {
      await fb.stop();
    }
  });

  test('Ctrl-C restores the terminal', async () => {
    const { dir, config } = demoConfig();
    run('sigint', `stty -g > ${dir}/before; ${binary} demo --config ${config} --policy ${repo}/policies/defense-standard.yaml --scenarios ${repo}/scenarios/defense-standard.yaml; echo $? > ${dir}/exit; stty -g > ${dir}/after`);
    await waitScreen('sigint', /Enter: next scenario/);
    tmux('send-keys', '-t', 'sigint', 'C-c');
    const s = await waitScreen('sigint', /EXIT=\d+/);
    assert.doesNotMatch(s, /Incoming request/, 'the dashboard\'s screen is gone');
    assert.match(s, /demo over/);
    assert.equal(fs.readFileSync(path.join(dir, 'exit'), 'utf8').trim(), '0');
    assert.equal(fs.readFileSync(path.join(dir, 'after'), 'utf8'), fs.readFileSync(path.join(dir, 'before'), 'utf8'),
      'the terminal modes are as before');
  });
});
