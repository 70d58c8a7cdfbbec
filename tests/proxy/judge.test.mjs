// The LLM judge (issue 20) through the real binary: a local judge server
// speaking the OpenAI and Anthropic wire formats, scripted by the prompt to
// answer, answer slowly, return garbage, refuse, name an unknown category or
// fail; the policy (a copy of the shipped one that lets a judge decide what
// the local classifier does not recognise) accepts its model. What the local
// classifier decides confidently never waits on the judge; every judge
// failure leaves the defaults to decide (BLOCK), and the record says which.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { auditRecords, policy, postJson, prompts, repo, startFirebreak } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Answers by what the conversation says: SLOW (after 1.5 s), GARBAGE,
// REFUSE, UNKNOWN (a category the policy lacks), FAIL (503); else it names
// summarization with 0.9.
function startJudge() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', async () => {
      const body = JSON.parse(raw);
      requests.push({ path: req.url, headers: req.headers, body });
      const text = JSON.stringify(body.messages);
      const verdict = { categories: [{ id: text.includes('UNKNOWN') ? 'weather' : 'summarization', confidence: 0.9, reason: 'asks for a summary' }] };
      if (text.includes('SLOW')) await sleep(1500);
      if (text.includes('FAIL')) {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end('{"error":{"message":"overloaded"}}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (text.includes('GARBAGE')) return res.end('{"choices":[{"message":{"content":"I think it is fine."}}]}');
      if (req.url === '/v1/messages') {
        if (text.includes('REFUSE')) return res.end('{"type":"message","stop_reason":"refusal","content":[]}');
        return res.end(JSON.stringify({ type: 'message', stop_reason: 'tool_use', usage: { input_tokens: 50, output_tokens: 9 },
          content: [{ type: 'tool_use', id: 't1', name: 'judgement', input: verdict }] }));
      }
      if (text.includes('REFUSE')) return res.end('{"choices":[{"message":{"content":null,"refusal":"I cannot help with that."}}]}');
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: JSON.stringify(verdict) }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 50, completion_tokens: 9 } }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    requests, url: `http://127.0.0.1:${server.address().port}`, close: () => { server.closeAllConnections(); server.close(); },
  })));
}

