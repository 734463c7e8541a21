# sourced by the stubs: record "<name> <args>" (the recipes never pass a secret in argv)
dvm_test_record() {
	local dir=/run/dvm-test-calls file
	file="$dir/$(basename -- "$0")"
	if [ ! -e "$file" ]; then
		(umask 000 && mkdir -p "$dir" && : >>"$file") 2>/dev/null || true
	fi
	printf '%s\n' "$(basename -- "$0") $*" >>"$file" 2>/dev/null || true
}

# dvm_test_network: a modeled network round trip (tests/bench/bench_sync.py): sleeps the
# milliseconds written in /usr/local/lib/dvm-test-stubs/network-ms; nothing without that file.
dvm_test_network() {
	local ms=''
	read -r ms </usr/local/lib/dvm-test-stubs/network-ms 2>/dev/null || true
	case $ms in '' | *[!0-9]*) return 0 ;; esac
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}
