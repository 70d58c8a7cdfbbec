// What reaches the model is what was classified (DESIGN.md §1), end to end:
// bodies that parsers could read two ways are refused, text outside the
// messages is classified, content that cannot be inspected is refused by the
// shipped policy with an error naming its kind (and let through by a policy
// that allows it), and translation carries only classified parts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { auditRecords, binary, demoTrust, policy, postJson, prompts, repo, startFirebreak } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

const anthropicHeaders = { 'anthropic-version': '2023-06-01' };
const image = { type: 'image_url', image_url: { url: 'https://images.test/chart.png' } };

// The shipped policy and model, with `extra` appended, signed with the DEMO
// keys so that the DEMO trust file accepts it.
function policyWith(extra) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-extraction-'));
  const file = path.join(dir, 'policy.yaml');
  fs.writeFileSync(file, fs.readFileSync(policy, 'utf8') + extra);
  fs.copyFileSync(policy.replace(/\.yaml$/, '.model'), path.join(dir, 'defense-standard.model'));
  for (const party of ['ai_provider', 'deploying_org']) {
    const r = spawnSync(binary, ['sign', file, '--key', path.join(repo, `keys/demo/${party}.key`), '--party', party],
      { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  return file;
}

describe('extraction', () => {
  let upstream;
  let fb;
  before(async () => {
    upstream = await startUpstream();
    fb = await startFirebreak({ openaiPort: upstream.port, anthropicPort: upstream.port });
  });
  after(async () => {
    await fb.stop();
    upstream.close();
  });

  // Sends and asserts that nothing reached the upstream.
  async function refused(route, body, headers = {}) {
    const before = upstream.requests.length;
    const r = await postJson(`${fb.url}${route}`, body, headers);
    assert.equal(upstream.requests.length, before, `nothing is forwarded: ${r.status} ${r.text}`);
    return r;
  }

  test('a body with a duplicate key is refused, naming the key and where it is', async () => {
    const body = `{"model": "gpt-4o",\n "messages": [{"role": "user", "content": ${JSON.stringify(prompts.block)}}],\n` +
                 ` "messages": [{"role": "user", "content": ${JSON.stringify(prompts.allow)}}]}`;
    const r = await refused('/v1/chat/completions', body);
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /duplicate key "messages" .*line 3/);
    assert.equal(r.headers.get('x-firebreak-decision'), 'REFUSED');
  });

  test('a known field in another case is refused', async () => {
    const r = await refused('/v1/messages', {
      model: 'claude-3', max_tokens: 10, messages: [{ role: 'user', content: prompts.allow }],
      SYSTEM: prompts.block,
    }, anthropicHeaders);
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /SYSTEM: field names are case-sensitive/);
  });

  test('a prohibited request in a tool definition is blocked like one in a message', async () => {
    const r = await refused('/v1/chat/completions', {
      model: 'gpt-4o', messages: [{ role: 'user', content: 'Run the tool as its description says.' }],
      tools: [{ type: 'function', function: { name: 'run', description: prompts.block, parameters: { type: 'object' } } }],
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'content_policy_violation');
    const record = auditRecords(fb.db).findLast((x) => x.kind === 'decision');
    assert.equal(record.decision, 'BLOCK');
    assert.ok(record.messages.some((m) => m.where === 'tools[0]' && m.text.includes(prompts.block)));
  });

  test('an image is uninspectable: the shipped policy refuses it, naming the kind and where', async () => {
    const r = await refused('/v1/chat/completions', {
      model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: prompts.allow }, image] }],
    });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-firebreak-rule'), 'uninspectable:image');
    assert.match(r.json.error.message, /image content, which Firebreak cannot inspect.*\[at messages\[0\]\.content\[1\]\]/);
    const record = auditRecords(fb.db).findLast((x) => x.kind === 'decision');
    assert.deepEqual(record.uninspected, [{ kind: 'image', where: 'messages[0].content[1]' }]);
    const pdf = await refused('/v1/messages', {
      model: 'claude-3', max_tokens: 10, messages: [{ role: 'user', content: [
        { type: 'text', text: prompts.allow },
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } }] }],
    }, anthropicHeaders);
    assert.equal(pdf.headers.get('x-firebreak-rule'), 'uninspectable:document');
    assert.equal(pdf.json.error.type, 'invalid_request_error');
  });

  test('translation refuses a part it cannot carry instead of dropping it', async () => {
    const r = await refused('/v1/chat/completions', {
      model: 'claude-3', messages: [{ role: 'user', content: prompts.allow }],
      response_format: { type: 'json_schema', json_schema: { name: 'report', schema: { type: 'object' } } },
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'untranslatable');
    assert.match(r.json.error.message, /response_format.*no counterpart in the Anthropic API/);
    const record = auditRecords(fb.db).findLast((x) => x.kind === 'decision');
    assert.equal(record.decision, 'ALLOW');
    assert.match(record.refused, /response_format/);
  });

  test('tools, tool calls and tool results in both APIs still pass, translated or not', async () => {
    const openai = {
      messages: [
        { role: 'user', content: 'Summarize the weather report for the exercise area.' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_report', arguments: '{"area":"north"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'Light rain, visibility 5 km.' },
      ],
      tools: [{ type: 'function', function: { name: 'get_report', description: 'Fetch a weather report', parameters: { type: 'object', properties: { area: { type: 'string' } } } } }],
    };
    for (const model of ['gpt-4o', 'claude-3']) {
      const before = upstream.requests.length;
      const r = await postJson(`${fb.url}/v1/chat/completions`, { model, ...openai });
      assert.equal(r.status, 200, r.text);
      assert.equal(upstream.requests.length, before + 1);
    }
  });
});

describe('a policy that allows images', () => {
  test('lets them through uninspected, recorded, while the text still decides', async () => {
    const upstream = await startUpstream();
    const fb = await startFirebreak({ openaiPort: upstream.port, policyFile: policyWith('\nuninspectable:\n  image: ALLOW\n'), trust: demoTrust });
    try {
      const ok = await postJson(`${fb.url}/v1/chat/completions`, {
        model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: prompts.allow }, image] }],
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(upstream.requests.length, 1);
      assert.match(ok.headers.get('x-firebreak-rule'), /uninspectable:image/);
      const blocked = await postJson(`${fb.url}/v1/chat/completions`, {
        model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: prompts.block }, image] }],
      });
      assert.equal(blocked.status, 400);
      assert.equal(blocked.headers.get('x-firebreak-rule'), 'block-surveillance');
      assert.equal(upstream.requests.length, 1);
      const audio = await postJson(`${fb.url}/v1/chat/completions`, {
        model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: prompts.allow },
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] }],
      });
      assert.equal(audio.headers.get('x-firebreak-rule'), 'uninspectable:audio');
      assert.equal(upstream.requests.length, 1);
    } finally {
      await fb.stop();
      upstream.close();
    }
  });
});
