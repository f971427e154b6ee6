# 100 MB on stderr.
# expect status: output_limit_exceeded
# expect limit_exceeded: output
# expect stderr_truncated: true
head -c 104857600 /dev/zero | tr '\0' 'e' >&2
