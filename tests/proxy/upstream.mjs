// A local test upstream that speaks the OpenAI Chat Completions, Anthropic
// Messages and Gemini generateContent wire formats, streaming and not. It answers with an echo of the
// last user text, records every request it receives, and misbehaves on
// request (by model name) so that tests can check how Firebreak fails:
//   hang-*    never answers        error-*   answers 500 in the API's shape
//   cut-*     stream cut mid-way   slow-*    streams slowly (300 ms per event)
import http from 'node:http';
import https from 'node:https';

function lastUserText(body) {
  const messages = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    const text = (m.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join(' ');
    if (text) return text;
  }
  return '';
}

function lastGeminiUserText(body) {
  const contents = body.contents ?? [];
  for (let i = contents.length - 1; i >= 0; i--) {
    const c = contents[i];
    if ((c.role ?? 'user') !== 'user') continue;
    const text = (c.parts ?? []).filter((p) => typeof p.text === 'string').map((p) => p.text).join(' ');
    if (text) return text;
  }
  return '';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function openai(req, res, body) {
  const model = body.model ?? 'gpt-test';
  const text = `echo: ${lastUserText(body)}`;
  if (model.startsWith('error-')) {
    res.writeHead(500, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error', code: null, param: null } }));
  }
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({
      id: 'chatcmpl-test', object: 'chat.completion', created: 1700000000, model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
    }));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (delta, finish = null) => ({
    id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1700000000, model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
  send(chunk({ role: 'assistant', content: '' }));
  const words = text.split(/(?<= )/);
  for (const [i, w] of words.entries()) {
    if (model.startsWith('slow-')) await sleep(300);
    send(chunk({ content: w }));
    if (model.startsWith('cut-') && i === 0) { await sleep(100); return res.socket.destroy(); }
  }
  send(chunk({}, 'stop'));
  if (body.stream_options?.include_usage) {
    send({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1700000000, model, choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } });
  }
  res.end('data: [DONE]\n\n');
}

async function anthropic(req, res, body) {
  const model = body.model ?? 'claude-test';
  const text = `echo: ${lastUserText(body)}`;
  if (model.startsWith('error-')) {
    res.writeHead(500, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'upstream exploded' } }));
  }
  const message = {
    id: 'msg_test', type: 'message', role: 'assistant', model,
    content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null,
    usage: { input_tokens: 13, output_tokens: 5 },
  };
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(message));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  send('message_start', { message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 13, output_tokens: 0 } } });
  send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  send('ping', {});
  const words = text.split(/(?<= )/);
  for (const [i, w] of words.entries()) {
    if (model.startsWith('slow-')) await sleep(300);
    send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } });
    if (model.startsWith('cut-') && i === 0) { await sleep(100); return res.socket.destroy(); }
  }
  send('content_block_stop', { index: 0 });
  send('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } });
  send('message_stop', {});
  res.end();
}

// POST /v1beta/models/MODEL:generateContent, :streamGenerateContent?alt=sse.
async function gemini(req, res, body, model, stream) {
  const text = `echo: ${lastGeminiUserText(body)}`;
  if (model.startsWith('error-')) {
    res.writeHead(500, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ error: { code: 500, message: 'upstream exploded', status: 'INTERNAL' } }));
  }
  const usageMetadata = { promptTokenCount: 17, candidatesTokenCount: 9, totalTokenCount: 26 };
  const response = (parts, finishReason) => ({
    candidates: [{ content: { role: 'model', parts }, index: 0, ...(finishReason ? { finishReason } : {}) }],
    usageMetadata, modelVersion: model, responseId: 'gemini-test',
  });
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(response([{ text }], 'STOP')));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const words = text.split(/(?<= )/);
  for (const [i, w] of words.entries()) {
    if (model.startsWith('slow-')) await sleep(300);
    res.write(`data: ${JSON.stringify(response([{ text: w }], i === words.length - 1 ? 'STOP' : null))}\r\n\r\n`);
    if (model.startsWith('cut-') && i === 0) { await sleep(100); return res.socket.destroy(); }
  }
  res.end();
}

// With `tls` ({key, cert}), the upstream speaks HTTPS.
export function startUpstream({ tls = null } = {}) {
  const requests = [];
  const handler = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const bytes = Buffer.concat(chunks);
      const raw = bytes.toString('utf8');
      let body = {};
      try { body = raw ? JSON.parse(raw) : {}; } catch { body = {}; }
      // `raw` is the body decoded as UTF-8; `bytes` is the body as received
      // (what a bypass check inspects: invalid UTF-8 and encodings survive).
      const record = { method: req.method, path: req.url, headers: req.headers, raw, bytes, body, closed: false };
      requests.push(record);
      // One listener per connection (keep-alive carries many requests).
      if (!req.socket.records) {
        req.socket.records = [];
        req.socket.once('close', () => { for (const r of req.socket.records) r.closed = true; });
      }
      req.socket.records.push(record);
      if ((body.model ?? '').startsWith('hang-') || req.url.includes('/models/hang-')) return;  // never answers
      if (req.url === '/v1/chat/completions') return openai(req, res, body);
      if (req.url === '/v1/messages') return anthropic(req, res, body);
      const g = req.url.match(/^\/v1beta\/models\/([^:/]+):(generateContent|streamGenerateContent\?alt=sse)$/);
      if (g) return gemini(req, res, body, g[1], g[2] !== 'generateContent');
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found"}}');
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, port: server.address().port, requests, close: () => { server.closeAllConnections(); server.close(); } });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const up = await startUpstream();
  console.log(`listening on 127.0.0.1:${up.port}`);
}
