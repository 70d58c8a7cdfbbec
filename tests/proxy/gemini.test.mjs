// Google's Gemini API through Firebreak, driven by the official @google/genai
// SDK unchanged but for its base URL: generateContent and
// streamGenerateContent pass through to a Gemini upstream, blocks surface as
// the SDK's ApiError in Gemini's error shape, and requests translate through
// the hub to and from OpenAI and Anthropic upstreams, both ways.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';

import { auditRecords, postJson, prompts, startFirebreak } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

async function streamedText(stream) {
  let text = '';
  let chunks = 0;
  let last = null;
  for await (const chunk of stream) {
    text += chunk.text ?? '';
    chunks++;
    last = chunk;
  }
  return { text, chunks, last };
}

describe('the Gemini API through firebreak', () => {
  let upstream;
  let fb;
  let genai;
  before(async () => {
    upstream = await startUpstream();
    fb = await startFirebreak({
      openaiPort: upstream.port, anthropicPort: upstream.port, geminiPort: upstream.port,
      env: { GEMINI_API_KEY: 'gemini-upstream-key' },
    });
    genai = new GoogleGenAI({ apiKey: 'client-key', httpOptions: { baseUrl: fb.url } });
  });
  after(async () => {
    await fb.stop();
    upstream.close();
  });

  test('generateContent passes through, with the upstream key from GEMINI_API_KEY and never the client\'s', async () => {
    const r = await genai.models.generateContent({
      model: 'gemini-2.0-flash', contents: prompts.allow, config: { systemInstruction: 'Be brief.', maxOutputTokens: 200 },
    });
    assert.equal(r.text, `echo: ${prompts.allow}`);
    assert.equal(r.usageMetadata.totalTokenCount, 26);
    const seen = upstream.requests.at(-1);
    assert.equal(seen.path, '/v1beta/models/gemini-2.0-flash:generateContent');
    assert.equal(seen.headers['x-goog-api-key'], 'gemini-upstream-key');
    assert.equal(seen.body.systemInstruction.parts[0].text, 'Be brief.');
    assert.equal(seen.body.generationConfig.maxOutputTokens, 200);
    const record = auditRecords(fb.db).filter((x) => x.kind === 'decision').at(-1);
    assert.equal(record.decision, 'ALLOW');
    assert.equal(record.endpoint, '/v1beta/models/*:generateContent');
    assert.equal(record.model, 'gemini-2.0-flash');
  });

  test('streamGenerateContent passes through event by event', async () => {
    const { text, chunks, last } = await streamedText(await genai.models.generateContentStream({
      model: 'gemini-2.0-flash', contents: [{ role: 'user', parts: [{ text: prompts.allow }] }],
    }));
    assert.equal(text, `echo: ${prompts.allow}`);
    assert.ok(chunks > 3, `${chunks} chunks`);
    assert.equal(last.candidates[0].finishReason, 'STOP');
    assert.equal(upstream.requests.at(-1).path, '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
  });

  test('a blocked prompt is an ApiError 400 in Gemini\'s error shape, and never reaches the upstream', async () => {
    const before = upstream.requests.length;
    await assert.rejects(
      genai.models.generateContent({ model: 'gemini-2.0-flash', contents: prompts.block }),
      (err) => {
        assert.ok(err instanceof ApiError, err.constructor.name);
        assert.equal(err.status, 400);
        assert.match(err.message, /block-surveillance/);
        assert.match(err.message, /INVALID_ARGUMENT/);
        return true;
      });
    await assert.rejects(
      async () => streamedText(await genai.models.generateContentStream({ model: 'gemini-2.0-flash', contents: prompts.lethal })),
      (err) => err instanceof ApiError && err.status === 400 && /block-autonomous-lethal/.test(err.message));
    assert.equal(upstream.requests.length, before);
    const r = await postJson(`${fb.url}/v1beta/models/gemini-2.0-flash:generateContent`,
      { contents: [{ parts: [{ text: prompts.block }] }] });
    assert.equal(r.headers.get('x-firebreak-decision'), 'BLOCK');
    assert.equal(r.json.error.code, 400);
    assert.equal(r.json.error.details[0].reason, 'CONTENT_POLICY_VIOLATION');
  });

  test('constraints reach a Gemini upstream as a system instruction', async () => {
    const r = await genai.models.generateContent({ model: 'gemini-2.0-flash', contents: prompts.constrained });
    assert.equal(r.sdkHttpResponse.headers['x-firebreak-decision'], 'ALLOW_CONSTRAINED');
    const parts = upstream.requests.at(-1).body.systemInstruction.parts;
    assert.match(parts.at(-1).text, /^Firebreak policy constraints for this request/);
  });

  test('the SDK talks to OpenAI and Anthropic upstreams through the hub', async () => {
    for (const [model, path] of [['gpt-4o', '/v1/chat/completions'], ['claude-3-haiku', '/v1/messages']]) {
      const r = await genai.models.generateContent({
        model, contents: prompts.allow, config: { systemInstruction: 'Be brief.', maxOutputTokens: 100, stopSequences: ['END'] },
      });
      const seen = upstream.requests.at(-1);
      assert.equal(seen.path, path);
      assert.equal(r.text, `echo: ${prompts.allow}`, model);
      assert.equal(r.candidates[0].finishReason, 'STOP');
      assert.ok(r.usageMetadata.totalTokenCount > 0, model);
      if (path === '/v1/messages') {
        assert.equal(seen.body.system, 'Be brief.');
        assert.deepEqual(seen.body.stop_sequences, ['END']);
      } else {
        assert.deepEqual(seen.body.messages[0], { role: 'system', content: 'Be brief.' });
        assert.equal(seen.body.max_tokens, 100);
      }
      const { text, last } = await streamedText(await genai.models.generateContentStream({ model, contents: prompts.allow }));
      assert.equal(text, `echo: ${prompts.allow}`, `${model} streamed`);
      assert.equal(last.candidates[0].finishReason, 'STOP');
    }
  });

  test('the OpenAI and Anthropic SDKs talk to a Gemini upstream through the hub', async () => {
    const openai = new OpenAI({ baseURL: `${fb.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
    const r = await openai.chat.completions.create({
      model: 'gemini-2.0-flash', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompts.allow }],
    });
    const seen = upstream.requests.at(-1);
    assert.equal(seen.path, '/v1beta/models/gemini-2.0-flash:generateContent');
    assert.deepEqual(seen.body.systemInstruction, { parts: [{ text: 'Be brief.' }] });
    assert.equal(r.choices[0].message.content, `echo: ${prompts.allow}`);
    assert.equal(r.usage.total_tokens, 26);
    const stream = await openai.chat.completions.create({ model: 'gemini-2.0-flash', stream: true, messages: [{ role: 'user', content: prompts.allow }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, `echo: ${prompts.allow}`);
    assert.match(upstream.requests.at(-1).path, /:streamGenerateContent\?alt=sse$/);

    const anthropic = new Anthropic({ baseURL: fb.url, apiKey: 'sk-client', maxRetries: 0 });
    const m = await anthropic.messages.create({ model: 'gemini-2.0-flash', max_tokens: 50, messages: [{ role: 'user', content: prompts.allow }] });
    assert.equal(m.content[0].text, `echo: ${prompts.allow}`);
    assert.equal(upstream.requests.at(-1).headers['anthropic-version'], undefined);
    const s = anthropic.messages.stream({ model: 'gemini-2.0-flash', max_tokens: 50, messages: [{ role: 'user', content: prompts.allow }] });
    let streamed = '';
    s.on('text', (t) => { streamed += t; });
    const final = await s.finalMessage();
    assert.equal(streamed, `echo: ${prompts.allow}`);
    assert.equal(final.usage.output_tokens, 9);
  });

  test('what Gemini reads beside the contents is classified: declarations, inline text, snake_case twins', async () => {
    const url = `${fb.url}/v1beta/models/gemini-2.0-flash:generateContent`;
    const benign = { role: 'user', parts: [{ text: prompts.allow }] };
    const before = upstream.requests.length;
    const declared = await postJson(url, {
      contents: [benign],
      tools: [{ functionDeclarations: [{ name: 'lookup', description: prompts.block, parameters: { type: 'OBJECT', properties: {} } }] }],
    });
    assert.equal(declared.headers.get('x-firebreak-decision'), 'BLOCK', declared.text);
    const inline = await postJson(url, {
      contents: [{ role: 'user', parts: [{ text: prompts.allow }, { inlineData: { mimeType: 'text/plain', data: Buffer.from(prompts.block).toString('base64') } }] }],
    });
    assert.equal(inline.headers.get('x-firebreak-decision'), 'BLOCK', inline.text);
    const twins = await postJson(url, {
      contents: [benign], systemInstruction: { parts: [{ text: 'Be brief.' }] }, system_instruction: { parts: [{ text: prompts.block }] },
    });
    assert.equal(twins.status, 400);
    assert.match(twins.json.error.message, /given twice, as 'systemInstruction' and 'system_instruction'/);
    const snake = await postJson(url, { contents: [benign], system_instruction: { parts: [{ text: prompts.block }] } });
    assert.equal(snake.headers.get('x-firebreak-decision'), 'BLOCK', snake.text);
    assert.equal(upstream.requests.length, before);
  });

  test('with principals, the SDK\'s x-goog-api-key names the caller; a wrong key is UNAUTHENTICATED', async () => {
    const guarded = await startFirebreak({
      geminiPort: upstream.port,
      extra: 'principals:\n  - {id: analyst-g, key_env: FB_GEMINI_CLIENT_KEY}',
      env: { FB_GEMINI_CLIENT_KEY: 'gemini-client-secret', GEMINI_API_KEY: 'gemini-upstream-key' },
    });
    try {
      const client = new GoogleGenAI({ apiKey: 'gemini-client-secret', httpOptions: { baseUrl: guarded.url } });
      const r = await client.models.generateContent({ model: 'gemini-2.0-flash', contents: prompts.allow });
      assert.equal(r.text, `echo: ${prompts.allow}`);
      assert.equal(upstream.requests.at(-1).headers['x-goog-api-key'], 'gemini-upstream-key');
      const record = auditRecords(guarded.db).filter((x) => x.kind === 'decision').at(-1);
      assert.equal(record.principal, 'analyst-g');
      const stranger = new GoogleGenAI({ apiKey: 'wrong', httpOptions: { baseUrl: guarded.url } });
      const err = await stranger.models.generateContent({ model: 'gemini-2.0-flash', contents: prompts.allow }).catch((e) => e);
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 401);
      assert.match(err.message, /UNAUTHENTICATED/);
    } finally {
      await guarded.stop();
    }
  });

  test('a call Firebreak cannot serve is refused in Gemini\'s shape', async () => {
    const noSse = await postJson(`${fb.url}/v1beta/models/gemini-2.0-flash:streamGenerateContent`, { contents: [{ parts: [{ text: prompts.allow }] }] });
    assert.equal(noSse.status, 400);
    assert.match(noSse.json.error.message, /alt=sse/);
    assert.equal(noSse.json.error.status, 'INVALID_ARGUMENT');
    const upstreamDown = await genai.models.generateContent({ model: 'hang-gemini', contents: prompts.allow }).catch((e) => e);
    assert.ok(upstreamDown instanceof ApiError);
    assert.equal(upstreamDown.status, 504);
    assert.match(upstreamDown.message, /DEADLINE_EXCEEDED/);
  });
});
