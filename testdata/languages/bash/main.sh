echo "hello, world"
read -r line
echo "stdin: $line"
for a in "$@"; do echo "arg: $a"; done
if [ "$line" = fail ]; then exit 3; fi
if [ "$line" = crash ]; then kill -SEGV $$; fi
