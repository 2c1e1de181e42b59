// mailauth's DMARC (lib/dmarc) as an oracle for qmail-dkim's DMARC, on NSD.
// argv: path to mailauth's package directory, DNS port on 127.0.0.1.
// stdin: JSON lines {"from": dom, "spf": [domain...] (passing), "dkim": [domain...] (passing)}
// stdout: one JSON line per input: {"result", "policy", "p", "sp"}
'use strict';
const path = require('path');
const { Resolver } = require('node:dns').promises;
const [pkg, port] = process.argv.slice(2);
const { dmarc } = require(path.join(pkg, 'lib', 'dmarc'));
const r = new Resolver({ timeout: 5000, tries: 1 });
r.setServers(['127.0.0.1:' + port]);
const resolver = (name, type) => r.resolve(name, type);
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(l => l.trim());
(async () => {
    for (const line of lines) {
        const i = JSON.parse(line);
        const res = await dmarc({ headerFrom: 'user@' + i.from, spfDomains: i.spf,
                                  dkimDomains: i.dkim.map(d => ({ domain: d })), resolver });
        process.stdout.write(JSON.stringify({ result: res.status.result, policy: res.policy || '',
                                              p: res.p || '', sp: res.sp || '' }) + '\n');
    }
})().catch(e => { console.error(e); process.exit(2); });
