# The program's environment is the image's plus fixed entries: nothing of
# the executor's host (the test sets EXECBOX_FAKE_SECRET in the executor).
# expect status: accepted
# expect stdout_not_contains: EXECBOX_FAKE_SECRET
# expect stdout_contains: HOME=/box
env
