// The proxy end to end: the real binary on port 0 in front of a local test
// upstream, driven over HTTP. Each test can fail: it checks statuses, shapes,
// headers, what the upstream received and what the audit trail holds.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { auditRecords, auditVerify, binary, demoTrust, policy, postJson, prompts, startFirebreak } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

const chat = (content, extra = {}) => ({ model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra });

async function readSse(res) {
  const text = await res.text();
  return text.split('\n\n').filter(Boolean).map((block) => {
    const event = block.match(/^event: (.*)$/m)?.[1] ?? null;
    const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    return { event, data };
  });
}

describe('proxy', () => {
  let upstream;
  let fb;
  before(async () => {
    upstream = await startUpstream();
    fb = await startFirebreak({ openaiPort: upstream.port, anthropicPort: upstream.port });
  });
  after(async () => {
    const { code } = await fb.stop();
    upstream.close();
    assert.equal(code, 0, `serve exits 0 after SIGTERM:\n${fb.stderr()}`);
    const verify = auditVerify(fb.db);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });

  test('an allowed request is forwarded byte for byte and answered with decision headers', async () => {
    const body = `{"model": "gpt-4o",   "messages": [{"role": "user", "content": ${JSON.stringify(prompts.allow)}}]}`;
    const before = upstream.requests.length;
    const r = await postJson(`${fb.url}/v1/chat/completions`, body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-firebreak-decision'), 'ALLOW');
    assert.match(r.headers.get('x-firebreak-rule'), /^allow-/);
    assert.match(r.headers.get('x-firebreak-request-id'), /^fb-/);
    assert.match(r.headers.get('x-firebreak-audit-seq'), /^\d+$/);
    assert.equal(r.json.choices[0].message.content, `echo: ${prompts.allow}`);
    assert.equal(upstream.requests.length, before + 1);
    assert.equal(upstream.requests.at(-1).raw, body, 'the client\'s bytes reach the upstream unchanged');
    assert.equal(upstream.requests.at(-1).headers.authorization, undefined);
  });

  test('a blocked request never reaches the upstream and gets the OpenAI error shape', async () => {
    const before = upstream.requests.length;
    const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.block));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'content_policy_violation');
    assert.equal(r.json.error.type, 'policy_violation');
    assert.equal(r.json.error.param, null);
    assert.match(r.json.error.message, /block-surveillance/);
    assert.equal(r.headers.get('x-firebreak-decision'), 'BLOCK');
    assert.equal(r.headers.get('x-firebreak-rule'), 'block-surveillance');
    assert.equal(upstream.requests.length, before);
    const seq = Number(r.headers.get('x-firebreak-audit-seq'));
    const record = auditRecords(fb.db).find((x) => x.seq === seq);
    assert.equal(record.kind, 'decision');
    assert.equal(record.decision, 'BLOCK');
    assert.equal(record.request_id, r.headers.get('x-firebreak-request-id'));
  });

  test('a blocked Anthropic request gets the Anthropic error shape', async () => {
    const r = await postJson(`${fb.url}/v1/messages`, { model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: prompts.lethal }] });
    assert.equal(r.status, 400);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, /block-autonomous-lethal/);
  });

  test('intent split across turns is classified as a whole', async () => {
    const r = await postJson(`${fb.url}/v1/chat/completions`, {
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'I need help with a monitoring project.' },
        { role: 'assistant', content: 'Sure, what kind?' },
        { role: 'user', content: prompts.block },
      ],
    });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-firebreak-decision'), 'BLOCK');
  });

  test('ALLOW_CONSTRAINED injects the constraints as a system instruction and lists them', async () => {
    const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.constrained));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-firebreak-decision'), 'ALLOW_CONSTRAINED');
    assert.ok(r.headers.get('x-firebreak-constraints').length > 0);
    const sent = upstream.requests.at(-1).body;
    assert.equal(sent.messages[0].role, 'system');
    assert.match(sent.messages[0].content, /Firebreak policy constraints/);
    assert.equal(sent.messages[1].content, prompts.constrained);
  });

  test('OpenAI streaming is relayed event by event', async () => {
    const res = await fetch(`${fb.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat(prompts.allow, { stream: true })),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const events = await readSse(res);
    assert.equal(events.at(-1).data, '[DONE]');
    const text = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, `echo: ${prompts.allow}`);
  });

  test('Anthropic to Anthropic, streaming and not', async () => {
    const body = { model: 'claude-3-haiku', max_tokens: 50, messages: [{ role: 'user', content: prompts.allow }] };
    const r = await postJson(`${fb.url}/v1/messages`, body, { 'anthropic-version': '2023-06-01' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'message');
    assert.equal(upstream.requests.at(-1).path, '/v1/messages');
    assert.equal(upstream.requests.at(-1).headers['anthropic-version'], '2023-06-01');
    const res = await fetch(`${fb.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }),
    });
    const events = await readSse(res);
    assert.deepEqual(events.map((e) => e.event).filter((e) => e !== 'ping' && e !== 'content_block_delta'),
      ['message_start', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  test('an OpenAI request to an Anthropic upstream is translated both ways', async () => {
    const r = await postJson(`${fb.url}/v1/chat/completions`, {
      model: 'claude-3-haiku', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: prompts.allow }],
    });
    assert.equal(r.status, 200, r.text);
    const sent = upstream.requests.at(-1);
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.body.system, 'be brief');
    assert.equal(sent.body.max_tokens, 4096);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.choices[0].message.content, `echo: ${prompts.allow}`);
    assert.equal(r.json.usage.prompt_tokens, 13);

    const res = await fetch(`${fb.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-3-haiku', stream: true, messages: [{ role: 'user', content: prompts.allow }] }),
    });
    const events = await readSse(res);
    assert.equal(events.at(-1).data, '[DONE]');
    const text = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, `echo: ${prompts.allow}`);
  });

  test('an Anthropic request to an OpenAI upstream is translated both ways', async () => {
    const r = await postJson(`${fb.url}/v1/messages`, { model: 'gpt-4o', max_tokens: 20, system: 'sys', messages: [{ role: 'user', content: prompts.allow }] });
    assert.equal(r.status, 200, r.text);
    const sent = upstream.requests.at(-1);
    assert.equal(sent.path, '/v1/chat/completions');
    assert.deepEqual(sent.body.messages[0], { role: 'system', content: 'sys' });
    assert.equal(r.json.type, 'message');
    assert.equal(r.json.content[0].text, `echo: ${prompts.allow}`);
    assert.equal(r.json.stop_reason, 'end_turn');
  });

  test('bad input gets a clear error and the server stays healthy', async () => {
    const url = `${fb.url}/v1/chat/completions`;
    let r = await postJson(url, '{"model": "gpt-4o", "messages": [');
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /malformed JSON at byte \d+ \(line 1, column \d+\)/);
    r = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    assert.equal(r.status, 415);
    r = await postJson(url, '['.repeat(200) + ']'.repeat(200));
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /deeper than 64/);
    r = await postJson(url, Buffer.from('{"model":"m","messages":[{"role":"user","content":"\xff"}]}', 'latin1'));
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /not valid UTF-8/);
    r = await postJson(url, { model: 'gpt-4o' });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /messages is required/);
    r = await postJson(url, chat(''));
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /no text/);
    r = await postJson(`${fb.url}/v1/engines`, chat('hi'));
    assert.equal(r.status, 404);
    assert.match(r.json.error.message, /unknown endpoint POST \/v1\/engines/);
    r = await fetch(url);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    r = await fetch(`${fb.url}/health`);
    assert.equal(r.status, 200);
  });

  test('refusals of bad input are audited', async () => {
    const r = await postJson(`${fb.url}/v1/chat/completions`, '{nope');
    const seq = Number(r.headers.get('x-firebreak-audit-seq'));
    const record = auditRecords(fb.db).find((x) => x.seq === seq);
    assert.equal(record.kind, 'refusal');
    assert.equal(record.status, 400);
  });

  test('a completion record follows every forwarded exchange', async () => {
    const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow));
    const id = r.headers.get('x-firebreak-request-id');
    const seq = Number(r.headers.get('x-firebreak-audit-seq'));
    let completion;
    for (let i = 0; i < 50 && !completion; i++) {
      completion = auditRecords(fb.db).find((x) => x.kind === 'completion' && x.request_id === id);
      if (!completion) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(completion, 'completion record');
    assert.equal(completion.decision_seq, seq);
    assert.equal(completion.status, 200);
    assert.equal(completion.complete, true);
    assert.deepEqual(completion.usage, { input_tokens: 11, output_tokens: 7 });
    assert.match(completion.response_sha256, /^[0-9a-f]{64}$/);
  });

  test('an upstream error is passed on in the client\'s shape, and a hang times out as 504', async () => {
    let r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow, { model: 'error-gpt' }));
    assert.equal(r.status, 500);
    assert.equal(r.json.error.message, 'upstream exploded');
    r = await postJson(`${fb.url}/v1/messages`, { model: 'error-gpt', max_tokens: 5, messages: [{ role: 'user', content: prompts.allow }] });
    assert.equal(r.status, 500);
    assert.equal(r.json.type, 'error');
    r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow, { model: 'hang-gpt' }));
    assert.equal(r.status, 504);
    assert.equal(r.json.error.code, 'upstream_timeout');
    assert.equal(r.headers.get('x-firebreak-decision'), 'ALLOW');
  });

  test('a client that hangs up cancels its upstream request, and the completion says so', async () => {
    const before = upstream.requests.length;
    const controller = new AbortController();
    const pending = fetch(`${fb.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify(chat(prompts.allow, { model: 'hang-gpt' })),
    }).catch((e) => e);
    while (upstream.requests.length === before) await new Promise((r) => setTimeout(r, 10));
    const left = Date.now();
    controller.abort();
    await pending;
    const sent = upstream.requests.at(-1);
    while (!sent.closed && Date.now() - left < 1500) await new Promise((r) => setTimeout(r, 10));
    assert.ok(sent.closed, 'the upstream connection is closed at once, not at the 2 s timeout');
    let completion;
    for (let i = 0; i < 50 && !completion; i++) {
      completion = auditRecords(fb.db).find((x) => x.kind === 'completion' && x.status === 499);
      if (!completion) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(completion, 'a completion record for the abandoned exchange');
    assert.equal(completion.complete, false);
    assert.match(completion.error, /client went away/);
  });

  test('a stream cut by the upstream is not dressed up as a complete answer', async () => {
    const res = await fetch(`${fb.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat(prompts.allow, { model: 'cut-gpt', stream: true })),
    });
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), 'the client sees the response break off');
    // Translated for an Anthropic client, the cut ends in an error event.
    const res2 = await fetch(`${fb.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cut-gpt', max_tokens: 5, stream: true, messages: [{ role: 'user', content: prompts.allow }] }),
    });
    let text = '';
    try { text = await res2.text(); } catch { /* cut off */ }
    assert.doesNotMatch(text, /message_stop/);
  });

  test('models, health, ready and metrics', async () => {
    let r = await fetch(`${fb.url}/v1/models`);
    const models = await r.json();
    assert.equal(models.object, 'list');
    assert.ok(models.data.some((m) => m.id === 'hang-gpt' && m.owned_by === 'openai'));
    r = await fetch(`${fb.url}/ready`);
    assert.equal(r.status, 200);
    r = await fetch(`${fb.url}/metrics`);
    const text = await r.text();
    assert.match(text, /firebreak_requests_total\{route="\/v1\/chat\/completions",decision="BLOCK"\} [1-9]/);
    assert.match(text, /firebreak_stage_seconds_bucket\{stage="decide",le="\+Inf"\} [1-9]/);
    assert.match(text, /firebreak_upstream_errors_total\{upstream="openai",kind="timeout"\} [1-9]/);
    assert.match(text, /firebreak_rule_decisions_total\{rule="block-surveillance"\} [1-9]/);
    assert.match(text, /\nfirebreak_audit_journal_syncs_total \d+\n/);
  });
});

