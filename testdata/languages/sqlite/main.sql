SELECT 'hello, world';
CREATE TABLE input(line TEXT);
.import '|cat -' input
SELECT 'stdin: ' || line FROM input LIMIT 1;
SELECT json('not json') FROM input WHERE line = 'crash';
