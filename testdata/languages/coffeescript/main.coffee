fs = require 'fs'

console.log 'hello, world'
input = try fs.readFileSync(0, 'utf8') catch e then ''
line = input.split('\n')[0]
console.log 'stdin: ' + line
console.log 'arg: ' + a for a in process.argv[2..]
process.exitCode = 3 if line is 'fail'
throw new Error 'crash' if line is 'crash'
