const fs = require('fs');

console.log('hello, world');
let input = '';
try { input = fs.readFileSync(0, 'utf8'); } catch (e) { /* no stdin */ }
const line = input.split('\n')[0];
console.log('stdin: ' + line);
for (const a of process.argv.slice(2)) console.log('arg: ' + a);
if (line === 'fail') process.exitCode = 3;
if (line === 'crash') throw new Error('crash');
