// The official SDKs as real clients, unchanged but for their base URL:
// completions pass through (streaming and not), blocks surface as the SDKs'
// own error types, and translation works in both directions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

import { prompts, startFirebreak } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

describe('official SDKs through firebreak', () => {
  let upstream;
  let fb;
  let openai;
  let anthropic;
  before(async () => {
    upstream = await startUpstream();
    fb = await startFirebreak({ openaiPort: upstream.port, anthropicPort: upstream.port });
    openai = new OpenAI({ baseURL: `${fb.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: fb.url, apiKey: 'sk-client', maxRetries: 0 });
  });
  after(async () => {
    await fb.stop();
    upstream.close();
  });

  test('openai: a completion passes through', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: prompts.allow }] });
    assert.equal(r.choices[0].message.content, `echo: ${prompts.allow}`);
    assert.equal(r.usage.total_tokens, 18);
  });

  test('openai: a streamed completion passes through chunk by chunk', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: prompts.allow }] });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      chunks++;
    }
    assert.equal(text, `echo: ${prompts.allow}`);
    assert.ok(chunks > 3);
  });

  test('openai: a blocked prompt is a BadRequestError with code content_policy_violation', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: prompts.block }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, err.constructor.name);
        assert.equal(err.status, 400);
        assert.equal(err.code, 'content_policy_violation');
        assert.match(err.message, /block-surveillance/);
        assert.equal(err.headers.get('x-firebreak-decision'), 'BLOCK');
        return true;
      });
  });

  test('anthropic: a message passes through, streaming and not', async () => {
    const m = await anthropic.messages.create({ model: 'claude-3-haiku', max_tokens: 50, messages: [{ role: 'user', content: prompts.allow }] });
    assert.equal(m.content[0].text, `echo: ${prompts.allow}`);
    const stream = anthropic.messages.stream({ model: 'claude-3-haiku', max_tokens: 50, messages: [{ role: 'user', content: prompts.allow }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    assert.equal(text, `echo: ${prompts.allow}`);
    assert.equal(final.stop_reason, 'end_turn');
  });

  test('anthropic: a blocked prompt is a BadRequestError of type invalid_request_error', async () => {
    await assert.rejects(
      anthropic.messages.create({ model: 'claude-3-haiku', max_tokens: 50, messages: [{ role: 'user', content: prompts.lethal }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.BadRequestError, err.constructor.name);
        assert.equal(err.status, 400);
        assert.equal(err.error.type, 'error');
        assert.equal(err.error.error.type, 'invalid_request_error');
        assert.match(err.error.error.message, /block-autonomous-lethal/);
        return true;
      });
  });

  test('translation: the OpenAI SDK talks to an Anthropic upstream', async () => {
    const r = await openai.chat.completions.create({ model: 'claude-3-haiku', messages: [{ role: 'user', content: prompts.allow }] });
    assert.equal(upstream.requests.at(-1).path, '/v1/messages');
    assert.equal(r.choices[0].message.content, `echo: ${prompts.allow}`);
    assert.equal(r.choices[0].finish_reason, 'stop');
    const stream = await openai.chat.completions.create({ model: 'claude-3-haiku', stream: true, messages: [{ role: 'user', content: prompts.allow }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, `echo: ${prompts.allow}`);
  });

  test('translation: the Anthropic SDK talks to an OpenAI upstream', async () => {
    const m = await anthropic.messages.create({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: prompts.allow }] });
    assert.equal(upstream.requests.at(-1).path, '/v1/chat/completions');
    assert.equal(m.content[0].text, `echo: ${prompts.allow}`);
    const stream = anthropic.messages.stream({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: prompts.allow }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    assert.equal(text, `echo: ${prompts.allow}`);
    assert.equal(final.usage.output_tokens, 7);
  });
});
