<?php
echo "hello, world\n";
$line = rtrim((string) fgets(STDIN), "\n");
echo "stdin: $line\n";
foreach (array_slice($argv, 1) as $a) {
    echo "arg: $a\n";
}
if ($line === "fail") {
    exit(3);
}
if ($line === "crash") {
    throw new Exception("crash");
}