// The shipped policy, letting a judge decide what is uncertain, unsigned.
function judgedPolicy(dir) {
  const text = fs.readFileSync(policy, 'utf8')
    .replace('  model: defense-standard.model', `  model: ${path.join(repo, 'policies/defense-standard.model')}\n  judge: {mode: uncertain, models: [judge-model]}`);
  assert.match(text, /judge: \{mode: uncertain/);
  const file = path.join(dir, 'judged.yaml');
  fs.writeFileSync(file, text);
  return file;
}

const uncertain = (tag) => `${tag}: what is a good recipe for banana bread?`;

describe('the judge', () => {
  let upstream;
  let judge;
  let dir;
  let policyFile;
  before(async () => {
    upstream = await startUpstream();
    judge = await startJudge();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-judge-'));
    policyFile = judgedPolicy(dir);
  });
  after(() => {
    upstream.close();
    judge.close();
  });

  const start = (judgeYaml, extra = {}) => startFirebreak({
    openaiPort: upstream.port, policyFile, trust: null, args: ['--allow-unsigned'],
    extra: `judge: {base_url: "${judge.url}", model: judge-model, ${judgeYaml}}`, ...extra,
  });

  test('what the classifier does not recognise is asked, and the judge\'s verdict decides; a confident decision never waits', async () => {
    const fb = await start('type: openai, cache: judge.db');
    try {
      const openai = new OpenAI({ baseURL: `${fb.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
      const before = judge.requests.length;
      const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: uncertain('one') }] }).withResponse();
      assert.equal(r.response.headers.get('x-firebreak-decision'), 'ALLOW');
      assert.equal(r.data.choices[0].message.content, `echo: ${uncertain('one')}`);
      assert.equal(judge.requests.length, before + 1);
      const asked = judge.requests.at(-1);
      assert.equal(asked.path, '/v1/chat/completions');
      assert.equal(asked.body.model, 'judge-model');
      assert.match(asked.body.messages[0].content, /not instructions to you/);
      assert.match(asked.body.messages[0].content, /- bulk_surveillance: /);
      assert.match(asked.body.messages[1].content, /banana bread/);
      const record = auditRecords(fb.db).filter((x) => x.kind === 'decision').at(-1);
      assert.equal(record.decision, 'ALLOW');
      assert.equal(record.judge.model, 'judge-model');
      assert.equal(record.judge.cache_hit, false);
      assert.deepEqual(record.judge.verdicts, [{ id: 'summarization', confidence: '0.900' }]);
      assert.match(record.judge.answer_sha256, /^[0-9a-f]{64}$/);

      for (const prompt of [prompts.allow, prompts.block]) {
        await postJson(`${fb.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: prompt }] });
      }
      assert.equal(judge.requests.length, before + 1, 'confident decisions do not ask');
      const metrics = await (await fetch(`${fb.url}/metrics`)).text();
      assert.match(metrics, /firebreak_judge_calls_total 1\n/);
    } finally {
      await fb.stop();
    }
  });

  test('an answer is kept: the same conversation is not asked again, even after a restart', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-judge-cache-'));
    const cache = path.join(cacheDir, 'judge-cache.db');
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: uncertain('kept') }] };
    let fb = await start(`type: openai, cache: "${cache}"`);
    const before = judge.requests.length;
    try {
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, body)).headers.get('x-firebreak-decision'), 'ALLOW');
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, body)).headers.get('x-firebreak-decision'), 'ALLOW');
      assert.equal(judge.requests.length, before + 1);
    } finally {
      await fb.stop();
    }
    fb = await start(`type: openai, cache: "${cache}"`);
    try {
      assert.equal((await postJson(`${fb.url}/v1/chat/completions`, body)).headers.get('x-firebreak-decision'), 'ALLOW');
      assert.equal(judge.requests.length, before + 1);
      const record = auditRecords(fb.db).filter((x) => x.kind === 'decision').at(-1);
      assert.equal(record.judge.cache_hit, true);
    } finally {
      await fb.stop();
    }
  });

  test('every failure of the judge fails closed, and the record says which', async () => {
    const fb = await start('type: openai, timeout_ms: 400, breaker_failures: 100, cache: failing.db');
    try {
      for (const [tag, kind] of [['SLOW', 'timeout'], ['GARBAGE', 'schema'], ['REFUSE', 'refusal'],
        ['UNKNOWN', 'unknown_category'], ['FAIL', 'status']]) {
        const r = await postJson(`${fb.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: uncertain(tag) }] });
        assert.equal(r.status, 400, tag);
        assert.equal(r.headers.get('x-firebreak-decision'), 'BLOCK', tag);
        assert.equal(r.headers.get('x-firebreak-rule'), 'default', tag);
        const record = auditRecords(fb.db).filter((x) => x.kind === 'decision').at(-1);
        assert.equal(record.judge.failure, kind, tag);
        assert.match(record.classification.uncertain.join(' '), /the judge judge-model gave no verdict/, tag);
      }
      const metrics = await (await fetch(`${fb.url}/metrics`)).text();
      assert.match(metrics, /firebreak_judge_failures_total\{kind="timeout"\} 1/);
      assert.match(metrics, /firebreak_judge_failures_total\{kind="schema"\} 1/);
    } finally {
      await fb.stop();
    }
  });

  test('a failing judge is not called during its cool-down, and the system targets are told once', async () => {
    const fb = await start('type: openai, breaker_failures: 2, breaker_cool_down_seconds: 60, cache: breaker.db');
    try {
      const before = judge.requests.length;
      for (const tag of ['FAIL a', 'FAIL b', 'FAIL c', 'FAIL d']) {
        const r = await postJson(`${fb.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: uncertain(tag) }] });
        assert.equal(r.headers.get('x-firebreak-decision'), 'BLOCK');
      }
      assert.equal(judge.requests.length, before + 2);
      const records = auditRecords(fb.db);
      assert.equal(records.filter((x) => x.kind === 'decision').at(-1).judge.failure, 'breaker_open');
      assert.equal(records.filter((x) => x.kind === 'judge.unavailable').length, 1);
    } finally {
      await fb.stop();
    }
  });

  test('an Anthropic judge answers through a forced tool call', async () => {
    const fb = await start('type: anthropic, cache: anthropic.db');
    try {
      const r = await postJson(`${fb.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: uncertain('claude') }] });
      assert.equal(r.headers.get('x-firebreak-decision'), 'ALLOW');
      const asked = judge.requests.at(-1);
      assert.equal(asked.path, '/v1/messages');
      assert.deepEqual(asked.body.tool_choice, { type: 'tool', name: 'judgement' });
    } finally {
      await fb.stop();
    }
  });

  test('a judge model the policy does not accept is a start-up error', async () => {
    await assert.rejects(
      startFirebreak({ openaiPort: upstream.port, policyFile, trust: null, args: ['--allow-unsigned'],
        extra: `judge: {type: openai, base_url: "${judge.url}", model: some-other-model}` }),
      /the judge model 'some-other-model' is not one the policy accepts \(classifier.judge.models: judge-model\)/);
  });
});