describe('limits', () => {
  let fb;
  before(async () => {
    fb = await startFirebreak({ extra: 'server: {max_body_bytes: 4096, read_timeout_seconds: 1, idle_timeout_seconds: 1, max_connections: 3}' });
  });
  after(async () => { await fb.stop(); });

  test('an oversized body is refused with 413', async () => {
    const r = await postJson(`${fb.url}/v1/chat/completions`, chat('x'.repeat(10_000)));
    assert.equal(r.status, 413);
    assert.match(r.json.error.message, /larger than the limit of 4096 bytes/);
  });

  test('oversized headers are refused with 431', async () => {
    const r = await fetch(`${fb.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-padding': 'p'.repeat(40_000) }, body: '{}',
    });
    assert.equal(r.status, 431);
    assert.match((await r.json()).error.message, /headers are larger than the limit/);
  });

  test('a slow client is cut off with 408 and the server stays healthy', async () => {
    const answer = await new Promise((resolve, reject) => {
      const socket = net.connect(fb.port, '127.0.0.1', () => {
        socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n');
      });
      let data = '';
      socket.on('data', (d) => { data += d; });
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    const r = await fetch(`${fb.url}/health`);
    assert.equal(r.status, 200);
  });

  test('past max_connections the longest idle connection makes room; with none idle, 503 and closed', async () => {
    const open = async (first = '') => {
      const socket = net.connect(fb.port, '127.0.0.1');
      const answer = { data: '', closed: false };
      socket.on('data', (d) => { answer.data += d; });
      socket.on('close', () => { answer.closed = true; });
      socket.on('error', () => {});
      await new Promise((r) => socket.on('connect', r));
      if (first) socket.write(first);
      await new Promise((r) => setTimeout(r, 30));
      return { socket, answer };
    };
    // Earlier tests' keep-alive connections close first (idle_timeout 1 s).
    await new Promise((r) => setTimeout(r, 1100));
    // Three idle connections, then a fourth: the oldest is closed for it.
    const idle = [await open(), await open(), await open()];
    await new Promise((r) => setTimeout(r, 150));  // idle long enough to be closed
    const fourth = await open('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    assert.match(fourth.answer.data, /^HTTP\/1\.1 200/);
    assert.ok(idle[0].answer.closed, 'the longest idle connection was closed');
    assert.equal(idle[0].answer.data, '', 'silently, as an idle timeout would');
    assert.ok(!idle[2].answer.closed);
    [...idle, fourth].forEach((c) => c.socket.destroy());
    await new Promise((r) => setTimeout(r, 100));
    // Three connections in the middle of a request: none can make room.
    const busy = [];
    for (let i = 0; i < 3; i++) busy.push(await open('POST /v1/chat/completions HTTP/1.1\r\n'));
    const extra = [await open(), await open()];
    await new Promise((r) => setTimeout(r, 200));
    for (const { answer } of extra) {
      assert.match(answer.data, /^HTTP\/1\.1 503/, `at most 3 connections are served: ${answer.data.slice(0, 12)}`);
      assert.match(answer.data, /too many connections/);
      assert.ok(answer.closed);
    }
    [...busy, ...extra].forEach((c) => c.socket.destroy());
    await new Promise((r) => setTimeout(r, 100));
    const r = await fetch(`${fb.url}/health`);
    assert.equal(r.status, 200);
  });

  test('without an upstream, an allowed request is refused with 503 and ready says why', async () => {
    const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow));
    assert.equal(r.status, 503);
    assert.match(r.json.error.message, /no upstream/);
    const ready = await fetch(`${fb.url}/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual((await ready.json()).reasons, ['no upstream configured']);
  });
});

describe('principals', () => {
  let fb;
  let upstream;
  const key = 'fb-test-key-1';
  before(async () => {
    upstream = await startUpstream();
    process.env.FIREBREAK_TEST_KEY = key;
    fb = await startFirebreak({
      openaiPort: upstream.port,
      anthropicPort: upstream.port,
      keyEnv: 'FIREBREAK_TEST_UPSTREAM_KEY',
      env: { FIREBREAK_TEST_UPSTREAM_KEY: 'sk-upstream-secret' },
      extra: 'principals:\n  - {id: analyst-7, team: intel, key_env: FIREBREAK_TEST_KEY}',
    });
  });
  after(async () => { await fb.stop(); upstream.close(); });

  test('a missing or unknown key is 401; a known one is served as its principal', async () => {
    let r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow));
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /missing API key/);
    r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow), { authorization: 'Bearer nope' });
    assert.equal(r.status, 401);
    r = await postJson(`${fb.url}/v1/messages`, { model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'nope' });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.type, 'authentication_error');
    r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow), { authorization: `Bearer ${key}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(upstream.requests.at(-1).headers.authorization, 'Bearer sk-upstream-secret',
      'the upstream key comes from firebreak\'s environment; the client key is not forwarded');
    const a = await postJson(`${fb.url}/v1/messages`, { model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: prompts.allow }] }, { 'x-api-key': key });
    assert.equal(a.status, 200, a.text);
    assert.equal(upstream.requests.at(-1).headers['x-api-key'], 'sk-upstream-secret');
    assert.doesNotMatch(fb.stderr(), /sk-upstream-secret/, 'the upstream key is never logged');
    assert.doesNotMatch(JSON.stringify(auditRecords(fb.db)), /sk-upstream-secret|fb-test-key-1/, 'nor recorded');
    const seq = Number(r.headers.get('x-firebreak-audit-seq'));
    assert.equal(auditRecords(fb.db).find((x) => x.seq === seq).principal, 'analyst-7');
  });
});

describe('fail closed', () => {
  test('an upstream that is down gives a 502 in the API shape, audited', async () => {
    const closed = await startUpstream();
    const port = closed.port;
    closed.close();
    const fb = await startFirebreak({ openaiPort: port });
    try {
      const r = await postJson(`${fb.url}/v1/chat/completions`, chat(prompts.allow));
      assert.equal(r.status, 502);
      assert.equal(r.json.error.code, 'upstream_unavailable');
      const a = await postJson(`${fb.url}/v1/messages`, { model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: prompts.allow }] });
      assert.equal(a.status, 502);
      assert.equal(a.json.type, 'error');
    } finally {
      await fb.stop();
    }
    const records = auditRecords(fb.db);
    assert.ok(records.some((x) => x.kind === 'completion' && x.status === 502 && /cannot connect/.test(x.error)));
  });

  test('when the audit store cannot write, requests are refused with 503', async () => {
    const upstream = await startUpstream();
    // A file size limit makes the database's writes fail (EFBIG) once it
    // grows past it: a full disk, in miniature. The journal's segments, 4 MiB
    // allocated whole, just fit; SQLite's WAL does not: it is checkpointed
    // only once it holds 16 MiB of pages. (dash counts 512-byte blocks.)
    let fb;
    try {
      fb = await startFirebreak({ openaiPort: upstream.port, wrap: 'ulimit -f 8200;' });
    } catch (e) {
      upstream.close();
      throw e;
    }
    try {
      let refused;
      let forwardedBefore = 0;
      for (let i = 0; i < 3000 && !refused; i++) {
        forwardedBefore = upstream.requests.length;
        const r = await postJson(`${fb.url}/v1/chat/completions`, chat(`${prompts.allow} ${'pad '.repeat(200)} ${i}`));
        if (r.status === 503) refused = r;
        else assert.equal(r.status, 200, r.text);
      }
      assert.ok(refused, 'the store filled up');
      assert.equal(refused.json.error.code, 'audit_unavailable');
      assert.equal(refused.headers.get('x-firebreak-decision'), 'REFUSED');
      assert.equal(upstream.requests.length, forwardedBefore, 'the unaudited request was not forwarded');
      const ready = await fetch(`${fb.url}/ready`);
      assert.equal(ready.status, 503);
    } finally {
      await fb.stop();
      upstream.close();
    }
  });
});

describe('shutdown', () => {
  test('SIGTERM drains a stream in flight, then exits 0 with the trail closed', async () => {
    const upstream = await startUpstream();
    const fb = await startFirebreak({ openaiPort: upstream.port });
    const res = await fetch(`${fb.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat(prompts.allow, { model: 'slow-gpt', stream: true })),
    });
    assert.equal(res.status, 200);
    fb.proc.kill('SIGTERM');
    const events = await readSse(res);
    assert.equal(events.at(-1).data, '[DONE]', 'the stream finished');
    const { code } = await fb.exited;
    upstream.close();
    assert.equal(code, 0);
    const records = auditRecords(fb.db);
    assert.equal(records.at(-1).kind, 'lifecycle.stop');
    assert.ok(records.some((x) => x.kind === 'completion' && x.complete === true));
    assert.equal(auditVerify(fb.db).status, 0);
  });
});

