#!/usr/bin/env node
// The CLI is TypeScript run by Node 24's type stripping; npm scripts put Node 24 on PATH.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`vigil: needs Node.js 24 or later (this is ${process.version}); run it as "npm run vigil -- ..." to use the bundled Node 24\n`);
  process.exit(1);
}
process.removeAllListeners('warning');
await import('../src/cli.ts');
