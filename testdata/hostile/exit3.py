# expect status: runtime_error
# expect exit_code: 3
import sys
sys.exit(3)