describe('demo --server', () => {
  test('runs the proxy with the demo policy, as the prototype\'s server mode did', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-demo-'));
    fs.writeFileSync(path.join(dir, 'demo.yaml'),
      `trust: ${demoTrust}\nalerts:\n  targets: {trust_safety: {type: log}, inspector_general: {type: log}, legal_counsel: {type: log}}\n`);
    const proc = spawn(binary, ['demo', '--server', '--port', '0', '--policy', policy, '--config', 'demo.yaml'], { cwd: dir });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    const port = await new Promise((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on [\d.]+:(\d+)/);
        if (m) resolve(Number(m[1]));
      });
      exited.then((code) => reject(new Error(`demo exited ${code}: ${stderr}`)));
    });
    const r = await postJson(`http://127.0.0.1:${port}/v1/chat/completions`, chat(prompts.block));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'content_policy_violation');
    const e = await postJson(`http://127.0.0.1:${port}/v1/firebreak/evaluate`, chat(prompts.constrained));
    assert.equal(e.status, 200);
    assert.equal(e.json.decision, 'ALLOW_CONSTRAINED');
    assert.deepEqual(e.json.rules, ['allow-warranted-analysis']);
    assert.ok(e.json.audit_seq > 0);
    proc.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.equal(auditVerify(path.join(dir, 'var/audit.db')).status, 0);
  });
});
