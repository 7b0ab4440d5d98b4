.PHONY: demo test

# Starts a local etcd with the v2 API and runs the demo program against it.
demo:
	bash scripts/demo.sh

# The whole test suite against real etcd, as CI runs it.
test:
	bash scripts/test.sh
