# Writing anywhere but the work directory and /tmp fails.
# expect status: accepted
# expect stdout: /etc denied\n/usr/bin denied\n/opt/execbox denied\n/ denied\n/root denied\n/dev/shm denied\n/tmp ok\n/box ok
for d in /etc /usr/bin /opt/execbox / /root /dev/shm /tmp /box; do
	if echo x 2>/dev/null >"$d/execbox-probe"; then echo "$d ok"; else echo "$d denied"; fi
done
