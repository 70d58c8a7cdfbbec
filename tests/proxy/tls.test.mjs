// TLS on both sides: the listener serves HTTPS with the configured
// certificate, and an https upstream is verified against the trusted CAs
// and its host name (OpenSSL's SSL_CERT_FILE names the trust store here).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { postJson, prompts, startFirebreak } from './harness.mjs';
import { startUpstream } from './upstream.mjs';

function selfSigned(dir, name, san) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=${san}`], { stdio: 'ignore' });
  return { key, cert, pem: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } };
}

function getHttps(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

describe('tls', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-tls-'));
  const good = selfSigned(dir, 'upstream', 'IP:127.0.0.1');
  const wrongName = selfSigned(dir, 'elsewhere', 'DNS:elsewhere.example');
  let upstream;
  let impostor;
  before(async () => {
    upstream = await startUpstream({ tls: good.pem });
    impostor = await startUpstream({ tls: wrongName.pem });
  });
  after(() => { upstream.close(); impostor.close(); });

  test('the listener serves HTTPS with the configured certificate', async () => {
    const fb = await startFirebreak({ extra: `server: {tls_cert: ${good.cert}, tls_key: ${good.key}}` });
    try {
      const r = await getHttps(`https://127.0.0.1:${fb.port}/health`, good.pem.cert);
      assert.equal(r.status, 200);
      assert.equal(r.body, '{"status":"ok"}');
      await assert.rejects(getHttps(`https://127.0.0.1:${fb.port}/health`, wrongName.pem.cert),
        'a client that does not trust the certificate refuses it');
    } finally {
      await fb.stop();
    }
  });

  test('an https upstream is verified: trusted and matching passes, otherwise 502', async () => {
    const trusted = await startFirebreak({ openaiPort: upstream.port, scheme: 'https', env: { SSL_CERT_FILE: good.cert } });
    try {
      const r = await postJson(`${trusted.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: prompts.allow }] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, `echo: ${prompts.allow}`);
    } finally {
      await trusted.stop();
    }
    const untrusted = await startFirebreak({ openaiPort: upstream.port, scheme: 'https' });
    try {
      const r = await postJson(`${untrusted.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: prompts.allow }] });
      assert.equal(r.status, 502, 'a certificate no trusted CA signed is refused');
    } finally {
      await untrusted.stop();
    }
    const mismatched = await startFirebreak({ openaiPort: impostor.port, scheme: 'https', env: { SSL_CERT_FILE: wrongName.cert } });
    try {
      const r = await postJson(`${mismatched.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: prompts.allow }] });
      assert.equal(r.status, 502, 'a trusted certificate for another host name is refused');
    } finally {
      await mismatched.stop();
    }
  });
});
